import { expect } from "chai";
import { MaxUint256 } from "ethers";

import {
  GLM,
  Status,
  agreementIdOf,
  atTime,
  deployFixture,
  expectDeltas,
  settleArgs,
  setupPool,
  signTotal,
} from "../helpers";

describe("release", () => {
  const TIMEOUT = 600n;

  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      amount: 500n * GLM,
      agreements: [{ terms: { budget: 100n * GLM, paymentTimeout: TIMEOUT } }],
    });
    const id = agreements[0].agreementId;
    // 30 GLM accepted and paid before anything else happens.
    await fx.dripFeed
      .connect(fx.relay)
      .settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 30n * GLM)));
    return { fx, poolId, id, a: agreements[0], dripFeed: fx.dripFeed };
  }

  describe("when the agreement does not exist", () => {
    it("reverts AgreementNotFound", async () => {
      const { poolId, dripFeed } = await fixture();
      await expect(dripFeed.release(poolId, agreementIdOf("nope"))).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotFound",
      );
    });
  });

  describe("when the agreement is still active", () => {
    it("reverts ClaimWindowOpen with no end yet (the window starts at termination)", async () => {
      const { poolId, id, dripFeed } = await fixture();
      await expect(dripFeed.release(poolId, id))
        .to.be.revertedWithCustomError(dripFeed, "ClaimWindowOpen")
        .withArgs(MaxUint256);
    });
  });

  describe("when the agreement is already released", () => {
    it("reverts AgreementNotActive", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      await expect(dripFeed.release(poolId, id)).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });
  });

  describe("when the owner (or a grantee) terminated", () => {
    describe("when the claim window is open", () => {
      it("reverts ClaimWindowOpen up to and including terminatedAt + paymentTimeout", async () => {
        const { fx, poolId, id, dripFeed } = await fixture();
        await dripFeed.terminate(poolId, id);
        const { terminatedAt } = await dripFeed.getAgreement(poolId, id);
        for (const t of [terminatedAt + 1n, terminatedAt + TIMEOUT]) {
          await atTime(t);
          await expect(dripFeed.connect(fx.stranger).release(poolId, id))
            .to.be.revertedWithCustomError(dripFeed, "ClaimWindowOpen")
            .withArgs(terminatedAt + TIMEOUT);
        }
      });
    });

    describe("when the claim window has passed", () => {
      it("returns budget - paid to the free balance (anyone may call), sets Released and moves no tokens", async () => {
        const { fx, poolId, id, dripFeed } = await fixture();
        await dripFeed.terminate(poolId, id);
        const { terminatedAt } = await dripFeed.getAgreement(poolId, id);
        const before = await dripFeed.getPool(poolId);
        await atTime(terminatedAt + TIMEOUT + 1n);
        const tx = await expectDeltas(fx, () => dripFeed.connect(fx.stranger).release(poolId, id), {
          pools: [{ poolId, locked: -70n * GLM }],
          agreements: [{ poolId, agreementId: id }],
        });
        await expect(tx)
          .to.emit(dripFeed, "AgreementReleased")
          .withArgs(poolId, id, 70n * GLM);
        const a = await dripFeed.getAgreement(poolId, id);
        expect(a.status).to.equal(Status.Released);
        expect(a.paid).to.equal(30n * GLM);
        expect(await dripFeed.claimable(poolId, id)).to.equal(0n);
        const after = await dripFeed.getPool(poolId);
        expect(after.balance - after.locked).to.equal(before.balance - before.locked + 70n * GLM);
        // The owner can take the refund out.
        await expectDeltas(fx, () => dripFeed.withdraw(poolId, after.balance - after.locked, fx.owner.address), {
          tokens: { dripFeed: -(after.balance - after.locked), owner: after.balance - after.locked },
          pools: [{ poolId, balance: -(after.balance - after.locked) }],
        });
      });

      it("refunds nothing but still releases when the budget was fully paid", async () => {
        const { fx, poolId, id, dripFeed } = await fixture();
        await dripFeed
          .connect(fx.relay)
          .settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 100n * GLM)));
        await dripFeed.terminate(poolId, id);
        const { terminatedAt } = await dripFeed.getAgreement(poolId, id);
        await atTime(terminatedAt + TIMEOUT + 1n);
        await expect(dripFeed.release(poolId, id)).to.emit(dripFeed, "AgreementReleased").withArgs(poolId, id, 0n);
      });
    });
  });

  describe("when the provider terminated", () => {
    it("releases at once, with no claim window", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).release(poolId, id), {
        pools: [{ poolId, locked: -70n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expect(tx)
        .to.emit(dripFeed, "AgreementReleased")
        .withArgs(poolId, id, 70n * GLM);
    });
  });
});
