import { expect } from "chai";
import { Wallet, keccak256, toUtf8Bytes } from "ethers";
import fc from "fast-check";
import { deployments, ethers } from "hardhat";

import { MockGLM__factory } from "../../typechain-types";
import {
  ACCEPT,
  type AcceptorConfig,
  type DebitNote,
  DebitNoteAcceptor,
  DripFeedClient,
  type Terms,
  parseAmount,
  parseDebitNote,
  parseRate,
  readAcceptContext,
  recoverAcceptanceSigner,
  unixSeconds,
} from "../../scripts/sdk";
import { type DebitNoteVectors, loadVector } from "../helpers/vectors";

describe("sdk/acceptor: the supervisor's debit-note policy", () => {
  const vectors = loadVector<DebitNoteVectors>("golem-debit-notes.json");
  const token = { decimals: vectors.terms.decimals, symbol: vectors.terms.token };
  const units = (text: string): bigint => parseAmount(text, token);
  const terms: Terms = {
    budget: units(vectors.terms.budget),
    upfront: units(vectors.terms.upfront),
    maxRate: parseRate(`${vectors.terms.maxRatePerHour} ${token.symbol}/h`, token),
    streamRate: 0n,
    debitNoteInterval: vectors.terms.debitNoteInterval,
    paymentTimeout: 86_400,
  };
  const poolId = `0x${"11".repeat(32)}`;
  const notes = vectors.notes.map((v) => ({ ...v, note: parseDebitNote(v.debitNote), at: unixSeconds(v.receivedAt) }));
  const first = notes[0];
  const config: AcceptorConfig = {
    poolId,
    agreementId: first.note.agreementId,
    terms,
    startedAt: unixSeconds(vectors.terms.startedAt),
    token,
    provider: vectors.terms.provider,
    payer: vectors.terms.requestor,
    paymentPlatform: vectors.terms.paymentPlatform,
  };
  const make = (overrides: Partial<AcceptorConfig> = {}): DebitNoteAcceptor =>
    new DebitNoteAcceptor({ ...config, ...overrides });
  /** The first note of the vectors with some fields replaced. */
  const variant = (fields: Partial<DebitNote>): DebitNote => ({ ...first.note, ...fields });

  describe("the vectors (golem-debit-notes.json)", () => {
    it("reproduces every decision, total, rule and reason, judging time at receivedAt", () => {
      const acceptor = make();
      for (const v of notes) {
        const label = `note ${v.note.debitNoteId.slice(-3)}`;
        const decision = acceptor.review(v.note, v.at);
        expect(decision.kind, label).to.equal(v.expect);
        if (decision.kind === "accept") {
          expect(decision.agreementTotal, `${label} total`).to.equal(units(v.agreementTotalAfter ?? ""));
        } else {
          expect(decision.rule, `${label} rule`).to.equal(v.rule);
          if (v.reason !== undefined) expect(decision.reason, `${label} reason`).to.equal(v.reason);
        }
      }
      const lastAccepted = [...notes].reverse().find((v) => v.expect === "accept");
      expect(acceptor.agreementTotal).to.equal(units(lastAccepted?.agreementTotalAfter ?? ""));
    });

    it("never reads the provider's timestamp: any clock on the provider's side gives the same decisions", () => {
      const expected = notes.map((v) => v.expect);
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 4_102_444_800 }), { minLength: notes.length, maxLength: notes.length }),
          (stamps) => {
            const acceptor = make();
            const kinds = notes.map(
              (v, i) => acceptor.review({ ...v.note, timestamp: new Date(stamps[i] * 1000).toISOString() }, v.at).kind,
            );
            expect(kinds).to.deep.equal(expected);
          },
        ),
        { numRuns: 50 },
      );
    });
  });

  describe("interval rule", () => {
    const at = first.at;
    const next = (id: string, total: string): DebitNote =>
      variant({ debitNoteId: id, totalAmountDue: total, previousDebitNoteId: first.note.debitNoteId });

    it("forgives delivery jitter up to the grace (10% of the interval by default)", () => {
      const acceptor = make();
      acceptor.review(first.note, at);
      expect(acceptor.decide(next("early-by-13", "0.02"), at + 107n)).to.include({ kind: "reject", rule: "interval" });
      expect(acceptor.decide(next("early-by-12", "0.02"), at + 108n)).to.include({ kind: "accept" });
    });

    it("takes another grace when told (0: a note is early one second before the interval)", () => {
      const strict = make({ intervalGrace: 0 });
      strict.review(first.note, at);
      expect(strict.decide(next("a", "0.02"), at + 119n)).to.include({ rule: "interval" });
      expect(strict.decide(next("b", "0.02"), at + 120n)).to.include({ kind: "accept" });
      expect(() => make({ intervalGrace: 1 })).to.throw(/grace/);
    });

    it("counts from the activity's previous accepted note, so a refused note never blocks the next one", () => {
      const acceptor = make();
      acceptor.review(first.note, at);
      const before = acceptor.exportState();
      const lowered = acceptor.review(next("lowered", "0.001"), at + 120n);
      expect(lowered).to.include({ rule: "lowered" });
      const wrongPayee = acceptor.review(
        { ...next("payee", "0.5"), payeeAddr: Wallet.createRandom().address },
        at + 121n,
      );
      expect(wrongPayee).to.include({ rule: "payee" });
      expect(acceptor.exportState()).to.deep.equal(before);
      expect(acceptor.review(next("fine", "0.024"), at + 122n)).to.include({ kind: "accept" });
    });
  });

  describe("what the note must say", () => {
    for (const status of ["ISSUED", "ACCEPTED", "REJECTED", "FAILED", "SETTLED", "CANCELLED"] as const) {
      it(`refuses a ${status} note (rule status)`, () => {
        expect(make().review(variant({ status }), first.at)).to.include({ kind: "reject", rule: "status" });
      });
    }

    it("refuses a payee other than the on-chain provider, a payer other than the requestor, another platform", () => {
      const stranger = Wallet.createRandom().address.toLowerCase();
      expect(make().review(variant({ payeeAddr: stranger }), first.at)).to.include({ rule: "payee" });
      expect(make().review(variant({ payerAddr: stranger }), first.at)).to.include({ rule: "payer" });
      expect(make().review(variant({ paymentPlatform: "erc20-holesky-tglm" }), first.at)).to.deep.include({
        rule: "platform",
        reason: "it is on payment platform erc20-holesky-tglm, not erc20-polygon-glm",
      });
    });

    it("checks payer and platform only when configured (null)", () => {
      const open = make({ payer: null, paymentPlatform: null });
      const note = variant({ payerAddr: Wallet.createRandom().address.toLowerCase(), paymentPlatform: "anything" });
      expect(open.review(note, first.at)).to.include({ kind: "accept" });
    });

    it("refuses a note of another agreement, and every note of a released one", () => {
      expect(make().review(variant({ agreementId: "ab".repeat(32) }), first.at)).to.include({ rule: "agreement" });
      expect(make({ status: "Released" }).review(first.note, first.at)).to.include({ rule: "agreement" });
    });

    it("reads yagna's 18 decimals for a token with fewer, and refuses an amount the token cannot hold", () => {
      const usdc = make({ token: { decimals: 6, symbol: "USDC" }, terms: { ...terms, maxRate: 0n } });
      const ok = usdc.review(variant({ totalAmountDue: "0.012000000000000000" }), first.at);
      expect(ok.kind === "accept" && ok.agreementTotal).to.equal(12_000n);
      const tooFine = usdc.review(variant({ debitNoteId: "x", totalAmountDue: "0.012000000000000001" }), first.at);
      expect(tooFine).to.include({ kind: "reject", rule: "amount" });
    });
  });

  describe("limits", () => {
    it("refuses a note that would exceed the budget", () => {
      const acceptor = make({ terms: { ...terms, maxRate: 0n } });
      const decision = acceptor.review(variant({ totalAmountDue: "10.5" }), first.at);
      expect(decision).to.include({ kind: "reject", rule: "budget" });
      expect(decision.kind === "reject" && decision.reason).to.equal(
        "exceeds the budget (the agreement total would be 10.5 GLM; the budget is 10 GLM)",
      );
    });

    it("leaves rate metering to the contract when told to (the cap makes that safe)", () => {
      const acceptor = make({ leaveRateToContract: true });
      for (const v of notes.slice(0, 8)) acceptor.review(v.note, v.at);
      // note 8 (9 GLM after 480 s) outpaces the 36 GLM/h cap: accepted now, the contract pays it out at the cap
      expect(acceptor.agreementTotal).to.equal(units("9.017"));
    });

    it("never signs below the total the chain already holds (the floor)", () => {
      const acceptor = make();
      const decision = acceptor.review(first.note, first.at, units("0.5"));
      expect(decision).to.deep.include({
        kind: "accept",
        activitiesTotal: units("0.012"),
        agreementTotal: units("0.5"),
      });
      // the rules judge the notes themselves, not the floor: the next note is still checked against its own history
      expect(acceptor.agreementTotal).to.equal(units("0.012"));
    });
  });

  describe("answers", () => {
    it("answers a resent note the same way (yagna resends up to 5 times)", () => {
      const acceptor = make();
      expect(acceptor.review(first.note, first.at).kind).to.equal("accept");
      expect(acceptor.review(first.note, first.at + 5n).kind).to.equal("accept");
      expect(acceptor.agreementTotal).to.equal(units("0.012"));
    });

    it("signs the cumulative total with the hashed debit-note id and a deadline, for a key that can sign", async () => {
      const acceptor = make();
      const wallet = Wallet.createRandom();
      const domain = { chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
      const authority = { owner: wallet.address, acceptValidUntil: 0n };
      let last;
      for (const v of notes.slice(0, 3)) {
        last = await acceptor.accept(v.note, wallet, domain, { now: 1_000n, receivedAt: v.at, authority });
      }
      const signed = last?.signed;
      expect(signed?.totalAccepted).to.equal(units("0.029"));
      expect(signed?.debitNoteId).to.equal(keccak256(toUtf8Bytes(notes[2].note.debitNoteId)));
      expect(signed?.deadline).to.equal(1_000n + 86_400n);
      expect(signed && recoverAcceptanceSigner(signed)).to.equal(wallet.address);
    });

    it("refuses to sign (rule signer) with a key whose acceptances would not settle through the deadline", async () => {
      const acceptor = make();
      const wallet = Wallet.createRandom();
      const domain = { chainId: 31337n, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" };
      const owner = Wallet.createRandom().address;
      const attempt = (acceptValidUntil: bigint) =>
        acceptor.accept(first.note, wallet, domain, {
          now: 1_000n,
          receivedAt: first.at,
          authority: { owner, acceptValidUntil },
        });
      const none = await attempt(0n);
      expect(none.signed).to.equal(undefined);
      expect(none.decision).to.include({ kind: "reject", rule: "signer" });
      const short = await attempt(1_000n + 86_399n);
      expect(short.decision).to.include({ rule: "signer" });
      expect(acceptor.exportState().activities).to.deep.equal({});
      const enough = await attempt(1_000n + 86_400n);
      expect(enough.signed?.totalAccepted).to.equal(units("0.012"));
    });

    it("round-trips its state: the interval rule and resends survive a restart", () => {
      const a = make();
      for (const v of notes.slice(0, 3)) a.review(v.note, v.at);
      const b = make();
      b.importState(JSON.parse(JSON.stringify(a.exportState())));
      expect(b.agreementTotal).to.equal(a.agreementTotal);
      expect(b.review(notes[3].note, notes[3].at)).to.include({ rule: "interval" });
      const resent = b.review(notes[2].note, notes[2].at);
      expect(resent.kind === "accept" && resent.agreementTotal).to.equal(units("0.029"));
    });
  });

  describe("against the chain (in-process Hardhat network)", () => {
    const GOLEM_ID = first.note.agreementId;
    const setup = deployments.createFixture(async () => {
      await deployments.fixture(["local"]);
      const [owner, supervisor, provider, stranger, shortLived] = await ethers.getSigners();
      const { address } = await deployments.get("DripFeed");
      const glm = MockGLM__factory.connect((await deployments.get("MockGLM")).address, owner);
      await (await glm.mint(owner.address, units("100"))).wait();
      const client = await DripFeedClient.connect(address, owner);
      const { poolId: pool } = await client.createPool(await glm.getAddress(), "acceptor-test");
      await client.fund(pool, units("20"), { permit: true });
      await client.openAgreement(pool, GOLEM_ID, provider.address, { ...terms, maxRate: 0n, paymentTimeout: 600 });
      const now = await client.now();
      await client.setGrant(pool, supervisor.address, { permissions: ACCEPT, validUntil: now + 86_400n });
      await client.setGrant(pool, shortLived.address, { permissions: ACCEPT, validUntil: now + 300n });
      return { client, pool, owner, supervisor, provider, stranger, shortLived, glm };
    });
    const noteFor = (provider: string, owner: string, id: string, total: string): DebitNote =>
      variant({
        debitNoteId: id,
        payeeAddr: provider.toLowerCase(),
        payerAddr: owner.toLowerCase(),
        totalAmountDue: total,
      });

    it("builds the policy from the chain and signs only with keys the contract will honour through the deadline", async () => {
      const { client, pool, owner, supervisor, provider, stranger, shortLived, glm } = await setup();
      const acceptor = await DebitNoteAcceptor.fromChain(client, pool, GOLEM_ID);
      expect(acceptor.config.provider).to.equal(provider.address);
      expect(acceptor.config.payer).to.equal(owner.address);
      expect(acceptor.config.paymentPlatform).to.equal(null); // no Golem platform on a local chain
      const note = noteFor(provider.address, owner.address, "n1", "1.5");
      const tryWith = async (key: typeof owner) => {
        const context = await readAcceptContext(client, pool, GOLEM_ID, key.address);
        return (await DebitNoteAcceptor.fromChain(client, pool, GOLEM_ID)).accept(note, key, client.domain, context);
      };
      expect((await tryWith(stranger)).decision).to.include({ rule: "signer" });
      expect((await tryWith(shortLived)).decision).to.include({ rule: "signer" }); // grant ends before now + 600
      expect((await tryWith(owner)).signed?.signer).to.equal(owner.address);
      const { signed } = await tryWith(supervisor);
      expect(signed?.signer).to.equal(supervisor.address);

      // what it signed settles: the provider is paid exactly the accepted total, out of the pool
      const balance = () => glm.balanceOf(provider.address);
      const [providerBefore, poolBefore] = [await balance(), (await client.getPool(pool)).balance];
      const { paid } = await client.settle(signed!);
      expect(paid).to.equal(units("1.5"));
      expect((await balance()) - providerBefore).to.equal(units("1.5"));
      expect(poolBefore - (await client.getPool(pool)).balance).to.equal(units("1.5"));
    });

    it("takes the on-chain accepted total as the floor: a fresh acceptor never signs below it", async () => {
      const { client, pool, owner, supervisor, provider } = await setup();
      const sup = client.withSigner(supervisor);
      const firstAcceptor = await DebitNoteAcceptor.fromChain(sup, pool, GOLEM_ID);
      const ctx1 = await readAcceptContext(sup, pool, GOLEM_ID, supervisor.address);
      const a = noteFor(provider.address, owner.address, "activity-a", "2");
      const signedA = await firstAcceptor.acceptOrThrow(a, supervisor, sup.domain, ctx1);
      await sup.settle(signedA);
      // a new acceptor (no memory) sees a note of another activity worth less than what the chain holds
      const fresh = await DebitNoteAcceptor.fromChain(sup, pool, GOLEM_ID);
      const ctx2 = await readAcceptContext(sup, pool, GOLEM_ID, supervisor.address);
      expect(ctx2.floor).to.equal(units("2"));
      const b = { ...noteFor(provider.address, owner.address, "activity-b", "0.5"), activityId: "b".repeat(32) };
      const signedB = await fresh.acceptOrThrow(b, supervisor, sup.domain, ctx2);
      expect(signedB.totalAccepted).to.equal(units("2"));
    });

    it("throws DEBIT_NOTE_REJECTED naming the rule from acceptOrThrow", async () => {
      const { client, pool, owner, stranger } = await setup();
      const acceptor = await DebitNoteAcceptor.fromChain(client, pool, GOLEM_ID);
      const context = await readAcceptContext(client, pool, GOLEM_ID, owner.address);
      const note = noteFor(stranger.address, owner.address, "wrong-payee", "1");
      try {
        await acceptor.acceptOrThrow(note, owner, client.domain, context);
        expect.fail("expected a refusal");
      } catch (error) {
        expect(error).to.have.property("code", "DEBIT_NOTE_REJECTED");
        expect((error as Error).message).to.match(/\[rule payee\]$/);
      }
    });
  });
});
