import Database from "better-sqlite3";

import { DripFeedError } from "../sdk/errors";

/**
 * The watcher's state in one SQLite file (WAL, one writer): where it stopped reading events, the agreements it
 * follows, the acceptances it holds (from files or a relay) until they are settled, and the warnings it already gave
 * (so a restart does not repeat them). Every write is a committed transaction before the watcher acts on it, so a
 * kill -9 loses at most what the next run reads again from the chain or the inbox.
 */

export type HeldStatus = "held" | "settled" | "superseded" | "expired" | "invalid";

export interface HeldAcceptance {
  /** The EIP-712 digest: one row per distinct signed acceptance. */
  id: string;
  poolId: string;
  agreementId: string;
  totalAccepted: bigint;
  deadline: bigint;
  signer: string;
  /** The signed-acceptance JSON as received. */
  json: string;
  source: string;
  receivedAt: number;
  status: HeldStatus;
  reason: string | null;
}

export interface FollowedAgreement {
  poolId: string;
  agreementId: string;
  /** Unix seconds of the latest acceptance seen settled on chain (DebitNoteSettled), or 0. */
  lastSettledAt: number;
  /** No longer followed (released). */
  done: boolean;
}

interface AcceptanceRow {
  id: string;
  pool_id: string;
  agreement_id: string;
  total_accepted: string;
  deadline: number;
  signer: string;
  json: string;
  source: string;
  received_at: number;
  status: HeldStatus;
  reason: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agreements (
  pool_id TEXT NOT NULL,
  agreement_id TEXT NOT NULL,
  last_settled_at INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (pool_id, agreement_id)
);
CREATE TABLE IF NOT EXISTS acceptances (
  id TEXT PRIMARY KEY,
  pool_id TEXT NOT NULL,
  agreement_id TEXT NOT NULL,
  total_accepted TEXT NOT NULL,
  deadline INTEGER NOT NULL,
  signer TEXT NOT NULL,
  json TEXT NOT NULL,
  source TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT
);
CREATE INDEX IF NOT EXISTS acceptances_by_agreement ON acceptances (pool_id, agreement_id, status);
CREATE TABLE IF NOT EXISTS warnings (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inbox_files (name TEXT PRIMARY KEY, stamp TEXT NOT NULL);
`;

export class WatcherStore {
  private readonly db: Database.Database;

  /** Opens (or creates) the state file and takes it for this process alone. */
  constructor(readonly file: string) {
    try {
      this.db = new Database(file, { timeout: 0 });
      // Exclusive locking (set before WAL, so no shared-memory index is used): the write below takes the file's lock
      // until close, so a second watcher on the same file fails at once instead of both acting on the same agreements.
      this.db.pragma("locking_mode = EXCLUSIVE");
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = FULL");
      this.db.exec(SCHEMA);
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('opened', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )
        .run(String(Date.now()));
    } catch (error) {
      const message = (error as Error).message;
      if (/locked|busy/i.test(message)) {
        throw new DripFeedError("INVALID_ARGUMENT", `state file ${file} is in use by another watcher`);
      }
      throw new DripFeedError("INVALID_ARGUMENT", `cannot open state file ${file}: ${message}`);
    }
  }

  /** Binds the file to one chain, contract and provider; refuses a file made for another. */
  bind(chainId: bigint, contract: string, provider: string): void {
    const want = `${chainId}:${contract.toLowerCase()}:${provider.toLowerCase()}`;
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'binding'").get() as { value: string } | undefined;
    if (row && row.value !== want) {
      const [c, k, p] = row.value.split(":");
      throw new DripFeedError(
        "INVALID_ARGUMENT",
        `state file ${this.file} belongs to provider ${p} on chain ${c} (DripFeed ${k}); use another --state file`,
      );
    }
    if (!row) this.db.prepare("INSERT INTO meta (key, value) VALUES ('binding', ?)").run(want);
  }

  /** The last block whose events were read, or undefined on a first run. */
  cursor(): number | undefined {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'cursor'").get() as { value: string } | undefined;
    return row ? Number(row.value) : undefined;
  }

  setCursor(block: number): void {
    this.db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      )
      .run(String(block));
  }

  follow(poolId: string, agreementId: string): boolean {
    return (
      this.db.prepare("INSERT OR IGNORE INTO agreements (pool_id, agreement_id) VALUES (?, ?)").run(poolId, agreementId)
        .changes > 0
    );
  }

  agreements(includeDone = false): FollowedAgreement[] {
    const rows = this.db
      .prepare(
        `SELECT pool_id, agreement_id, last_settled_at, done FROM agreements ${includeDone ? "" : "WHERE done = 0"} ORDER BY rowid`,
      )
      .all() as { pool_id: string; agreement_id: string; last_settled_at: number; done: number }[];
    return rows.map((r) => ({
      poolId: r.pool_id,
      agreementId: r.agreement_id,
      lastSettledAt: r.last_settled_at,
      done: r.done === 1,
    }));
  }

  isFollowed(poolId: string, agreementId: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM agreements WHERE pool_id = ? AND agreement_id = ?").get(poolId, agreementId) !==
      undefined
    );
  }

  settledAt(poolId: string, agreementId: string, at: number): void {
    this.db
      .prepare("UPDATE agreements SET last_settled_at = MAX(last_settled_at, ?) WHERE pool_id = ? AND agreement_id = ?")
      .run(at, poolId, agreementId);
  }

  finish(poolId: string, agreementId: string): void {
    this.db.prepare("UPDATE agreements SET done = 1 WHERE pool_id = ? AND agreement_id = ?").run(poolId, agreementId);
  }

  /** Stores a received acceptance once (by digest); false when it was already known. */
  hold(a: Omit<HeldAcceptance, "status" | "reason">): boolean {
    return (
      this.db
        .prepare(
          "INSERT OR IGNORE INTO acceptances (id, pool_id, agreement_id, total_accepted, deadline, signer, json, source, received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'held')",
        )
        .run(
          a.id,
          a.poolId,
          a.agreementId,
          a.totalAccepted.toString(),
          Number(a.deadline),
          a.signer,
          a.json,
          a.source,
          a.receivedAt,
        ).changes > 0
    );
  }

  /** Acceptances still held for an agreement, highest total first. */
  held(poolId: string, agreementId: string): HeldAcceptance[] {
    const rows = this.db
      .prepare("SELECT * FROM acceptances WHERE pool_id = ? AND agreement_id = ? AND status = 'held'")
      .all(poolId, agreementId) as AcceptanceRow[];
    return rows
      .map(toHeld)
      .sort((x, y) => (x.totalAccepted === y.totalAccepted ? 0 : x.totalAccepted > y.totalAccepted ? -1 : 1));
  }

  /** When the latest acceptance for an agreement was received (unix seconds), or 0. */
  lastReceivedAt(poolId: string, agreementId: string): number {
    const row = this.db
      .prepare("SELECT MAX(received_at) AS at FROM acceptances WHERE pool_id = ? AND agreement_id = ?")
      .get(poolId, agreementId) as { at: number | null };
    return row.at ?? 0;
  }

  mark(id: string, status: HeldStatus, reason: string | null = null): void {
    this.db.prepare("UPDATE acceptances SET status = ?, reason = ? WHERE id = ?").run(status, reason, id);
  }

  /** Whether a warning with this key was given already; records it when not (so it is given once). */
  warnOnce(key: string, at: number): boolean {
    return this.db.prepare("INSERT OR IGNORE INTO warnings (key, at) VALUES (?, ?)").run(key, at).changes > 0;
  }

  /** Whether an inbox file (by name and size/mtime stamp) was read already; records it when not. */
  newInboxFile(name: string, stamp: string): boolean {
    const row = this.db.prepare("SELECT stamp FROM inbox_files WHERE name = ?").get(name) as
      { stamp: string } | undefined;
    if (row?.stamp === stamp) return false;
    this.db
      .prepare(
        "INSERT INTO inbox_files (name, stamp) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET stamp = excluded.stamp",
      )
      .run(name, stamp);
    return true;
  }

  close(): void {
    this.db.close();
  }
}

function toHeld(r: AcceptanceRow): HeldAcceptance {
  return {
    id: r.id,
    poolId: r.pool_id,
    agreementId: r.agreement_id,
    totalAccepted: BigInt(r.total_accepted),
    deadline: BigInt(r.deadline),
    signer: r.signer,
    json: r.json,
    source: r.source,
    receivedAt: r.received_at,
    status: r.status,
    reason: r.reason,
  };
}
