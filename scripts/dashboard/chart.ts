import type { AgreementView } from "../sdk/client";
import { capAt, depletionTime, dripCompleteAt, elapsedAt, payableAmount } from "../sdk/payout";
import type { Terms } from "../sdk/terms";
import type { TokenInfo } from "../sdk/token";
import type { ChainEvent } from "./events";
import { chartNumber } from "./format";

/**
 * The agreement page's chart: the payout rule over time, drawn from the SDK's mirror of it (`payableAmount`) and the
 * agreement's events. Every line is the rule evaluated with one of its inputs isolated:
 * - budget ceiling: the budget as of t (steps at BudgetIncreased);
 * - rate cap: `min(budget, upfront + maxRate·t)` (the SDK's capAt);
 * - stream floor: `min(budget, streamRate·t)` (the rule with nothing accepted);
 * - payable: the rule with what was accepted by t (projected past now with today's acceptance);
 * - accepted: the accepted total (steps at each DebitNoteSettled); paid: steps at each payout (settle, claim).
 * The agreement's clock (`t`) stops at termination, so every rule line flattens there.
 */

export type SeriesKey = "budget" | "cap" | "floor" | "payable" | "accepted" | "paid";

export interface ChartSeries {
  key: SeriesKey;
  label: string;
  /** Token units (numbers, for drawing only); null where the value is unknown (the future of accepted and paid). */
  values: (number | null)[];
}

export interface PayoutChart {
  symbol: string;
  /** Unix seconds, ascending, shared by every series. */
  x: number[];
  series: ChartSeries[];
  now: number;
  terminatedAt: number | null;
}

/** Evenly spaced samples between the key points (lines are straight between corners; this keeps corners sharp). */
const SAMPLES = 120;

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** A step function of time from (time, value) changes: the value in force at t (0 before the first change). */
function stepsOf(changes: readonly { time: bigint; value: bigint }[]): (t: bigint) => bigint {
  return (t) => {
    let value = 0n;
    for (const change of changes) {
      if (change.time > t) break;
      value = change.value;
    }
    return value;
  };
}

export function payoutChart(
  agreement: AgreementView,
  events: readonly ChainEvent[],
  now: bigint,
  token: TokenInfo,
): PayoutChart {
  const { terms, startedAt } = agreement;
  const stopped = agreement.status !== "Active";

  // Budget as of t: the terms opened with, raised by each BudgetIncreased.
  const opened = events.find((e) => e.name === "AgreementOpened");
  let budget = opened ? (opened.args.terms as { budget: bigint }).budget : terms.budget;
  const budgetChanges = [{ time: startedAt, value: budget }];
  // Accepted total and cumulative paid, as changes in event order.
  let accepted = 0n;
  let paid = 0n;
  const acceptedChanges: { time: bigint; value: bigint }[] = [];
  const paidChanges: { time: bigint; value: bigint }[] = [];
  for (const event of events) {
    if (event.name === "BudgetIncreased") {
      budget += event.args.amount as bigint;
      budgetChanges.push({ time: event.time, value: budget });
    } else if (event.name === "DebitNoteSettled") {
      accepted = max(accepted, event.args.totalAccepted as bigint);
      acceptedChanges.push({ time: event.time, value: accepted });
      paid += event.args.paid as bigint;
      paidChanges.push({ time: event.time, value: paid });
    } else if (event.name === "Claimed") {
      paid += event.args.paid as bigint;
      paidChanges.push({ time: event.time, value: paid });
    }
  }
  const budgetAt = stepsOf(budgetChanges);
  const acceptedAt = stepsOf(acceptedChanges);
  const paidAt = stepsOf(paidChanges);
  const termsAt = (t: bigint): Terms => ({ ...terms, budget: budgetAt(t) });
  // The agreement as of t: running until its termination, frozen after, with the budget it had then.
  const asOf = (t: bigint): AgreementView => ({
    ...agreement,
    terms: termsAt(t),
    status: stopped && t >= agreement.terminatedAt ? agreement.status : "Active",
  });
  const elapsed = (t: bigint): bigint => elapsedAt(asOf(t), t);

  // The time range: from the start to a little past the latest of now, the last event and the termination.
  const lastEvent = events.length > 0 ? events[events.length - 1].time : startedAt;
  const latest = [now, lastEvent, stopped ? agreement.terminatedAt : startedAt].reduce(max);
  const span = max(latest - startedAt, 60n);
  const end = latest + max(span / 10n, BigInt(terms.debitNoteInterval));

  // Each event's second and the one before it, so steps (and the payable line's jumps) are drawn upright.
  const keys = new Set<bigint>([startedAt, now, end, ...events.flatMap((e) => [e.time - 1n, e.time])]);
  if (stopped) keys.add(agreement.terminatedAt);
  if (terms.maxRate !== 0n) {
    keys.add(dripCompleteAt(terms, startedAt, terms.budget));
    keys.add(dripCompleteAt(terms, startedAt, agreement.acceptedTotal));
  }
  const floorDone = depletionTime(terms, startedAt);
  if (floorDone !== undefined) keys.add(floorDone);
  for (let i = 1n; i < BigInt(SAMPLES); i++) keys.add(startedAt + ((end - startedAt) * i) / BigInt(SAMPLES));
  const x = [...keys].filter((t) => t >= startedAt && t <= end).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const units = (value: bigint): number => chartNumber(value, token);
  const known = (t: bigint, value: () => bigint): number | null => (t <= now ? units(value()) : null);
  const series: ChartSeries[] = [{ key: "budget", label: "budget ceiling", values: x.map((t) => units(budgetAt(t))) }];
  if (terms.maxRate !== 0n) {
    series.push({
      key: "cap",
      label: "rate cap (upfront + maxRate·t)",
      values: x.map((t) => units(capAt(asOf(t), t))),
    });
  }
  if (terms.streamRate !== 0n) {
    series.push({
      key: "floor",
      label: "stream floor (streamRate·t)",
      values: x.map((t) => units(payableAmount(termsAt(t), 0n, elapsed(t)))),
    });
  }
  series.push(
    {
      key: "payable",
      label: "payable by the rule",
      values: x.map((t) => units(payableAmount(termsAt(t), acceptedAt(t < now ? t : now), elapsed(t)))),
    },
    { key: "accepted", label: "accepted total", values: x.map((t) => known(t, () => acceptedAt(t))) },
    { key: "paid", label: "paid", values: x.map((t) => known(t, () => paidAt(t))) },
  );

  return {
    symbol: token.symbol,
    x: x.map(Number),
    series,
    now: Number(now),
    terminatedAt: stopped ? Number(agreement.terminatedAt) : null,
  };
}
