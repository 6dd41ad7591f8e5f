import { rmSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";

import { type NewAcceptance, RelayStore } from "../../scripts/relay/store";
import { tempDir } from "./helpers";

function item(agreementId: string, total: bigint): NewAcceptance {
  return {
    id: hexlify(randomBytes(32)),
    poolId: `0x${"11".repeat(32)}`,
    agreementId,
    debitNoteId: hexlify(randomBytes(32)),
    totalAccepted: total,
    deadline: 1_900_000_000,
    signer: "0x70997970C51812dc3A010C7d01b50e0dfc79C720",
    signature: hexlify(randomBytes(65)),
    contractSigner: false,
  };
}

/** The group commit and its flush to disk (off the event loop): promises resolve only once rows are on disk. */
describe("relay: store group commit", function () {
  const dir = tempDir("dripfeed-relay-store-");

  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  for (const synchronous of ["FULL", "NORMAL"] as const) {
    it(`resolves every insert once committed and flushed, and a reopened file has them all (${synchronous})`, async function () {
      const file = path.join(dir, `${synchronous}.sqlite`);
      const store = new RelayStore(file, { synchronous });
      store.bindDeployment(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
      const agreements = Array.from({ length: 5 }, () => hexlify(randomBytes(32)));
      const items = Array.from({ length: 60 }, (_, i) => item(agreements[i % 5], BigInt(i + 1)));
      const order: string[] = [];
      const inserts = items.map((it) => store.enqueue(it, Date.now()).then(() => order.push(it.id)));
      // A resubmission while the first copy waits for its commit and flush resolves after it, never before.
      const duplicate = store.committed(items[0].id).then(() => order.push("duplicate"));
      expect(store.has(items[0].id)).to.equal(true);
      expect(store.get(items[0].id)?.status).to.equal("queued");
      await Promise.all([...inserts, duplicate]);
      expect(order.indexOf(items[0].id)).to.be.lessThan(order.indexOf("duplicate"));
      // Committed and flushed: committed() answers at once from now on.
      await store.committed(items[0].id);
      // Lower totals stay queued beside higher ones (set aside only once a higher total is settled).
      const counts = store.countByStatus();
      expect(counts.queued).to.equal(60);
      expect(counts.superseded).to.equal(0);
      // A second batch of inserts in a later turn (a flush may still be running: it waits for the next one).
      const later = Array.from({ length: 10 }, (_, i) => item(agreements[i % 5], BigInt(100 + i)));
      await Promise.all(later.map((it) => store.enqueue(it, Date.now())));
      store.close();

      const reopened = new RelayStore(file, { synchronous });
      for (const it of [...items, ...later]) expect(reopened.get(it.id)?.totalAccepted).to.equal(it.totalAccepted);
      expect(reopened.pendingTotal(items[0].poolId, agreements[0])).to.equal(105n);
      reopened.close();
    });
  }

  it("close() commits and flushes what is still buffered", async function () {
    const file = path.join(dir, "close.sqlite");
    const store = new RelayStore(file);
    const pending = item(hexlify(randomBytes(32)), 7n);
    const done = store.enqueue(pending, Date.now());
    store.close();
    await done;
    const reopened = new RelayStore(file);
    expect(reopened.get(pending.id)?.status).to.equal("queued");
    reopened.close();
  });

  describe("when a batch closes", function () {
    const retry = { maxAttempts: 3, notBefore: (attempts: number) => 1_000 * attempts };

    async function queued(file: string, totals: bigint[]) {
      const store = new RelayStore(path.join(dir, file));
      const agreement = hexlify(randomBytes(32));
      const items = totals.map((t) => item(agreement, t));
      await Promise.all(items.map((it) => store.enqueue(it, 0)));
      return { store, items };
    }

    it("sets aside queued acceptances of the agreement up to the settled total, and keeps higher ones", async function () {
      const { store, items } = await queued("settle.sqlite", [10n, 30n, 50n, 9n]);
      const batch = store.createBatch([store.get(items[1].id)!], 1);
      store.closeBatch(
        batch,
        new Map([[items[1].id, { kind: "settled", txHash: "0xaa", paid: 30n }]]),
        "mined",
        1n,
        retry,
      );
      expect(store.get(items[0].id)).to.include({ status: "superseded", supersededBy: items[1].id });
      expect(store.get(items[3].id)).to.include({ status: "superseded", supersededBy: items[1].id });
      expect(store.get(items[1].id)).to.include({ status: "settled" });
      expect(store.get(items[2].id)).to.include({ status: "queued" });
      expect(store.settledTotal(items[0].poolId, items[0].agreementId)).to.equal(30n);
      store.close();
    });

    it("charges an attempt for the item's own failure (failed after the last) but none for a requeue", async function () {
      const { store, items } = await queued("attempts.sqlite", [10n, 20n]);
      const [own, innocent] = items;
      for (let round = 1; round <= 3; round++) {
        const batch = store.createBatch([store.get(own.id)!, store.get(innocent.id)!], 1);
        store.closeBatch(
          batch,
          new Map([
            [own.id, { kind: "retry", reason: "its token fails" }],
            [innocent.id, { kind: "requeue", reason: "the relay has no gas" }],
          ]),
          "requeued",
          null,
          retry,
        );
      }
      expect(store.get(own.id)).to.include({ status: "failed", attempts: 3 });
      expect(store.get(own.id)!.reason).to.match(/^gave up after 3 attempts: its token fails/);
      expect(store.get(innocent.id)).to.include({ status: "queued", attempts: 0 });
      // Posted again while it can still settle: queued again with its attempts reset.
      expect(store.revive(own.id)).to.include({ status: "queued", attempts: 0, reason: null });
      expect(store.revive(innocent.id)).to.equal(undefined);
      store.close();
    });
  });

  describe("counting acceptances by status (for /healthz and /metrics)", function () {
    /** What a full count of the table says, read with the store closed (it holds the file's lock while open). */
    function countedAfresh(file: string): Record<string, number> {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare("SELECT status, count(*) AS n FROM acceptances GROUP BY status").all() as {
        status: string;
        n: number;
      }[];
      db.close();
      const counts: Record<string, number> = { queued: 0, submitted: 0, settled: 0, superseded: 0, failed: 0 };
      for (const row of rows) counts[row.status] = row.n;
      return counts;
    }

    it("follows every change of status exactly, across a reopen and on a file written before the counts existed", async function () {
      const file = path.join(dir, "counts.sqlite");
      let store = new RelayStore(file);
      const agreement = hexlify(randomBytes(32));
      const items = [10n, 20n, 30n, 40n, 50n].map((t) => item(agreement, t));
      await Promise.all(items.map((it) => store.enqueue(it, 0)));
      // A duplicate insert is ignored, and counted once.
      await store.enqueue(items[0], 0);
      expect(store.countByStatus()).to.deep.equal({ queued: 5, submitted: 0, settled: 0, superseded: 0, failed: 0 });
      const retry = { maxAttempts: 1, notBefore: () => 0 };
      // 30 settles (10 and 20 set aside), 50 fails for good, 40 is requeued; then 50 is posted again.
      const batch = store.createBatch(
        [items[2], items[3], items[4]].map((it) => store.get(it.id)!),
        1,
      );
      expect(store.countByStatus()).to.include({ queued: 2, submitted: 3 });
      store.closeBatch(
        batch,
        new Map([
          [items[2].id, { kind: "settled", txHash: "0xaa", paid: 30n }],
          [items[3].id, { kind: "requeue", reason: "the relay has no gas" }],
          [items[4].id, { kind: "retry", reason: "its token fails" }],
        ]),
        "mined",
        1n,
        retry,
      );
      expect(store.countByStatus()).to.deep.equal({ queued: 1, submitted: 0, settled: 1, superseded: 2, failed: 1 });
      store.revive(items[4].id);
      const expected = { queued: 2, submitted: 0, settled: 1, superseded: 2, failed: 0 };
      expect(store.countByStatus()).to.deep.equal(expected);
      store.close();
      expect(countedAfresh(file)).to.deep.equal(expected);

      // Reopened: the same counts.
      store = new RelayStore(file);
      expect(store.countByStatus()).to.deep.equal(expected);
      store.close();

      // A file from a relay before the counts: they are made on open from a full count, then kept.
      const old = new Database(file);
      old.exec(
        "DROP TRIGGER acceptances_count_update; DROP TRIGGER acceptances_count_delete; DROP TABLE status_counts;",
      );
      old.close();
      store = new RelayStore(file);
      expect(store.countByStatus()).to.deep.equal(expected);
      await store.enqueue(item(agreement, 60n), 0);
      expect(store.countByStatus()).to.deep.equal({ ...expected, queued: 3 });
      store.close();
      expect(countedAfresh(file)).to.deep.equal({ ...expected, queued: 3 });
    });
  });

  describe("forgetting finished acceptances (--retain)", function () {
    it("deletes settled, superseded and failed ones received before the cutoff, a chunk at a time, never queued or submitted ones", async function () {
      const file = path.join(dir, "retain.sqlite");
      const store = new RelayStore(file);
      const DAY = 86_400_000;
      const now = Date.now();
      const retry = { maxAttempts: 1, notBefore: () => 0 };
      const agreement = hexlify(randomBytes(32));
      // 40 days ago: 10 and 20 (superseded by 30), 30 (settled), 35 (failed), 45 (in a batch in flight), 50 (queued).
      const old = [10n, 20n, 30n, 35n, 45n, 50n].map((t) => item(agreement, t));
      await Promise.all(old.map((it) => store.enqueue(it, 0, now - 40 * DAY)));
      const [low, mid, settled, failed, inFlight, waiting] = old;
      const closed = store.createBatch(
        [settled, failed].map((it) => store.get(it.id)!),
        1,
        now - 40 * DAY,
      );
      store.recordTx(closed, "0xaa", 0, "0x01", now - 40 * DAY);
      store.closeBatch(
        closed,
        new Map([
          [settled.id, { kind: "settled", txHash: "0xaa", paid: 30n }],
          [failed.id, { kind: "retry", reason: "its token fails" }],
        ]),
        "mined",
        1n,
        retry,
        now - 40 * DAY,
      );
      const open = store.createBatch([store.get(inFlight.id)!], 1, now - 40 * DAY);
      store.recordTx(open, "0xbb", 1, "0x02", now - 40 * DAY);
      // Yesterday: a settled one of another agreement, inside the window.
      const recent = item(hexlify(randomBytes(32)), 5n);
      await store.enqueue(recent, 0, now - DAY);
      const recentBatch = store.createBatch([store.get(recent.id)!], 1, now - DAY);
      store.closeBatch(
        recentBatch,
        new Map([[recent.id, { kind: "settled", txHash: "0xcc", paid: 5n }]]),
        "mined",
        1n,
        retry,
        now - DAY,
      );
      expect(store.countByStatus()).to.deep.equal({ queued: 1, submitted: 1, settled: 2, superseded: 2, failed: 1 });

      // Keep 30 days, two rows per call: 4 old finished ones go in two calls, then nothing is left to delete.
      const cutoff = now - 30 * DAY;
      expect(store.prune(cutoff, 2)).to.equal(2);
      expect(store.prune(cutoff, 2)).to.equal(2);
      expect(store.prune(cutoff, 2)).to.equal(0);
      for (const gone of [low, mid, settled, failed]) expect(store.get(gone.id), "forgotten").to.equal(undefined);
      expect(store.get(inFlight.id)?.status).to.equal("submitted");
      expect(store.get(waiting.id)?.status).to.equal("queued");
      expect(store.get(recent.id)?.status).to.equal("settled");
      expect(store.countByStatus()).to.deep.equal({ queued: 1, submitted: 1, settled: 1, superseded: 0, failed: 0 });
      // The batch in flight keeps its signed transaction (a restart rebroadcasts or finds it).
      expect(store.openBatches().map((b) => b.txs.map((t) => t.txHash))).to.deep.equal([["0xbb"]]);
      store.close();
      const db = new Database(file, { readonly: true });
      expect(db.prepare("SELECT tx_hash FROM batch_txs ORDER BY tx_hash").all()).to.deep.equal([{ tx_hash: "0xbb" }]);
      db.close();
    });
  });

  describe("when another store holds the file", function () {
    it("refuses to open it (STORE_LOCKED), and opens once the holder closed it", function () {
      const file = path.join(dir, "locked.sqlite");
      const holder = new RelayStore(file);
      expect(() => new RelayStore(file))
        .to.throw(/in use by another relay/)
        .with.property("code", "STORE_LOCKED");
      holder.close();
      new RelayStore(file).close();
    });

    it("refuses a file written for another submitting account (STORE_MISMATCH)", function () {
      const file = path.join(dir, "submitter.sqlite");
      const contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
      const first = new RelayStore(file);
      first.bindDeployment(31337n, contract, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
      first.close();
      const second = new RelayStore(file);
      expect(() => second.bindDeployment(31337n, contract, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"))
        .to.throw(/submitting account 0x70997970c51812dc3a010c7d01b50e0d17dc79c8, not 0x3c44/)
        .with.property("code", "STORE_MISMATCH");
      second.bindDeployment(31337n, contract, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
      second.close();
    });
  });
});
