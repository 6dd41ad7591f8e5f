import type { AgreementView } from "../sdk/client";
import { payableAt } from "../sdk/payout";
import { RATE_SCALE } from "../sdk/rates";
import type { ChainEvent } from "./events";

/**
 * How fast an agreement is paying now and when its budget runs out at that pace: a forecast for people, not a
 * rule (the contract never computes it). The pace is what the payout rule lets through at present:
 * - the acceptances' pace: the rise of the accepted total between the last two settled debit notes (or since the
 *   start when there was one), never more than the rate cap, and exactly the cap while a backlog of accepted but
 *   capped amount is still dripping out;
 * - never less than the stream floor, which pays with no acceptance at all.
 * The budget runs out when what is payable reaches the budget at that pace.
 */

export type PaceBasis = "acceptances" | "rate cap" | "cap backlog" | "stream floor" | "stopped" | "idle";

export interface Forecast {
  /** What is still locked for the provider: budget - paid (0 once released: the rest went back to the pool). */
  budgetLeft: bigint;
  /** 1e18-scaled base units per second (0 when nothing pays). */
  rate: bigint;
  basis: PaceBasis;
  /** When payable reaches the budget at `rate`; undefined when it never will (stopped or idle) or already has. */
  runsOutAt?: bigint;
  /** Payable already equals the budget. */
  exhausted: boolean;
}

const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** The accepted total's pace from the last two DebitNoteSettled that raised it (1e18-scaled per second). */
function acceptancePace(agreement: AgreementView, events: readonly ChainEvent[]): bigint {
  const rises: { time: bigint; total: bigint }[] = [{ time: agreement.startedAt, total: 0n }];
  for (const event of events) {
    if (event.name !== "DebitNoteSettled") continue;
    const total = event.args.totalAccepted as bigint;
    if (total > rises[rises.length - 1].total) rises.push({ time: event.time, total });
  }
  if (rises.length < 2) return 0n;
  const [before, last] = rises.slice(-2);
  const seconds = last.time - before.time;
  return seconds > 0n ? ((last.total - before.total) * RATE_SCALE) / seconds : 0n;
}

export function forecast(agreement: AgreementView, events: readonly ChainEvent[], now: bigint): Forecast {
  const { terms } = agreement;
  const budgetLeft = agreement.status === "Released" ? 0n : terms.budget - agreement.paid;
  const payable = payableAt(agreement, now);
  const exhausted = payable >= terms.budget;
  if (agreement.status !== "Active") return { budgetLeft, rate: 0n, basis: "stopped", exhausted };

  let rate = acceptancePace(agreement, events);
  let basis: PaceBasis = rate > 0n ? "acceptances" : "idle";
  if (terms.maxRate !== 0n) {
    // Accepted beyond what the cap has let through: it keeps dripping at exactly the cap.
    const backlog = agreement.acceptedTotal > payable && payable < terms.budget;
    if (backlog || rate > terms.maxRate) {
      rate = terms.maxRate;
      basis = backlog ? "cap backlog" : "rate cap";
    }
  }
  if (terms.streamRate > rate) {
    rate = terms.streamRate;
    basis = "stream floor";
  }
  if (exhausted || rate === 0n) return { budgetLeft, rate, basis, exhausted };
  return { budgetLeft, rate, basis, exhausted, runsOutAt: now + ceilDiv((terms.budget - payable) * RATE_SCALE, rate) };
}
