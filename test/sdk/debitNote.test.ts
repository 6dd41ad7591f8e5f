import { expect } from "chai";

import {
  DripFeedError,
  defaultPaymentPlatform,
  formatRfc3339Micros,
  parseDebitNote,
  rfc3339Micros,
  toRfc3339,
  unixSeconds,
} from "../../scripts/sdk";
import { type DebitNoteVectors, loadVector } from "../helpers/vectors";

describe("sdk/debitNote", () => {
  const vectors = loadVector<DebitNoteVectors>("golem-debit-notes.json");
  const first = vectors.notes[0].debitNote as Record<string, unknown>;

  it("parses every vector note, keeping yagna's fields", () => {
    for (const { debitNote } of vectors.notes) {
      const note = parseDebitNote(JSON.stringify(debitNote));
      expect(note.debitNoteId).to.equal((debitNote as { debitNoteId: string }).debitNoteId);
      expect(note.status).to.equal((debitNote as { status: string }).status);
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

  it("reads yagna's microsecond times exactly (more than a Date holds) and writes them back the same way", () => {
    const micros = rfc3339Micros("2026-11-21T12:12:05.500001Z");
    expect(micros).to.equal(BigInt(Date.UTC(2026, 10, 21, 12, 12, 5)) * 1000n + 500_001n);
    expect(formatRfc3339Micros(micros)).to.equal("2026-11-21T12:12:05.500001Z");
    expect(formatRfc3339Micros(micros - 1n)).to.equal("2026-11-21T12:12:05.500000Z");
    expect(rfc3339Micros("2026-11-21T12:12:05Z")).to.equal(BigInt(Date.UTC(2026, 10, 21, 12, 12, 5)) * 1000n);
    expect(rfc3339Micros("2026-11-21T14:12:05.25+02:00")).to.equal(rfc3339Micros("2026-11-21T12:12:05.250Z"));
    expect(rfc3339Micros("2026-11-21T12:12:05.1234567Z")).to.equal(rfc3339Micros("2026-11-21T12:12:05.123456Z"));
    expect(() => rfc3339Micros("21/11/2026", "eventDate")).to.throw(/eventDate must be an RFC 3339 date-time/);
  });

  it("knows Golem's payment platform of each chain it runs on, and none for a local chain", () => {
    expect(defaultPaymentPlatform(137n)).to.equal("erc20-polygon-glm");
    expect(defaultPaymentPlatform(1)).to.equal("erc20-mainnet-glm");
    expect(defaultPaymentPlatform(17000n)).to.equal("erc20-holesky-tglm");
    expect(defaultPaymentPlatform(31337n)).to.equal(undefined);
  });
});
