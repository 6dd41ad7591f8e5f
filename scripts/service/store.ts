import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";

import { DripFeedError } from "../sdk/errors";

/**
 * Opening a service's SQLite file: WAL journal, FULL synchronous commits (a committed row survives kill -9 and power
 * loss), one writer. The writer holds SQLite's exclusive lock for as long as it runs (`locking_mode = EXCLUSIVE`),
 * an operating-system lock that the kernel drops when the process dies, so a second process on the same file is
 * refused with one line and a killed one never leaves a stale lock behind. `<file>.pid` names the holder for that
 * line (it is informative only; the lock is SQLite's).
 */

/** The table every service keeps its identity in (what the file was written for). */
const META_SCHEMA = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

export interface OpenedStore {
  db: Database.Database;
  file: string;
  /** Closes the database (checkpointing the WAL) and removes the pid file. */
  close(): void;
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code ?? "";
  return code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED");
}

/** Who holds the lock according to the pid file, for the message (undefined when unknown). */
function holderOf(pidFile: string): string | undefined {
  try {
    const pid = readFileSync(pidFile, "utf8").trim();
    return /^\d+$/.test(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens (creating it and its folder if needed) the SQLite file of a service, takes its exclusive lock and applies
 * `schema` (CREATE ... IF NOT EXISTS statements). Throws DripFeedError("STORE_LOCKED") when another process holds
 * the file.
 */
export function openStore(file: string, schema: string, service: string): OpenedStore {
  const resolved = path.resolve(file);
  mkdirSync(path.dirname(resolved), { recursive: true });
  const pidFile = `${resolved}.pid`;
  const db = new Database(resolved);
  try {
    db.pragma("busy_timeout = 0");
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = WAL");
    // Take the write lock now, not at the first write: from here until close no other process can read or write.
    db.exec("BEGIN EXCLUSIVE; COMMIT;");
  } catch (error) {
    db.close();
    if (!isBusy(error)) throw error;
    const holder = holderOf(pidFile);
    throw new DripFeedError(
      "STORE_LOCKED",
      `database ${file} is in use by another ${service}${holder ? ` (pid ${holder})` : ""}: stop it first, or give this one another --db file`,
    );
  }
  db.pragma("synchronous = FULL");
  db.exec(META_SCHEMA);
  db.exec(schema);
  writeFileSync(pidFile, `${process.pid}\n`);
  let closed = false;
  return {
    db,
    file: resolved,
    close: () => {
      if (closed) return;
      closed = true;
      db.close();
      if (holderOf(pidFile) === String(process.pid)) rmSync(pidFile, { force: true });
    },
  };
}

/** One fact a database is bound to: a stable key, the value, and how a person names it. */
export interface IdentityFact {
  key: string;
  value: string;
  /** E.g. "signer", "chain id": used in the refusal. */
  label: string;
}

/**
 * Binds the database to what it was first written for (chain, contract, pool, signing key, ...): the first run
 * records each fact, later runs must match every one, or DripFeedError("STORE_MISMATCH") names the first that
 * differs. Keeps a restart with another key or against another chain from mixing two histories in one file.
 */
export function bindIdentity(db: Database.Database, file: string, facts: readonly IdentityFact[]): void {
  const get = db.prepare("SELECT value FROM meta WHERE key = ?");
  const set = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
  db.transaction(() => {
    for (const fact of facts) {
      const row = get.get(fact.key) as { value: string } | undefined;
      if (row === undefined) {
        set.run(fact.key, fact.value);
      } else if (row.value !== fact.value) {
        throw new DripFeedError(
          "STORE_MISMATCH",
          `database ${file} was written for ${fact.label} ${row.value}, not ${fact.value}: run with the same ${fact.label}, or give this run another --db file`,
        );
      }
    }
  })();
}
