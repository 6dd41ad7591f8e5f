/**
 * An independent TypeScript model of the SPEC's payout rule and OPEN allowance bucket, written from SPEC.md (not
 * from the Solidity), in bigint. Tests compare the contract against it at many points in time.
 *
 * ```
 * end       = Active ? now : terminatedAt
 * elapsed   = end - startedAt
 * cap       = maxRate == 0 ? budget : upfront + maxRate * elapsed / 1e18
 * floor     = streamRate * elapsed / 1e18
 * payable   = min(budget, max(min(acceptedTotal, cap), floor))
 * claimable = payable - paid
 *
 * openAllowanceNow = min(openAllowance, level + openRefillRate * (now - refilledAt) / 1e18)
 * ```
 */

/** Rates are token base units per second, scaled by this factor. */
export const RATE_SCALE = 10n ** 18n;

/** `enum Status { None, Active, Terminated, Released }` as ethers returns it. */
export const Status = { None: 0n, Active: 1n, Terminated: 2n, Released: 3n } as const;

/** The four economic fields of `Terms` the payout rule reads. */
export interface PayoutTerms {
  budget: bigint;
  upfront: bigint;
  maxRate: bigint;
  streamRate: bigint;
}

/** What the model needs of an agreement: `getAgreement`'s output satisfies it. */
export interface AgreementState {
  status: bigint;
  startedAt: bigint;
  terminatedAt: bigint;
  terms: PayoutTerms;
  paid: bigint;
  acceptedTotal: bigint;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** `x GLM per second` (in base units) as the contract's 1e18-scaled rate. */
export function perSecond(baseUnitsPerSecond: bigint): bigint {
  return baseUnitsPerSecond * RATE_SCALE;
}

/** `x per hour` (base units) as the 1e18-scaled per-second rate, rounded down like the SDK's rate helper. */
export function perHour(baseUnitsPerHour: bigint): bigint {
  return (baseUnitsPerHour * RATE_SCALE) / 3600n;
}

/** The rate cap after `elapsed` seconds (`budget` when there is no rate cap). */
export function capAt(terms: PayoutTerms, elapsed: bigint): bigint {
  return terms.maxRate === 0n ? terms.budget : terms.upfront + (terms.maxRate * elapsed) / RATE_SCALE;
}

/** The stream floor after `elapsed` seconds. */
export function floorAt(terms: PayoutTerms, elapsed: bigint): bigint {
  return (terms.streamRate * elapsed) / RATE_SCALE;
}

/** The payout rule: the total the provider may have been paid after `elapsed` seconds with `acceptedTotal`. */
export function payableAmount(terms: PayoutTerms, acceptedTotal: bigint, elapsed: bigint): bigint {
  if (elapsed < 0n) throw new RangeError("elapsed must not be negative");
  return min(terms.budget, max(min(acceptedTotal, capAt(terms, elapsed)), floorAt(terms, elapsed)));
}

/** Seconds counted by the rule at time `now`: the clock stops at termination. */
export function elapsedAt(agreement: AgreementState, now: bigint): bigint {
  const end = agreement.status === Status.Active ? now : agreement.terminatedAt;
  return end - agreement.startedAt;
}

/** `payable` for an agreement at `now`, optionally with a higher accepted total than the recorded one. */
export function payableAt(agreement: AgreementState, now: bigint, acceptedTotal = agreement.acceptedTotal): bigint {
  if (agreement.status === Status.None || agreement.status === Status.Released) return agreement.paid;
  return payableAmount(agreement.terms, acceptedTotal, elapsedAt(agreement, now));
}

/** `claimable` at `now`: zero for unknown and released agreements. */
export function claimableAt(agreement: AgreementState, now: bigint): bigint {
  if (agreement.status === Status.None || agreement.status === Status.Released) return 0n;
  return payableAt(agreement, now) - agreement.paid;
}

/** What `settle` of a signed `totalAccepted` at `now` pays and records (before its `NothingToSettle` check). */
export function settleOutcome(
  agreement: AgreementState,
  totalAccepted: bigint,
  now: bigint,
): { acceptedTotal: bigint; paid: bigint; payout: bigint } {
  const acceptedTotal = max(agreement.acceptedTotal, totalAccepted);
  const payableNow = payableAt(agreement, now, acceptedTotal);
  return { acceptedTotal, paid: payableNow, payout: payableNow - agreement.paid };
}

/** The OPEN bucket level after `secondsSinceRefill` seconds. */
export function allowanceNow(
  level: bigint,
  openAllowance: bigint,
  openRefillRate: bigint,
  secondsSinceRefill: bigint,
): bigint {
  return min(openAllowance, level + (openRefillRate * secondsSinceRefill) / RATE_SCALE);
}

/**
 * The OPEN allowance bucket of one grant: `setGrant` starts it full, each `openAgreement` / `increaseBudget` by the
 * grantee spends from it; releases never refill it.
 */
export class AllowanceBucket {
  private level: bigint;
  private refilledAt: bigint;

  constructor(
    readonly openAllowance: bigint,
    readonly openRefillRate: bigint,
    grantedAt: bigint,
  ) {
    this.level = openAllowance;
    this.refilledAt = grantedAt;
  }

  /** `openAllowanceNow` at `now`. */
  available(now: bigint): bigint {
    return allowanceNow(this.level, this.openAllowance, this.openRefillRate, now - this.refilledAt);
  }

  /** Spends `amount` at `now`; throws (like `AllowanceExceeded`) when the bucket holds less. */
  spend(amount: bigint, now: bigint): void {
    const available = this.available(now);
    if (amount > available) throw new RangeError(`AllowanceExceeded(${available}, ${amount})`);
    this.level = available - amount;
    this.refilledAt = now;
  }
}
