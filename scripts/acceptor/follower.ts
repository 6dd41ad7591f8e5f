import type { Signer } from "ethers";
import type { Logger } from "pino";

import { type AcceptanceDomain, toAcceptanceJson } from "../sdk/acceptance";
import { type AcceptorConfig, DebitNoteAcceptor } from "../sdk/acceptor";
import { formatAmount } from "../sdk/amounts";
import { type DebitNote, formatRfc3339Micros } from "../sdk/debitNote";
import { shortMessage } from "../service/chain";
import { limiter } from "../service/concurrency";
import type { AcceptorChain } from "./chain";
import { crashPoint } from "./faults";
import type { AcceptorMetrics } from "./metrics";
import type { AcceptorStore, NewNote, NoteRecord } from "./store";
import { type DebitNoteEvent, type YagnaClient, isYagnaError } from "./yagna";

/**
 * The acceptor's event reader: long-polls yagna's debit-note events from the cursor in the database, and for each
 * received note fetches it, finds its agreement in the pool, lets the policy decide (time rules at the event's
 * `eventDate`), signs the agreement's cumulative total when accepted, and records decision, policy memory and cursor
 * in one transaction. Events are handled strictly in order; a note whose agreement is not in the pool is logged and
 * left alone. When anything it needs (yagna, the chain) fails, it stops at that event and tries again from there.
 */

/** The policy settings shared by every agreement of the pool. */
export type PolicySettings = Pick<
  AcceptorConfig,
  "payer" | "paymentPlatform" | "acceptanceTtl" | "leaveRateToContract" | "intervalGrace"
>;

export interface FollowerOptions {
  yagna: YagnaClient;
  store: AcceptorStore;
  chain: AcceptorChain;
  signer: Signer;
  signerAddress: string;
  domain: AcceptanceDomain;
  policy: PolicySettings;
  /** Whether accepted notes are also accepted in yagna (queued for the deliverer). */
  yagnaAccept: boolean;
  metrics: AcceptorMetrics;
  log: Logger;
  /** Long-poll wait (seconds). */
  pollTimeoutSeconds?: number;
  /** Called after each decision is on disk (wakes the deliverer). */
  onDecided?: (note: NoteRecord) => void;
}

const RECEIVED = "DebitNoteReceivedEvent";
const CANCELLED = "DebitNoteCancelledEvent";
/** Events per poll (yagna allows 1..100). */
const MAX_EVENTS = 100;
/** How far each poll reaches back before the cursor, so events stamped in the same instant are never skipped. */
const OVERLAP_MICROS = 1_000_000n;
/** Notes fetched at once ahead of their decisions (yapapi processes at most 10 at once). */
const PREFETCH = 8;
const MAX_BACKOFF_MS = 30_000;

export class Follower {
  private stopping = false;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  /**
   * Whether the next poll reaches back before the cursor: after a start, a failure or a full page, events stamped in
   * the same microsecond as the cursor may still be unhandled. Otherwise it asks strictly after the cursor, so an
   * idle poll really waits.
   */
  private overlap = true;
  private failures = 0;
  private wakeSleep: (() => void) | undefined;
  /** When the last poll answered (ms), for /healthz. */
  lastPollAt = 0;
  lastError: string | undefined;

  constructor(private readonly options: FollowerOptions) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Stops polling (the poll in flight is cancelled) and waits for the event being handled to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.wakeSleep?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { log } = this.options;
    while (!this.stopping) {
      try {
        await this.step();
        this.failures = 0;
        this.lastError = undefined;
      } catch (error) {
        if (this.stopping) break;
        this.failures++;
        this.lastError = shortMessage(error);
        const backoff = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(this.failures, 10));
        log.warn({ err: this.lastError, retryInMs: backoff }, "following yagna failed; retrying from the cursor");
        await this.sleep(backoff);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeSleep = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** One poll and the handling of what it brought. */
  private async step(): Promise<void> {
    const { store, yagna, metrics } = this.options;
    const cursor = store.cursor();
    const after = cursor ? formatRfc3339Micros(this.overlap ? cursor.at - OVERLAP_MICROS : cursor.at) : undefined;
    const events = await yagna
      .debitNoteEvents(after, this.options.pollTimeoutSeconds ?? 10, MAX_EVENTS, this.abort.signal)
      .catch((error: unknown) => {
        if (!this.stopping) metrics.yagnaErrors.inc();
        throw error;
      });
    this.lastPollAt = Date.now();
    const fresh = events.filter((event) => !store.seen(event));
    // A full page may end inside a run of same-instant events: look back again, unless the page held nothing new
    // (a run longer than a page; going on strictly after it is the only way forward).
    const full = events.length >= MAX_EVENTS;
    this.overlap = true;
    const notes = this.prefetch(fresh);
    for (const event of fresh) {
      if (this.stopping) return;
      await this.handle(event, notes);
    }
    this.overlap = full && fresh.length > 0;
    if (fresh.length > 0) {
      store.prune();
      const last = store.cursor();
      if (last) metrics.cursor.set(Number(last.at / 1_000_000n));
    }
  }

  /** Starts fetching the notes of fresh "received" events not decided yet, a few at a time. */
  private prefetch(events: DebitNoteEvent[]): Map<string, Promise<DebitNote | undefined>> {
    const { store, yagna } = this.options;
    const limit = limiter(PREFETCH);
    const notes = new Map<string, Promise<DebitNote | undefined>>();
    for (const event of events) {
      const id = event.debitNoteId;
      if (event.eventType !== RECEIVED || notes.has(id) || store.note(id) !== undefined) continue;
      const note = limit(() => yagna.debitNote(id));
      note.catch(() => undefined); // handled where it is awaited; until then not an unhandled rejection
      notes.set(id, note);
    }
    return notes;
  }

  /** Handles one event; counted once it is handled (a failed attempt is tried again from the cursor). */
  private async handle(event: DebitNoteEvent, notes: Map<string, Promise<DebitNote | undefined>>): Promise<void> {
    const { store, metrics, log } = this.options;
    if (event.eventType === RECEIVED) {
      await this.received(event, notes.get(event.debitNoteId));
      metrics.events.inc({ type: event.eventType });
      return;
    }
    metrics.events.inc({ type: event.eventType });
    if (event.eventType === CANCELLED) {
      const decided = store.note(event.debitNoteId);
      if (decided?.decision === "accept") {
        log.warn(
          { debitNoteId: event.debitNoteId, agreementId: decided.agreementId },
          "the provider cancelled a note after it was accepted; the acceptance stands (totals are cumulative)",
        );
      }
    }
    store.handled(event);
  }

  private async received(event: DebitNoteEvent, fetched: Promise<DebitNote | undefined> | undefined): Promise<void> {
    const { store, chain, metrics, log } = this.options;
    const known = store.note(event.debitNoteId);
    if (known) {
      // A second "received" event for a note already decided (a resend): the decision on disk stands.
      log.debug({ debitNoteId: event.debitNoteId, decision: known.decision }, "note already decided");
      store.handled(event);
      return;
    }
    let note: DebitNote | undefined;
    try {
      note = await (fetched ?? this.options.yagna.debitNote(event.debitNoteId));
    } catch (error) {
      if (isYagnaError(error)) {
        metrics.yagnaErrors.inc();
        throw error; // yagna did not answer: try this event again
      }
      // yagna answered with something that is not a debit note: never acceptable, and it must not stop the stream
      metrics.ignored.inc({ reason: "malformed" });
      log.error(
        { debitNoteId: event.debitNoteId, err: shortMessage(error) },
        "yagna served a malformed debit note; skipped",
      );
      store.handled(event);
      return;
    }
    if (!note) {
      metrics.ignored.inc({ reason: "unknown-note" });
      log.warn({ debitNoteId: event.debitNoteId }, "yagna no longer knows this debit note; skipped");
      store.handled(event);
      return;
    }
    const receivedAt = event.at / 1_000_000n;
    const base = {
      debitNoteId: note.debitNoteId,
      agreementId: note.agreementId.toLowerCase(),
      activityId: note.activityId,
      eventDate: event.eventDate,
      receivedAt: Number(receivedAt),
      totalAmountDue: note.totalAmountDue,
    };
    const agreement = await chain.agreement(note.agreementId);
    if (agreement === null) {
      metrics.ignored.inc({ reason: "unknown-agreement" });
      log.info(
        { debitNoteId: note.debitNoteId, agreementId: base.agreementId },
        "debit note of an agreement this pool does not have: left alone",
      );
      store.handled(event, { note: this.record(base, { decision: "ignored", reason: "agreement not in the pool" }) });
      metrics.notesSeen.inc();
      return;
    }

    const { pool } = chain;
    const acceptor = new DebitNoteAcceptor({
      ...this.options.policy,
      poolId: pool.poolId,
      agreementId: note.agreementId,
      terms: agreement.terms,
      startedAt: agreement.startedAt,
      status: agreement.status,
      token: pool.token,
      provider: agreement.provider,
    });
    acceptor.restore(store.activities(base.agreementId));
    const [now, authority] = await Promise.all([chain.now(), chain.authority(this.options.signerAddress)]);
    const floor = agreement.acceptedTotal;
    const { decision, signed } = await acceptor.accept(note, this.options.signer, this.options.domain, {
      now,
      receivedAt,
      floor,
      authority,
    });
    if (signed) crashPoint("signed");

    metrics.notesSeen.inc();
    let record: NewNote;
    if (decision.kind === "reject") {
      record = this.record(base, { decision: "reject", rule: decision.rule, reason: decision.reason });
      store.handled(event, { note: record });
      metrics.refused.inc({ rule: decision.rule });
      log.info(
        { debitNoteId: note.debitNoteId, agreementId: base.agreementId, rule: decision.rule },
        `refused: ${decision.reason}`,
      );
    } else {
      const raises = decision.agreementTotal > floor;
      record = this.record(base, {
        decision: "accept",
        agreementTotal: decision.agreementTotal,
        acceptance: signed ? JSON.stringify(toAcceptanceJson(signed)) : null,
        deadline: signed ? Number(signed.deadline) : null,
        acceptTimeoutAt: Number(receivedAt) + 2 * agreement.terms.debitNoteInterval,
        delivery: raises ? "pending" : "covered",
        deliveryDetail: raises ? null : "the chain already holds this total",
        yagna: this.options.yagnaAccept ? "pending" : "none",
      });
      store.handled(event, { note: record, activity: acceptor.activity(note.activityId) });
      metrics.accepted.inc();
      log.info(
        {
          debitNoteId: note.debitNoteId,
          agreementId: base.agreementId,
          activityId: note.activityId,
          agreementTotal: decision.agreementTotal.toString(),
        },
        `accepted: agreement total ${formatAmount(decision.agreementTotal, pool.token)}`,
      );
    }
    crashPoint("decided");
    const stored = store.note(note.debitNoteId);
    if (stored) this.options.onDecided?.(stored);
  }

  private record(
    base: Pick<NewNote, "debitNoteId" | "agreementId" | "activityId" | "eventDate" | "receivedAt" | "totalAmountDue">,
    fields: Partial<NewNote> & Pick<NewNote, "decision">,
  ): NewNote {
    return {
      rule: null,
      reason: null,
      agreementTotal: null,
      acceptance: null,
      deadline: null,
      acceptTimeoutAt: null,
      delivery: "none",
      deliveryDetail: null,
      yagna: "none",
      ...base,
      ...fields,
    };
  }
}
