import { expect } from "chai";
import { MaxUint256, ZeroAddress, ZeroHash, concat } from "ethers";
import { ethers } from "hardhat";

import type { BlocklistToken } from "../../typechain-types";
import {
  ACCEPT,
  GLM,
  OPEN,
  TERMINATE,
  acceptanceOf,
  agreementIdOf,
  atTime,
  createFundedPool,
  deployFixture,
  expectDeltas,
  now,
  openAgreement,
  perSecond,
  saltOf,
  settleArgs,
  setupPool,
  sign,
  signTotal,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("settle", () => {
  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      amount: 500n * GLM,
      agreements: [{ terms: { budget: 100n * GLM, paymentTimeout: 600n } }],
    });
    await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n);
    return { fx, poolId, id: agreements[0].agreementId, a: agreements[0], dripFeed: fx.dripFeed };
  }

  describe("when the deadline has passed", () => {
    it("reverts SignatureExpired", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const deadline = (await now()) + 10n;
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM, { deadline });
      await atTime(deadline + 1n);
      await expect(dripFeed.connect(fx.relay).settle(...settleArgs(s))).to.be.revertedWithCustomError(
        dripFeed,
        "SignatureExpired",
      );
    });

    it("still accepts the signature in the deadline's own second", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const deadline = (await now()) + 10n;
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM, { deadline });
      await atTime(deadline);
      await expect(dripFeed.connect(fx.relay).settle(...settleArgs(s))).to.emit(dripFeed, "DebitNoteSettled");
    });
  });

  describe("when the agreement does not exist", () => {
    it("reverts AgreementNotFound for an unknown agreement id", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, agreementIdOf("nope"), GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "AgreementNotFound");
    });

    it("reverts AgreementNotFound for an unknown pool", async () => {
      const { fx, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, saltOf("nope"), id, GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "AgreementNotFound");
    });
  });

  describe("when the agreement is released", () => {
    it("reverts AgreementNotActive", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });

    it("reverts AgreementNotActive, not SignatureExpired, when the deadline has passed too (the SPEC's order)", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const deadline = (await now()) + 10n;
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM, { deadline });
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      await atTime(deadline + 1n);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });
  });

  describe("when the signer may not accept for the pool", () => {
    it("reverts InvalidSignature for a stranger signing as itself", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.stranger, fx.domain, poolId, id, GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "InvalidSignature");
    });

    it("reverts InvalidSignature for the provider signing its own acceptance", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.providers[0], fx.domain, poolId, id, GLM);
      await expect(dripFeed.connect(fx.providers[0]).settle(...settleArgs(s))).to.be.revertedWithCustomError(
        dripFeed,
        "InvalidSignature",
      );
    });

    it("reverts InvalidSignature for a grantee holding TERMINATE and OPEN but not ACCEPT", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.stranger.address, TERMINATE | OPEN, FOREVER, GLM, 0n);
      const s = await signTotal(fx.stranger, fx.domain, poolId, id, GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "InvalidSignature");
    });

    it("reverts InvalidSignature for the zero address as signer, whatever the signature", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      // 65 zero bytes with v = 27 make ecrecover return the zero address.
      for (const signature of [s.signature, "0x", concat([`0x${"00".repeat(64)}`, "0x1b"])]) {
        await expect(dripFeed.settle(s.acceptance, ZeroAddress, signature)).to.be.revertedWithCustomError(
          dripFeed,
          "InvalidSignature",
        );
      }
    });

    it("reverts InvalidSignature for an ACCEPT grantee of another pool", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const other = await createFundedPool(fx, { salt: saltOf("other") });
      await dripFeed.setGrant(other, fx.stranger.address, ACCEPT, FOREVER, 0n, 0n);
      const s = await signTotal(fx.stranger, fx.domain, poolId, id, GLM);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "InvalidSignature");
    });
  });

  describe("when the signature does not verify for the signer", () => {
    it("reverts InvalidSignature when another key signed but the owner is named", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.stranger, fx.domain, poolId, id, GLM, { as: fx.owner.address });
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "InvalidSignature");
    });

    it("reverts InvalidSignature when the signed total was altered", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      const forged = { ...s, acceptance: { ...s.acceptance, totalAccepted: 100n * GLM } };
      await expect(dripFeed.settle(...settleArgs(forged))).to.be.revertedWithCustomError(dripFeed, "InvalidSignature");
    });

    it("reverts InvalidSignature when the deadline or debit-note id was altered", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      for (const acceptance of [
        { ...s.acceptance, deadline: s.acceptance.deadline + 1n },
        { ...s.acceptance, debitNoteId: ZeroHash },
      ]) {
        await expect(dripFeed.settle(acceptance, s.signer, s.signature)).to.be.revertedWithCustomError(
          dripFeed,
          "InvalidSignature",
        );
      }
    });

    it("reverts InvalidSignature for malformed signatures", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      for (const signature of ["0x", "0x1234", concat([s.signature, "0x00"]), `0x${"00".repeat(65)}`]) {
        await expect(dripFeed.settle(s.acceptance, s.signer, signature)).to.be.revertedWithCustomError(
          dripFeed,
          "InvalidSignature",
        );
      }
    });

    it("reverts InvalidSignature for the high-s twin of a valid signature", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, GLM);
      const sig = ethers.Signature.from(s.signature);
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      const highS = ethers.toBeHex(n - BigInt(sig.s), 32);
      const twin = concat([sig.r, highS, sig.v === 27 ? "0x1c" : "0x1b"]);
      await expect(dripFeed.settle(s.acceptance, s.signer, twin)).to.be.revertedWithCustomError(
        dripFeed,
        "InvalidSignature",
      );
    });
  });

  describe("when the acceptance neither raises the total nor pays anything", () => {
    it("reverts NothingToSettle for a replay of a settled acceptance", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 10n * GLM);
      await dripFeed.settle(...settleArgs(s));
      await expect(dripFeed.connect(fx.relay).settle(...settleArgs(s))).to.be.revertedWithCustomError(
        dripFeed,
        "NothingToSettle",
      );
    });

    it("reverts NothingToSettle for an older, lower acceptance", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const low = await signTotal(fx.owner, fx.domain, poolId, id, 5n * GLM);
      const high = await signTotal(fx.grantee, fx.domain, poolId, id, 10n * GLM);
      await dripFeed.settle(...settleArgs(high));
      await expect(dripFeed.settle(...settleArgs(low))).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
    });

    it("reverts NothingToSettle for a zero total on a fresh agreement", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 0n);
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
    });
  });

  describe("when the owner's acceptance is valid", () => {
    it("pays the provider, whoever submits, and records the total", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 12n * GLM);
      expect(await dripFeed.connect(fx.relay).settle.staticCall(...settleArgs(s))).to.equal(12n * GLM);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -12n * GLM, provider0: 12n * GLM },
        pools: [{ poolId, balance: -12n * GLM, locked: -12n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 12n * GLM, acceptedTotal: 12n * GLM }],
      });
      await expect(tx)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, id, s.acceptance.debitNoteId, 12n * GLM, 12n * GLM, fx.owner.address);
    });

    it("pays only the difference for a later, higher cumulative total", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 10n * GLM)));
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 25n * GLM);
      await expectDeltas(fx, () => dripFeed.connect(fx.providers[0]).settle(...settleArgs(s)), {
        tokens: { dripFeed: -15n * GLM, provider0: 15n * GLM },
        pools: [{ poolId, balance: -15n * GLM, locked: -15n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 15n * GLM, acceptedTotal: 15n * GLM }],
      });
    });

    it("pays at most the budget but records the whole signed total", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 250n * GLM);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -100n * GLM, provider0: 100n * GLM },
        pools: [{ poolId, balance: -100n * GLM, locked: -100n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 100n * GLM, acceptedTotal: 250n * GLM }],
      });
    });

    it("clamps a total above 128 bits to the largest 128-bit value", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, MaxUint256);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -100n * GLM, provider0: 100n * GLM },
        pools: [{ poolId, balance: -100n * GLM, locked: -100n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 100n * GLM, acceptedTotal: (1n << 128n) - 1n }],
      });
      await expect(tx)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, id, s.acceptance.debitNoteId, MaxUint256, 100n * GLM, fx.owner.address);
    });
  });

  describe("when an ACCEPT grantee's acceptance is valid", () => {
    it("pays the provider like the owner's", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.grantee, fx.domain, poolId, id, 7n * GLM);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -7n * GLM, provider0: 7n * GLM },
        pools: [{ poolId, balance: -7n * GLM, locked: -7n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 7n * GLM, acceptedTotal: 7n * GLM }],
      });
      await expect(tx)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, id, s.acceptance.debitNoteId, 7n * GLM, 7n * GLM, fx.grantee.address);
    });
  });

  describe("when the rate cap holds the payout back", () => {
    it("records the whole signed total and pays only what the cap allows", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      const start = (await now()) + 10n;
      const a = await openAgreement(fx, poolId, { terms: { maxRate: perSecond(GLM) }, at: start });
      const s = await signTotal(fx.owner, fx.domain, poolId, a.agreementId, 50n * GLM);
      await atTime(start + 1n);
      const tx = await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -GLM, provider0: GLM },
        pools: [{ poolId, balance: -GLM, locked: -GLM }],
        agreements: [{ poolId, agreementId: a.agreementId, paid: GLM, acceptedTotal: 50n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "DebitNoteSettled")
        .withArgs(poolId, a.agreementId, s.acceptance.debitNoteId, 50n * GLM, GLM, fx.owner.address);
    });

    it("emits DebitNoteSettled with paid 0 when the cap is still zero", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      // A cap that unlocks one base unit every 10 s: after 5 s it is still 0.
      const start = (await now()) + 10n;
      const a = await openAgreement(fx, poolId, { terms: { maxRate: 10n ** 17n }, at: start });
      const s = await signTotal(fx.owner, fx.domain, poolId, a.agreementId, 50n * GLM);
      await atTime(start + 5n);
      const tx = await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        pools: [{ poolId }],
        agreements: [{ poolId, agreementId: a.agreementId, acceptedTotal: 50n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "DebitNoteSettled")
        .withArgs(poolId, a.agreementId, s.acceptance.debitNoteId, 50n * GLM, 0n, fx.owner.address);
    });
  });

  describe("when a lower total arrives but the stream floor has grown", () => {
    it("pays the floor's growth and keeps the recorded total", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      const start = (await now()) + 10n;
      const a = await openAgreement(fx, poolId, { terms: { streamRate: perSecond(GLM / 100n) }, at: start });
      await atTime(start + 100n);
      await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, a.agreementId, 2n * GLM)));
      // At 300 s the floor is 3 GLM: an old 1 GLM acceptance still pays the 1 GLM the floor added.
      const old = await signTotal(fx.owner, fx.domain, poolId, a.agreementId, GLM);
      await atTime(start + 300n);
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(old)), {
        tokens: { dripFeed: -GLM, provider0: GLM },
        pools: [{ poolId, balance: -GLM, locked: -GLM }],
        agreements: [{ poolId, agreementId: a.agreementId, paid: GLM }],
      });
    });
  });

  describe("when the agreement is terminated", () => {
    it("still settles an acceptance inside the claim window", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.grantee, fx.domain, poolId, id, 40n * GLM);
      await dripFeed.terminate(poolId, id);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -40n * GLM, provider0: 40n * GLM },
        pools: [{ poolId, balance: -40n * GLM, locked: -40n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 40n * GLM, acceptedTotal: 40n * GLM }],
      });
    });

    it("still settles after the window until someone releases it", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 40n * GLM);
      await dripFeed.terminate(poolId, id);
      const { terminatedAt } = await dripFeed.getAgreement(poolId, id);
      await atTime(terminatedAt + 10_000n);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -40n * GLM, provider0: 40n * GLM },
        pools: [{ poolId, balance: -40n * GLM, locked: -40n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 40n * GLM, acceptedTotal: 40n * GLM }],
      });
    });
  });

  describe("when the payout transfer fails", () => {
    it("reverts with the token's error and changes nothing", async () => {
      const fx = await deployFixture();
      const blt = (await (await ethers.getContractFactory("BlocklistToken")).deploy()) as unknown as BlocklistToken;
      await blt.mint(fx.owner.address, 100n * GLM);
      await blt.connect(fx.owner).approve(fx.dripFeedAddress, 100n * GLM);
      await fx.dripFeed.createPool(await blt.getAddress(), saltOf("blt"));
      const poolId = await fx.dripFeed.poolIdOf(fx.owner.address, saltOf("blt"));
      await fx.dripFeed.fund(poolId, 100n * GLM);
      const { agreementId } = await openAgreement(fx, poolId, { terms: { budget: 50n * GLM } });
      await blt.setBlocked(fx.providers[0].address, true);
      const s = await sign(fx.owner, fx.domain, acceptanceOf(poolId, agreementId, 10n * GLM));
      await expect(fx.dripFeed.connect(fx.relay).settle(...settleArgs(s))).to.be.revertedWithCustomError(
        blt,
        "Blocked",
      );
      expect((await fx.dripFeed.getAgreement(poolId, agreementId)).acceptedTotal).to.equal(0n);
    });
  });
});
