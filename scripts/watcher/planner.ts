import { formatAmount, type TokenUnits } from "../sdk/amounts";
import type { AgreementReport } from "../sdk/report";
import { isoTime } from "../sdk/time";

/**
 * When an agreement's money gets collected: the one place the watcher decides between settling the best acceptance
 * it holds, claiming, or waiting. Pure (no I/O), so every rule is tested on plain values.
 *
 * - Anything that is about to run out is acted on first, whatever it is worth: the held acceptance's deadline, its
 *   signer's ACCEPT right (protocol 1.1 leaves an hour's notice after a revocation), and a terminated agreement's claim
 *   window (none at all when the provider terminated: `release` may run at once and ends settling).
 * - Otherwise money is collected once it is worth `minClaim` and, when a gas price in tokens is known, `gasFactor`
 *   times the gas it costs. Settling pays everything claimable too, so a worthwhile acceptance is settled rather than
 *   claimed around.
 */

/** The best acceptance the watcher holds for an agreement: one that raises the recorded total. */
export interface HeldBest {
  totalAccepted: bigint;
  deadline: bigint;
  /** Until when the signer's acceptances settle; undefined for the pool owner (never expires). */
  signerValidUntil?: bigint;
  /** What settling it now would pay (base units). */
  wouldPay: bigint;
}

export interface PlanOptions {
  /** Collect once worth at least this (base units). */
  minClaim: bigint;
  /** Act on anything that runs out within this many seconds. */
  marginSeconds: bigint;
  /** The gas a settle / a claim costs, in the pool's token base units (unknown: not compared). */
  settleCost?: bigint;
  claimCost?: bigint;
  /** Collect only when worth this many times its gas cost. */
  gasFactor: bigint;
}

export type Plan =
  | { action: "settle"; urgent: boolean; reason: string }
  | { action: "claim"; urgent: boolean; reason: string }
  | { action: "wait"; reason: string };

/** The earliest of the times the agreement's money must be collected by, with what each is. */
function deadlines(agreement: AgreementReport, best: HeldBest | undefined): { at: bigint; what: string }[] {
  const out: { at: bigint; what: string }[] = [];
  if (best) {
    out.push({ at: best.deadline, what: "the acceptance's deadline" });
    if (best.signerValidUntil !== undefined) out.push({ at: best.signerValidUntil, what: "its signer's ACCEPT right" });
  }
  if (agreement.status === "Terminated" && agreement.releasableAt !== undefined) {
    out.push({
      at: agreement.releasableAt,
      what:
        agreement.releasableAt === agreement.terminatedAt ? "release (the provider terminated)" : "the claim window",
    });
  }
  return out.sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0));
}

export function plan(
  agreement: AgreementReport,
  best: HeldBest | undefined,
  now: bigint,
  options: PlanOptions,
  token: TokenUnits,
): Plan {
  if (agreement.status === "Released") return { action: "wait", reason: "released" };
  const first = deadlines(agreement, best)[0];
  const urgent = first !== undefined && first.at - now <= options.marginSeconds;
  const due = first ? `${first.what} ${first.at <= now ? "is now" : `ends ${isoTime(first.at)}`}` : "";
  const worth = (value: bigint, cost: bigint | undefined): boolean =>
    value > 0n && value >= options.minClaim && (cost === undefined || value >= cost * options.gasFactor);
  if (best) {
    if (urgent) return { action: "settle", urgent, reason: due };
    if (worth(best.wouldPay, options.settleCost)) {
      return { action: "settle", urgent, reason: `worth ${formatAmount(best.wouldPay, token)}` };
    }
  }
  const claimable = agreement.claimableNow;
  if (claimable > 0n) {
    if (urgent) return { action: "claim", urgent, reason: due };
    if (worth(claimable, options.claimCost)) {
      return { action: "claim", urgent, reason: `worth ${formatAmount(claimable, token)}` };
    }
  }
  return { action: "wait", reason: best || claimable > 0n ? "below the claim threshold" : "nothing to collect" };
}

/** A warning the watcher gives once (per key): on termination, revocation notice, budget nearly spent, silence. */
export interface Warning {
  kind:
    | "terminated"
    | "released"
    | "budget-nearly-spent"
    | "missing-acceptance"
    | "revocation-notice"
    | "acceptance-refused";
  key: string;
  message: string;
}

export interface WarningInput {
  /** Chain time of the latest acceptance seen (settled on chain or received), or 0. */
  lastAcceptanceAt: bigint;
  /** Warn when paid or accepted reaches this share of the budget (per mille). */
  budgetWarnPerMille: bigint;
}

/** The warnings an agreement's state calls for now (the caller gives each key once). */
export function warningsFor(a: AgreementReport, now: bigint, input: WarningInput, token: TokenUnits): Warning[] {
  const id = a.agreementId.slice(2);
  const key = (kind: string, extra = ""): string => `${kind}:${a.poolId}:${a.agreementId}${extra}`;
  const out: Warning[] = [];
  if (a.status === "Released") {
    out.push({
      kind: "released",
      key: key("released"),
      message: `agreement ${id} is released: paid ${formatAmount(a.paid, token)} in all`,
    });
    return out;
  }
  if (a.status === "Terminated") {
    const byProvider = a.releasableAt === a.terminatedAt;
    out.push({
      kind: "terminated",
      key: key("terminated"),
      message: `agreement ${id} was terminated at ${isoTime(a.terminatedAt)}${a.terminatedBy ? ` by ${a.terminatedBy}` : ""}: ${
        byProvider
          ? "release may run at any time, so held acceptances are settled now"
          : `acceptances settle and claims pay until ${isoTime(a.claimWindowEnd ?? a.terminatedAt)}`
      }`,
    });
  }
  const threshold = (a.terms.budget * input.budgetWarnPerMille) / 1000n;
  const used = a.acceptedTotal > a.paid ? a.acceptedTotal : a.paid;
  if (used >= threshold) {
    out.push({
      kind: "budget-nearly-spent",
      key: key("budget"),
      message: `agreement ${id} has used ${formatAmount(used, token)} of its ${formatAmount(a.terms.budget, token)} budget (${formatAmount(a.budgetLeft, token)} left unpaid): work beyond the budget is not paid`,
    });
  }
  const acceptTimeout = BigInt(2 * a.terms.debitNoteInterval);
  const last = input.lastAcceptanceAt > a.startedAt ? input.lastAcceptanceAt : a.startedAt;
  if (a.status === "Active" && now - last > acceptTimeout) {
    out.push({
      kind: "missing-acceptance",
      key: key("missing", `:${last}`),
      message: `no acceptance for agreement ${id} since ${isoTime(last)} (more than the ${acceptTimeout} s acceptance timeout)${
        a.terms.streamRate > 0n ? "; the stream floor still pays" : ""
      }`,
    });
  }
  return out;
}
