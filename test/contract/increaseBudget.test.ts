import { expect } from "chai";

import {
  GLM,
  OPEN,
  TERMINATE,
  agreementIdOf,
  atTime,
  createFundedPool,
  deployFixture,
  expectDeltas,
  now,
  openAgreement,
  saltOf,
  setupPool,
  signTotal,
  settleArgs,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("increaseBudget", () => {
  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      amount: 300n * GLM,
      agreements: [{ terms: { budget: 100n * GLM, paymentTimeout: 60n } }],
    });
    return { fx, poolId, id: agreements[0].agreementId, dripFeed: fx.dripFeed };
  }

  describe("when the amount is zero", () => {
    it("reverts ZeroAmount", async () => {
      const { poolId, id, dripFeed } = await fixture();
      await expect(dripFeed.increaseBudget(poolId, id, 0n)).to.be.revertedWithCustomError(dripFeed, "ZeroAmount");
    });
  });

  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { id, dripFeed } = await fixture();
      await expect(dripFeed.increaseBudget(saltOf("nope"), id, 1n)).to.be.revertedWithCustomError(
        dripFeed,
        "PoolNotFound",
      );
    });
  });

  describe("when the caller is neither the owner nor an OPEN grantee", () => {
    it("reverts NotAuthorized", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE, FOREVER, 100n * GLM, 0n);
      for (const caller of [fx.stranger, fx.grantee, fx.providers[0]]) {
        await expect(dripFeed.connect(caller).increaseBudget(poolId, id, 1n))
          .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
          .withArgs(poolId, caller.address, OPEN);
      }
    });

    it("reverts NotAuthorized for an OPEN grantee one second after validUntil, not in that second", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const validUntil = (await now()) + 5n;
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, validUntil, 100n * GLM, 0n);
      await atTime(validUntil);
      await expect(dripFeed.connect(fx.grantee).increaseBudget(poolId, id, 1n)).to.emit(dripFeed, "BudgetIncreased");
      await atTime(validUntil + 1n);
      await expect(dripFeed.connect(fx.grantee).increaseBudget(poolId, id, 1n))
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, OPEN);
    });

    it("reverts NotAuthorized for an OPEN grantee of another pool", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const other = await createFundedPool(fx, { salt: saltOf("other"), amount: 10n * GLM });
      await dripFeed.setGrant(other, fx.grantee.address, OPEN, FOREVER, 100n * GLM, 0n);
      await expect(dripFeed.connect(fx.grantee).increaseBudget(poolId, id, 1n))
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, OPEN);
    });
  });

  describe("when the agreement does not exist", () => {
    it("reverts AgreementNotFound", async () => {
      const { poolId, dripFeed } = await fixture();
      await expect(dripFeed.increaseBudget(poolId, agreementIdOf("nope"), 1n)).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotFound",
      );
    });
  });

  describe("when the agreement is terminated", () => {
    it("reverts AgreementNotActive", async () => {
      const { poolId, id, dripFeed } = await fixture();
      await dripFeed.terminate(poolId, id);
      await expect(dripFeed.increaseBudget(poolId, id, 1n)).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotActive",
      );
    });
  });

  describe("when the agreement is released", () => {
    it("reverts AgreementNotActive", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      await expect(dripFeed.increaseBudget(poolId, id, 1n)).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotActive",
      );
    });
  });

  describe("when the free balance is too small", () => {
    it("reverts InsufficientFreeBalance", async () => {
      const { poolId, id, dripFeed } = await fixture();
      await expect(dripFeed.increaseBudget(poolId, id, 200n * GLM + 1n))
        .to.be.revertedWithCustomError(dripFeed, "InsufficientFreeBalance")
        .withArgs(200n * GLM, 200n * GLM + 1n);
    });
  });

  describe("when the budget would exceed 128 bits", () => {
    it("reverts InvalidTerms", async () => {
      const fx = await deployFixture();
      const max128 = (1n << 128n) - 1n;
      await fx.token.mint(fx.owner.address, max128);
      const poolId = await createFundedPool(fx, { salt: saltOf("huge"), amount: max128 });
      const { agreementId } = await openAgreement(fx, poolId, { terms: { budget: max128 - 5n } });
      await expect(fx.dripFeed.increaseBudget(poolId, agreementId, 6n))
        .to.be.revertedWithCustomError(fx.dripFeed, "InvalidTerms")
        .withArgs(7);
      await expect(fx.dripFeed.increaseBudget(poolId, agreementId, 5n)).to.emit(fx.dripFeed, "BudgetIncreased");
    });
  });

  describe("when the OPEN grantee's bucket is too low", () => {
    it("reverts AllowanceExceeded", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 10n * GLM, 0n);
      await expect(dripFeed.connect(fx.grantee).increaseBudget(poolId, id, 10n * GLM + 1n))
        .to.be.revertedWithCustomError(dripFeed, "AllowanceExceeded")
        .withArgs(10n * GLM, 10n * GLM + 1n);
    });
  });

  describe("when the owner raises an active agreement's budget", () => {
    it("locks the amount, grows the budget, emits BudgetIncreased and moves no tokens", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const tx = await expectDeltas(fx, () => dripFeed.increaseBudget(poolId, id, 50n * GLM), {
        pools: [{ poolId, locked: 50n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expect(tx)
        .to.emit(dripFeed, "BudgetIncreased")
        .withArgs(poolId, id, 50n * GLM);
      expect((await dripFeed.getAgreement(poolId, id)).terms.budget).to.equal(150n * GLM);
    });

    it("raises the payout ceiling for an acceptance recorded above the old budget", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 130n * GLM);
      await dripFeed.connect(fx.relay).settle(...settleArgs(s));
      expect(await dripFeed.claimable(poolId, id)).to.equal(0n);
      await dripFeed.increaseBudget(poolId, id, 50n * GLM);
      expect(await dripFeed.claimable(poolId, id)).to.equal(30n * GLM);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).claim(poolId, id), {
        tokens: { dripFeed: -30n * GLM, provider0: 30n * GLM },
        pools: [{ poolId, balance: -30n * GLM, locked: -30n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 30n * GLM }],
      });
    });
  });

  describe("when an OPEN grantee raises it within its bucket", () => {
    it("locks the amount and spends the bucket", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 40n * GLM, 0n);
      await expectDeltas(fx, () => dripFeed.connect(fx.grantee).increaseBudget(poolId, id, 25n * GLM), {
        pools: [{ poolId, locked: 25n * GLM }],
      });
      const [, , allowance] = await dripFeed.grantOf(poolId, fx.grantee.address);
      expect(allowance).to.equal(15n * GLM);
    });
  });
});
