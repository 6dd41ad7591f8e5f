import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { type DripFeedError } from "../../scripts/sdk/errors";
import { bindIdentity, openStore } from "../../scripts/service/store";

const ROOT = path.resolve(__dirname, "../..");

/**
 * Runs a child node process that opens `file` with openStore, runs `sql` (committed), prints "opened", and holds the
 * file until killed.
 */
function holdInChild(file: string, sql = ""): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `
    require("ts-node/register/transpile-only");
    const { openStore } = require(${JSON.stringify(path.join(ROOT, "scripts/service/store.ts"))});
    const store = openStore(${JSON.stringify(file)}, "CREATE TABLE IF NOT EXISTS t (x INTEGER);", "test service");
    if (${JSON.stringify(sql)}) store.db.exec(${JSON.stringify(sql)});
    process.stdout.write("opened\\n");
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ["-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`child exited early (${code})`)));
    child.stdout.on("data", (chunk: Buffer) => {
      if (!chunk.toString().includes("opened")) return;
      child.removeAllListeners("exit");
      resolve({
        pid: child.pid as number,
        kill: () =>
          new Promise<void>((done) => {
            child.once("exit", () => done());
            child.kill("SIGKILL");
          }),
      });
    });
  });
}

describe("service/store: one writer per SQLite file, bound to what it was written for", function () {
  this.timeout(30_000);
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-service-store-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a second process on the same file with one line naming the holder, and frees it when that one is killed", async () => {
    const file = path.join(dir, "held.sqlite");
    const holder = await holdInChild(file);
    try {
      expect(readFileSync(`${file}.pid`, "utf8").trim()).to.equal(String(holder.pid));
      let refused: DripFeedError | undefined;
      try {
        openStore(file, "", "test service").close();
      } catch (error) {
        refused = error as DripFeedError;
      }
      expect(refused?.code).to.equal("STORE_LOCKED");
      expect(refused?.message).to.equal(
        `database ${file} is in use by another test service (pid ${holder.pid}): stop it first, or give this one another --db file`,
      );
    } finally {
      await holder.kill();
    }
    // kill -9 leaves no lock behind (the kernel drops it): the next process opens the file at once.
    const store = openStore(file, "", "test service");
    expect(readFileSync(`${file}.pid`, "utf8").trim()).to.equal(String(process.pid));
    store.close();
    expect(existsSync(`${file}.pid`)).to.equal(false);
  });

  it("keeps what was committed across a kill -9 of its writer (WAL, synchronous FULL)", async () => {
    const file = path.join(dir, "durable.sqlite");
    const first = openStore(file, "CREATE TABLE IF NOT EXISTS t (x INTEGER);", "test service");
    expect(first.db.pragma("journal_mode", { simple: true })).to.equal("wal");
    expect(first.db.pragma("synchronous", { simple: true })).to.equal(2); // FULL
    first.close();
    const holder = await holdInChild(file, "INSERT INTO t (x) VALUES (42)");
    await holder.kill();
    const again = openStore(file, "", "test service");
    expect(again.db.prepare("SELECT x FROM t").all()).to.deep.equal([{ x: 42 }]);
    again.close();
  });

  it("binds a file to its first identity and refuses another, naming the fact that differs", () => {
    const file = path.join(dir, "identity.sqlite");
    const store = openStore(file, "", "test service");
    const facts = (signer: string) => [
      { key: "chainId", value: "31337", label: "chain id" },
      { key: "signer", value: signer, label: "signer" },
    ];
    bindIdentity(store.db, file, facts("0xaaaa"));
    bindIdentity(store.db, file, facts("0xaaaa")); // the same run again: fine
    expect(() => bindIdentity(store.db, file, facts("0xbbbb")))
      .to.throw(`database ${file} was written for signer 0xaaaa, not 0xbbbb`)
      .with.property("code", "STORE_MISMATCH");
    store.close();
  });
});
