import { RATE_SCALE } from "./rates";
import type { Terms } from "./terms";

/** Lifecycle of an agreement, by the names of the Solidity enum. */
export type AgreementStatus = "None" | "Active" | "Terminated" | "Released";
export const AGREEMENT_STATUSES: readonly AgreementStatus[] = ["None", "Active", "Terminated", "Released"];

/** An agreement as read from chain (`getAgreement`), times in unix seconds. */
export interface AgreementState {
  provider: string;
  status: AgreementStatus;
  startedAt: bigint;
  terminatedAt: bigint;
  terms: Terms;
  paid: bigint;
  acceptedTotal: bigint;
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * The SPEC payout rule on plain values:
 * `payable = min(budget, max(min(acceptedTotal, cap), floor))`, `cap = maxRate == 0 ? budget : upfront + maxRate *
 * elapsed / 1e18`, `floor = streamRate * elapsed / 1e18`.
 */
export function payableAmount(
  terms: Pick<Terms, "budget" | "upfront" | "maxRate" | "streamRate">,
  acceptedTotal: bigint,
  elapsed: bigint,
): bigint {
  const cap = terms.maxRate === 0n ? terms.budget : terms.upfront + (terms.maxRate * elapsed) / RATE_SCALE;
  const floor = (terms.streamRate * elapsed) / RATE_SCALE;
  return min(terms.budget, max(min(acceptedTotal, cap), floor));
}

/** The seconds the agreement's clock has run at `time` (frozen at termination, never negative). */
export function elapsedAt(agreement: AgreementState, time: bigint): bigint {
  const end = agreement.status === "Active" ? time : agreement.terminatedAt;
  return max(0n, end - agreement.startedAt);
}

/**
 * What the provider may have been paid in total at `time`, with an optional accepted total (defaults to the
 * recorded one). A released agreement is final: what was paid.
 */
export function payableAt(agreement: AgreementState, time: bigint, acceptedTotal = agreement.acceptedTotal): bigint {
  if (agreement.status === "None") return 0n;
  if (agreement.status === "Released") return agreement.paid;
  return payableAmount(agreement.terms, max(acceptedTotal, agreement.acceptedTotal), elapsedAt(agreement, time));
}

/** What `claim` would pay at `time` (the contract's `claimable`, evaluated at any time). */
export function claimableAt(agreement: AgreementState, time: bigint): bigint {
  if (agreement.status === "None" || agreement.status === "Released") return 0n;
  return max(0n, payableAt(agreement, time) - agreement.paid);
}

/** When a stream floor has paid out the whole budget (first second it does), or undefined without a floor. */
export function depletionTime(terms: Pick<Terms, "budget" | "streamRate">, startedAt: bigint): bigint | undefined {
  if (terms.streamRate === 0n) return undefined;
  return startedAt + ceilDiv(terms.budget * RATE_SCALE, terms.streamRate);
}

/**
 * When the rate cap lets `acceptedTotal` (clamped to the budget) be paid in full: the first second the accepted
 * amount has dripped out. `startedAt` itself without a cap or when the upfront already covers it.
 */
export function dripCompleteAt(
  terms: Pick<Terms, "budget" | "upfront" | "maxRate">,
  startedAt: bigint,
  acceptedTotal: bigint,
): bigint {
  const target = min(acceptedTotal, terms.budget);
  if (terms.maxRate === 0n || target <= terms.upfront) return startedAt;
  return startedAt + ceilDiv((target - terms.upfront) * RATE_SCALE, terms.maxRate);
}

/**
 * The end of the claim window after termination (`terminatedAt + paymentTimeout`) while the agreement is Terminated;
 * undefined when Active or Released (a released agreement has no window left). When the provider itself terminated,
 * `release` may run before this: see `releasableAt`.
 */
export function claimWindowEnd(agreement: AgreementState): bigint | undefined {
  if (agreement.status !== "Terminated") return undefined;
  return agreement.terminatedAt + BigInt(agreement.terms.paymentTimeout);
}

/**
 * From when anyone may `release` a Terminated agreement: at once when the provider terminated it (`terminatedBy`),
 * else at the end of the claim window. Undefined when Active or Released.
 */
export function releasableAt(agreement: AgreementState, terminatedBy?: string): bigint | undefined {
  const windowEnd = claimWindowEnd(agreement);
  if (windowEnd === undefined) return undefined;
  if (terminatedBy !== undefined && terminatedBy.toLowerCase() === agreement.provider.toLowerCase()) {
    return agreement.terminatedAt;
  }
  return windowEnd;
}

/** The rate cap at `time`: the most acceptances can have unlocked (`upfront + maxRate x elapsed`, or the budget). */
export function capAt(agreement: AgreementState, time: bigint): bigint {
  const { terms } = agreement;
  if (terms.maxRate === 0n) return terms.budget;
  return min(terms.budget, terms.upfront + (terms.maxRate * elapsedAt(agreement, time)) / RATE_SCALE);
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}
