import type Database from "better-sqlite3";

import type { ActivityState, RejectionRule } from "../sdk/acceptor";
import { type OpenedStore, openStore } from "../service/store";
import type { DebitNoteEvent } from "./yagna";

/**
 * The acceptor's durable state, one SQLite file: where it is in yagna's event stream (the cursor), every note it
 * decided with the acceptance it signed, each activity's latest accepted total (the policy's memory), and what
 * became of each acceptance (handed to the relay or settled, accepted in yagna).
 *
 * A decision, the policy memory it changes and the cursor move past its event are one transaction: after kill -9 a
 * note is either decided (and never decided again) or not yet seen (and decided on restart from the same event, so
 * the same way). Hand-offs are an outbox: a decided acceptance waits here until the relay took it or the chain has
 * it, so a crash between deciding and handing over loses nothing.
 */

/** What became of an acceptance on its way to the chain. */
export type DeliveryState =
  /** Waiting to be handed to the relay (or settled by the acceptor itself). */
  | "pending"
  /** The relay took it (202 or 200). */
  | "handed"
  /** Settled on chain by the acceptor itself. */
  | "settled"
  /** Needs no delivery: a higher total of the same agreement was handed, or the chain already holds as much. */
  | "covered"
  /** Given up: the reason says why (a relay refusal, 5 attempts, or the acceptance timeout passed). */
  | "failed"
  /** Nothing to deliver (a refused or ignored note). */
  | "none";

/** What became of `POST /debitNotes/{id}/accept` in yagna (with --yagna-accept). */
export type YagnaAcceptState = "pending" | "accepted" | "failed" | "none";

export type NoteDecision = "accept" | "reject" | "ignored";

export interface NoteRecord {
  debitNoteId: string;
  /** The Golem agreement id (64 hex, lower case). */
  agreementId: string;
  activityId: string;
  eventDate: string;
  /** When the requestor's side received the note (unix seconds). */
  receivedAt: number;
  totalAmountDue: string;
  decision: NoteDecision;
  rule: RejectionRule | null;
  reason: string | null;
  /** The signed agreement total (base units), for an accepted note. */
  agreementTotal: bigint | null;
  /** The signed-acceptance JSON, for an accepted note. */
  acceptance: string | null;
  deadline: number | null;
  /** Golem's acceptance timeout for this note (unix seconds, requestor's clock): no retries after it. */
  acceptTimeoutAt: number | null;
  delivery: DeliveryState;
  deliveryAttempts: number;
  /** When the next attempt may be made (ms since the epoch). */
  deliveryNextAt: number;
  deliveryDetail: string | null;
  /** The relay's id of the acceptance, once handed. */
  relayId: string | null;
  /** The settlement transaction, when the acceptor settled it itself. */
  txHash: string | null;
  yagna: YagnaAcceptState;
  yagnaAttempts: number;
  /** When the next attempt may be made (ms since the epoch). */
  yagnaNextAt: number;
  yagnaDetail: string | null;
}

export type NewNote = Omit<
  NoteRecord,
  "deliveryAttempts" | "deliveryNextAt" | "relayId" | "txHash" | "yagnaAttempts" | "yagnaNextAt" | "yagnaDetail"
>;

interface NoteRow {
  debit_note_id: string;
  agreement_id: string;
  activity_id: string;
  event_date: string;
  received_at: number;
  total_amount_due: string;
  decision: NoteDecision;
  rule: RejectionRule | null;
  reason: string | null;
  agreement_total: string | null;
  acceptance: string | null;
  deadline: number | null;
  accept_timeout_at: number | null;
  delivery: DeliveryState;
  delivery_attempts: number;
  delivery_next_at: number;
  delivery_detail: string | null;
  relay_id: string | null;
  tx_hash: string | null;
  yagna: YagnaAcceptState;
  yagna_attempts: number;
  yagna_next_at: number;
  yagna_detail: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  event_date TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seen_events (
  debit_note_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (debit_note_id, event_type, at)
);
CREATE TABLE IF NOT EXISTS notes (
  debit_note_id TEXT PRIMARY KEY,
  agreement_id TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  event_date TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  total_amount_due TEXT NOT NULL,
  decision TEXT NOT NULL,
  rule TEXT,
  reason TEXT,
  agreement_total TEXT,
  acceptance TEXT,
  deadline INTEGER,
  accept_timeout_at INTEGER,
  delivery TEXT NOT NULL,
  delivery_attempts INTEGER NOT NULL DEFAULT 0,
  delivery_next_at INTEGER NOT NULL DEFAULT 0,
  delivery_detail TEXT,
  relay_id TEXT,
  tx_hash TEXT,
  yagna TEXT NOT NULL,
  yagna_attempts INTEGER NOT NULL DEFAULT 0,
  yagna_next_at INTEGER NOT NULL DEFAULT 0,
  yagna_detail TEXT,
  decided_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_delivery ON notes (delivery, agreement_id);
CREATE INDEX IF NOT EXISTS notes_yagna ON notes (yagna);
CREATE TABLE IF NOT EXISTS activities (
  agreement_id TEXT NOT NULL,
  activity_id TEXT NOT NULL,
  total TEXT NOT NULL,
  last_at INTEGER NOT NULL,
  last_note_id TEXT NOT NULL,
  PRIMARY KEY (agreement_id, activity_id)
);
`;

/** Events are kept this long behind the cursor to recognise them when a poll overlaps (microseconds). */
const SEEN_RETENTION_MICROS = 24n * 3600n * 1_000_000n;
/**
 * Finished notes (nothing pending for them) are kept this long behind the cursor (seconds): long past any resend or
 * question about them, short enough that years of notes do not pile up.
 */
const NOTE_RETENTION_SECONDS = 30 * 86_400;

function fromRow(row: NoteRow): NoteRecord {
  return {
    debitNoteId: row.debit_note_id,
    agreementId: row.agreement_id,
    activityId: row.activity_id,
    eventDate: row.event_date,
    receivedAt: row.received_at,
    totalAmountDue: row.total_amount_due,
    decision: row.decision,
    rule: row.rule,
    reason: row.reason,
    agreementTotal: row.agreement_total === null ? null : BigInt(row.agreement_total),
    acceptance: row.acceptance,
    deadline: row.deadline,
    acceptTimeoutAt: row.accept_timeout_at,
    delivery: row.delivery,
    deliveryAttempts: row.delivery_attempts,
    deliveryNextAt: row.delivery_next_at,
    deliveryDetail: row.delivery_detail,
    relayId: row.relay_id,
    txHash: row.tx_hash,
    yagna: row.yagna,
    yagnaAttempts: row.yagna_attempts,
    yagnaNextAt: row.yagna_next_at,
    yagnaDetail: row.yagna_detail,
  };
}

export class AcceptorStore {
  readonly db: Database.Database;
  readonly file: string;
  private readonly opened: OpenedStore;
  private readonly stmts: ReturnType<AcceptorStore["prepare"]>;

  constructor(file: string) {
    this.opened = openStore(file, SCHEMA, "acceptor");
    this.db = this.opened.db;
    this.file = this.opened.file;
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      cursor: db.prepare("SELECT event_date, at FROM cursor WHERE id = 1"),
      setCursor: db.prepare(
        `INSERT INTO cursor (id, event_date, at) VALUES (1, @eventDate, @at)
         ON CONFLICT (id) DO UPDATE SET event_date = excluded.event_date, at = excluded.at
         WHERE excluded.at > cursor.at`,
      ),
      seen: db.prepare("SELECT 1 FROM seen_events WHERE debit_note_id = ? AND event_type = ? AND at = ?"),
      markSeen: db.prepare("INSERT OR IGNORE INTO seen_events (debit_note_id, event_type, at) VALUES (?, ?, ?)"),
      pruneSeen: db.prepare("DELETE FROM seen_events WHERE at < ?"),
      pruneNotes: db.prepare(
        "DELETE FROM notes WHERE received_at < ? AND delivery != 'pending' AND yagna != 'pending'",
      ),
      note: db.prepare("SELECT * FROM notes WHERE debit_note_id = ?"),
      insertNote: db.prepare(
        `INSERT INTO notes (debit_note_id, agreement_id, activity_id, event_date, received_at, total_amount_due,
           decision, rule, reason, agreement_total, acceptance, deadline, accept_timeout_at, delivery, delivery_detail,
           yagna, decided_at, updated_at)
         VALUES (@debitNoteId, @agreementId, @activityId, @eventDate, @receivedAt, @totalAmountDue, @decision, @rule,
           @reason, @agreementTotal, @acceptance, @deadline, @acceptTimeoutAt, @delivery, @deliveryDetail, @yagna, @now,
           @now)`,
      ),
      activities: db.prepare("SELECT activity_id, total, last_at, last_note_id FROM activities WHERE agreement_id = ?"),
      setActivity: db.prepare(
        `INSERT INTO activities (agreement_id, activity_id, total, last_at, last_note_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agreement_id, activity_id) DO UPDATE SET total = excluded.total, last_at = excluded.last_at,
           last_note_id = excluded.last_note_id`,
      ),
      pendingDeliveries: db.prepare("SELECT * FROM notes WHERE delivery = 'pending' ORDER BY received_at, rowid"),
      pendingYagna: db.prepare("SELECT * FROM notes WHERE yagna = 'pending' ORDER BY received_at, rowid"),
      setDelivery: db.prepare(
        `UPDATE notes SET delivery = @state, delivery_attempts = @attempts, delivery_next_at = @nextAt,
           delivery_detail = @detail, relay_id = coalesce(@relayId, relay_id), tx_hash = coalesce(@txHash, tx_hash),
           updated_at = @now WHERE debit_note_id = @id`,
      ),
      pendingOf: db.prepare(
        "SELECT debit_note_id, agreement_total FROM notes WHERE agreement_id = ? AND delivery = 'pending' AND debit_note_id != ?",
      ),
      setYagna: db.prepare(
        `UPDATE notes SET yagna = @state, yagna_attempts = @attempts, yagna_next_at = @nextAt, yagna_detail = @detail,
           updated_at = @now WHERE debit_note_id = @id`,
      ),
      counts: db.prepare("SELECT decision, count(*) AS n FROM notes GROUP BY decision"),
      deliveryCounts: db.prepare("SELECT delivery, count(*) AS n FROM notes GROUP BY delivery"),
      allNotes: db.prepare("SELECT * FROM notes ORDER BY received_at, rowid"),
    };
  }

  /** The last event handled: its date as yagna wrote it, and in microseconds. */
  cursor(): { eventDate: string; at: bigint } | undefined {
    const row = this.stmts.cursor.get() as { event_date: string; at: number } | undefined;
    return row ? { eventDate: row.event_date, at: BigInt(row.at) } : undefined;
  }

  /** Whether this exact event (note, type, date) was handled already (polls overlap by a little). */
  seen(event: DebitNoteEvent): boolean {
    return this.stmts.seen.get(event.debitNoteId, event.eventType, event.at) !== undefined;
  }

  note(debitNoteId: string): NoteRecord | undefined {
    const row = this.stmts.note.get(debitNoteId) as NoteRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The policy memory of one agreement: each activity's latest accepted note. */
  activities(agreementId: string): Map<string, ActivityState> {
    const rows = this.stmts.activities.all(agreementId) as {
      activity_id: string;
      total: string;
      last_at: number;
      last_note_id: string;
    }[];
    return new Map(
      rows.map((r) => [
        r.activity_id,
        { total: BigInt(r.total), lastAt: BigInt(r.last_at), lastNoteId: r.last_note_id },
      ]),
    );
  }

  /**
   * Marks an event handled, with whatever it decided, in one transaction: the note's decision (if any), its
   * activity's new latest accepted note (if accepted) and the cursor.
   */
  handled(event: DebitNoteEvent, decided?: { note: NewNote; activity?: ActivityState }, now = Date.now()): void {
    this.db.transaction(() => {
      if (decided) {
        const { note, activity } = decided;
        this.stmts.insertNote.run({
          ...note,
          agreementTotal: note.agreementTotal === null ? null : note.agreementTotal.toString(),
          now,
        });
        if (activity) {
          this.stmts.setActivity.run(
            note.agreementId,
            note.activityId,
            activity.total.toString(),
            Number(activity.lastAt),
            activity.lastNoteId,
          );
        }
      }
      this.stmts.markSeen.run(event.debitNoteId, event.eventType, event.at);
      this.stmts.setCursor.run({ eventDate: event.eventDate, at: event.at });
    })();
  }

  /**
   * Forgets events far behind the cursor (they can no longer come back in an overlapping poll) and finished notes
   * a month behind it (the policy's memory, one row per activity, stays).
   */
  prune(): void {
    const cursor = this.cursor();
    if (!cursor) return;
    this.stmts.pruneSeen.run(cursor.at - SEEN_RETENTION_MICROS);
    this.stmts.pruneNotes.run(Number(cursor.at / 1_000_000n) - NOTE_RETENTION_SECONDS);
  }

  /** Accepted notes whose acceptance still waits for delivery, oldest first. */
  pendingDeliveries(): NoteRecord[] {
    return (this.stmts.pendingDeliveries.all() as NoteRow[]).map(fromRow);
  }

  /** Accepted notes still to be accepted in yagna, oldest first. */
  pendingYagnaAccepts(): NoteRecord[] {
    return (this.stmts.pendingYagna.all() as NoteRow[]).map(fromRow);
  }

  setDelivery(
    id: string,
    state: DeliveryState,
    attempts: number,
    nextAt: number,
    detail: string | null,
    refs: { relayId?: string; txHash?: string } = {},
  ): void {
    this.stmts.setDelivery.run({
      id,
      state,
      attempts,
      nextAt,
      detail,
      relayId: refs.relayId ?? null,
      txHash: refs.txHash ?? null,
      now: Date.now(),
    });
  }

  /**
   * After `id` was delivered (handed or settled) with `total`: every other pending acceptance of the agreement at or
   * below that total needs no delivery of its own. Returns how many were covered.
   */
  coverPendingBelow(agreementId: string, id: string, total: bigint): number {
    const rows = this.stmts.pendingOf.all(agreementId, id) as { debit_note_id: string; agreement_total: string }[];
    const covered = rows.filter((r) => BigInt(r.agreement_total) <= total);
    this.db.transaction(() => {
      for (const r of covered) {
        this.setDelivery(r.debit_note_id, "covered", 0, 0, `covered by the acceptance of note ${id} (total ${total})`);
      }
    })();
    return covered.length;
  }

  setYagna(id: string, state: YagnaAcceptState, attempts: number, nextAt: number, detail: string | null): void {
    this.stmts.setYagna.run({ id, state, attempts, nextAt, detail, now: Date.now() });
  }

  /** Notes by decision (accept, reject, ignored). */
  countByDecision(): Record<NoteDecision, number> {
    const counts: Record<NoteDecision, number> = { accept: 0, reject: 0, ignored: 0 };
    for (const row of this.stmts.counts.all() as { decision: NoteDecision; n: number }[]) counts[row.decision] = row.n;
    return counts;
  }

  /** Accepted notes by delivery state. */
  countByDelivery(): Partial<Record<DeliveryState, number>> {
    const counts: Partial<Record<DeliveryState, number>> = {};
    for (const row of this.stmts.deliveryCounts.all() as { delivery: DeliveryState; n: number }[]) {
      counts[row.delivery] = row.n;
    }
    return counts;
  }

  /** Every note, in the order received (for status output and tests). */
  allNotes(): NoteRecord[] {
    return (this.stmts.allNotes.all() as NoteRow[]).map(fromRow);
  }

  close(): void {
    this.opened.close();
  }
}
