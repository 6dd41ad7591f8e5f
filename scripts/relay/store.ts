import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync } from "node:fs";
import path from "node:path";

import type Database from "better-sqlite3";

import { type OpenedStore, bindIdentity, openStore } from "../service/store";
import { armCrashPoints, crashPoint } from "./faults";

/**
 * The relay's durable state in one embedded SQLite file (WAL mode). Everything the relay answered 202 for is in
 * here before the answer leaves; batches record their transaction hashes before broadcast, so a restart can tell
 * what reached the chain. Writes from the HTTP path are group-committed: one transaction per event-loop turn.
 *
 * Durability ("FULL", the default) is SQLite's `synchronous = FULL` in WAL mode, with the WAL flush moved out of
 * the event loop: SQLite runs with `synchronous = NORMAL` (a commit is written to the WAL file, not flushed) and the
 * store itself calls fdatasync on the WAL file, the call SQLite makes at each FULL commit:
 *
 * - HTTP inserts: the commit is written synchronously, then one asynchronous fdatasync (libuv thread pool) covers
 *   every commit written before it started; only then do the requests' promises resolve (and the 202s leave).
 *   Commits written while a flush is running wait for the next one, so flushes are group commits too.
 * - Everything else (batches, transaction hashes, outcomes, the deployment binding) flushes synchronously right
 *   after its commit, before the relay acts on it (e.g. before a transaction is broadcast), as FULL would.
 *
 * So a 202 is only sent once the row is on stable storage: it survives kill -9 (the WAL write alone does) and power
 * loss (the flush). Checkpoints keep SQLite's own ordering (it flushes the WAL before copying pages into the main
 * file). "NORMAL" skips the explicit flushes: it survives a process crash, not a power loss.
 */

export type AcceptanceStatus = "queued" | "submitted" | "settled" | "superseded" | "failed";
export const TERMINAL_STATUSES: readonly AcceptanceStatus[] = ["settled", "superseded", "failed"];

/** A verified acceptance as the relay keeps it. */
export interface NewAcceptance {
  id: string;
  poolId: string;
  agreementId: string;
  debitNoteId: string;
  totalAccepted: bigint;
  deadline: number;
  signer: string;
  signature: string;
  /** Whether the signer is a contract wallet (ERC-1271): its answer can change, so it is watched separately. */
  contractSigner: boolean;
}

export interface StoredAcceptance extends NewAcceptance {
  status: AcceptanceStatus;
  txHash: string | null;
  paid: bigint | null;
  reason: string | null;
  supersededBy: string | null;
  attempts: number;
  batchId: number | null;
  /** Wall-clock ms when it arrived. */
  receivedAt: number;
  /** Chain time (ms) when it arrived: what the settlement schedule counts from (test chains jump ahead). */
  receivedChainAt: number;
  updatedAt: number;
  /** Chain time (ms) before which a retried item is not sent again. */
  notBefore: number;
}

/** A pool, token or signer whose items are kept out of shared batches (scripts/relay/quarantine.ts). */
export interface QuarantineRecord {
  key: string;
  reason: string;
  since: number;
  strikes: number;
}

export interface BatchTx {
  txHash: string;
  batchId: number;
  nonce: number;
  raw: string | null;
  sentAt: number;
}

export interface OpenBatch {
  id: number;
  createdAt: number;
  fromBlock: number;
  txs: BatchTx[];
  items: StoredAcceptance[];
}

/** How one item of a batch ended, as read back from the receipt (or the chain). */
export type ItemOutcome =
  | { kind: "settled"; txHash: string | null; paid: bigint; reason?: string }
  | { kind: "failed"; txHash: string | null; reason: string }
  /** The item's own failure: one attempt used, retried after a back-off, failed for good after the last. */
  | { kind: "retry"; reason: string }
  /** Not the item's fault (the relay's funds, RPC, nonce, gas; another item): back to the queue, no attempt used. */
  | { kind: "requeue"; reason: string }
  /** The chain already holds a higher total of the agreement (settled by someone else). */
  | { kind: "superseded"; reason: string };

/** How retried items are paced: attempts before giving up, and when (chain ms) attempt n may go out. */
export interface RetryPolicy {
  maxAttempts: number;
  notBefore: (attempts: number) => number;
}

/** What closing a batch did, per item, for the scheduler and the metrics. */
export interface BatchClose {
  settled: number;
  failed: number;
  retried: number;
  requeued: number;
  superseded: number;
  /** The agreements whose queued items changed (the scheduler reloads them). */
  agreements: [string, string][];
}

interface AcceptanceRow {
  id: string;
  pool_id: string;
  agreement_id: string;
  debit_note_id: string;
  total_accepted: string;
  deadline: number;
  signer: string;
  signature: string;
  status: AcceptanceStatus;
  tx_hash: string | null;
  paid: string | null;
  reason: string | null;
  superseded_by: string | null;
  attempts: number;
  batch_id: number | null;
  received_at: number;
  received_chain_at: number | null;
  updated_at: number;
  not_before: number;
  contract_signer: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS acceptances (
  id TEXT PRIMARY KEY,
  pool_id TEXT NOT NULL,
  agreement_id TEXT NOT NULL,
  debit_note_id TEXT NOT NULL,
  total_accepted TEXT NOT NULL,
  deadline INTEGER NOT NULL,
  signer TEXT NOT NULL,
  signature TEXT NOT NULL,
  status TEXT NOT NULL,
  tx_hash TEXT,
  paid TEXT,
  reason TEXT,
  superseded_by TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  batch_id INTEGER,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  not_before INTEGER NOT NULL DEFAULT 0,
  received_chain_at INTEGER,
  contract_signer INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS acceptances_status ON acceptances (status, received_at);
CREATE INDEX IF NOT EXISTS acceptances_agreement ON acceptances (pool_id, agreement_id, status);
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  from_block INTEGER NOT NULL,
  closed_at INTEGER,
  gas_used TEXT,
  result TEXT
);
CREATE TABLE IF NOT EXISTS batch_txs (
  tx_hash TEXT PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  nonce INTEGER NOT NULL,
  raw TEXT,
  sent_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_txs_batch ON batch_txs (batch_id);
CREATE TABLE IF NOT EXISTS quarantine (
  key TEXT PRIMARY KEY,
  reason TEXT NOT NULL,
  since INTEGER NOT NULL,
  strikes INTEGER NOT NULL
);
`;

/**
 * Acceptances per status, kept in the transactions that change them: a status change by a trigger, inserts by the
 * group commit (one update per commit rather than a trigger per row, on the ingestion path). /healthz and /metrics
 * read five rows instead of counting a table that grows by every debit note (a year of 200 agreements at 120 s notes
 * is 50 million rows; a full count took 22 ms per 144,000). A file written before this table existed gets it,
 * filled by one count, when it is opened.
 */
const STATUS_COUNTS = `
CREATE TABLE status_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO status_counts (status, n) VALUES ('queued', 0), ('submitted', 0), ('settled', 0), ('superseded', 0), ('failed', 0);
UPDATE status_counts SET n = (SELECT count(*) FROM acceptances WHERE acceptances.status = status_counts.status);
CREATE TRIGGER acceptances_count_update AFTER UPDATE OF status ON acceptances WHEN old.status <> new.status BEGIN
  UPDATE status_counts SET n = n - 1 WHERE status = old.status;
  UPDATE status_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER acceptances_count_delete AFTER DELETE ON acceptances BEGIN
  UPDATE status_counts SET n = n - 1 WHERE status = old.status;
END;
`;

/** Columns added after the first release: a database written by an older relay gets them on open. */
const ADDED_COLUMNS: [string, string][] = [
  ["received_chain_at", "INTEGER"],
  ["contract_signer", "INTEGER NOT NULL DEFAULT 0"],
];

interface Waiter {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Makes a newly created file's directory entry durable (as SQLite does for a new WAL); best effort. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fdatasyncSync(fd);
  } catch {
    // Not supported on every platform (Windows); the file itself is still flushed.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function agreementKey(poolId: string, agreementId: string): string {
  return `${poolId}:${agreementId}`;
}

function raise(map: Map<string, bigint>, key: string, value: bigint): void {
  const current = map.get(key);
  if (current === undefined || value > current) map.set(key, value);
}

function fromRow(row: AcceptanceRow): StoredAcceptance {
  return {
    id: row.id,
    poolId: row.pool_id,
    agreementId: row.agreement_id,
    debitNoteId: row.debit_note_id,
    totalAccepted: BigInt(row.total_accepted),
    deadline: row.deadline,
    signer: row.signer,
    signature: row.signature,
    status: row.status,
    txHash: row.tx_hash,
    paid: row.paid === null ? null : BigInt(row.paid),
    reason: row.reason,
    supersededBy: row.superseded_by,
    attempts: row.attempts,
    batchId: row.batch_id,
    receivedAt: row.received_at,
    receivedChainAt: row.received_chain_at ?? row.received_at,
    updatedAt: row.updated_at,
    notBefore: row.not_before,
    contractSigner: row.contract_signer === 1,
  };
}

export interface StoreOptions {
  /** FULL (default): every commit is flushed to disk before it is acted on (survives power loss); NORMAL: written
   * to the WAL, not flushed (survives a process crash only). See the comment at the top of this file. */
  synchronous?: "FULL" | "NORMAL";
  /** How long an insert waits for others to share its commit (ms; default 0: until the next event-loop turn). */
  commitWindowMs?: number;
}

export class RelayStore {
  private readonly opened: OpenedStore;
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<RelayStore["prepare"]>;
  /** Highest total per agreement among queued and submitted items (shown by the agreement view). */
  private readonly pendingMax = new Map<string, bigint>();
  /** Highest total per agreement this relay saw settled (the chain's acceptedTotal is at least this). */
  private readonly settledMax = new Map<string, bigint>();
  /** Inserts waiting for the next group commit, by id. */
  private readonly buffer = new Map<string, { item: NewAcceptance; receivedAt: number; receivedChainAt: number }>();
  /** Promises waiting for the next group commit (and then its flush to disk). */
  private waiters: Waiter[] = [];
  private flushScheduled = false;
  /** Committed inserts whose WAL frames may not be on disk yet, by id (committed(id) waits for them). */
  private readonly unsynced = new Set<string>();
  /** Written commits waiting for the next fdatasync to start. */
  private nextSync: { waiters: Waiter[]; ids: string[] } = { waiters: [], ids: [] };
  /** The fdatasync in flight, if any. */
  private syncing: { waiters: Waiter[]; ids: string[] } | undefined;
  /** The WAL file, flushed explicitly (undefined: SQLite flushes itself, or NORMAL). */
  private walFd: number | undefined;
  private closed = false;
  private readonly listeners: (() => void)[] = [];
  private readonly committedListeners: ((items: StoredAcceptance[]) => void)[] = [];

  private readonly commitWindowMs: number;

  constructor(
    readonly file: string,
    options: StoreOptions = {},
  ) {
    this.commitWindowMs = options.commitWindowMs ?? 0;
    // WAL, FULL, and SQLite's exclusive lock for the life of the process: a second relay on this file is refused
    // (STORE_LOCKED), and nothing else can write to it meanwhile (scripts/service/store.ts).
    this.opened = openStore(file, SCHEMA, "relay");
    this.db = this.opened.db;
    const columns = new Set((this.db.pragma("table_info(acceptances)") as { name: string }[]).map((c) => c.name));
    for (const [name, type] of ADDED_COLUMNS) {
      if (!columns.has(name)) this.db.exec(`ALTER TABLE acceptances ADD COLUMN ${name} ${type}`);
    }
    const counted = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'status_counts'");
    if (counted.get() === undefined) this.db.transaction(() => this.db.exec(STATUS_COUNTS))();
    const full = (options.synchronous ?? "FULL") === "FULL";
    if (!full) this.db.pragma("synchronous = NORMAL");
    else if (this.db.pragma("journal_mode", { simple: true }) === "wal") {
      // FULL with the WAL flush done here, off the event loop for HTTP inserts (see the top of this file). The
      // WAL exists once the schema statement ran; if it cannot be opened SQLite keeps flushing it itself.
      try {
        this.walFd = openSync(`${file}-wal`, "r");
        syncDirectory(path.dirname(path.resolve(file)));
        this.db.pragma("synchronous = NORMAL");
      } catch {
        this.walFd = undefined;
      }
    }
    this.stmts = this.prepare();
    for (const row of this.stmts.pendingTotals.all() as {
      pool_id: string;
      agreement_id: string;
      total_accepted: string;
    }[]) {
      this.notePending(row.pool_id, row.agreement_id, BigInt(row.total_accepted));
    }
    for (const row of this.stmts.settledTotals.all() as {
      pool_id: string;
      agreement_id: string;
      total_accepted: string;
    }[]) {
      raise(this.settledMax, agreementKey(row.pool_id, row.agreement_id), BigInt(row.total_accepted));
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      pendingTotals: db.prepare(
        "SELECT pool_id, agreement_id, total_accepted FROM acceptances WHERE status IN ('queued', 'submitted')",
      ),
      pendingOf: db.prepare(
        "SELECT total_accepted FROM acceptances WHERE pool_id = ? AND agreement_id = ? AND status IN ('queued', 'submitted')",
      ),
      settledTotals: db.prepare(
        "SELECT pool_id, agreement_id, total_accepted FROM acceptances WHERE status = 'settled'",
      ),
      get: db.prepare("SELECT * FROM acceptances WHERE id = ?"),
      exists: db.prepare("SELECT 1 FROM acceptances WHERE id = ?"),
      insert: db.prepare(
        `INSERT OR IGNORE INTO acceptances (id, pool_id, agreement_id, debit_note_id, total_accepted, deadline, signer,
           signature, status, attempts, received_at, updated_at, not_before, received_chain_at, contract_signer)
         VALUES (@id, @poolId, @agreementId, @debitNoteId, @totalAccepted, @deadline, @signer, @signature, 'queued', 0,
           @receivedAt, @receivedAt, 0, @receivedChainAt, @contractSigner)`,
      ),
      allQueued: db.prepare("SELECT * FROM acceptances WHERE status = 'queued'"),
      queuedOf: db.prepare("SELECT * FROM acceptances WHERE pool_id = ? AND agreement_id = ? AND status = 'queued'"),
      createBatch: db.prepare("INSERT INTO batches (status, created_at, from_block) VALUES ('open', ?, ?)"),
      markSubmitted: db.prepare(
        "UPDATE acceptances SET status = 'submitted', batch_id = ?, updated_at = ? WHERE id = ? AND status = 'queued'",
      ),
      recordTx: db.prepare(
        "INSERT OR IGNORE INTO batch_txs (tx_hash, batch_id, nonce, raw, sent_at) VALUES (?, ?, ?, ?, ?)",
      ),
      setItemTx: db.prepare(
        "UPDATE acceptances SET tx_hash = ?, updated_at = ? WHERE batch_id = ? AND status = 'submitted'",
      ),
      openBatches: db.prepare("SELECT id, created_at, from_block FROM batches WHERE status = 'open' ORDER BY id"),
      batchTxs: db.prepare("SELECT * FROM batch_txs WHERE batch_id = ? ORDER BY sent_at, rowid"),
      batchItems: db.prepare("SELECT * FROM acceptances WHERE batch_id = ? AND status = 'submitted'"),
      closeBatch: db.prepare(
        "UPDATE batches SET status = 'closed', closed_at = ?, gas_used = ?, result = ? WHERE id = ?",
      ),
      settle: db.prepare(
        `UPDATE acceptances SET status = 'settled', tx_hash = coalesce(?, tx_hash), paid = ?, reason = ?, updated_at = ?
         WHERE id = ?`,
      ),
      fail: db.prepare(
        "UPDATE acceptances SET status = 'failed', tx_hash = coalesce(?, tx_hash), reason = ?, updated_at = ? WHERE id = ?",
      ),
      giveUp: db.prepare(
        "UPDATE acceptances SET status = 'failed', attempts = ?, reason = ?, updated_at = ? WHERE id = ?",
      ),
      requeue: db.prepare(
        `UPDATE acceptances SET status = 'queued', batch_id = NULL, attempts = ?, reason = ?, not_before = ?,
           updated_at = ? WHERE id = ?`,
      ),
      revive: db.prepare(
        `UPDATE acceptances SET status = 'queued', batch_id = NULL, attempts = 0, reason = NULL, not_before = 0,
           tx_hash = NULL, updated_at = ? WHERE id = ? AND status = 'failed'`,
      ),
      // Lower (or equal) totals of the agreement still waiting are set aside once a total at least as high is settled.
      supersedeUpTo: db.prepare(
        `UPDATE acceptances SET status = 'superseded', superseded_by = @by, reason = @reason, updated_at = @now
         WHERE pool_id = @poolId AND agreement_id = @agreementId AND status = 'queued'
           AND length(total_accepted) <= length(@total)
           AND (length(total_accepted) < length(@total) OR total_accepted <= @total)`,
      ),
      supersedeOne: db.prepare(
        "UPDATE acceptances SET status = 'superseded', superseded_by = ?, reason = ?, updated_at = ? WHERE id = ?",
      ),
      countByStatus: db.prepare("SELECT status, n FROM status_counts"),
      countQueued: db.prepare("UPDATE status_counts SET n = n + ? WHERE status = 'queued'"),
      // Finished acceptances received before a time, a chunk at a time (through the (status, received_at) index).
      pruneAcceptances: db.prepare(
        `DELETE FROM acceptances WHERE rowid IN (SELECT rowid FROM acceptances
           WHERE status IN ('settled', 'superseded', 'failed') AND received_at < ? LIMIT ?)`,
      ),
      pruneBatchTxs: db.prepare(
        "DELETE FROM batch_txs WHERE batch_id IN (SELECT id FROM batches WHERE status = 'closed' AND closed_at < ?)",
      ),
      forAgreement: db.prepare(
        `SELECT * FROM acceptances WHERE pool_id = ? AND agreement_id = ? ORDER BY received_at DESC, id LIMIT ?`,
      ),
      gasUsed: db.prepare(
        "SELECT count(*) AS n, coalesce(sum(CAST(gas_used AS INTEGER)), 0) AS gas FROM batches WHERE gas_used IS NOT NULL",
      ),
      quarantined: db.prepare("SELECT * FROM quarantine"),
      putQuarantine: db.prepare(
        "INSERT OR REPLACE INTO quarantine (key, reason, since, strikes) VALUES (@key, @reason, @since, @strikes)",
      ),
      liftQuarantine: db.prepare("DELETE FROM quarantine WHERE key = ?"),
    };
  }

  /** A value the relay keeps about itself (deployment, submitter), or undefined. */
  meta(key: string): string | undefined {
    return (this.stmts.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  /**
   * Binds the file to one chain, contract and submitting account: a database written for another deployment is
   * refused rather than submitted to the wrong place, and a restart with another key (whose nonces and balance the
   * batches in flight do not share) is refused too (STORE_MISMATCH, one line naming both).
   */
  bindDeployment(chainId: bigint, contract: string, submitter?: string): void {
    const facts = [
      { key: "chainId", value: chainId.toString(), label: "chain id" },
      { key: "contract", value: contract.toLowerCase(), label: "DripFeed contract" },
    ];
    if (submitter !== undefined) {
      facts.push({ key: "submitter", value: submitter.toLowerCase(), label: "submitting account" });
    }
    bindIdentity(this.db, this.file, facts);
    this.syncNow();
  }

  /** Subscribes to "new queued work" notifications (the submitter wakes up on them). */
  onQueued(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Subscribes to newly committed acceptances (the scheduler adds them to its plans). */
  onCommitted(listener: (items: StoredAcceptance[]) => void): void {
    this.committedListeners.push(listener);
  }

  // ---------------------------------------------------------------- HTTP side

  /** Resolves once the acceptance is on disk (at once unless it waits for the group commit or its flush). */
  committed(id: string): Promise<void> {
    if (this.buffer.has(id)) return new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.unsynced.has(id)) {
      // Committed, flush pending: the next fdatasync to start covers it.
      return new Promise<void>((resolve, reject) => {
        this.nextSync.waiters.push({ resolve, reject });
        this.startSync();
      });
    }
    return Promise.resolve();
  }

  /** Whether an acceptance with this id is known (committed or waiting for the next commit). */
  has(id: string): boolean {
    return this.buffer.has(id) || this.stmts.exists.get(id) !== undefined;
  }

  get(id: string): StoredAcceptance | undefined {
    const buffered = this.buffer.get(id);
    if (buffered) return this.bufferedView(buffered.item, buffered.receivedAt, buffered.receivedChainAt);
    const row = this.stmts.get.get(id) as AcceptanceRow | undefined;
    return row ? fromRow(row) : undefined;
  }

  /**
   * The highest total this relay saw settled for an agreement (0 when none). A new acceptance must raise it (and
   * the chain's): lower totals can never be paid; lower totals than a pending one still can, if that one fails.
   */
  settledTotal(poolId: string, agreementId: string): bigint {
    return this.settledMax.get(agreementKey(poolId, agreementId)) ?? 0n;
  }

  /** The highest queued or submitted total for an agreement (undefined when nothing is pending). */
  pendingTotal(poolId: string, agreementId: string): bigint | undefined {
    return this.pendingMax.get(agreementKey(poolId, agreementId));
  }

  /**
   * Queues a verified acceptance and resolves once it is committed to disk. The pending maximum is updated
   * synchronously, so the agreement view already shows it. Lower acceptances of the same agreement stay queued: they
   * are set aside only once a higher total is settled.
   */
  enqueue(item: NewAcceptance, receivedChainAt: number, now: number = Date.now()): Promise<void> {
    armCrashPoints();
    this.buffer.set(item.id, { item, receivedAt: now, receivedChainAt });
    this.notePending(item.poolId, item.agreementId, item.totalAccepted);
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Group commit: everything that arrives before the next turn (or within the window) shares one transaction.
      if (this.commitWindowMs > 0) setTimeout(() => this.flush(), this.commitWindowMs);
      else setImmediate(() => this.flush());
    }
    return done;
  }

  /**
   * Commits everything buffered in one transaction (group commit); its promises resolve once the commit is flushed
   * to disk (asynchronously, see the top of this file).
   */
  flush(): void {
    this.flushScheduled = false;
    if (this.buffer.size === 0) return;
    const entries = [...this.buffer.values()];
    const waiters = this.waiters;
    this.waiters = [];
    try {
      this.db.transaction(() => {
        let inserted = 0;
        for (const { item, receivedAt, receivedChainAt } of entries) {
          inserted += this.stmts.insert.run({
            id: item.id,
            poolId: item.poolId,
            agreementId: item.agreementId,
            debitNoteId: item.debitNoteId,
            totalAccepted: item.totalAccepted.toString(),
            deadline: item.deadline,
            signer: item.signer,
            signature: item.signature,
            receivedAt,
            receivedChainAt,
            contractSigner: item.contractSigner ? 1 : 0,
          }).changes;
        }
        if (inserted > 0) this.stmts.countQueued.run(inserted);
      })();
    } catch (error) {
      this.buffer.clear();
      for (const waiter of waiters) waiter.reject(error as Error);
      return;
    }
    this.buffer.clear();
    const committed = entries.map((e) => this.bufferedView(e.item, e.receivedAt, e.receivedChainAt));
    for (const listener of this.committedListeners) listener(committed);
    if (this.walFd === undefined) {
      this.persisted(waiters);
      return;
    }
    for (const { item } of entries) {
      this.unsynced.add(item.id);
      this.nextSync.ids.push(item.id);
    }
    for (const waiter of waiters) this.nextSync.waiters.push(waiter);
    this.startSync();
  }

  /** Starts an fdatasync of the WAL for the commits written so far, unless one is running (then it runs next). */
  private startSync(): void {
    if (this.syncing || !this.walStillOurs()) return;
    const batch = this.nextSync;
    if (batch.waiters.length === 0 && batch.ids.length === 0) return;
    this.nextSync = { waiters: [], ids: [] };
    this.syncing = batch;
    const fd = this.walFd as number;
    fdatasync(fd, (error) => {
      this.syncing = undefined;
      if (fd !== this.walFd) closeSync(fd); // given up on in the meantime (see walStillOurs)
      for (const id of batch.ids) this.unsynced.delete(id);
      if (error) {
        for (const waiter of batch.waiters) waiter.reject(error);
      } else {
        this.persisted(batch.waiters);
      }
      if (this.closed) this.closeWal();
      else this.startSync();
    });
  }

  /** Inserts are on disk: the 202s may leave, and the submitter may look at them. */
  private persisted(waiters: Waiter[]): void {
    crashPoint("after-persist");
    for (const waiter of waiters) waiter.resolve();
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /**
   * Flushes the WAL now, synchronously (after the submitter's commits, as SQLite's FULL does at each commit). This
   * also covers every insert committed so far; their promises resolve when the asynchronous flush reports back.
   */
  private syncNow(): void {
    if (this.walStillOurs()) fdatasyncSync(this.walFd as number);
  }

  /**
   * Whether the open WAL file is still the database's. SQLite only deletes the WAL when the last connection
   * closes, so this holds while the store is open; if it ever did not, SQLite goes back to flushing by itself.
   */
  private walStillOurs(): boolean {
    if (this.walFd === undefined) return false;
    if (fstatSync(this.walFd).nlink > 0) return true;
    this.db.pragma("synchronous = FULL");
    fdatasyncSync(this.walFd);
    const fd = this.walFd;
    this.walFd = undefined;
    if (!this.syncing) closeSync(fd);
    // Everything committed so far was in that file and is flushed now.
    const waiting = this.nextSync;
    this.nextSync = { waiters: [], ids: [] };
    for (const id of waiting.ids) this.unsynced.delete(id);
    this.persisted(waiting.waiters);
    return false;
  }

  private closeWal(): void {
    if (this.walFd === undefined || this.syncing) return;
    closeSync(this.walFd);
    this.walFd = undefined;
  }

  private bufferedView(item: NewAcceptance, receivedAt: number, receivedChainAt: number): StoredAcceptance {
    return {
      ...item,
      status: "queued",
      txHash: null,
      paid: null,
      reason: null,
      supersededBy: null,
      attempts: 0,
      batchId: null,
      receivedAt,
      receivedChainAt,
      updatedAt: receivedAt,
      notBefore: 0,
    };
  }

  private notePending(poolId: string, agreementId: string, total: bigint): void {
    raise(this.pendingMax, agreementKey(poolId, agreementId), total);
  }

  /** Recomputes the pending maximum of one agreement from disk (after items leave the pending states). */
  private refreshPending(poolId: string, agreementId: string): void {
    const key = agreementKey(poolId, agreementId);
    const rows = this.stmts.pendingOf.all(poolId, agreementId) as { total_accepted: string }[];
    let max: bigint | undefined;
    for (const row of rows) {
      const total = BigInt(row.total_accepted);
      if (max === undefined || total > max) max = total;
    }
    for (const { item } of this.buffer.values()) {
      if (
        item.poolId === poolId &&
        item.agreementId === agreementId &&
        (max === undefined || item.totalAccepted > max)
      ) {
        max = item.totalAccepted;
      }
    }
    if (max === undefined) this.pendingMax.delete(key);
    else this.pendingMax.set(key, max);
  }

  // ---------------------------------------------------------------- submitter side

  /** Every queued acceptance (the scheduler's plans are built from them at start). */
  allQueued(): StoredAcceptance[] {
    return (this.stmts.allQueued.all() as AcceptanceRow[]).map(fromRow);
  }

  /** The queued acceptances of one agreement (the scheduler reloads an agreement from them after a change). */
  queuedOf(poolId: string, agreementId: string): StoredAcceptance[] {
    return (this.stmts.queuedOf.all(poolId, agreementId) as AcceptanceRow[]).map(fromRow);
  }

  /** Opens a batch and moves its items to `submitted`, atomically. */
  createBatch(items: readonly StoredAcceptance[], fromBlock: number, now: number = Date.now()): number {
    const batchId = this.db.transaction(() => {
      const id = Number(this.stmts.createBatch.run(now, fromBlock).lastInsertRowid);
      for (const item of items) this.stmts.markSubmitted.run(id, now, item.id);
      return id;
    })();
    this.syncNow();
    return batchId;
  }

  /** Records a transaction of a batch; called before the transaction is broadcast. */
  recordTx(batchId: number, txHash: string, nonce: number, raw: string | null, now: number = Date.now()): void {
    this.db.transaction(() => {
      this.stmts.recordTx.run(txHash, batchId, nonce, raw, now);
      this.stmts.setItemTx.run(txHash, now, batchId);
    })();
    this.syncNow(); // on disk before the broadcast
  }

  openBatches(): OpenBatch[] {
    const rows = this.stmts.openBatches.all() as { id: number; created_at: number; from_block: number }[];
    return rows.map((row) => this.batch(row.id, row.created_at, row.from_block));
  }

  batchById(id: number): OpenBatch | undefined {
    return this.openBatches().find((b) => b.id === id);
  }

  private batch(id: number, createdAt: number, fromBlock: number): OpenBatch {
    const txs = (
      this.stmts.batchTxs.all(id) as {
        tx_hash: string;
        batch_id: number;
        nonce: number;
        raw: string | null;
        sent_at: number;
      }[]
    ).map((tx) => ({ txHash: tx.tx_hash, batchId: tx.batch_id, nonce: tx.nonce, raw: tx.raw, sentAt: tx.sent_at }));
    const items = (this.stmts.batchItems.all(id) as AcceptanceRow[]).map(fromRow);
    return { id, createdAt, fromBlock, txs, items };
  }

  /**
   * Closes a batch with each item's outcome. A settled item sets aside every queued acceptance of its agreement
   * with a total not above its own (nothing lower can pay more). Retried items go back to the queue with one attempt
   * used and fail for good after `maxAttempts`; requeued ones go back with none used.
   */
  closeBatch(
    batchId: number,
    outcomes: ReadonlyMap<string, ItemOutcome>,
    result: string,
    gasUsed: bigint | null,
    retry: RetryPolicy,
    now: number = Date.now(),
  ): BatchClose {
    const counts: BatchClose = { settled: 0, failed: 0, retried: 0, requeued: 0, superseded: 0, agreements: [] };
    const touched = new Map<string, [string, string]>();
    this.db.transaction(() => {
      for (const row of this.stmts.batchItems.all(batchId) as AcceptanceRow[]) {
        const item = fromRow(row);
        touched.set(agreementKey(item.poolId, item.agreementId), [item.poolId, item.agreementId]);
        const outcome = outcomes.get(item.id) ?? { kind: "requeue", reason: "no outcome recorded for the item" };
        this.applyOutcome(item, outcome, retry, now, counts);
      }
      this.stmts.closeBatch.run(now, gasUsed === null ? null : gasUsed.toString(), result, batchId);
    })();
    this.syncNow();
    return this.afterChange(touched, counts);
  }

  /**
   * Records outcomes of queued items decided without a transaction (simulated before sending, expired in the
   * queue, already covered on chain), in one commit.
   */
  resolveQueued(outcomes: ReadonlyMap<string, ItemOutcome>, retry: RetryPolicy, now: number = Date.now()): BatchClose {
    const counts: BatchClose = { settled: 0, failed: 0, retried: 0, requeued: 0, superseded: 0, agreements: [] };
    const touched = new Map<string, [string, string]>();
    this.db.transaction(() => {
      for (const [id, outcome] of outcomes) {
        const row = this.stmts.get.get(id) as AcceptanceRow | undefined;
        if (!row || row.status !== "queued") continue;
        const item = fromRow(row);
        touched.set(agreementKey(item.poolId, item.agreementId), [item.poolId, item.agreementId]);
        this.applyOutcome(item, outcome, retry, now, counts);
      }
    })();
    this.syncNow();
    return this.afterChange(touched, counts);
  }

  private applyOutcome(
    item: StoredAcceptance,
    outcome: ItemOutcome,
    retry: RetryPolicy,
    now: number,
    counts: BatchClose,
  ): void {
    switch (outcome.kind) {
      case "settled":
        raise(this.settledMax, agreementKey(item.poolId, item.agreementId), item.totalAccepted);
        this.stmts.settle.run(outcome.txHash, outcome.paid.toString(), outcome.reason ?? null, now, item.id);
        counts.settled++;
        counts.superseded += this.stmts.supersedeUpTo.run({
          by: item.id,
          reason: `a total at least as high (${item.totalAccepted}) was settled${outcome.txHash ? ` in ${outcome.txHash}` : ""}`,
          now,
          poolId: item.poolId,
          agreementId: item.agreementId,
          total: item.totalAccepted.toString(),
        }).changes;
        break;
      case "failed":
        this.stmts.fail.run(outcome.txHash, outcome.reason, now, item.id);
        counts.failed++;
        break;
      case "superseded":
        this.stmts.supersedeOne.run(null, outcome.reason, now, item.id);
        counts.superseded++;
        break;
      case "retry": {
        const attempts = item.attempts + 1;
        if (attempts >= retry.maxAttempts) {
          this.stmts.giveUp.run(attempts, `gave up after ${attempts} attempts: ${outcome.reason}`, now, item.id);
          counts.failed++;
        } else {
          this.stmts.requeue.run(attempts, outcome.reason, retry.notBefore(attempts), now, item.id);
          counts.retried++;
        }
        break;
      }
      case "requeue":
        this.stmts.requeue.run(item.attempts, outcome.reason, item.notBefore, now, item.id);
        counts.requeued++;
        break;
    }
  }

  private afterChange(touched: Map<string, [string, string]>, counts: BatchClose): BatchClose {
    for (const [poolId, agreementId] of touched.values()) this.refreshPending(poolId, agreementId);
    counts.agreements = [...touched.values()];
    if (counts.retried + counts.requeued > 0) this.notify();
    return counts;
  }

  /**
   * Puts a failed acceptance back in the queue (it was posted again and could still settle: a grant given again, a
   * relay that ran out of gas). Attempts start over. Returns the stored item, or undefined when it was not failed.
   */
  revive(id: string, now: number = Date.now()): StoredAcceptance | undefined {
    if (this.stmts.revive.run(now, id).changes === 0) return undefined;
    this.syncNow();
    const item = this.get(id) as StoredAcceptance;
    this.notePending(item.poolId, item.agreementId, item.totalAccepted);
    for (const listener of this.committedListeners) listener([item]);
    this.notify();
    return item;
  }

  // ---------------------------------------------------------------- quarantine

  quarantined(): QuarantineRecord[] {
    return this.stmts.quarantined.all() as QuarantineRecord[];
  }

  putQuarantine(record: QuarantineRecord): void {
    this.stmts.putQuarantine.run(record);
    this.syncNow();
  }

  liftQuarantine(key: string): void {
    this.stmts.liftQuarantine.run(key);
    this.syncNow();
  }

  // ---------------------------------------------------------------- reads

  /** Acceptances per status (from the counts SQLite keeps; what waits for the next group commit counts as queued). */
  countByStatus(): Record<AcceptanceStatus, number> {
    const counts: Record<AcceptanceStatus, number> = { queued: 0, submitted: 0, settled: 0, superseded: 0, failed: 0 };
    for (const row of this.stmts.countByStatus.all() as { status: AcceptanceStatus; n: number }[])
      counts[row.status] = row.n;
    counts.queued += this.buffer.size;
    return counts;
  }

  forAgreement(poolId: string, agreementId: string, limit = 50): StoredAcceptance[] {
    return (this.stmts.forAgreement.all(poolId, agreementId, limit) as AcceptanceRow[]).map(fromRow);
  }

  gasTotals(): { batches: number; gas: bigint } {
    const row = this.stmts.gasUsed.get() as { n: number; gas: number | bigint };
    return { batches: row.n, gas: BigInt(row.gas) };
  }

  /**
   * Forgets finished acceptances (settled, superseded, failed) received before `before` (ms); queued and submitted
   * ones are never touched, whatever their age. Deletes at most `limit` per call (each call one short transaction),
   * so a caller spreads a large backlog over several turns of the event loop; returns how many it deleted. The call
   * that finds fewer than `limit` left also forgets the signed transactions of batches closed before `before` (once
   * per backlog: that statement scans the batches). The chain's acceptedTotal still refuses a stale total re-posted
   * after its row is gone, and a failed one posted again is verified afresh.
   */
  prune(before: number, limit = 2_000): number {
    return this.db.transaction(() => {
      const deleted = this.stmts.pruneAcceptances.run(before, limit).changes;
      if (deleted < limit) this.stmts.pruneBatchTxs.run(before);
      return deleted;
    })();
  }

  close(): void {
    this.flush();
    this.syncNow();
    this.closed = true;
    this.closeWal(); // or once the flush in flight reports back
    this.opened.close();
  }
}
