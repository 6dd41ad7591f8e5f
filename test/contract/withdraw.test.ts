import { expect } from "chai";
import { ZeroAddress } from "ethers";

import {
  ACCEPT,
  GLM,
  OPEN,
  TERMINATE,
  createFundedPool,
  deployFixture,
  expectDeltas,
  saltOf,
  setupPool,
} from "../helpers";

describe("withdraw", () => {
  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { dripFeed, owner } = await deployFixture();
      await expect(dripFeed.withdraw(saltOf("nope"), 1n, owner.address))
        .to.be.revertedWithCustomError(dripFeed, "PoolNotFound")
        .withArgs(saltOf("nope"));
    });
  });

  describe("when the caller is not the owner", () => {
    it("reverts NotPoolOwner for a stranger", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      await expect(fx.dripFeed.connect(fx.stranger).withdraw(poolId, 1n, fx.stranger.address))
        .to.be.revertedWithCustomError(fx.dripFeed, "NotPoolOwner")
        .withArgs(poolId, fx.stranger.address);
    });

    it("reverts NotPoolOwner for a grantee holding every permission", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      await fx.dripFeed.setGrant(
        poolId,
        fx.grantee.address,
        ACCEPT | TERMINATE | OPEN,
        2n ** 40n - 1n,
        1000n * GLM,
        0n,
      );
      await expect(fx.dripFeed.connect(fx.grantee).withdraw(poolId, 1n, fx.grantee.address))
        .to.be.revertedWithCustomError(fx.dripFeed, "NotPoolOwner")
        .withArgs(poolId, fx.grantee.address);
    });
  });

  describe("when the amount is zero", () => {
    it("reverts ZeroAmount", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      await expect(fx.dripFeed.withdraw(poolId, 0n, fx.owner.address)).to.be.revertedWithCustomError(
        fx.dripFeed,
        "ZeroAmount",
      );
    });
  });

  describe("when the recipient is the zero address", () => {
    it("reverts ZeroAddress", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      await expect(fx.dripFeed.withdraw(poolId, 1n, ZeroAddress)).to.be.revertedWithCustomError(
        fx.dripFeed,
        "ZeroAddress",
      );
    });
  });

  describe("when the amount exceeds the free balance", () => {
    it("reverts InsufficientFreeBalance: locked budgets cannot be withdrawn", async () => {
      const fx = await deployFixture();
      const { poolId } = await setupPool(fx, { amount: 300n * GLM, agreements: [{ terms: { budget: 100n * GLM } }] });
      await expect(fx.dripFeed.withdraw(poolId, 200n * GLM + 1n, fx.owner.address))
        .to.be.revertedWithCustomError(fx.dripFeed, "InsufficientFreeBalance")
        .withArgs(200n * GLM, 200n * GLM + 1n);
    });
  });

  describe("when the amount is within the free balance", () => {
    it("sends exactly the free balance to the owner and leaves locked untouched", async () => {
      const fx = await deployFixture();
      const { poolId } = await setupPool(fx, { amount: 300n * GLM, agreements: [{ terms: { budget: 100n * GLM } }] });
      const tx = await expectDeltas(fx, () => fx.dripFeed.withdraw(poolId, 200n * GLM, fx.owner.address), {
        tokens: { dripFeed: -200n * GLM, owner: 200n * GLM },
        pools: [{ poolId, balance: -200n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "PoolWithdrawn")
        .withArgs(poolId, fx.owner.address, 200n * GLM);
      const pool = await fx.dripFeed.getPool(poolId);
      expect(pool.balance).to.equal(pool.locked);
    });

    it("sends to any recipient the owner names", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 10n * GLM });
      const tx = await expectDeltas(fx, () => fx.dripFeed.withdraw(poolId, 4n * GLM, fx.relay.address), {
        tokens: { dripFeed: -4n * GLM, relay: 4n * GLM },
        pools: [{ poolId, balance: -4n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "PoolWithdrawn")
        .withArgs(poolId, fx.relay.address, 4n * GLM);
    });

    it("takes from this pool only", async () => {
      const fx = await deployFixture();
      const a = await createFundedPool(fx, { salt: saltOf("a"), amount: 10n * GLM });
      const b = await createFundedPool(fx, { salt: saltOf("b"), amount: 10n * GLM });
      await expect(fx.dripFeed.withdraw(a, 10n * GLM + 1n, fx.owner.address)).to.be.revertedWithCustomError(
        fx.dripFeed,
        "InsufficientFreeBalance",
      );
      await expectDeltas(fx, () => fx.dripFeed.withdraw(a, 10n * GLM, fx.owner.address), {
        tokens: { dripFeed: -10n * GLM, owner: 10n * GLM },
        pools: [{ poolId: a, balance: -10n * GLM }, { poolId: b }],
      });
    });
  });
});
