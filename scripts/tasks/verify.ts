import { parseAmount } from "../sdk/amounts";
import {
  allPassed,
  type Expectations,
  expectationsFromGolem,
  locateAgreement,
  verifyAgreement,
} from "../sdk/agreementCheck";
import type { Check } from "../sdk/contractCheck";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { parseDripFeedProperties, parseGolemAgreement } from "../sdk/market";
import { parseRate } from "../sdk/rates";
import { MAX_DEBIT_NOTE_INTERVAL, MAX_PAYMENT_TIMEOUT, MIN_DEBIT_NOTE_INTERVAL } from "../sdk/terms";
import { type CommonArgs, readContext } from "./context";
import { parseAgreementId, parsePoolId, parseSeconds, readTextFile } from "./flags";
import { guarded, print, toJson } from "./output";
import { dripfeedTask } from "./scope";

interface VerifyArgs extends CommonArgs {
  agreement?: string;
  provider?: string;
  pool?: string;
  golemAgreement?: string;
  interval?: string;
  paymentTimeout?: string;
  minPrice?: string;
  upfront?: string;
  budget?: string;
  streamRate?: string;
  token?: string;
  json: boolean;
}

const MARK: Record<Check["status"], string> = { pass: "ok  ", fail: "FAIL", info: "info" };

dripfeedTask(
  "verify",
  "Check an agreement before working for it: contract, status, payee, terms, locked budget, signers (exit 1 on any failure)",
  { signs: false },
)
  .addOptionalParam("agreement", "Golem agreement id (default: the --golem-agreement file's)")
  .addOptionalParam("provider", "your payee address (default: the offer's address on the chosen payment platform)")
  .addOptionalParam("pool", "pool id (default: the market properties', or the one pool the agreement is in)")
  .addOptionalParam("golemAgreement", "Golem market agreement JSON (GET /market-api/v1/agreements/{id})")
  .addOptionalParam("interval", "expected debit-note interval (e.g. 120s, 2m)")
  .addOptionalParam("paymentTimeout", "expected payment timeout (e.g. 1h)")
  .addOptionalParam("minPrice", 'lowest acceptable rate cap, your price at full use, e.g. "3.6 GLM/h"')
  .addOptionalParam("upfront", "lowest acceptable upfront, in token units (your start price)")
  .addOptionalParam("budget", "lowest acceptable budget, in token units")
  .addOptionalParam("streamRate", 'lowest acceptable stream floor, e.g. "1 GLM/h"')
  .addOptionalParam("token", "the token you expect to be paid in (address)")
  .addFlag("json", "print JSON")
  .setAction(
    guarded(async (args: VerifyArgs, hre) => {
      const golem = args.golemAgreement
        ? parseGolemAgreement(readTextFile(args.golemAgreement, "Golem agreement"))
        : undefined;
      const agreementId = args.agreement ? parseAgreementId(args.agreement) : golem?.agreementKey;
      if (agreementId === undefined) {
        throw new DripFeedError("INVALID_ARGUMENT", "--agreement is required (or --golem-agreement)", "agreement");
      }
      if (golem && golem.agreementKey !== agreementId) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          `--agreement ${agreementId.slice(2)} differs from the Golem agreement's id ${golem.agreementId}`,
          "agreement",
        );
      }
      const client = await readContext(hre, args);
      const poolId = await locateAgreement(
        client,
        agreementId,
        args.pool !== undefined ? parsePoolId(args.pool) : undefined,
      ).catch(async (error: unknown) => {
        // The market properties name the pool when the events cannot (another DripFeed, or not opened yet).
        const fromMarket = golem ? parseDripFeedProperties(golem.demand)?.poolId : undefined;
        if (fromMarket) return fromMarket;
        throw error;
      });
      const token = await client.token((await client.getPool(poolId)).token);
      const fromGolem = golem ? expectationsFromGolem(golem, token) : {};
      const provider = args.provider ?? ("payee" in fromGolem ? fromGolem.payee : undefined);
      if (provider === undefined) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          "--provider is required (your payee address), unless the Golem agreement's offer names it",
          "provider",
        );
      }
      const expect: Expectations = {
        ...fromGolem,
        provider: requireAddress(provider, "--provider"),
      };
      if (args.interval) {
        expect.debitNoteInterval = parseSeconds(
          args.interval,
          "interval",
          MIN_DEBIT_NOTE_INTERVAL,
          MAX_DEBIT_NOTE_INTERVAL,
        );
      }
      if (args.paymentTimeout) {
        expect.paymentTimeout = parseSeconds(args.paymentTimeout, "payment-timeout", 1, MAX_PAYMENT_TIMEOUT);
      }
      if (args.minPrice) {
        expect.minMaxRate = parseRate(args.minPrice, token, "--min-price");
        expect.minMaxRateSource = "--min-price";
      }
      if (args.upfront) expect.minUpfront = parseAmount(args.upfront, token, "--upfront");
      if (args.budget) expect.minBudget = parseAmount(args.budget, token, "--budget");
      if (args.streamRate) expect.minStreamRate = parseRate(args.streamRate, token, "--stream-rate");
      if (args.token) expect.token = requireAddress(args.token, "--token");

      const checks = await verifyAgreement(client, poolId, agreementId, expect);
      const ok = allPassed(checks);
      if (args.json) {
        print(toJson({ ok, chainId: client.chainId, contract: client.address, poolId, agreementId, checks }));
      } else {
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const c of checks) print(`${MARK[c.status]}  ${c.name.padEnd(width)}  ${c.detail}`);
        print(
          ok
            ? "all checks passed"
            : `${checks.filter((c) => c.status === "fail").length} check(s) FAILED: do not start work`,
        );
      }
      if (!ok) process.exitCode = 1;
    }),
  );
