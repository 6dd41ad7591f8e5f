import { formatAmount, parseAmount } from "../sdk/amounts";
import { agreementIdToBytes32 } from "../sdk/ids";
import { parseRate } from "../sdk/rates";
import { MAX_DEBIT_NOTE_INTERVAL, MAX_PAYMENT_TIMEOUT, MIN_DEBIT_NOTE_INTERVAL, type Terms } from "../sdk/terms";
import { taskContext } from "./context";
import { parsePoolId, parseSeconds, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeed } from "./scope";

interface OpenArgs {
  pool?: string;
  agreement?: string;
  provider?: string;
  budget?: string;
  maxRate?: string;
  upfront?: string;
  streamRate?: string;
  interval: string;
  paymentTimeout: string;
  from?: string;
}

dripfeed
  .task("open", "Open an agreement with a provider and lock its budget (owner or OPEN grantee)")
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("agreement", "Golem agreement id (64 hex characters)")
  .addOptionalParam("provider", "the provider's payee address")
  .addOptionalParam("budget", "budget in token units")
  .addOptionalParam("maxRate", 'rate cap, e.g. "36 GLM/h" (default: none)')
  .addOptionalParam("upfront", "payable from the first second, in token units (default 0)")
  .addOptionalParam("streamRate", 'stream floor, e.g. "18 GLM/h" (default: none)')
  .addOptionalParam("interval", "debit-note interval, 120s..900s", "120")
  .addOptionalParam("paymentTimeout", "claim window after termination, up to 24h", "24h")
  .addOptionalParam("from", "account index or address (default 0)")
  .setAction(
    guarded(async (args: OpenArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const agreementId = agreementIdToBytes32(required(args.agreement, "agreement"));
      const provider = required(args.provider, "provider");
      const budgetText = required(args.budget, "budget");
      const debitNoteInterval = parseSeconds(
        args.interval,
        "interval",
        MIN_DEBIT_NOTE_INTERVAL,
        MAX_DEBIT_NOTE_INTERVAL,
      );
      const paymentTimeout = parseSeconds(args.paymentTimeout, "payment-timeout", 1, MAX_PAYMENT_TIMEOUT);
      const { client } = await taskContext(hre, args.from);
      const token = await client.token((await client.getPool(poolId)).token);
      const terms: Terms = {
        budget: parseAmount(budgetText, token, "--budget"),
        upfront: args.upfront ? parseAmount(args.upfront, token, "--upfront") : 0n,
        maxRate: args.maxRate ? parseRate(args.maxRate, token, "--max-rate") : 0n,
        streamRate: args.streamRate ? parseRate(args.streamRate, token, "--stream-rate") : 0n,
        debitNoteInterval,
        paymentTimeout,
      };
      const { hash } = await client.openAgreement(poolId, agreementId, provider, terms);
      print(
        `opened agreement ${agreementId.slice(2)} with ${provider}, budget ${formatAmount(terms.budget, token)}; tx ${hash}`,
      );
    }),
  );

interface AgreementArgs {
  pool?: string;
  agreement?: string;
  from?: string;
}

function agreementTask(name: string, description: string) {
  return dripfeed
    .task(name, description)
    .addOptionalParam("pool", "pool id")
    .addOptionalParam("agreement", "Golem agreement id (64 hex characters)")
    .addOptionalParam("from", "account index or address (default 0)");
}

function keys(args: AgreementArgs): { poolId: string; agreementId: string } {
  return { poolId: parsePoolId(args.pool), agreementId: agreementIdToBytes32(required(args.agreement, "agreement")) };
}

agreementTask("claim", "Pay the provider what the payout rule allows now (anyone may call)").setAction(
  guarded(async (args: AgreementArgs, hre) => {
    const { poolId, agreementId } = keys(args);
    const { client } = await taskContext(hre, args.from);
    const token = await client.token((await client.getPool(poolId)).token);
    const { paid, hash } = await client.claim(poolId, agreementId);
    print(`claimed ${formatAmount(paid, token)} for the provider of agreement ${agreementId.slice(2)}; tx ${hash}`);
  }),
);

agreementTask("terminate", "Stop an agreement's clock (owner, TERMINATE grantee or the provider)").setAction(
  guarded(async (args: AgreementArgs, hre) => {
    const { poolId, agreementId } = keys(args);
    const { client } = await taskContext(hre, args.from);
    const { hash } = await client.terminate(poolId, agreementId);
    const a = await client.getAgreement(poolId, agreementId);
    const windowEnd = a.terminatedAt + BigInt(a.terms.paymentTimeout);
    print(
      `terminated agreement ${agreementId.slice(2)}; the provider can settle and claim until ${new Date(Number(windowEnd) * 1000).toISOString()}; tx ${hash}`,
    );
  }),
);

agreementTask(
  "release",
  "Return a terminated agreement's unpaid budget to the pool (anyone, after the claim window)",
).setAction(
  guarded(async (args: AgreementArgs, hre) => {
    const { poolId, agreementId } = keys(args);
    const { client } = await taskContext(hre, args.from);
    const token = await client.token((await client.getPool(poolId)).token);
    const { refunded, hash } = await client.release(poolId, agreementId);
    print(
      `released agreement ${agreementId.slice(2)}: ${formatAmount(refunded, token)} back to the pool's free balance; tx ${hash}`,
    );
  }),
);
