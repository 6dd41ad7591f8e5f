import { expect } from "chai";
import { Wallet, keccak256, toUtf8Bytes } from "ethers";

import {
  DebitNoteAcceptor,
  type Terms,
  parseAmount,
  parseDebitNote,
  parseRate,
  recoverAcceptanceSigner,
  unixSeconds,
} from "../../scripts/sdk";
import { type DebitNoteVectors, loadVector } from "../helpers/vectors";

describe("sdk/acceptor", () => {
  const vectors = loadVector<DebitNoteVectors>("golem-debit-notes.json");
  const token = { decimals: vectors.terms.decimals, symbol: vectors.terms.token };
  const terms: Terms = {
    budget: parseAmount(vectors.terms.budget, token),
    upfront: parseAmount(vectors.terms.upfront, token),
    maxRate: parseRate(`${vectors.terms.maxRatePerHour} ${token.symbol}/h`, token),
    streamRate: 0n,
    debitNoteInterval: vectors.terms.debitNoteInterval,
    paymentTimeout: 86_400,
  };
  const poolId = `0x${"11".repeat(32)}`;
  const firstNote = parseDebitNote(vectors.notes[0].debitNote);
  const make = (): DebitNoteAcceptor =>
    new DebitNoteAcceptor({
      poolId,
      agreementId: firstNote.agreementId,
      terms,
      startedAt: unixSeconds(vectors.terms.startedAt),
      token,
    });

  it("reproduces every decision and total of golem-debit-notes.json", () => {
    const acceptor = make();
    for (const [i, v] of vectors.notes.entries()) {
      const decision = acceptor.review(parseDebitNote(v.debitNote));
      expect(decision.kind, `note ${i + 1}`).to.equal(v.expect);
      if (decision.kind === "accept") {
        expect(decision.agreementTotal, `note ${i + 1} total`).to.equal(
          parseAmount(v.agreementTotalAfter ?? "", token),
        );
      } else {
        expect(decision.reason, `note ${i + 1} reason`).to.equal(v.reason);
      }
    }
    expect(acceptor.agreementTotal).to.equal(parseAmount("0.077", token));
  });

  it("answers a resent note the same way (yagna resends up to 5 times)", () => {
    const acceptor = make();
    const note = parseDebitNote(vectors.notes[0].debitNote);
    expect(acceptor.review(note).kind).to.equal("accept");
    expect(acceptor.review(note).kind).to.equal("accept");
    expect(acceptor.agreementTotal).to.equal(parseAmount("0.012", token));
  });

  it("refuses a note that would exceed the budget", () => {
    const acceptor = new DebitNoteAcceptor({ ...make().config, terms: { ...terms, maxRate: 0n } });
    const note = parseDebitNote({ ...(vectors.notes[0].debitNote as object), totalAmountDue: "10.5" });
    const decision = acceptor.review(note);
    expect(decision).to.include({ kind: "reject", rule: "budget" });
    expect(decision.kind === "reject" && decision.reason).to.equal(
      "exceeds the budget (the agreement total would be 10.5 GLM; the budget is 10 GLM)",
    );
  });

  it("leaves rate metering to the contract when told to (the cap makes that safe)", () => {
    const acceptor = new DebitNoteAcceptor({ ...make().config, leaveRateToContract: true });
    for (const v of vectors.notes.slice(0, 8)) acceptor.review(parseDebitNote(v.debitNote));
    // note 8 (9 GLM after 480 s) outpaces the 36 GLM/h cap: accepted now, the contract pays it out at the cap
    expect(acceptor.agreementTotal).to.equal(parseAmount("9.017", token));
  });

  it("refuses a note of another agreement", () => {
    const note = parseDebitNote({ ...(vectors.notes[0].debitNote as object), agreementId: "ab".repeat(32) });
    expect(make().review(note)).to.include({ kind: "reject", rule: "agreement" });
  });

  it("signs the cumulative total with the hashed debit-note id and a deadline", async () => {
    const acceptor = make();
    const wallet = Wallet.createRandom();
    const domain = { chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
    const notes = vectors.notes.slice(0, 3).map((v) => parseDebitNote(v.debitNote));
    let last;
    for (const note of notes) last = await acceptor.accept(note, wallet, domain, 1_000n);
    const signed = last?.signed;
    expect(signed?.totalAccepted).to.equal(parseAmount("0.029", token));
    expect(signed?.debitNoteId).to.equal(keccak256(toUtf8Bytes(notes[2].debitNoteId)));
    expect(signed?.deadline).to.equal(1_000n + 86_400n);
    expect(signed && recoverAcceptanceSigner(signed)).to.equal(wallet.address);
  });

  it("round-trips its state", () => {
    const a = make();
    a.review(parseDebitNote(vectors.notes[0].debitNote));
    const b = make();
    b.importState(JSON.parse(JSON.stringify(a.exportState())));
    expect(b.agreementTotal).to.equal(a.agreementTotal);
    // the interval rule survives: note 4 of the vectors is still too early after note 2
    const c = make();
    for (const v of vectors.notes.slice(0, 3)) c.review(parseDebitNote(v.debitNote));
    const d = make();
    d.importState(c.exportState());
    expect(d.review(parseDebitNote(vectors.notes[3].debitNote))).to.include({ rule: "interval" });
    // and a resend of the latest accepted note is accepted again with the same total
    const resent = d.review(parseDebitNote(vectors.notes[2].debitNote));
    expect(resent.kind === "accept" && resent.agreementTotal).to.equal(parseAmount("0.029", token));
  });
});
