import type { Signer } from "ethers";

import { type AcceptanceDomain, type SignedAcceptance, signAcceptance } from "./acceptance";
import { formatAmount, parseAmount, type TokenUnits } from "./amounts";
import { type DebitNote, unixSeconds } from "./debitNote";
import { DripFeedError } from "./errors";
import { agreementIdToBytes32, debitNoteIdHash, requireBytes32 } from "./ids";
import { formatRate, RATE_SCALE } from "./rates";
import type { Terms } from "./terms";

/** Which rule refused a debit note. */
export type RejectionRule = "agreement" | "lowered" | "interval" | "budget" | "rate";

export type AcceptorDecision =
  | {
      kind: "accept";
      note: DebitNote;
      /** The note's `totalAmountDue` in base units (the activity's new total). */
      activityTotal: bigint;
      /** The agreement's cumulative total to sign: the sum over activities of their latest accepted totals. */
      agreementTotal: bigint;
    }
  | { kind: "reject"; note: DebitNote; rule: RejectionRule; reason: string };

export interface AcceptorConfig {
  poolId: string;
  /** The agreement: a Golem id (64 hex) or its bytes32 form. */
  agreementId: string;
  terms: Terms;
  /** When the agreement started on chain (unix seconds): the rate cap counts from here. */
  startedAt: bigint;
  token: TokenUnits;
  /** Lifetime of a signed acceptance in seconds (default: the agreement's payment timeout, Golem's payment window). */
  acceptanceTtl?: bigint;
  /**
   * Accept notes that outpace `maxRate` and let the contract meter them out (the cap makes that safe: an acceptance
   * above it is paid at `maxRate` as time passes). Default false: such notes are refused.
   */
  leaveRateToContract?: boolean;
}

/** What an acceptor remembers, as JSON (amounts in base units as decimal strings, times in unix seconds). */
export interface AcceptorStateJson {
  activities: Record<string, { total: string; lastAt: number; lastNoteId: string }>;
}

interface ActivityState {
  total: bigint;
  lastAt: bigint;
  lastNoteId: string;
}

/**
 * The supervisor's policy for one agreement. Per activity it keeps the latest accepted `totalAmountDue` and sums
 * them into the agreement's cumulative total (Golem: accepting a note accepts all earlier ones of that activity).
 * A note is refused, with a reason, when it belongs to another agreement, lowers its activity's total, arrives
 * sooner than the debit-note interval after that activity's previously accepted note, would take the agreement
 * over its budget, or outpaces the agreed rate (`upfront + maxRate * elapsed`). Everything else is accepted.
 */
export class DebitNoteAcceptor {
  readonly poolId: string;
  readonly agreementId: string;
  private readonly activities = new Map<string, ActivityState>();
  /** Decisions by Golem debit-note id, so a resent note (yagna resends up to 5 times) gets the same answer. */
  private readonly decided = new Map<string, AcceptorDecision>();

  constructor(readonly config: AcceptorConfig) {
    this.poolId = requireBytes32(config.poolId, "poolId");
    this.agreementId = agreementIdToBytes32(config.agreementId);
  }

  /** The agreement's cumulative accepted total (base units). */
  get agreementTotal(): bigint {
    let sum = 0n;
    for (const activity of this.activities.values()) sum += activity.total;
    return sum;
  }

  /** The decision for `note` without remembering it. */
  decide(note: DebitNote): AcceptorDecision {
    const earlier = this.decided.get(note.debitNoteId);
    if (earlier) return earlier;
    const reject = (rule: RejectionRule, reason: string): AcceptorDecision => ({ kind: "reject", note, rule, reason });
    const { terms, token } = this.config;
    const amount = (value: bigint): string => formatAmount(value, { decimals: token.decimals });
    const withSymbol = (value: bigint): string => formatAmount(value, token);

    if (agreementIdToBytes32(note.agreementId) !== this.agreementId) {
      return reject("agreement", `belongs to agreement ${note.agreementId}, not ${this.agreementId.slice(2)}`);
    }
    const activityTotal = parseAmount(note.totalAmountDue, { decimals: token.decimals }, "totalAmountDue");
    const at = unixSeconds(note.timestamp);
    const previous = this.activities.get(note.activityId);
    if (previous && previous.lastNoteId === note.debitNoteId && previous.total === activityTotal) {
      // A resend of the activity's latest accepted note (e.g. after a restart): the same answer again.
      return { kind: "accept", note, activityTotal, agreementTotal: this.agreementTotal };
    }
    if (previous && activityTotal < previous.total) {
      return reject(
        "lowered",
        `lowers the activity's total from ${amount(previous.total)} to ${amount(activityTotal)}`,
      );
    }
    if (previous && at - previous.lastAt < BigInt(terms.debitNoteInterval)) {
      return reject(
        "interval",
        `arrived ${at - previous.lastAt} s after the previous note of this activity; the debit-note interval is ${terms.debitNoteInterval} s`,
      );
    }
    const agreementTotal = this.agreementTotal - (previous?.total ?? 0n) + activityTotal;
    if (agreementTotal > terms.budget) {
      return reject(
        "budget",
        `exceeds the budget (the agreement total would be ${withSymbol(agreementTotal)}; the budget is ${withSymbol(terms.budget)})`,
      );
    }
    if (terms.maxRate !== 0n && !this.config.leaveRateToContract) {
      const elapsed = at > this.config.startedAt ? at - this.config.startedAt : 0n;
      const byRate = (terms.maxRate * elapsed) / RATE_SCALE;
      if (agreementTotal > terms.upfront + byRate) {
        const upfront = terms.upfront === 0n ? "" : ` plus ${withSymbol(terms.upfront)} upfront`;
        return reject(
          "rate",
          `outpaces the agreed rate (max ${formatRate(terms.maxRate, token)}: at most ${withSymbol(byRate)} after ${elapsed} s${upfront})`,
        );
      }
    }
    return { kind: "accept", note, activityTotal, agreementTotal };
  }

  /** Decides and remembers: an accepted note becomes its activity's latest. */
  review(note: DebitNote): AcceptorDecision {
    const decision = this.decide(note);
    if (this.decided.has(note.debitNoteId)) return decision;
    this.decided.set(note.debitNoteId, decision);
    if (decision.kind === "accept") {
      this.activities.set(note.activityId, {
        total: decision.activityTotal,
        lastAt: unixSeconds(note.timestamp),
        lastNoteId: note.debitNoteId,
      });
    }
    return decision;
  }

  /**
   * Reviews `note` and, when accepted, signs the agreement's cumulative total. `now` (unix seconds, chain time
   * where the chain's clock is not the wall clock) starts the acceptance's lifetime.
   */
  async accept(
    note: DebitNote,
    signer: Signer,
    domain: AcceptanceDomain,
    now: bigint,
  ): Promise<{ decision: AcceptorDecision; signed?: SignedAcceptance }> {
    const decision = this.review(note);
    if (decision.kind === "reject") return { decision };
    const ttl = this.config.acceptanceTtl ?? BigInt(this.config.terms.paymentTimeout);
    const signed = await signAcceptance(signer, domain, {
      poolId: this.poolId,
      agreementId: this.agreementId,
      debitNoteId: debitNoteIdHash(note.debitNoteId),
      totalAccepted: decision.agreementTotal,
      deadline: now + ttl,
    });
    return { decision, signed };
  }

  /** Like `accept`, but a refusal is a DripFeedError("DEBIT_NOTE_REJECTED") carrying the reason. */
  async acceptOrThrow(
    note: DebitNote,
    signer: Signer,
    domain: AcceptanceDomain,
    now: bigint,
  ): Promise<SignedAcceptance> {
    const { decision, signed } = await this.accept(note, signer, domain, now);
    if (decision.kind === "reject" || !signed) {
      const reason = decision.kind === "reject" ? decision.reason : "refused";
      throw new DripFeedError("DEBIT_NOTE_REJECTED", `debit note ${note.debitNoteId} refused: ${reason}`);
    }
    return signed;
  }

  /** What this acceptor remembers, to persist between runs. */
  exportState(): AcceptorStateJson {
    const activities: AcceptorStateJson["activities"] = {};
    for (const [id, state] of this.activities) {
      activities[id] = { total: state.total.toString(), lastAt: Number(state.lastAt), lastNoteId: state.lastNoteId };
    }
    return { activities };
  }

  /** Restores what `exportState` returned (replacing the current activities). */
  importState(state: AcceptorStateJson): void {
    this.activities.clear();
    for (const [id, activity] of Object.entries(state.activities ?? {})) {
      if (!/^\d+$/.test(activity.total) || !Number.isSafeInteger(activity.lastAt)) {
        throw new DripFeedError("INVALID_FIELD", `acceptor state for activity ${id} is malformed`, "activities");
      }
      this.activities.set(id, {
        total: BigInt(activity.total),
        lastAt: BigInt(activity.lastAt),
        lastNoteId: activity.lastNoteId,
      });
    }
  }
}
