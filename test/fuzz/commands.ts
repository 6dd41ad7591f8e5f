/**
 * fast-check commands for the model-based fuzz. A command holds abstract choices ("the pool's owner", "120% of
 * the budget", "deadline in 30 s"); they are resolved against the model when the command runs, so shrinking keeps
 * every sequence meaningful. `toString()` prints the choices the way a person would replay them.
 */
import fc from "fast-check";

import { type Real, checkState, sendAndCompare, stats } from "./harness";
import {
  ACCEPT,
  ACTORS,
  AGREEMENTS,
  type AcceptanceC,
  type COp,
  GRANTEES,
  type GrantM,
  type ModelState,
  OWNERS,
  PROVIDERS,
  type PoolRef,
  SALTS,
  Status,
  TOKENS,
  type TermsM,
  applyMulticall,
  applyOp,
  poolKey,
} from "./model";

/* ------------------------------------------------------------------------------------------------------------ */
/* Abstract choices                                                                                               */
/* ------------------------------------------------------------------------------------------------------------ */

/** Who sends: the pool's owner, the agreement's provider, or a fixed actor. */
/** "acceptor": a grantee the model knows holds ACCEPT on the pool (valid or expired), else the owner. */
type Who = "owner" | "provider" | "acceptor" | number;
/** An amount relative to something in the model (percent), or absolute. */
type Amount = { pct: number } | { abs: bigint };
type Total = { pctOfBudget: number } | "stale" | "huge";

/** An agreement slot, or "the k-th agreement the model knows that is not released" (when there is one). */
type Target = { pool: PoolRef; agreement: number } | { live: number } | { terminated: number };

interface AcceptanceSpec {
  target: Target;
  signer: Who;
  forged: boolean;
  total: Total;
  deadlineIn: number;
  note: number;
}

type TermsBreak =
  | "budget0"
  | "upfront>budget"
  | "stream>max"
  | "intervalLow"
  | "intervalHigh"
  | "timeout0"
  | "timeoutHigh"
  | "provider=owner";

type OpSpec =
  | { kind: "createPool"; owner: number; salt: number; token: number }
  | { kind: "fund"; pool: PoolRef; from: Who; amount: bigint }
  | { kind: "withdraw"; pool: PoolRef; by: Who; amount: Amount; to: number }
  | {
      kind: "setGrant";
      pool: PoolRef;
      by: Who;
      grantee: number;
      permissions: number;
      validFor: number;
      openAllowance: bigint;
      openRefillRate: bigint;
    }
  | {
      kind: "openAgreement";
      pool: PoolRef;
      by: Who;
      agreement: number;
      provider: number;
      terms: TermsM;
      broken: TermsBreak | null;
    }
  | { kind: "increaseBudget"; target: Target; by: Who; amount: bigint }
  | { kind: "terminate"; target: Target; by: Who }
  | { kind: "release"; target: Target; by: Who }
  | { kind: "settle"; by: Who; item: AcceptanceSpec }
  | { kind: "settleBatch"; by: Who; items: AcceptanceSpec[] }
  | { kind: "claim"; target: Target; by: Who };

const whoName = (who: Who): string => (typeof who === "number" ? ACTORS[who] : who);
const poolName = (ref: PoolRef): string => poolKey(ref);
const amountName = (a: Amount): string => ("pct" in a ? `${a.pct}%free` : `${a.abs}`);
const totalName = (t: Total): string => (typeof t === "string" ? t : `${t.pctOfBudget}%budget`);
const targetName = (t: Target): string =>
  "live" in t
    ? `live#${t.live}`
    : "terminated" in t
      ? `terminated#${t.terminated}`
      : `${poolName(t.pool)}/a${t.agreement}`;
const itemName = (i: AcceptanceSpec): string =>
  `{${targetName(i.target)} signer=${whoName(i.signer)}${i.forged ? "(forged)" : ""} ` +
  `total=${totalName(i.total)} deadline=now${i.deadlineIn >= 0 ? "+" : ""}${i.deadlineIn} note=${i.note}}`;

function specName(s: OpSpec): string {
  switch (s.kind) {
    case "createPool":
      return `createPool(by=${ACTORS[s.owner]}, salt=${s.salt}, token=${TOKENS[s.token]})`;
    case "fund":
      return `fund(${poolName(s.pool)}, by=${whoName(s.from)}, ${s.amount})`;
    case "withdraw":
      return `withdraw(${poolName(s.pool)}, by=${whoName(s.by)}, ${amountName(s.amount)}, to=${ACTORS[s.to]})`;
    case "setGrant":
      return (
        `setGrant(${poolName(s.pool)}, by=${whoName(s.by)}, grantee=${ACTORS[s.grantee]}, perms=${s.permissions}, ` +
        `validUntil=now+${s.validFor}, allowance=${s.openAllowance}, refill=${s.openRefillRate})`
      );
    case "openAgreement": {
      const t = s.terms;
      return (
        `openAgreement(${poolName(s.pool)}/a${s.agreement}, by=${whoName(s.by)}, provider=${ACTORS[s.provider]}, ` +
        `budget=${t.budget} upfront=${t.upfront} maxRate=${t.maxRate} streamRate=${t.streamRate} ` +
        `interval=${t.debitNoteInterval} timeout=${t.paymentTimeout}${s.broken ? ` broken=${s.broken}` : ""})`
      );
    }
    case "increaseBudget":
      return `increaseBudget(${targetName(s.target)}, by=${whoName(s.by)}, +${s.amount})`;
    case "terminate":
    case "release":
    case "claim":
      return `${s.kind}(${targetName(s.target)}, by=${whoName(s.by)})`;
    case "settle":
      return `settle(by=${whoName(s.by)}, ${itemName(s.item)})`;
    case "settleBatch":
      return `settleBatch(by=${whoName(s.by)}, [${s.items.map(itemName).join(", ")}])`;
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Resolution against the model                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

function resolveWho(m: ModelState, who: Who, pool: PoolRef, agreement?: number): number {
  if (typeof who === "number") return who;
  if (who === "owner") return pool.owner;
  if (who === "acceptor") {
    const grants = [...(m.pools.get(poolKey(pool))?.grants ?? new Map<number, GrantM>())];
    const acceptor = grants.sort(([x], [y]) => x - y).find(([, g]) => (g.permissions & ACCEPT) !== 0);
    return acceptor?.[0] ?? pool.owner;
  }
  const a = agreement === undefined ? undefined : m.pools.get(poolKey(pool))?.agreements.get(agreement);
  return a?.provider ?? PROVIDERS[0];
}

function resolveTarget(m: ModelState, t: Target): { pool: PoolRef; agreement: number } {
  if ("pool" in t) return t;
  const wanted = "live" in t ? [Status.Active, Status.Terminated] : [Status.Terminated];
  const k = "live" in t ? t.live : t.terminated;
  const live: { pool: PoolRef; agreement: number }[] = [];
  for (const [key, pool] of [...m.pools].sort(([x], [y]) => x.localeCompare(y))) {
    const salt = Number(key.slice(key.indexOf("s") + 1));
    for (const [agreement, a] of [...pool.agreements].sort(([x], [y]) => x - y)) {
      if (wanted.includes(a.status)) live.push({ pool: { owner: pool.owner, salt }, agreement });
    }
  }
  return live.length === 0 ? { pool: { owner: OWNERS[0], salt: 0 }, agreement: AGREEMENTS - 1 } : live[k % live.length];
}

function resolveItem(m: ModelState, spec: AcceptanceSpec): AcceptanceC {
  const { pool, agreement } = resolveTarget(m, spec.target);
  const a = m.pools.get(poolKey(pool))?.agreements.get(agreement);
  const budget = a?.terms.budget ?? 1000n;
  let totalAccepted: bigint;
  if (spec.total === "stale") totalAccepted = a?.acceptedTotal ?? 0n;
  else if (spec.total === "huge") totalAccepted = (1n << 200n) + 7n;
  else totalAccepted = (budget * BigInt(spec.total.pctOfBudget)) / 100n;
  const signer = resolveWho(m, spec.signer, pool, agreement);
  return {
    pool,
    agreement,
    note: spec.note,
    totalAccepted,
    deadline: m.now + spec.deadlineIn,
    signer,
    forgedBy: spec.forged ? (signer + 1) % ACTORS.length : undefined,
  };
}

function breakTerms(t: TermsM, broken: TermsBreak | null): TermsM {
  const out = { ...t };
  switch (broken) {
    case null:
    case "provider=owner":
      break;
    case "budget0":
      out.budget = 0n;
      out.upfront = 0n;
      break;
    case "upfront>budget":
      out.upfront = out.budget + 1n;
      break;
    case "stream>max":
      out.maxRate = out.maxRate === 0n ? 1n : out.maxRate;
      out.streamRate = out.maxRate + 1n;
      break;
    case "intervalLow":
      out.debitNoteInterval = 119;
      break;
    case "intervalHigh":
      out.debitNoteInterval = 901;
      break;
    case "timeout0":
      out.paymentTimeout = 0;
      break;
    case "timeoutHigh":
      out.paymentTimeout = 86_401;
      break;
  }
  return out;
}

/** The sender and the concrete operation, resolved against the model at the time of the step. */
function resolve(m: ModelState, s: OpSpec): { sender: number; op: COp } {
  switch (s.kind) {
    case "createPool":
      return { sender: s.owner, op: { kind: "createPool", salt: s.salt, token: s.token } };
    case "fund":
      return { sender: resolveWho(m, s.from, s.pool), op: { kind: "fund", pool: s.pool, amount: s.amount } };
    case "withdraw": {
      const pool = m.pools.get(poolKey(s.pool));
      const free = pool === undefined ? 0n : pool.balance - pool.locked;
      const amount = "pct" in s.amount ? (free * BigInt(s.amount.pct)) / 100n : s.amount.abs;
      return { sender: resolveWho(m, s.by, s.pool), op: { kind: "withdraw", pool: s.pool, amount, to: s.to } };
    }
    case "setGrant":
      return {
        sender: resolveWho(m, s.by, s.pool),
        op: {
          kind: "setGrant",
          pool: s.pool,
          grantee: s.grantee,
          permissions: s.permissions,
          validUntil: m.now + s.validFor,
          openAllowance: s.openAllowance,
          openRefillRate: s.openRefillRate,
        },
      };
    case "openAgreement":
      return {
        sender: resolveWho(m, s.by, s.pool),
        op: {
          kind: "openAgreement",
          pool: s.pool,
          agreement: s.agreement,
          provider: s.broken === "provider=owner" ? s.pool.owner : s.provider,
          terms: breakTerms(s.terms, s.broken),
        },
      };
    case "increaseBudget": {
      const { pool, agreement } = resolveTarget(m, s.target);
      return {
        sender: resolveWho(m, s.by, pool, agreement),
        op: { kind: "increaseBudget", pool, agreement, amount: s.amount },
      };
    }
    case "terminate":
    case "release":
    case "claim": {
      const { pool, agreement } = resolveTarget(m, s.target);
      return { sender: resolveWho(m, s.by, pool, agreement), op: { kind: s.kind, pool, agreement } };
    }
    case "settle": {
      const item = resolveItem(m, s.item);
      return { sender: resolveWho(m, s.by, item.pool, item.agreement), op: { kind: "settle", item } };
    }
    case "settleBatch": {
      const items = s.items.map((i) => resolveItem(m, i));
      return {
        sender: resolveWho(m, s.by, items[0].pool, items[0].agreement),
        op: { kind: "settleBatch", items },
      };
    }
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Commands                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

/** One transaction: a single call, or a multicall of several calls from the same sender. */
class TxCommand implements fc.AsyncCommand<ModelState, Real> {
  constructor(private readonly specs: OpSpec[]) {}

  check(): boolean {
    return true;
  }

  async run(m: ModelState, r: Real): Promise<void> {
    m.now += 1;
    const resolved: { sender: number; op: COp }[] = [];
    // Each call of a multicall is resolved against the state the calls before it leave.
    const draft = structuredClone(m);
    const sender = resolve(draft, this.specs[0]).sender;
    for (const spec of this.specs) {
      const step = resolve(draft, spec);
      resolved.push(step);
      applyOp(draft, sender, step.op);
    }
    const ops = resolved.map((x) => x.op);
    const expected = ops.length === 1 ? applyOp(m, sender, ops[0]) : applyMulticall(m, sender, ops);
    const label = `step ${r.steps + 1} ${this.toString()}`;
    await sendAndCompare(m, r, sender, ops, expected, label);
    r.steps += 1;
    stats.steps += 1;
    await checkState(m, r, label);
  }

  toString(): string {
    if (this.specs.length === 1) return specName(this.specs[0]);
    return `multicall[${this.specs.map(specName).join("; ")}]`;
  }
}

/** Time passes with no transaction (across debit-note intervals, claim windows, grant expiries). */
class TimeJumpCommand implements fc.AsyncCommand<ModelState, Real> {
  constructor(private readonly seconds: number) {}

  check(): boolean {
    return true;
  }

  async run(m: ModelState, r: Real): Promise<void> {
    m.now += this.seconds;
    r.steps += 1;
    stats.steps += 1;
    await checkState(m, r, `step ${r.steps} ${this.toString()}`);
  }

  toString(): string {
    return `wait(${this.seconds}s)`;
  }
}

/**
 * Time passes up to a boundary the SPEC draws with `<=`: the end of the k-th terminated agreement's claim window,
 * the k-th grant's `validUntil`, or the end of the k-th ACCEPT notice (protocol 1.1). The next transaction then runs at that second plus `offset` (-1, 0 or +1).
 */
class WaitUntilCommand implements fc.AsyncCommand<ModelState, Real> {
  constructor(
    private readonly boundary: "claimWindowEnd" | "grantExpiry" | "acceptNoticeEnd",
    private readonly k: number,
    private readonly offset: number,
    /** Then release the agreement whose window it was, from this sender. */
    private readonly releaseBy?: Who,
  ) {}

  check(): boolean {
    return true;
  }

  async run(m: ModelState, r: Real): Promise<void> {
    const moments: { at: number; target?: Target }[] = [];
    for (const [key, pool] of [...m.pools].sort(([x], [y]) => x.localeCompare(y))) {
      if (this.boundary === "grantExpiry") {
        for (const g of pool.grants.values()) moments.push({ at: g.validUntil });
      } else if (this.boundary === "acceptNoticeEnd") {
        // Where a revoked or shortened ACCEPT stops counting (only those differing from validUntil are notices).
        for (const g of pool.grants.values()) {
          if (g.acceptValidUntil !== 0 && g.acceptValidUntil !== g.validUntil) moments.push({ at: g.acceptValidUntil });
        }
      } else {
        const ref = { owner: pool.owner, salt: Number(key.slice(key.indexOf("s") + 1)) };
        for (const [agreement, a] of [...pool.agreements].sort(([x], [y]) => x - y)) {
          if (a.status === Status.Terminated) {
            moments.push({ at: a.terminatedAt + a.terms.paymentTimeout, target: { pool: ref, agreement } });
          }
        }
      }
    }
    const chosen = moments.length === 0 ? undefined : moments.sort((x, y) => x.at - y.at)[this.k % moments.length];
    // The next transaction runs at m.now + 1; time never goes back.
    if (chosen !== undefined && chosen.at + this.offset - 1 > m.now) m.now = chosen.at + this.offset - 1;
    r.steps += 1;
    stats.steps += 1;
    await checkState(m, r, `step ${r.steps} ${this.toString()}`);
    if (this.releaseBy !== undefined && chosen?.target !== undefined) {
      await new TxCommand([{ kind: "release", target: chosen.target, by: this.releaseBy }]).run(m, r);
    }
  }

  toString(): string {
    const release = this.releaseBy === undefined ? "" : `, then release by=${whoName(this.releaseBy)}`;
    return `waitUntil(${this.boundary}#${this.k}${this.offset >= 0 ? "+" : ""}${this.offset}${release})`;
  }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Arbitraries                                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

const anyActor = fc.integer({ min: 0, max: ACTORS.length - 1 });
// The bootstrap pools (salt 0) most of the time, the ones a sequence may create itself otherwise.
const poolRef: fc.Arbitrary<PoolRef> = fc.record({
  owner: fc.constantFrom(...OWNERS),
  salt: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: SALTS - 1 }) },
  ),
});
// Low indices (the bootstrap agreements) most of the time, so that settlements meet live agreements.
const agreementIndex = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: AGREEMENTS - 1 }) },
);
const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ live: fc.nat({ max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ pool: poolRef, agreement: agreementIndex }) },
);
const ownerMostly: fc.Arbitrary<Who> = fc.oneof(
  { weight: 6, arbitrary: fc.constant("owner" as const) },
  { weight: 1, arbitrary: anyActor },
);
const openers: fc.Arbitrary<Who> = fc.oneof(
  { weight: 4, arbitrary: fc.constant("owner" as const) },
  { weight: 4, arbitrary: fc.constantFrom(...GRANTEES) },
  { weight: 1, arbitrary: anyActor },
);
const terminators: fc.Arbitrary<Who> = fc.oneof(
  { weight: 3, arbitrary: fc.constant("owner" as const) },
  { weight: 3, arbitrary: fc.constant("provider" as const) },
  { weight: 2, arbitrary: fc.constantFrom(...GRANTEES) },
  { weight: 1, arbitrary: anyActor },
);
const anyone: fc.Arbitrary<Who> = fc.oneof(
  { weight: 2, arbitrary: fc.constant("provider" as const) },
  { weight: 2, arbitrary: fc.constant(7) },
  { weight: 1, arbitrary: anyActor },
);
const signers: fc.Arbitrary<Who> = fc.oneof(
  { weight: 3, arbitrary: fc.constant("owner" as const) },
  { weight: 4, arbitrary: fc.constant("acceptor" as const) },
  { weight: 4, arbitrary: fc.constantFrom(...GRANTEES) },
  { weight: 1, arbitrary: anyActor },
);
const rate = (maxUnitsPerSecond: bigint): fc.Arbitrary<bigint> =>
  fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: maxUnitsPerSecond * 10n ** 18n }));

const termsArb: fc.Arbitrary<TermsM> = fc
  .record({
    budget: fc.bigInt({ min: 1n, max: 400_000n }),
    upfrontPct: fc.integer({ min: 0, max: 100 }),
    maxRate: rate(300n),
    streamPct: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
    streamAlone: rate(100n),
    debitNoteInterval: fc.integer({ min: 120, max: 900 }),
    paymentTimeout: fc.oneof(
      { weight: 5, arbitrary: fc.integer({ min: 1, max: 3000 }) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 86_400 }) },
    ),
  })
  .map((t) => ({
    budget: t.budget,
    upfront: (t.budget * BigInt(t.upfrontPct)) / 100n,
    maxRate: t.maxRate,
    streamRate: t.maxRate === 0n ? t.streamAlone : (t.maxRate * BigInt(t.streamPct)) / 100n,
    debitNoteInterval: t.debitNoteInterval,
    paymentTimeout: t.paymentTimeout,
  }));

const termsBreak: fc.Arbitrary<TermsBreak | null> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<TermsBreak>(
      "budget0",
      "upfront>budget",
      "stream>max",
      "intervalLow",
      "intervalHigh",
      "timeout0",
      "timeoutHigh",
      "provider=owner",
    ),
  },
);

const totalArb: fc.Arbitrary<Total> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ pctOfBudget: fc.integer({ min: 0, max: 150 }) }) },
  { weight: 1, arbitrary: fc.constant("stale" as const) },
  { weight: 1, arbitrary: fc.constant("huge" as const) },
);

const acceptanceArb: fc.Arbitrary<AcceptanceSpec> = fc.record({
  target: targetArb,
  signer: signers,
  forged: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))), // forged 1 in 4
  total: totalArb,
  deadlineIn: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 600 }) },
    { weight: 1, arbitrary: fc.integer({ min: -30, max: -1 }) },
  ),
  note: fc.integer({ min: 0, max: 999 }),
});

const specArbs: Record<OpSpec["kind"], fc.Arbitrary<OpSpec>> = {
  createPool: fc.record({
    kind: fc.constant("createPool" as const),
    owner: fc.constantFrom(...OWNERS),
    salt: fc.integer({ min: 0, max: SALTS - 1 }),
    token: fc.integer({ min: 0, max: TOKENS.length - 1 }),
  }),
  fund: fc.record({
    kind: fc.constant("fund" as const),
    pool: poolRef,
    from: ownerMostly,
    amount: fc.oneof(
      { weight: 12, arbitrary: fc.bigInt({ min: 1n, max: 1_000_000n }) },
      { weight: 1, arbitrary: fc.constant(0n) },
    ),
  }),
  withdraw: fc.record({
    kind: fc.constant("withdraw" as const),
    pool: poolRef,
    by: ownerMostly,
    amount: fc.oneof(
      { weight: 6, arbitrary: fc.record({ pct: fc.integer({ min: 0, max: 100 }) }) },
      { weight: 1, arbitrary: fc.record({ pct: fc.integer({ min: 101, max: 200 }) }) },
      { weight: 1, arbitrary: fc.record({ abs: fc.bigInt({ min: 0n, max: 1_000_000n }) }) },
    ),
    to: anyActor,
  }),
  setGrant: fc.record({
    kind: fc.constant("setGrant" as const),
    pool: poolRef,
    by: ownerMostly,
    grantee: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...GRANTEES) },
      { weight: 1, arbitrary: fc.constant(PROVIDERS[0]) },
    ),
    permissions: fc.oneof(
      { weight: 10, arbitrary: fc.integer({ min: 0, max: 7 }) },
      { weight: 1, arbitrary: fc.integer({ min: 8, max: 255 }) },
    ),
    validFor: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: 20_000 }) },
      { weight: 1, arbitrary: fc.integer({ min: -100, max: -1 }) },
    ),
    openAllowance: fc.bigInt({ min: 0n, max: 600_000n }),
    openRefillRate: rate(200n),
  }),
  openAgreement: fc.record({
    kind: fc.constant("openAgreement" as const),
    pool: poolRef,
    by: openers,
    agreement: agreementIndex,
    provider: fc.constantFrom(...PROVIDERS),
    terms: termsArb,
    broken: termsBreak,
  }),
  increaseBudget: fc.record({
    kind: fc.constant("increaseBudget" as const),
    target: targetArb,
    by: openers,
    amount: fc.oneof(
      { weight: 10, arbitrary: fc.bigInt({ min: 1n, max: 200_000n }) },
      { weight: 1, arbitrary: fc.constant(0n) },
    ),
  }),
  terminate: fc.record({ kind: fc.constant("terminate" as const), target: targetArb, by: terminators }),
  release: fc.record({
    kind: fc.constant("release" as const),
    target: fc.oneof(targetArb, fc.record({ terminated: fc.nat({ max: 7 }) })),
    by: anyone,
  }),
  settle: fc.record({ kind: fc.constant("settle" as const), by: anyone, item: acceptanceArb }),
  settleBatch: fc.record({
    kind: fc.constant("settleBatch" as const),
    by: anyone,
    items: fc.array(acceptanceArb, { minLength: 1, maxLength: 4 }),
  }),
  claim: fc.record({ kind: fc.constant("claim" as const), target: targetArb, by: anyone }),
};

const single = (kind: OpSpec["kind"], weight: number): fc.WeightedArbitrary<fc.AsyncCommand<ModelState, Real>> => ({
  weight,
  arbitrary: specArbs[kind].map((s) => new TxCommand([s])),
});

/** Multicalls a provider or a relay would send: settle/claim then terminate/release, or a funding round. */
const multicallArb: fc.Arbitrary<fc.AsyncCommand<ModelState, Real>> = fc
  .array(
    fc.oneof(
      specArbs.settle,
      specArbs.claim,
      specArbs.terminate,
      specArbs.release,
      specArbs.increaseBudget,
      specArbs.fund,
      specArbs.withdraw,
    ),
    { minLength: 2, maxLength: 3 },
  )
  .map((specs) => new TxCommand(specs));

const timeJumpArb = fc
  .oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 600 }) },
    { weight: 3, arbitrary: fc.integer({ min: 601, max: 4000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 4001, max: 100_000 }) },
  )
  .map((s) => new TimeJumpCommand(s));

const waitUntilArb = fc.oneof(
  fc
    .tuple(fc.nat({ max: 7 }), fc.integer({ min: 0, max: 1 }), anyone)
    .map(([k, offset, by]) => new WaitUntilCommand("claimWindowEnd", k, offset, by)),
  fc
    .tuple(
      fc.constantFrom("claimWindowEnd" as const, "grantExpiry" as const, "acceptNoticeEnd" as const),
      fc.nat({ max: 7 }),
      fc.integer({ min: -1, max: 1 }),
    )
    .map(([boundary, k, offset]) => new WaitUntilCommand(boundary, k, offset)),
);

/** Every command, weighted so that pools exist and agreements get opened early in most sequences. */
export function commandArbitraries(): fc.Arbitrary<fc.AsyncCommand<ModelState, Real>>[] {
  const weighted = fc.oneof(
    single("createPool", 3),
    single("fund", 4),
    single("withdraw", 2),
    single("setGrant", 3),
    single("openAgreement", 5),
    single("increaseBudget", 2),
    single("terminate", 2),
    single("release", 2),
    single("settle", 6),
    single("settleBatch", 3),
    single("claim", 3),
    { weight: 2, arbitrary: multicallArb },
    { weight: 4, arbitrary: timeJumpArb },
    { weight: 2, arbitrary: waitUntilArb },
  );
  return [weighted];
}

/**
 * Every sequence starts from two funded pools (one per token, two owners) and one OPEN|ACCEPT|TERMINATE grantee,
 * sent through the same checked path, so random steps meet live pools; the other pool slots are created (or not)
 * by the sequence itself.
 */
export function bootstrapCommands(): fc.AsyncCommand<ModelState, Real>[] {
  const glmPool = { owner: 0, salt: 0 };
  const usdtPool = { owner: 1, salt: 0 };
  return [
    new TxCommand([{ kind: "createPool", owner: 0, salt: 0, token: 0 }]),
    new TxCommand([{ kind: "createPool", owner: 1, salt: 0, token: 1 }]),
    new TxCommand([{ kind: "fund", pool: glmPool, from: "owner", amount: 1_000_000n }]),
    new TxCommand([{ kind: "fund", pool: usdtPool, from: "owner", amount: 1_000_000n }]),
    new TxCommand([
      {
        kind: "setGrant",
        pool: glmPool,
        by: "owner",
        grantee: GRANTEES[0],
        permissions: 7,
        validFor: 20_000,
        openAllowance: 300_000n,
        openRefillRate: 50n * 10n ** 18n,
      },
    ]),
    // A rate-capped, streaming agreement opened by the grantee, and an acceptance-only one opened by the owner.
    new TxCommand([
      {
        kind: "openAgreement",
        pool: glmPool,
        by: GRANTEES[0],
        agreement: 0,
        provider: PROVIDERS[0],
        terms: {
          budget: 200_000n,
          upfront: 1_000n,
          maxRate: 100n * 10n ** 18n,
          streamRate: 10n * 10n ** 18n,
          debitNoteInterval: 120,
          paymentTimeout: 600,
        },
        broken: null,
      },
    ]),
    new TxCommand([
      {
        kind: "openAgreement",
        pool: usdtPool,
        by: "owner",
        agreement: 0,
        provider: PROVIDERS[1],
        terms: {
          budget: 150_000n,
          upfront: 0n,
          maxRate: 0n,
          streamRate: 0n,
          debitNoteInterval: 900,
          paymentTimeout: 300,
        },
        broken: null,
      },
    ]),
  ];
}
