import type { Signer } from "ethers";

import { type AcceptanceDomain, type SignedAcceptance, signAcceptance } from "./acceptance";
import { formatAmount, parseAmount, type TokenUnits } from "./amounts";
import type { DripFeedClient } from "./client";
import { type DebitNote, defaultPaymentPlatform } from "./debitNote";
import { DripFeedError, isDripFeedError } from "./errors";
import { agreementIdToBytes32, debitNoteIdHash, requireAddress, requireBytes32 } from "./ids";
import type { AgreementStatus } from "./payout";
import { formatRate, RATE_SCALE } from "./rates";
import { toDripFeedError } from "./revert";
import type { Terms } from "./terms";

/**
 * Which rule refused a debit note (stable names: logs, metrics labels and the test vectors use them). In the order
 * they are checked: the note's identity first (agreement, status, payee, payer, platform, amount), then its place in
 * its activity's history (lowered, interval), then the agreement's limits (budget, rate), and last whether the key
 * can sign for the pool at all (signer).
 */
export const REJECTION_RULES = [
  "agreement",
  "status",
  "payee",
  "payer",
  "platform",
  "amount",
  "lowered",
  "interval",
  "budget",
  "rate",
  "signer",
] as const;
export type RejectionRule = (typeof REJECTION_RULES)[number];

/** Share of the debit-note interval a note may arrive early by and still count as on time (delivery jitter). */
export const DEFAULT_INTERVAL_GRACE = 0.1;

export type AcceptorDecision =
  | {
      kind: "accept";
      note: DebitNote;
      /** When the requestor's side received the note (unix seconds): what the time rules were judged at. */
      receivedAt: bigint;
      /** The note's `totalAmountDue` in base units (the activity's new total). */
      activityTotal: bigint;
      /** The sum over this acceptor's activities of their latest accepted totals, this note included. */
      activitiesTotal: bigint;
      /**
       * The agreement's cumulative total to sign: `activitiesTotal`, or the total already accepted on chain when
       * that is higher (never sign below the chain: the relay would refuse it as stale).
       */
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
  /** The agreement's provider on chain: every note's `payeeAddr` must be this address. */
  provider: string;
  /** The requestor's payment address: every note's `payerAddr` must be it (null: not checked). */
  payer: string | null;
  /** The payment platform the agreement was negotiated on, e.g. "erc20-polygon-glm" (null: not checked). */
  paymentPlatform: string | null;
  /** The agreement's status on chain; notes of a released agreement are refused (default Active). */
  status?: AgreementStatus;
  /** Lifetime of a signed acceptance in seconds (default: the agreement's payment timeout, Golem's payment window). */
  acceptanceTtl?: bigint;
  /**
   * Accept notes that outpace `maxRate` and let the contract meter them out (the cap makes that safe: an acceptance
   * above it is paid at `maxRate` as time passes). Default false: such notes are refused.
   */
  leaveRateToContract?: boolean;
  /** Share of the interval a note may arrive early by (default 0.1, i.e. 12 s of a 120 s interval). */
  intervalGrace?: number;
}

/** What an acceptor remembers, as JSON (amounts in base units as decimal strings, times in unix seconds). */
export interface AcceptorStateJson {
  activities: Record<string, { total: string; lastAt: number; lastNoteId: string }>;
}

/** One activity's latest accepted note: its total, when it was received, its id. */
export interface ActivityState {
  total: bigint;
  lastAt: bigint;
  lastNoteId: string;
}

/** Who may sign acceptances for a pool, as the contract will judge it at settlement. */
export interface SigningAuthority {
  /** The pool's owner: its signature never expires. */
  owner: string;
  /** `acceptValidUntil(poolId, signer)` for the signing key: its acceptances settle until then (0: never). */
  acceptValidUntil: bigint;
}

/** What `accept` needs besides the note: the chain's clock and what the chain already holds. */
export interface AcceptContext {
  /** Chain time (unix seconds): starts the acceptance's lifetime. */
  now: bigint;
  /** When the requestor's side received the note (the event's `eventDate`); default `now`, the caller's clock. */
  receivedAt?: bigint;
  /** The agreement's accepted total on chain (default 0). */
  floor?: bigint;
  /** Who may sign for the pool; the signing key must be able to through the acceptance's deadline. */
  authority: SigningAuthority;
}

/** A debit note's amount (trailing zeros beyond the token's decimals are only formatting: yagna writes 18 places). */
function noteAmount(text: string, token: TokenUnits): bigint {
  const trimmed = text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  return parseAmount(trimmed, { decimals: token.decimals }, "totalAmountDue");
}

/**
 * Whether `signer` can sign acceptances for the pool that still settle at `deadline`: the owner always can; anyone
 * else needs `acceptValidUntil >= deadline` (an ACCEPT grant, or the notice left after one was taken away). Returns
 * why not, or undefined when it can.
 */
export function signingProblem(signer: string, authority: SigningAuthority, deadline: bigint): string | undefined {
  if (signer.toLowerCase() === authority.owner.toLowerCase()) return undefined;
  if (authority.acceptValidUntil === 0n) {
    return `${signer} is neither the pool's owner (${authority.owner}) nor holds an ACCEPT grant on it: its acceptances would never settle`;
  }
  if (authority.acceptValidUntil < deadline) {
    return `the ACCEPT right of ${signer} ends at ${authority.acceptValidUntil} (unix), before this acceptance's deadline ${deadline}: ask the pool owner to extend the grant`;
  }
  return undefined;
}

/**
 * The supervisor's policy for one agreement. Per activity it keeps the latest accepted `totalAmountDue` and sums
 * them into the agreement's cumulative total (Golem: accepting a note accepts all earlier ones of that activity).
 *
 * A note is refused, naming the rule, when it belongs to another agreement (or a released one), is not RECEIVED,
 * is payable to someone other than the on-chain provider, billed to someone other than the requestor, on another
 * payment platform, or has an amount the token cannot hold; when it lowers its activity's total or comes more than
 * the grace sooner than the debit-note interval after that activity's previously accepted note; when it would take
 * the agreement over its budget or past the agreed rate (`upfront + maxRate * elapsed`). Time rules are judged at
 * `receivedAt`, the requestor's clock, never at the provider's `timestamp`. A refused note changes nothing, so it
 * never blocks a later one.
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
    requireAddress(config.provider, "provider");
    if (config.payer !== null) requireAddress(config.payer, "payer");
    const grace = config.intervalGrace ?? DEFAULT_INTERVAL_GRACE;
    if (!(grace >= 0 && grace < 1)) {
      throw new DripFeedError("INVALID_ARGUMENT", `the interval grace must be a share from 0 to below 1, got ${grace}`);
    }
  }

  /**
   * An acceptor for an agreement as the chain has it: terms, start, provider and status from `getAgreement`, the
   * token from the pool. The payer defaults to the pool's owner, the platform to the chain's Golem platform (not
   * checked on chains Golem has none for).
   */
  static async fromChain(
    client: DripFeedClient,
    poolId: string,
    agreementId: string,
    options: Partial<Pick<AcceptorConfig, "payer" | "paymentPlatform">> &
      Pick<AcceptorConfig, "acceptanceTtl" | "leaveRateToContract" | "intervalGrace"> = {},
  ): Promise<DebitNoteAcceptor> {
    const agreement = await client.getAgreement(poolId, agreementId);
    const pool = await client.getPool(poolId);
    const token = await client.token(pool.token);
    return new DebitNoteAcceptor({
      poolId: pool.poolId,
      agreementId: agreement.agreementId,
      terms: agreement.terms,
      startedAt: agreement.startedAt,
      status: agreement.status,
      token,
      provider: agreement.provider,
      payer: options.payer === undefined ? pool.owner : options.payer,
      paymentPlatform:
        options.paymentPlatform === undefined
          ? (defaultPaymentPlatform(client.chainId) ?? null)
          : options.paymentPlatform,
      acceptanceTtl: options.acceptanceTtl,
      leaveRateToContract: options.leaveRateToContract,
      intervalGrace: options.intervalGrace,
    });
  }

  /** The sum over activities of their latest accepted totals (base units). */
  get agreementTotal(): bigint {
    let sum = 0n;
    for (const activity of this.activities.values()) sum += activity.total;
    return sum;
  }

  /** The activity's latest accepted note, if any. */
  activity(activityId: string): ActivityState | undefined {
    return this.activities.get(activityId);
  }

  /** The early-arrival allowance in seconds for this agreement's interval. */
  get graceSeconds(): bigint {
    const share = this.config.intervalGrace ?? DEFAULT_INTERVAL_GRACE;
    return BigInt(Math.floor(this.config.terms.debitNoteInterval * share));
  }

  /**
   * The decision for `note`, received at `receivedAt` (unix seconds, the requestor's clock), with `floor` the total
   * already accepted on chain; nothing is remembered.
   */
  decide(note: DebitNote, receivedAt: bigint, floor = 0n): AcceptorDecision {
    const earlier = this.decided.get(note.debitNoteId);
    if (earlier) return earlier;
    const reject = (rule: RejectionRule, reason: string): AcceptorDecision => ({ kind: "reject", note, rule, reason });
    const { terms, token } = this.config;
    const amount = (value: bigint): string => formatAmount(value, { decimals: token.decimals });
    const withSymbol = (value: bigint): string => formatAmount(value, token);

    if (agreementIdToBytes32(note.agreementId) !== this.agreementId) {
      return reject("agreement", `belongs to agreement ${note.agreementId}, not ${this.agreementId.slice(2)}`);
    }
    if (this.config.status === "Released") {
      return reject("agreement", `agreement ${note.agreementId} is released on chain; nothing can be paid on it`);
    }
    if (note.status !== "RECEIVED") {
      return reject("status", `its status is ${note.status}; only a RECEIVED note is accepted`);
    }
    if (note.payeeAddr.toLowerCase() !== this.config.provider.toLowerCase()) {
      return reject(
        "payee",
        `it is payable to ${note.payeeAddr}, but the agreement's provider on chain is ${this.config.provider.toLowerCase()}`,
      );
    }
    if (this.config.payer !== null && note.payerAddr.toLowerCase() !== this.config.payer.toLowerCase()) {
      return reject(
        "payer",
        `it is billed to ${note.payerAddr}, not to the requestor ${this.config.payer.toLowerCase()}`,
      );
    }
    if (this.config.paymentPlatform !== null && note.paymentPlatform !== this.config.paymentPlatform) {
      return reject(
        "platform",
        `it is on payment platform ${note.paymentPlatform}, not ${this.config.paymentPlatform}`,
      );
    }
    let activityTotal: bigint;
    try {
      activityTotal = noteAmount(note.totalAmountDue, token);
    } catch (error) {
      if (!isDripFeedError(error)) throw error;
      return reject("amount", `its totalAmountDue ${note.totalAmountDue} does not fit the token: ${error.message}`);
    }

    const previous = this.activities.get(note.activityId);
    const othersTotal = this.agreementTotal - (previous?.total ?? 0n);
    const accept = (at: bigint): AcceptorDecision => {
      const activitiesTotal = othersTotal + activityTotal;
      const agreementTotal = activitiesTotal > floor ? activitiesTotal : floor;
      return { kind: "accept", note, receivedAt: at, activityTotal, activitiesTotal, agreementTotal };
    };
    if (previous && previous.lastNoteId === note.debitNoteId && previous.total === activityTotal) {
      // A resend of the activity's latest accepted note (e.g. after a restart): the same answer again.
      return accept(previous.lastAt);
    }
    if (previous && activityTotal < previous.total) {
      return reject(
        "lowered",
        `lowers the activity's total from ${amount(previous.total)} to ${amount(activityTotal)}`,
      );
    }
    if (previous && receivedAt - previous.lastAt < BigInt(terms.debitNoteInterval) - this.graceSeconds) {
      return reject(
        "interval",
        `arrived ${receivedAt - previous.lastAt} s after the previous note of this activity; the debit-note interval is ${terms.debitNoteInterval} s`,
      );
    }
    const activitiesTotal = othersTotal + activityTotal;
    if (activitiesTotal > terms.budget) {
      return reject(
        "budget",
        `exceeds the budget (the agreement total would be ${withSymbol(activitiesTotal)}; the budget is ${withSymbol(terms.budget)})`,
      );
    }
    if (terms.maxRate !== 0n && !this.config.leaveRateToContract) {
      const elapsed = receivedAt > this.config.startedAt ? receivedAt - this.config.startedAt : 0n;
      const byRate = (terms.maxRate * elapsed) / RATE_SCALE;
      if (activitiesTotal > terms.upfront + byRate) {
        const upfront = terms.upfront === 0n ? "" : ` plus ${withSymbol(terms.upfront)} upfront`;
        return reject(
          "rate",
          `outpaces the agreed rate (max ${formatRate(terms.maxRate, token)}: at most ${withSymbol(byRate)} after ${elapsed} s${upfront})`,
        );
      }
    }
    return accept(receivedAt);
  }

  /** Remembers a decision: an accepted note becomes its activity's latest. */
  record(decision: AcceptorDecision): void {
    const { note } = decision;
    if (this.decided.has(note.debitNoteId)) return;
    this.decided.set(note.debitNoteId, decision);
    if (decision.kind === "accept") {
      this.activities.set(note.activityId, {
        total: decision.activityTotal,
        lastAt: decision.receivedAt,
        lastNoteId: note.debitNoteId,
      });
    }
  }

  /** Decides and remembers. */
  review(note: DebitNote, receivedAt: bigint, floor = 0n): AcceptorDecision {
    const decision = this.decide(note, receivedAt, floor);
    this.record(decision);
    return decision;
  }

  /** The acceptance's deadline when signed at chain time `now`. */
  deadlineAt(now: bigint): bigint {
    return now + (this.config.acceptanceTtl ?? BigInt(this.config.terms.paymentTimeout));
  }

  /**
   * Decides and, when the note is accepted and the key can sign for the pool through the acceptance's deadline,
   * remembers it and signs the agreement's cumulative total. A key that cannot is a refusal by rule "signer" and
   * leaves the acceptor as it was.
   */
  async accept(
    note: DebitNote,
    signer: Signer,
    domain: AcceptanceDomain,
    context: AcceptContext,
  ): Promise<{ decision: AcceptorDecision; signed?: SignedAcceptance }> {
    const decision = this.decide(note, context.receivedAt ?? context.now, context.floor ?? 0n);
    if (decision.kind === "reject") {
      this.record(decision);
      return { decision };
    }
    const deadline = this.deadlineAt(context.now);
    const signerAddress = await signer.getAddress();
    const problem = signingProblem(signerAddress, context.authority, deadline);
    if (problem) return { decision: { kind: "reject", note, rule: "signer", reason: problem } };
    this.record(decision);
    const signed = await signAcceptance(signer, domain, {
      poolId: this.poolId,
      agreementId: this.agreementId,
      debitNoteId: debitNoteIdHash(note.debitNoteId),
      totalAccepted: decision.agreementTotal,
      deadline,
    });
    return { decision, signed };
  }

  /** Like `accept`, but a refusal is a DripFeedError("DEBIT_NOTE_REJECTED") naming the rule and the reason. */
  async acceptOrThrow(
    note: DebitNote,
    signer: Signer,
    domain: AcceptanceDomain,
    context: AcceptContext,
  ): Promise<SignedAcceptance> {
    const { decision, signed } = await this.accept(note, signer, domain, context);
    if (decision.kind === "reject" || !signed) {
      const why = decision.kind === "reject" ? `${decision.reason} [rule ${decision.rule}]` : "refused";
      throw new DripFeedError("DEBIT_NOTE_REJECTED", `debit note ${note.debitNoteId} refused: ${why}`);
    }
    return signed;
  }

  /** Replaces what the acceptor remembers with `activities` (e.g. read back from a database). */
  restore(activities: ReadonlyMap<string, ActivityState>): void {
    this.activities.clear();
    for (const [id, state] of activities) this.activities.set(id, { ...state });
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

/**
 * The chain's side of an acceptance, read now: chain time, the agreement's accepted total (the floor) and who may
 * sign for the pool (`acceptValidUntil` of `signer`).
 */
export async function readAcceptContext(
  client: DripFeedClient,
  poolId: string,
  agreementId: string,
  signer: string,
): Promise<Required<Omit<AcceptContext, "receivedAt">>> {
  const [agreement, pool, now] = await Promise.all([
    client.getAgreement(poolId, agreementId),
    client.getPool(poolId),
    client.now(),
  ]);
  let acceptValidUntil = 0n;
  if (signer.toLowerCase() !== pool.owner.toLowerCase()) {
    try {
      acceptValidUntil = await client.contract.acceptValidUntil(pool.poolId, requireAddress(signer, "signer"));
    } catch (error) {
      throw toDripFeedError(error, `reading acceptValidUntil of ${signer}`);
    }
  }
  return { now, floor: agreement.acceptedTotal, authority: { owner: pool.owner, acceptValidUntil } };
}
