import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { AcceptorStore, type NewNote } from "../../scripts/acceptor/store";
import type { DebitNoteEvent } from "../../scripts/acceptor/yagna";
import { formatRfc3339Micros } from "../../scripts/sdk/debitNote";

describe("acceptor/store: cursor, decisions and outbox on disk", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-acceptor-store-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const open = () => new AcceptorStore(path.join(dir, `store-${++n}.sqlite`));
  const T0 = 1_795_000_000n * 1_000_000n;
  const event = (id: string, at: bigint, type = "DebitNoteReceivedEvent"): DebitNoteEvent => ({
    debitNoteId: id,
    eventType: type,
    at,
    eventDate: formatRfc3339Micros(at),
  });
  const accepted = (id: string, total: bigint, receivedAt = 1_795_000_000): NewNote => ({
    debitNoteId: id,
    agreementId: "ab".repeat(32),
    activityId: "cd".repeat(16),
    eventDate: "",
    receivedAt,
    totalAmountDue: "1.0",
    decision: "accept",
    rule: null,
    reason: null,
    agreementTotal: total,
    acceptance: "{}",
    deadline: 2_000_000_000,
    acceptTimeoutAt: receivedAt + 240,
    delivery: "pending",
    deliveryDetail: null,
    yagna: "none",
  });

  it("records a decision, the activity's new state and the cursor together, and never moves the cursor back", () => {
    const store = open();
    const e1 = event("n1", T0 + 5n);
    store.handled(e1, {
      note: accepted("n1", 10n),
      activity: { total: 10n, lastAt: 1_795_000_000n, lastNoteId: "n1" },
    });
    expect(store.cursor()).to.deep.equal({ eventDate: e1.eventDate, at: e1.at });
    expect(store.seen(e1)).to.equal(true);
    expect(store.seen(event("n1", T0 + 6n))).to.equal(false);
    expect(store.activities("ab".repeat(32)).get("cd".repeat(16))).to.deep.equal({
      total: 10n,
      lastAt: 1_795_000_000n,
      lastNoteId: "n1",
    });
    store.handled(event("old", T0 + 1n, "DebitNoteAcceptedEvent")); // an overlapping poll's older event
    expect(store.cursor()?.at).to.equal(e1.at);
    // a note is decided once: a second decision for the same id fails and changes nothing
    expect(() => store.handled(event("n1", T0 + 9n), { note: accepted("n1", 99n) })).to.throw(/UNIQUE/);
    expect(store.cursor()?.at).to.equal(e1.at);
    expect(store.note("n1")?.agreementTotal).to.equal(10n);
    store.close();
  });

  it("covers lower pending totals of an agreement once a higher one is delivered", () => {
    const store = open();
    store.handled(event("a", T0 + 1n), { note: accepted("a", 10n) });
    store.handled(event("b", T0 + 2n), { note: accepted("b", 20n) });
    store.handled(event("c", T0 + 3n), { note: accepted("c", 30n) });
    store.setDelivery("b", "handed", 1, 0, "the relay has it", { relayId: "0xrelay" });
    expect(store.coverPendingBelow("ab".repeat(32), "b", 20n)).to.equal(1);
    expect(store.note("a")).to.include({ delivery: "covered" });
    expect(store.note("b")).to.include({ delivery: "handed", relayId: "0xrelay" });
    expect(store.note("c")).to.include({ delivery: "pending" });
    expect(store.pendingDeliveries().map((r) => r.debitNoteId)).to.deep.equal(["c"]);
    store.close();
  });

  it("forgets finished notes a month behind the cursor, never pending ones", () => {
    const store = open();
    const month = 31 * 86_400;
    store.handled(event("done", T0 + 1n), { note: { ...accepted("done", 1n), delivery: "handed" } });
    store.handled(event("waiting", T0 + 2n), { note: accepted("waiting", 2n) });
    store.handled(event("later", T0 + BigInt(month) * 1_000_000n), {
      note: { ...accepted("later", 3n, 1_795_000_000 + month), delivery: "handed" },
    });
    store.prune();
    expect(store.note("done")).to.equal(undefined);
    expect(store.note("waiting")).to.include({ delivery: "pending" });
    expect(store.note("later")).to.include({ delivery: "handed" });
    expect(store.seen(event("done", T0 + 1n))).to.equal(false);
    store.close();
  });
});
