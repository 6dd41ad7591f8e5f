import { expect } from "chai";
import { ethers } from "hardhat";

import type { BlocklistToken, FeeOnTransferToken, ReentrantToken } from "../../typechain-types";
import { GLM, createFundedPool, deployFixture, expectDeltas, saltOf } from "../helpers";

describe("fund", () => {
  describe("when the amount is zero", () => {
    it("reverts ZeroAmount", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 0n });
      await expect(fx.dripFeed.fund(poolId, 0n)).to.be.revertedWithCustomError(fx.dripFeed, "ZeroAmount");
    });
  });

  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { dripFeed } = await deployFixture();
      await expect(dripFeed.fund(saltOf("nope"), 1n))
        .to.be.revertedWithCustomError(dripFeed, "PoolNotFound")
        .withArgs(saltOf("nope"));
    });
  });

  describe("when the funder has not approved enough", () => {
    it("reverts with the token's allowance error", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 0n });
      await fx.token.mint(fx.grantee.address, GLM);
      await expect(fx.dripFeed.connect(fx.grantee).fund(poolId, GLM)).to.be.revertedWithCustomError(
        fx.token,
        "ERC20InsufficientAllowance",
      );
    });
  });

  describe("when the token takes a fee on transfer", () => {
    it("reverts UnsupportedToken", async () => {
      const fx = await deployFixture();
      const fot = (await (
        await ethers.getContractFactory("FeeOnTransferToken")
      ).deploy()) as unknown as FeeOnTransferToken;
      await fot.mint(fx.owner.address, 100n * GLM);
      await fot.connect(fx.owner).approve(fx.dripFeedAddress, 100n * GLM);
      const salt = saltOf("fot");
      await fx.dripFeed.createPool(await fot.getAddress(), salt);
      const poolId = await fx.dripFeed.poolIdOf(fx.owner.address, salt);
      await expect(fx.dripFeed.fund(poolId, 100n * GLM))
        .to.be.revertedWithCustomError(fx.dripFeed, "UnsupportedToken")
        .withArgs(await fot.getAddress());
    });
  });

  describe("when the token delivers more than the amount (a rebasing or bonus token)", () => {
    it("reverts UnsupportedToken: the balance delta must be exactly the amount", async () => {
      const fx = await deployFixture();
      const ret = (await (await ethers.getContractFactory("ReentrantToken")).deploy()) as unknown as ReentrantToken;
      await ret.mint(fx.owner.address, 100n * GLM);
      await ret.connect(fx.owner).approve(fx.dripFeedAddress, 100n * GLM);
      const salt = saltOf("bonus");
      await fx.dripFeed.createPool(await ret.getAddress(), salt);
      const poolId = await fx.dripFeed.poolIdOf(fx.owner.address, salt);
      // Its transferFrom first mints one extra base unit to DripFeed.
      await ret.arm(await ret.getAddress(), ret.interface.encodeFunctionData("mint", [fx.dripFeedAddress, 1n]), true);
      await expect(fx.dripFeed.fund(poolId, 100n * GLM))
        .to.be.revertedWithCustomError(fx.dripFeed, "UnsupportedToken")
        .withArgs(await ret.getAddress());
      expect((await fx.dripFeed.getPool(poolId)).balance).to.equal(0n);
    });
  });

  describe("when the pool balance would exceed 128 bits", () => {
    it("reverts UnsupportedToken", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 1n });
      const max128 = (1n << 128n) - 1n;
      await fx.token.mint(fx.owner.address, max128);
      await expect(fx.dripFeed.fund(poolId, max128)).to.be.revertedWithCustomError(fx.dripFeed, "UnsupportedToken");
      // Exactly 2^128 - 1 in total still fits.
      await expect(fx.dripFeed.fund(poolId, max128 - 1n)).to.emit(fx.dripFeed, "PoolFunded");
      expect((await fx.dripFeed.getPool(poolId)).balance).to.equal(max128);
    });
  });

  describe("when the owner funds", () => {
    it("pulls exactly the amount into the pool and emits PoolFunded", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 0n });
      const amount = 123n * GLM + 7n;
      const tx = await expectDeltas(fx, () => fx.dripFeed.fund(poolId, amount), {
        tokens: { owner: -amount, dripFeed: amount },
        pools: [{ poolId, balance: amount }],
      });
      await expect(tx).to.emit(fx.dripFeed, "PoolFunded").withArgs(poolId, fx.owner.address, amount);
    });
  });

  describe("when anyone else tops the pool up", () => {
    it("credits the pool, not the funder, and leaves locked unchanged", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx, { amount: 10n * GLM });
      const tx = await expectDeltas(fx, () => fx.dripFeed.connect(fx.stranger).fund(poolId, 5n * GLM), {
        tokens: { stranger: -5n * GLM, dripFeed: 5n * GLM },
        pools: [{ poolId, balance: 5n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "PoolFunded")
        .withArgs(poolId, fx.stranger.address, 5n * GLM);
      expect((await fx.dripFeed.getPool(poolId)).owner).to.equal(fx.owner.address);
    });
  });

  describe("when two pools share the token", () => {
    it("keeps their balances apart", async () => {
      const fx = await deployFixture();
      const a = await createFundedPool(fx, { salt: saltOf("a"), amount: 3n * GLM });
      const b = await createFundedPool(fx, { salt: saltOf("b"), amount: 4n * GLM });
      expect((await fx.dripFeed.getPool(a)).balance).to.equal(3n * GLM);
      expect((await fx.dripFeed.getPool(b)).balance).to.equal(4n * GLM);
      expect(await fx.token.balanceOf(fx.dripFeedAddress)).to.equal(7n * GLM);
    });
  });

  describe("when the pool holds a plain token other than GLM", () => {
    it("accepts it", async () => {
      const fx = await deployFixture();
      const other = (await (await ethers.getContractFactory("BlocklistToken")).deploy()) as unknown as BlocklistToken;
      await other.mint(fx.owner.address, 10n);
      await other.connect(fx.owner).approve(fx.dripFeedAddress, 10n);
      await fx.dripFeed.createPool(await other.getAddress(), saltOf("usdc-like"));
      const poolId = await fx.dripFeed.poolIdOf(fx.owner.address, saltOf("usdc-like"));
      await expectDeltas(fx, () => fx.dripFeed.fund(poolId, 10n), {
        token: other,
        tokens: { owner: -10n, dripFeed: 10n },
        pools: [{ poolId, balance: 10n }],
      });
    });
  });
});
