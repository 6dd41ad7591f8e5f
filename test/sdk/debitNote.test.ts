import { expect } from "chai";

import { DripFeedError, parseDebitNote, toRfc3339, unixSeconds } from "../../scripts/sdk";
import { type DebitNoteVectors, loadVector } from "../helpers/vectors";

describe("sdk/debitNote", () => {
  const vectors = loadVector<DebitNoteVectors>("golem-debit-notes.json");
  const first = vectors.notes[0].debitNote as Record<string, unknown>;

  it("parses every vector note, keeping yagna's fields", () => {
    for (const { debitNote } of vectors.notes) {
      const note = parseDebitNote(JSON.stringify(debitNote));
      expect(note.debitNoteId).to.equal((debitNote as { debitNoteId: string }).debitNoteId);
      expect(note.status).to.equal("RECEIVED");
    }
    const second = parseDebitNote(vectors.notes[1].debitNote);
    expect(second.previousDebitNoteId).to.equal("00005eed-0000-0000-0000-000000000001");
    expect(second.usageCounterVector).to.deep.equal([240, 216]);
  });

  it("ignores fields a newer yagna may add", () => {
    expect(() => parseDebitNote({ ...first, eventDate: "x" })).not.to.throw();
  });

  const broken: [string, Record<string, unknown>, RegExp][] = [
    ["a missing debitNoteId", { debitNoteId: undefined }, /debitNoteId must be a non-empty string/],
    ["a numeric total", { totalAmountDue: 0.012 }, /totalAmountDue must be a non-empty string/],
    ["a negative total", { totalAmountDue: "-1" }, /totalAmountDue must be a decimal string/],
    ["a short agreement id", { agreementId: "abc" }, /agreementId must be 64 hex/],
    ["a bad timestamp", { timestamp: "yesterday" }, /timestamp must be an RFC 3339/],
    ["an unknown status", { status: "PAID" }, /status "PAID" is not one of/],
    ["a bad payee", { payeeAddr: "0x12" }, /payeeAddr must be a 0x-prefixed 20-byte address/],
  ];
  for (const [what, patch, message] of broken) {
    it(`refuses ${what}`, () => {
      expect(() => parseDebitNote({ ...first, ...patch }))
        .to.throw(DripFeedError, message)
        .with.property("code", "INVALID_FIELD");
    });
  }

  it("refuses non-JSON and non-objects", () => {
    expect(() => parseDebitNote("{"))
      .to.throw(DripFeedError)
      .with.property("code", "INVALID_JSON");
    expect(() => parseDebitNote([]))
      .to.throw(DripFeedError)
      .with.property("code", "INVALID_JSON");
  });

  it("converts times both ways", () => {
    expect(unixSeconds("2026-11-21T12:02:00Z")).to.equal(BigInt(Date.UTC(2026, 10, 21, 12, 2) / 1000));
    expect(toRfc3339(unixSeconds("2026-11-21T12:02:00Z"))).to.equal("2026-11-21T12:02:00Z");
  });
});
