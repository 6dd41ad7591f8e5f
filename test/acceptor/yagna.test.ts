import { expect } from "chai";

import { YagnaClient, type YagnaError } from "../../scripts/acceptor/yagna";
import { SimulatedProvider } from "../../scripts/demo/provider";
import { YagnaStandIn } from "../../scripts/demo/yagnaStandIn";

/** The acceptor's yagna client against the stand-in: the calls, the JSON, the errors it turns them into. */
describe("acceptor/yagna: the payment API client", function () {
  this.timeout(20_000);
  const APP_KEY = "yagna-test-key";
  let yagna: YagnaStandIn;
  let client: YagnaClient;
  const provider = new SimulatedProvider(
    "p",
    "0x8f3b1c2d4e5f60718293a4b5c6d7e8f901a2b3c4",
    "0x00898a0865a2333d6d6764b3db784ccf8e995fdc",
    "3b".repeat(32),
    { startPrice: 0n, perInterval: 12n * 10n ** 15n },
    18,
  );

  beforeEach(async () => {
    yagna = await YagnaStandIn.start({ appKey: APP_KEY, allocations: ["alloc-1"] });
    client = new YagnaClient({ url: yagna.url, appKey: APP_KEY });
  });
  afterEach(() => yagna.close());

  it("reads events with microsecond dates, after a cursor, and fetches a note in yagna's JSON", async () => {
    const note = provider.issueDebitNote(1_795_000_000_000_001n);
    const event = yagna.receive(note, 1_795_000_000_123_456n);
    expect(event.eventDate).to.equal("2026-11-18T11:06:40.123456Z");
    const events = await client.debitNoteEvents(undefined, 0, 100);
    expect(events).to.deep.equal([
      { debitNoteId: note.debitNoteId, eventDate: event.eventDate, eventType: "DebitNoteReceivedEvent", at: event.at },
    ]);
    expect(await client.debitNoteEvents("2026-11-18T11:06:40.123456Z", 0, 100)).to.deep.equal([]);
    expect(await client.debitNoteEvents("2026-11-18T11:06:40.123455Z", 0, 100)).to.have.length(1);
    const fetched = await client.debitNote(note.debitNoteId);
    expect(fetched?.debitNoteId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(fetched?.activityId).to.match(/^[0-9a-f]{32}$/);
    expect(fetched?.timestamp).to.equal("2026-11-18T11:06:40.000001Z");
    expect(fetched?.totalAmountDue).to.equal("0.012000000000000000");
    expect(await client.debitNote("00000000-0000-4000-8000-000000000000")).to.equal(undefined);
  });

  it("long-polls: an empty list when nothing comes in time, the event as soon as one arrives", async () => {
    const started = Date.now();
    expect(await client.debitNoteEvents(undefined, 1, 100)).to.deep.equal([]);
    expect(Date.now() - started).to.be.greaterThanOrEqual(900);
    const waiting = client.debitNoteEvents(undefined, 10, 100);
    setTimeout(() => yagna.receive(provider.issueDebitNote(1_795_000_000_000_000n)), 100);
    expect(await waiting).to.have.length(1);
  });

  it("accepts for exactly the note's totalAmountDue; yagna refuses another amount and a cancelled note", async () => {
    const note = provider.issueDebitNote(1_795_000_000_000_000n);
    yagna.receive(note);
    const refused = await client.acceptDebitNote(note.debitNoteId, "0.012", "alloc-1").catch((e: YagnaError) => e);
    expect(refused).to.include({ code: "YAGNA_ERROR", status: 400 });
    expect((refused as YagnaError).transient).to.equal(false);
    await client.acceptDebitNote(note.debitNoteId, note.totalAmountDue, "alloc-1");
    await client.acceptDebitNote(note.debitNoteId, note.totalAmountDue, "alloc-1"); // again: 200, already accepted
    expect(yagna.accepted().map((a) => a.totalAmountAccepted)).to.deep.equal([
      note.totalAmountDue,
      note.totalAmountDue,
    ]);
    const other = provider.issueDebitNote(1_795_000_000_000_000n);
    yagna.receive(other);
    yagna.cancel(other.debitNoteId);
    const cancelled = await client.acceptDebitNote(other.debitNoteId, other.totalAmountDue, "alloc-1").catch((e) => e);
    expect((cancelled as Error).message).to.match(/HTTP 400.*Debit note cancelled/);
  });

  it("names a wrong app key, and tells transient failures (5xx, unreachable) from final ones", async () => {
    const wrong = new YagnaClient({ url: yagna.url, appKey: "not-the-key" });
    const denied = (await wrong.debitNoteEvents(undefined, 0, 1).catch((e) => e)) as YagnaError;
    expect(denied.message).to.match(/HTTP 401 \(is YAGNA_APPKEY the requestor's app key\?\)/);
    yagna.fail("GET", /debitNoteEvents/, 503);
    const busy = (await client.debitNoteEvents(undefined, 0, 1).catch((e) => e)) as YagnaError;
    expect(busy.transient).to.equal(true);
    const gone = new YagnaClient({ url: "http://127.0.0.1:9", appKey: APP_KEY });
    const unreachable = (await gone.debitNoteEvents(undefined, 0, 1).catch((e) => e)) as YagnaError;
    expect(unreachable.status).to.equal(undefined);
    expect(unreachable.transient).to.equal(true);
  });
});
