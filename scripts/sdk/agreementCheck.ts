import { formatAmount, type TokenUnits } from "./amounts";
import type { DripFeedClient } from "./client";
import { type Check, checkDripFeedCode, checkDripFeedDomain } from "./contractCheck";
import { formatDuration, humanTerms } from "./describe";
import { DripFeedError } from "./errors";
import { agreementIdToBytes32, parseBytes32, requireAddress } from "./ids";
import { type DripFeedMarketInfo, type GolemAgreement, negotiatedTerms, parseDripFeedProperties } from "./market";
import { formatRate, RATE_SCALE } from "./rates";
import { ACCEPT } from "./terms";
import { isoTime } from "./time";

/**
 * What a provider checks before it works for a DripFeed-backed agreement (`dripfeed verify`): that the contract is
 * DripFeed, that the agreement is Active and pays it, that the terms are what was negotiated, that the money is
 * locked, and who may sign the acceptances that pay it. Every check is a line; one failure means "do not work".
 */
export interface Expectations {
  /** The provider's payee address: the agreement must pay it. */
  provider: string;
  debitNoteInterval?: number;
  paymentTimeout?: number;
  /** The negotiated acceptance timeout (must be 2 x the interval, DripFeed's `acceptTimeoutOf`). */
  acceptTimeout?: number;
  /** The lowest acceptable rate cap (1e18-scaled base units per second); a capless agreement passes. */
  minMaxRate?: bigint;
  /** Where `minMaxRate` came from, for the message ("--min-price", "the offer's linear pricing"). */
  minMaxRateSource?: string;
  minUpfront?: bigint;
  minBudget?: bigint;
  minStreamRate?: bigint;
  /** The pool's token must be this one. */
  token?: string;
  /** The DripFeed properties of the Golem agreement's demand (contract, chain, pool, token). */
  market?: DripFeedMarketInfo;
  /** Set when a Golem agreement JSON was given but its demand announces no DripFeed. */
  marketMissing?: boolean;
}

/** Where an agreement id is open: every pool with an `AgreementOpened` for it (normally one). */
export interface AgreementLocation {
  poolId: string;
  agreementId: string;
  provider: string;
  blockNumber: number;
}

/** Finds an agreement by its Golem id across every pool, from `AgreementOpened` events (oldest first). */
export async function findAgreement(client: DripFeedClient, agreementId: string): Promise<AgreementLocation[]> {
  const id = agreementIdToBytes32(agreementId);
  const events = await client.queryEvents(client.contract.filters.AgreementOpened(undefined, id));
  return events.map((e) => ({
    poolId: e.args.poolId,
    agreementId: e.args.agreementId,
    provider: e.args.provider,
    blockNumber: e.blockNumber,
  }));
}

/**
 * Picks the pool an agreement is in: `--pool`, else the market properties' pool id, else the only pool it is open
 * in. Refuses with UNKNOWN_AGREEMENT (nowhere) or INVALID_ARGUMENT (several pools, none chosen).
 */
export async function locateAgreement(client: DripFeedClient, agreementId: string, poolId?: string): Promise<string> {
  if (poolId !== undefined) return parseBytes32(poolId, "pool id");
  const found = await findAgreement(client, agreementId);
  const pools = [...new Set(found.map((f) => f.poolId))];
  if (pools.length === 0) {
    throw new DripFeedError(
      "UNKNOWN_AGREEMENT",
      `no pool on chain ${client.chainId} has opened agreement ${agreementIdToBytes32(agreementId).slice(2)} (DripFeed ${client.address})`,
      "agreementId",
    );
  }
  if (pools.length > 1) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `agreement ${agreementIdToBytes32(agreementId).slice(2)} is open in ${pools.length} pools (${pools.join(", ")}): pass --pool`,
      "pool",
    );
  }
  return pools[0];
}

/** Decimal text in token units as 1e18-scaled base units per second times `perSecondFactor` (exact, rounded down). */
function scaledRate(text: string, token: TokenUnits, factor: bigint): bigint {
  const [whole, fraction = ""] = text.split(".");
  const digits = token.decimals + 18;
  return (
    (BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.slice(0, digits).padEnd(digits, "0") || "0")) * factor
  );
}

/** What a Golem market agreement JSON says the provider should expect (times, pricing, DripFeed properties). */
export function expectationsFromGolem(
  agreement: GolemAgreement,
  token: TokenUnits,
): Omit<Expectations, "provider"> & { payee?: string } {
  const negotiated = negotiatedTerms(agreement);
  const market = parseDripFeedProperties(agreement.demand);
  const pricing = negotiated.pricing;
  let minMaxRate: bigint | undefined;
  let minUpfront: bigint | undefined;
  if (pricing) {
    // At full use a second costs the duration price plus the CPU price for every thread.
    const perDuration = pricing.perDurationSecond ? scaledRate(pricing.perDurationSecond, token, 1n) : 0n;
    const perCpu = pricing.perCpuSecond ? scaledRate(pricing.perCpuSecond, token, BigInt(pricing.threads)) : 0n;
    minMaxRate = perDuration + perCpu;
    minUpfront = scaledRate(pricing.startPrice, token, 1n) / RATE_SCALE;
  }
  return {
    payee: negotiated.payee,
    debitNoteInterval: negotiated.debitNoteInterval,
    paymentTimeout: negotiated.paymentTimeout,
    acceptTimeout: negotiated.acceptTimeout,
    minMaxRate,
    minMaxRateSource: pricing
      ? `the offer's linear pricing at full use (duration + CPU x ${pricing.threads} threads${pricing.otherCounters.length ? `; not counted: ${pricing.otherCounters.join(", ")}` : ""})`
      : undefined,
    minUpfront,
    market,
    marketMissing: market === undefined,
  };
}

const pass = (name: string, detail: string): Check => ({ name, status: "pass", detail });
const fail = (name: string, detail: string): Check => ({ name, status: "fail", detail });
const info = (name: string, detail: string): Check => ({ name, status: "info", detail });

/** Runs every check of `dripfeed verify` for one agreement; never throws for a failed check, only for I/O. */
export async function verifyAgreement(
  client: DripFeedClient,
  poolId: string,
  agreementId: string,
  expect: Expectations,
): Promise<Check[]> {
  const checks: Check[] = [];
  checks.push(await checkDripFeedCode(client.provider, client.address, client.chainId));
  checks.push(await checkDripFeedDomain(client.provider, client.address, client.chainId));

  const pool = await client.getPool(poolId);
  const token = await client.token(pool.token);
  const amount = (value: bigint): string => formatAmount(value, token);

  if (expect.market) {
    const m = expect.market;
    const wrong: string[] = [];
    if (m.contract.toLowerCase() !== client.address.toLowerCase()) wrong.push(`contract ${m.contract}`);
    if (m.chainId !== client.chainId) wrong.push(`chain ${m.chainId} (this is ${client.chainId})`);
    if (m.poolId !== pool.poolId) wrong.push(`pool ${m.poolId}`);
    if (m.token.toLowerCase() !== pool.token.toLowerCase())
      wrong.push(`token ${m.token} (the pool holds ${pool.token})`);
    checks.push(
      wrong.length > 0
        ? fail("market properties", `the demand announces ${wrong.join(", ")}`)
        : pass(
            "market properties",
            `the demand announces this contract, chain ${m.chainId}, pool and token${m.relayUrl ? `; relay ${m.relayUrl}` : ""}`,
          ),
    );
  } else if (expect.marketMissing) {
    checks.push(
      fail(
        "market properties",
        "the Golem agreement's demand announces no DripFeed (golem.com.payment.!exp.dripfeed.v1.*)",
      ),
    );
  }

  let agreement;
  try {
    agreement = await client.getAgreement(pool.poolId, agreementId);
  } catch (error) {
    checks.push(fail("agreement", (error as Error).message));
    return checks;
  }
  const now = await client.now();
  const id = agreement.agreementId.slice(2);
  checks.push(
    agreement.status === "Active"
      ? pass("status", `agreement ${id} is Active in pool ${pool.poolId} since ${isoTime(agreement.startedAt)}`)
      : fail("status", `agreement ${id} is ${agreement.status}: no new work will be paid`),
  );
  const provider = requireAddress(expect.provider, "provider");
  checks.push(
    agreement.provider.toLowerCase() === provider.toLowerCase()
      ? pass("provider", `pays ${agreement.provider}`)
      : fail("provider", `pays ${agreement.provider}, not ${provider}`),
  );
  if (expect.token !== undefined) {
    checks.push(
      expect.token.toLowerCase() === pool.token.toLowerCase()
        ? pass("token", `${token.symbol} ${pool.token}`)
        : fail("token", `the pool holds ${token.symbol} ${pool.token}, not ${expect.token}`),
    );
  } else {
    checks.push(info("token", `${token.symbol} ${pool.token}`));
  }

  const t = agreement.terms;
  const human = humanTerms(t, token);
  const equal = (name: string, actual: number, expected: number | undefined, flag: string): Check =>
    expected === undefined
      ? info(name, `${formatDuration(actual)} (not checked: give ${flag} or --golem-agreement)`)
      : actual === expected
        ? pass(name, `${formatDuration(actual)}, as negotiated`)
        : fail(name, `${formatDuration(actual)} on chain, ${formatDuration(expected)} negotiated`);
  checks.push(equal("debit-note interval", t.debitNoteInterval, expect.debitNoteInterval, "--interval"));
  checks.push(equal("payment timeout", t.paymentTimeout, expect.paymentTimeout, "--payment-timeout"));
  if (expect.acceptTimeout !== undefined) {
    checks.push(
      expect.acceptTimeout === 2 * t.debitNoteInterval
        ? pass("accept timeout", `${formatDuration(expect.acceptTimeout)} = 2 x the interval (acceptTimeoutOf)`)
        : fail(
            "accept timeout",
            `negotiated ${formatDuration(expect.acceptTimeout)}, DripFeed uses 2 x interval = ${formatDuration(2 * t.debitNoteInterval)}`,
          ),
    );
  }
  const atLeast = (name: string, actual: bigint, min: bigint | undefined, show: (v: bigint) => string, flag: string) =>
    min === undefined
      ? info(name, `${show(actual)} (not checked: give ${flag})`)
      : actual >= min
        ? pass(name, `${show(actual)} >= ${show(min)}`)
        : fail(name, `${show(actual)} < ${show(min)}`);
  if (t.maxRate === 0n) {
    checks.push(pass("rate cap", "none: acceptances alone limit payouts (within the budget)"));
  } else if (expect.minMaxRate === undefined) {
    checks.push(info("rate cap", `${human.maxRate} (not checked: give --min-price or --golem-agreement)`));
  } else {
    const rate = (v: bigint): string => formatRate(v, token);
    checks.push(
      t.maxRate >= expect.minMaxRate
        ? pass(
            "rate cap",
            `${rate(t.maxRate)} >= ${rate(expect.minMaxRate)} (${expect.minMaxRateSource ?? "--min-price"})`,
          )
        : fail(
            "rate cap",
            `${rate(t.maxRate)} is below ${rate(expect.minMaxRate)} (${expect.minMaxRateSource ?? "--min-price"}): full use would outrun the cap`,
          ),
    );
  }
  checks.push(atLeast("upfront", t.upfront, expect.minUpfront, amount, "--upfront or --golem-agreement"));
  checks.push(atLeast("budget", t.budget, expect.minBudget, amount, "--budget"));
  checks.push(
    atLeast(
      "stream floor",
      t.streamRate,
      expect.minStreamRate,
      (v) => (v === 0n ? "none" : formatRate(v, token)),
      "--stream-rate",
    ),
  );

  // The money: the agreement's unpaid budget is part of the pool's locked amount, backed by tokens DripFeed holds.
  const unpaid = t.budget - agreement.paid;
  const held = await client.tokenBalance(pool.token);
  checks.push(
    agreement.status === "Active" && pool.locked >= unpaid && held >= pool.balance
      ? pass(
          "budget locked",
          `${amount(unpaid)} of ${amount(t.budget)} unpaid and locked (pool locks ${amount(pool.locked)}; DripFeed holds ${amount(held)})`,
        )
      : fail(
          "budget locked",
          `unpaid ${amount(unpaid)}, pool locks ${amount(pool.locked)}, DripFeed holds ${amount(held)}`,
        ),
  );

  // Who can sign the acceptances that pay: the owner, and every ACCEPT grantee whose right still holds.
  const signers = await acceptanceSigners(client, pool.poolId, now);
  const ownerKind = (await client.provider.getCode(pool.owner)) === "0x" ? "EOA" : "contract wallet (ERC-1271)";
  const grantees = signers.map(
    (s) => `${s.grantee} until ${isoTime(s.validUntil)}${s.notice ? " (revoked: notice)" : ""}`,
  );
  checks.push(
    info(
      "acceptance signers",
      `owner ${pool.owner} (${ownerKind}, never expires)${grantees.length ? `; ACCEPT grantees: ${grantees.join("; ")}` : "; no ACCEPT grantee"}`,
    ),
  );
  return checks;
}

/** A grantee whose acceptances settle now on the pool, and until when. */
export interface AcceptanceSigner {
  grantee: string;
  validUntil: bigint;
  /** Its grant no longer has ACCEPT (or ends sooner): what remains is the 1.1 notice. */
  notice: boolean;
}

/** Every ACCEPT grantee of a pool (from `GrantSet` events) whose `acceptValidUntil` is still ahead of `now`. */
export async function acceptanceSigners(
  client: DripFeedClient,
  poolId: string,
  now: bigint,
): Promise<AcceptanceSigner[]> {
  const events = await client.queryEvents(client.contract.filters.GrantSet(poolId));
  const grantees = [...new Set(events.map((e) => e.args.grantee))];
  const out: AcceptanceSigner[] = [];
  for (const grantee of grantees) {
    const validUntil = await client.acceptValidUntil(poolId, grantee);
    if (validUntil < now) continue;
    const grant = await client.grantOf(poolId, grantee);
    out.push({ grantee, validUntil, notice: (grant.permissions & ACCEPT) === 0 || grant.validUntil < validUntil });
  }
  return out;
}

/** Whether every check passed (info lines do not count). */
export function allPassed(checks: readonly Check[]): boolean {
  return checks.every((c) => c.status !== "fail");
}
