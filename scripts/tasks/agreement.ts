import { parseAcceptanceJson } from "../sdk/acceptance";
import { formatAmount, parseAmount } from "../sdk/amounts";
import { parseRate } from "../sdk/rates";
import { MAX_DEBIT_NOTE_INTERVAL, MAX_PAYMENT_TIMEOUT, MIN_DEBIT_NOTE_INTERVAL, type Terms } from "../sdk/terms";
import { isoTime } from "../sdk/time";
import { verifyAcceptance } from "../sdk/verify";
import { type CommonArgs, taskContext } from "./context";
import { parseAgreementId, parsePoolId, parseSeconds, readTextFile, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";

interface OpenArgs extends CommonArgs {
  pool?: string;
  agreement?: string;
  provider?: string;
  budget?: string;
  maxRate?: string;
  upfront?: string;
  streamRate?: string;
  interval: string;
  paymentTimeout: string;
}

dripfeedTask("open", "Open an agreement with a provider and lock its budget (owner or OPEN grantee)", { signs: true })
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("agreement", "Golem agreement id (64 hex characters)")
  .addOptionalParam("provider", "the provider's payee address")
  .addOptionalParam("budget", "budget in token units")
  .addOptionalParam("maxRate", 'rate cap, e.g. "36 GLM/h" (default: none)')
  .addOptionalParam("upfront", "payable from the first second, in token units (default 0)")
  .addOptionalParam("streamRate", 'stream floor, e.g. "18 GLM/h" (default: none)')
  .addOptionalParam("interval", "debit-note interval, 120s..900s", "120")
  .addOptionalParam("paymentTimeout", "claim window after termination, up to 24h", "24h")
  .setAction(
    guarded(async (args: OpenArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const agreementId = parseAgreementId(args.agreement);
      const provider = required(args.provider, "provider");
      const budgetText = required(args.budget, "budget");
      const debitNoteInterval = parseSeconds(
        args.interval,
        "interval",
        MIN_DEBIT_NOTE_INTERVAL,
        MAX_DEBIT_NOTE_INTERVAL,
      );
      const paymentTimeout = parseSeconds(args.paymentTimeout, "payment-timeout", 1, MAX_PAYMENT_TIMEOUT);
      const { client } = await taskContext(hre, args);
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

interface AgreementArgs extends CommonArgs {
  pool?: string;
  agreement?: string;
}

function agreementTask(name: string, description: string) {
  return dripfeedTask(name, description, { signs: true })
    .addOptionalParam("pool", "pool id")
    .addOptionalParam("agreement", "Golem agreement id (64 hex characters)");
}

function keys(args: AgreementArgs): { poolId: string; agreementId: string } {
  return { poolId: parsePoolId(args.pool), agreementId: parseAgreementId(args.agreement) };
}

interface IncreaseBudgetArgs extends AgreementArgs {
  amount?: string;
}

agreementTask("increase-budget", "Lock more of the pool's free balance for an Active agreement (owner or OPEN grantee)")
  .addOptionalParam("amount", "amount to add, in token units")
  .setAction(
    guarded(async (args: IncreaseBudgetArgs, hre) => {
      const { poolId, agreementId } = keys(args);
      const text = required(args.amount, "amount");
      const { client } = await taskContext(hre, args);
      const token = await client.token((await client.getPool(poolId)).token);
      const amount = parseAmount(text, token, "--amount");
      const { hash } = await client.increaseBudget(poolId, agreementId, amount);
      const after = await client.getAgreement(poolId, agreementId);
      print(
        `raised the budget of agreement ${agreementId.slice(2)} by ${formatAmount(amount, token)} to ${formatAmount(after.terms.budget, token)}; tx ${hash}`,
      );
    }),
  );

agreementTask("claim", "Pay the provider what the payout rule allows now (anyone may call)").setAction(
  guarded(async (args: AgreementArgs, hre) => {
    const { poolId, agreementId } = keys(args);
    const { client } = await taskContext(hre, args);
    const token = await client.token((await client.getPool(poolId)).token);
    const { paid, hash } = await client.claim(poolId, agreementId);
    print(`claimed ${formatAmount(paid, token)} for the provider of agreement ${agreementId.slice(2)}; tx ${hash}`);
  }),
);

interface TerminateArgs extends AgreementArgs {
  acceptance?: string;
}

agreementTask(
  "terminate",
  "Stop an agreement's clock (owner, TERMINATE grantee or the provider); a provider collects first, in one transaction",
)
  .addOptionalParam("acceptance", "a signed acceptance JSON to settle before terminating (the provider's latest)")
  .setAction(
    guarded(async (args: TerminateArgs, hre) => {
      const { poolId, agreementId } = keys(args);
      const signed = args.acceptance ? parseAcceptanceJson(readTextFile(args.acceptance, "acceptance")) : undefined;
      const { client } = await taskContext(hre, args);
      // A bad acceptance fails here with its reason, before anything is sent.
      if (signed) await verifyAcceptance(client, signed);
      const token = await client.token((await client.getPool(poolId)).token);
      const result = await client.terminateAndCollect(poolId, agreementId, signed);
      const collected = result.settled
        ? `settled the acceptance and paid the provider ${formatAmount(result.paid, token)}, then `
        : result.claimed
          ? `claimed ${formatAmount(result.paid, token)} for the provider, then `
          : "";
      const after =
        result.by === "provider"
          ? `release may now run at once: it pays the provider any remainder the payout rule allows (${formatAmount(result.claimableAfter, token)} now) and returns the rest to the pool`
          : `the provider can settle acceptances and claim until ${isoTime(result.claimWindowEnd ?? result.terminatedAt)} (release is refused before then)`;
      print(
        `${collected}terminated agreement ${agreementId.slice(2)} at ${isoTime(result.terminatedAt)}; ${after}; tx ${result.hash}`,
      );
    }),
  );

agreementTask(
  "release",
  "After the claim window: pay the provider what is still claimable and return the rest to the pool (anyone)",
).setAction(
  guarded(async (args: AgreementArgs, hre) => {
    const { poolId, agreementId } = keys(args);
    const { client } = await taskContext(hre, args);
    const token = await client.token((await client.getPool(poolId)).token);
    const { refunded, paidToProvider, provider, hash } = await client.release(poolId, agreementId);
    print(
      `released agreement ${agreementId.slice(2)}: ${formatAmount(paidToProvider, token)} to the provider ${provider}, ${formatAmount(refunded, token)} back to the pool's free balance; tx ${hash}`,
    );
  }),
);
