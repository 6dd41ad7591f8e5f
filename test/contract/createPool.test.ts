import { expect } from "chai";
import { ZeroAddress } from "ethers";

import { poolIdOf as sdkPoolIdOf } from "../../scripts/sdk/ids";
import { deployFixture, expectDeltas, saltOf } from "../helpers";

describe("createPool", () => {
  describe("when the token is the zero address", () => {
    it("reverts ZeroAddress", async () => {
      const { dripFeed } = await deployFixture();
      await expect(dripFeed.createPool(ZeroAddress, saltOf("p"))).to.be.revertedWithCustomError(
        dripFeed,
        "ZeroAddress",
      );
    });
  });

  describe("when the token has no code", () => {
    it("reverts UnsupportedToken", async () => {
      const { dripFeed, stranger } = await deployFixture();
      await expect(dripFeed.createPool(stranger.address, saltOf("p")))
        .to.be.revertedWithCustomError(dripFeed, "UnsupportedToken")
        .withArgs(stranger.address);
    });
  });

  describe("when the caller already used the salt", () => {
    it("reverts PoolExists", async () => {
      const { dripFeed, owner, tokenAddress } = await deployFixture();
      await dripFeed.createPool(tokenAddress, saltOf("p"));
      await expect(dripFeed.createPool(tokenAddress, saltOf("p")))
        .to.be.revertedWithCustomError(dripFeed, "PoolExists")
        .withArgs(await dripFeed.poolIdOf(owner.address, saltOf("p")));
    });
  });

  describe("when the id is fresh", () => {
    it("creates an empty pool owned by the caller, emits PoolCreated and moves no tokens", async () => {
      const fx = await deployFixture();
      const { dripFeed, owner, tokenAddress } = fx;
      const salt = saltOf("p");
      const poolId = sdkPoolIdOf(owner.address, salt);
      expect(await dripFeed.createPool.staticCall(tokenAddress, salt)).to.equal(poolId);

      const tx = await expectDeltas(fx, () => dripFeed.createPool(tokenAddress, salt), {
        pools: [{ poolId }],
      });
      await expect(tx).to.emit(dripFeed, "PoolCreated").withArgs(poolId, owner.address, tokenAddress, salt);

      const pool = await dripFeed.getPool(poolId);
      expect(pool.owner).to.equal(owner.address);
      expect(pool.token).to.equal(tokenAddress);
      expect(pool.balance).to.equal(0n);
      expect(pool.locked).to.equal(0n);
    });

    it("gives another owner with the same salt a different pool", async () => {
      const { dripFeed, owner, stranger, tokenAddress } = await deployFixture();
      const salt = saltOf("shared");
      await dripFeed.connect(owner).createPool(tokenAddress, salt);
      await expect(dripFeed.connect(stranger).createPool(tokenAddress, salt)).to.emit(dripFeed, "PoolCreated");
      const a = await dripFeed.poolIdOf(owner.address, salt);
      const b = await dripFeed.poolIdOf(stranger.address, salt);
      expect(a).to.not.equal(b);
      expect((await dripFeed.getPool(b)).owner).to.equal(stranger.address);
    });

    it("lets one owner hold several pools with different salts", async () => {
      const { dripFeed, owner, tokenAddress } = await deployFixture();
      await dripFeed.createPool(tokenAddress, saltOf("one"));
      await dripFeed.createPool(tokenAddress, saltOf("two"));
      expect((await dripFeed.getPool(await dripFeed.poolIdOf(owner.address, saltOf("two")))).owner).to.equal(
        owner.address,
      );
    });
  });
});
