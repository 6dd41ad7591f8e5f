/**
 * An independent TypeScript model of the DripFeed protocol 1.1 (docs/PROTOCOL.md), written from the protocol and not from the
 * contract: pools, grants with the OPEN token bucket, agreements, the payout rule, the claim window and every
 * token movement. Each operation either returns the error the SPEC names (and leaves the state untouched) or
 * applies its effects. Where several errors apply at once the SPEC does not fix an order; the model checks them in
 * the order the interface documents them (existence, authorization, arguments, balances).
 */

export const ACCEPT = 1;
export const TERMINATE = 2;
export const OPEN = 4;
/** Seconds a revoked or shortened ACCEPT keeps counting (protocol 1.1). */
export const ACCEPT_NOTICE = 3600;
const ALL_PERMISSIONS = ACCEPT | TERMINATE | OPEN;
const RATE_SCALE = 10n ** 18n;
const UINT128_MAX = (1n << 128n) - 1n;

export enum Status {
  None = 0,
  Active = 1,
  Terminated = 2,
  Released = 3,
}

/** The actors of a fuzz run, by index. Owners create pools; anyone may call anything. */
export const ACTORS = ["owner0", "owner1", "grantee0", "grantee1", "provider0", "provider1", "provider2", "relay"];
export const OWNERS = [0, 1];
export const GRANTEES = [2, 3];
export const PROVIDERS = [4, 5, 6];
export const TOKENS = ["GLM", "NoReturn"];
export const SALTS = 2;
export const AGREEMENTS = 4;

export interface PoolRef {
  owner: number;
  salt: number;
}

export const poolKey = (ref: PoolRef): string => `o${ref.owner}s${ref.salt}`;

export interface TermsM {
  budget: bigint;
  upfront: bigint;
  maxRate: bigint;
  streamRate: bigint;
  debitNoteInterval: number;
  paymentTimeout: number;
}

export interface GrantM {
  permissions: number;
  validUntil: number;
  /** Protocol 1.1: the last second the grantee's acceptances settle (its ACCEPT grant, or a notice still running). */
  acceptValidUntil: number;
  level: bigint;
  openAllowance: bigint;
  openRefillRate: bigint;
  refilledAt: number;
}

export interface AgreementM {
  provider: number;
  status: Status;
  startedAt: number;
  terminatedAt: number;
  terminatedByProvider: boolean;
  terms: TermsM;
  paid: bigint;
  acceptedTotal: bigint;
}

export interface PoolM {
  owner: number;
  token: number;
  balance: bigint;
  locked: bigint;
  grants: Map<number, GrantM>;
  agreements: Map<number, AgreementM>;
  funded: bigint;
  withdrawn: bigint;
  paidOut: bigint;
}

export interface ModelState {
  /** The timestamp of the block the next (or current) transaction runs in. */
  now: number;
  pools: Map<string, PoolM>;
  /** wallets[actor][token] */
  wallets: bigint[][];
  /** DripFeed's balance of each token. */
  held: bigint[];
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Concrete operations (all values absolute, resolved against the model at execution time)                       */
/* ------------------------------------------------------------------------------------------------------------ */

export interface AcceptanceC {
  pool: PoolRef;
  agreement: number;
  note: number;
  totalAccepted: bigint;
  deadline: number;
  signer: number;
  /** When set, the signature is made by this other actor's key (a forgery for `signer`). */
  forgedBy?: number;
}

export type COp =
  | { kind: "createPool"; salt: number; token: number }
  | { kind: "fund"; pool: PoolRef; amount: bigint }
  | { kind: "withdraw"; pool: PoolRef; amount: bigint; to: number }
  | {
      kind: "setGrant";
      pool: PoolRef;
      grantee: number;
      permissions: number;
      validUntil: number;
      openAllowance: bigint;
      openRefillRate: bigint;
    }
  | { kind: "openAgreement"; pool: PoolRef; agreement: number; provider: number; terms: TermsM }
  | { kind: "increaseBudget"; pool: PoolRef; agreement: number; amount: bigint }
  | { kind: "terminate"; pool: PoolRef; agreement: number }
  | { kind: "release"; pool: PoolRef; agreement: number }
  | { kind: "settle"; item: AcceptanceC }
  | { kind: "settleBatch"; items: AcceptanceC[] }
  | { kind: "claim"; pool: PoolRef; agreement: number };

/** What the model expects from one operation. */
export type Outcome = { ok: true; batchFailures: string[] } | { ok: false; error: string };

const fail = (error: string): Outcome => ({ ok: false, error });
const OK: Outcome = { ok: true, batchFailures: [] };

/* ------------------------------------------------------------------------------------------------------------ */
/* The two formulas of the SPEC                                                                                   */
/* ------------------------------------------------------------------------------------------------------------ */

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** The SPEC's payout rule for an agreement at `now` (Active: now; Terminated/Released: frozen at terminatedAt). */
export function payableAt(
  a: Pick<AgreementM, "status" | "startedAt" | "terminatedAt" | "terms" | "acceptedTotal">,
  now: number,
): bigint {
  const end = a.status === Status.Active ? now : a.terminatedAt;
  const elapsed = BigInt(end - a.startedAt);
  const { budget, upfront, maxRate, streamRate } = a.terms;
  const cap = maxRate === 0n ? budget : upfront + (maxRate * elapsed) / RATE_SCALE;
  const floor = (streamRate * elapsed) / RATE_SCALE;
  return min(budget, max(min(a.acceptedTotal, cap), floor));
}

/** The SPEC's OPEN bucket: `min(openAllowance, level + openRefillRate * (now - refilledAt) / 1e18)`. */
export function allowanceNow(g: GrantM, now: number): bigint {
  return min(g.openAllowance, g.level + (g.openRefillRate * BigInt(now - g.refilledAt)) / RATE_SCALE);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* State transitions                                                                                              */
/* ------------------------------------------------------------------------------------------------------------ */

export function initialModel(now: number, minted: bigint): ModelState {
  return {
    now,
    pools: new Map(),
    wallets: ACTORS.map(() => TOKENS.map(() => minted)),
    held: TOKENS.map(() => 0n),
  };
}

export function cloneModel(m: ModelState): ModelState {
  return structuredClone(m);
}

/** The SPEC 1.1 ACCEPT notice: the validity after a `setGrant` that sets `permissions` until `validUntil`. */
export function nextAcceptValidUntil(previous: number, permissions: number, validUntil: number, now: number): number {
  const next = (permissions & ACCEPT) !== 0 ? validUntil : 0;
  if (next < previous && now <= previous) return Math.max(next, Math.min(previous, now + ACCEPT_NOTICE));
  return next;
}

function hasValidGrant(pool: PoolM, account: number, permission: number, now: number): boolean {
  const g = pool.grants.get(account);
  return g !== undefined && (g.permissions & permission) !== 0 && now <= g.validUntil;
}

/** Pays `amount` of the pool's locked money to `provider`. */
function payOut(m: ModelState, pool: PoolM, provider: number, amount: bigint): void {
  if (amount === 0n) return;
  pool.balance -= amount;
  pool.locked -= amount;
  pool.paidOut += amount;
  m.held[pool.token] -= amount;
  m.wallets[provider][pool.token] += amount;
}

/** Locks `amount` of free balance, spending the sender's bucket unless it is the owner. */
function lock(pool: PoolM, sender: number, amount: bigint, now: number): string | undefined {
  // A grantee's bucket is checked before the free balance (the SPEC's order: the bucket bounds what it may lock).
  if (sender !== pool.owner) {
    const g = pool.grants.get(sender);
    if (g === undefined) return "NotAuthorized";
    const available = allowanceNow(g, now);
    if (amount > available) return "AllowanceExceeded";
    if (pool.locked + amount > pool.balance) return "InsufficientFreeBalance";
    g.level = available - amount;
    g.refilledAt = now;
  } else if (pool.locked + amount > pool.balance) {
    return "InsufficientFreeBalance";
  }
  pool.locked += amount;
  return undefined;
}

function validateTerms(t: TermsM, provider: number, owner: number): string | undefined {
  if (t.budget === 0n) return "InvalidTerms";
  if (t.upfront > t.budget) return "InvalidTerms";
  if (t.maxRate !== 0n && t.streamRate > t.maxRate) return "InvalidTerms";
  if (t.debitNoteInterval < 120 || t.debitNoteInterval > 900) return "InvalidTerms";
  if (t.paymentTimeout < 1 || t.paymentTimeout > 86_400) return "InvalidTerms";
  if (provider === owner) return "InvalidTerms";
  return undefined;
}

/** One acceptance; returns the error name or undefined on success (state updated). */
function settleOne(m: ModelState, item: AcceptanceC): string | undefined {
  const now = m.now;
  const pool = m.pools.get(poolKey(item.pool));
  const a = pool?.agreements.get(item.agreement);
  if (pool === undefined || a === undefined) return "AgreementNotFound";
  if (a.status === Status.Released) return "AgreementNotActive";
  if (item.deadline < now) return "SignatureExpired";
  const authorized = item.signer === pool.owner || now <= (pool.grants.get(item.signer)?.acceptValidUntil ?? 0);
  if (!authorized || item.forgedBy !== undefined) return "InvalidSignature";
  const signed = min(item.totalAccepted, UINT128_MAX);
  const acceptedTotal = max(a.acceptedTotal, signed);
  const payableNow = payableAt({ ...a, acceptedTotal }, now);
  const paid = payableNow - a.paid;
  if (acceptedTotal === a.acceptedTotal && paid === 0n) return "NothingToSettle";
  a.acceptedTotal = acceptedTotal;
  a.paid = payableNow;
  payOut(m, pool, a.provider, paid);
  return undefined;
}

/** Applies one operation sent by `sender` at `m.now`. On failure the state is left untouched. */
export function applyOp(m: ModelState, sender: number, op: COp): Outcome {
  const now = m.now;
  switch (op.kind) {
    case "createPool": {
      const key = poolKey({ owner: sender, salt: op.salt });
      if (m.pools.has(key)) return fail("PoolExists");
      m.pools.set(key, {
        owner: sender,
        token: op.token,
        balance: 0n,
        locked: 0n,
        grants: new Map(),
        agreements: new Map(),
        funded: 0n,
        withdrawn: 0n,
        paidOut: 0n,
      });
      return OK;
    }
    case "fund": {
      if (op.amount === 0n) return fail("ZeroAmount");
      const pool = m.pools.get(poolKey(op.pool));
      if (pool === undefined) return fail("PoolNotFound");
      pool.balance += op.amount;
      pool.funded += op.amount;
      m.held[pool.token] += op.amount;
      m.wallets[sender][pool.token] -= op.amount;
      return OK;
    }
    case "withdraw": {
      const pool = m.pools.get(poolKey(op.pool));
      if (pool === undefined) return fail("PoolNotFound");
      if (sender !== pool.owner) return fail("NotPoolOwner");
      if (op.amount === 0n) return fail("ZeroAmount");
      if (op.amount > pool.balance - pool.locked) return fail("InsufficientFreeBalance");
      pool.balance -= op.amount;
      pool.withdrawn += op.amount;
      m.held[pool.token] -= op.amount;
      m.wallets[op.to][pool.token] += op.amount;
      return OK;
    }
    case "setGrant": {
      const pool = m.pools.get(poolKey(op.pool));
      if (pool === undefined) return fail("PoolNotFound");
      if (sender !== pool.owner) return fail("NotPoolOwner");
      if ((op.permissions & ~ALL_PERMISSIONS) !== 0) return fail("InvalidPermissions");
      // The grant is kept as set (a revocation too: its ACCEPT notice may still run).
      const previous = pool.grants.get(op.grantee)?.acceptValidUntil ?? 0;
      pool.grants.set(op.grantee, {
        permissions: op.permissions,
        validUntil: op.validUntil,
        acceptValidUntil: nextAcceptValidUntil(previous, op.permissions, op.validUntil, now),
        level: op.openAllowance,
        openAllowance: op.openAllowance,
        openRefillRate: op.openRefillRate,
        refilledAt: now,
      });
      return OK;
    }
    case "openAgreement": {
      const pool = m.pools.get(poolKey(op.pool));
      if (pool === undefined) return fail("PoolNotFound");
      if (sender !== pool.owner && !hasValidGrant(pool, sender, OPEN, now)) return fail("NotAuthorized");
      const invalid = validateTerms(op.terms, op.provider, pool.owner);
      if (invalid !== undefined) return fail(invalid);
      if (pool.agreements.has(op.agreement)) return fail("AgreementExists");
      // `lock` changes nothing when it fails.
      const lockError = lock(pool, sender, op.terms.budget, now);
      if (lockError !== undefined) return fail(lockError);
      pool.agreements.set(op.agreement, {
        provider: op.provider,
        status: Status.Active,
        startedAt: now,
        terminatedAt: 0,
        terminatedByProvider: false,
        terms: { ...op.terms },
        paid: 0n,
        acceptedTotal: 0n,
      });
      return OK;
    }
    case "increaseBudget": {
      if (op.amount === 0n) return fail("ZeroAmount");
      const pool = m.pools.get(poolKey(op.pool));
      if (pool === undefined) return fail("PoolNotFound");
      if (sender !== pool.owner && !hasValidGrant(pool, sender, OPEN, now)) return fail("NotAuthorized");
      const a = pool.agreements.get(op.agreement);
      if (a === undefined) return fail("AgreementNotFound");
      if (a.status !== Status.Active) return fail("AgreementNotActive");
      if (a.terms.budget + op.amount > UINT128_MAX) return fail("InvalidTerms");
      const lockError = lock(pool, sender, op.amount, now);
      if (lockError !== undefined) return fail(lockError);
      a.terms.budget += op.amount;
      return OK;
    }
    case "terminate": {
      const pool = m.pools.get(poolKey(op.pool));
      const a = pool?.agreements.get(op.agreement);
      if (pool === undefined || a === undefined) return fail("AgreementNotFound");
      if (a.status !== Status.Active) return fail("AgreementNotActive");
      const byProvider = sender === a.provider;
      if (!byProvider && sender !== pool.owner && !hasValidGrant(pool, sender, TERMINATE, now)) {
        return fail("NotAuthorized");
      }
      a.status = Status.Terminated;
      a.terminatedAt = now;
      a.terminatedByProvider = byProvider;
      return OK;
    }
    case "release": {
      const pool = m.pools.get(poolKey(op.pool));
      const a = pool?.agreements.get(op.agreement);
      if (pool === undefined || a === undefined) return fail("AgreementNotFound");
      if (a.status === Status.Active) return fail("ClaimWindowOpen");
      if (a.status === Status.Released) return fail("AgreementNotActive");
      if (!a.terminatedByProvider && now <= a.terminatedAt + a.terms.paymentTimeout) return fail("ClaimWindowOpen");
      // Protocol 1.1: the provider is paid what the payout rule made payable; only the rest goes back.
      const payableNow = payableAt(a, now);
      payOut(m, pool, a.provider, payableNow - a.paid);
      pool.locked -= a.terms.budget - payableNow;
      a.paid = payableNow;
      a.status = Status.Released;
      return OK;
    }
    case "settle": {
      const draft = cloneModel(m);
      const error = settleOne(draft, op.item);
      if (error !== undefined) return fail(error);
      settleOne(m, op.item);
      return OK;
    }
    case "settleBatch": {
      const batchFailures: string[] = [];
      for (const item of op.items) {
        const draft = cloneModel(m);
        const error = settleOne(draft, item);
        if (error !== undefined) batchFailures.push(error);
        else settleOne(m, item);
      }
      return { ok: true, batchFailures };
    }
    case "claim": {
      const pool = m.pools.get(poolKey(op.pool));
      const a = pool?.agreements.get(op.agreement);
      if (pool === undefined || a === undefined) return fail("AgreementNotFound");
      if (a.status === Status.Released) return fail("NothingToSettle");
      const payableNow = payableAt(a, now);
      const paid = payableNow - a.paid;
      if (paid === 0n) return fail("NothingToSettle");
      a.paid = payableNow;
      payOut(m, pool, a.provider, paid);
      return OK;
    }
  }
}

/**
 * A `multicall` of `ops` from one sender: all or nothing, failing with the first failing call's error (OpenZeppelin
 * Multicall bubbles it). Returns the batch failures of every settleBatch inside, in order.
 */
export function applyMulticall(m: ModelState, sender: number, ops: COp[]): Outcome {
  const draft = cloneModel(m);
  const batchFailures: string[] = [];
  for (const op of ops) {
    const outcome = applyOp(draft, sender, op);
    if (!outcome.ok) return outcome;
    batchFailures.push(...outcome.batchFailures);
  }
  Object.assign(m, draft);
  return { ok: true, batchFailures };
}
