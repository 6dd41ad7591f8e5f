import { expect } from "chai";
import { ZeroHash } from "ethers";

import { GLM, FAR_DEADLINE, createFundedPool, deployFixture, expectDeltas, saltOf, signPermit } from "../helpers";

describe("fundWithPermit", () => {
  async function fixture() {
    const fx = await deployFixture();
    const poolId = await createFundedPool(fx, { amount: 0n });
    // The grantee holds tokens but never approved DripFeed: only a permit lets it fund.
    await fx.token.mint(fx.grantee.address, 50n * GLM);
    return { fx, poolId };
  }

  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { fx } = await fixture();
      const p = await signPermit(fx.grantee, fx.token, fx.dripFeedAddress, GLM, FAR_DEADLINE, fx.chainId);
      await expect(fx.dripFeed.connect(fx.grantee).fundWithPermit(saltOf("nope"), GLM, FAR_DEADLINE, p.v, p.r, p.s))
        .to.be.revertedWithCustomError(fx.dripFeed, "PoolNotFound")
        .withArgs(saltOf("nope"));
    });
  });

  describe("when the amount is zero", () => {
    it("reverts ZeroAmount", async () => {
      const { fx, poolId } = await fixture();
      const p = await signPermit(fx.grantee, fx.token, fx.dripFeedAddress, 0n, FAR_DEADLINE, fx.chainId);
      await expect(
        fx.dripFeed.connect(fx.grantee).fundWithPermit(poolId, 0n, FAR_DEADLINE, p.v, p.r, p.s),
      ).to.be.revertedWithCustomError(fx.dripFeed, "ZeroAmount");
    });
  });

  describe("when the permit is valid", () => {
    it("sets the allowance and pulls the amount into the pool", async () => {
      const { fx, poolId } = await fixture();
      const amount = 20n * GLM;
      const p = await signPermit(fx.grantee, fx.token, fx.dripFeedAddress, amount, FAR_DEADLINE, fx.chainId);
      const tx = await expectDeltas(
        fx,
        () => fx.dripFeed.connect(fx.grantee).fundWithPermit(poolId, amount, FAR_DEADLINE, p.v, p.r, p.s),
        { tokens: { grantee: -amount, dripFeed: amount }, pools: [{ poolId, balance: amount }] },
      );
      await expect(tx).to.emit(fx.dripFeed, "PoolFunded").withArgs(poolId, fx.grantee.address, amount);
      expect(await fx.token.allowance(fx.grantee.address, fx.dripFeedAddress)).to.equal(0n);
      expect(await fx.token.nonces(fx.grantee.address)).to.equal(1n);
    });
  });

  describe("when a front-runner already used the permit", () => {
    it("still funds from the allowance the permit set", async () => {
      const { fx, poolId } = await fixture();
      const amount = 20n * GLM;
      const p = await signPermit(fx.grantee, fx.token, fx.dripFeedAddress, amount, FAR_DEADLINE, fx.chainId);
      await fx.token
        .connect(fx.stranger)
        .permit(fx.grantee.address, fx.dripFeedAddress, amount, FAR_DEADLINE, p.v, p.r, p.s);
      await expectDeltas(
        fx,
        () => fx.dripFeed.connect(fx.grantee).fundWithPermit(poolId, amount, FAR_DEADLINE, p.v, p.r, p.s),
        { tokens: { grantee: -amount, dripFeed: amount }, pools: [{ poolId, balance: amount }] },
      );
    });
  });

  describe("when the permit is invalid and the allowance is too small", () => {
    it("reverts with the token's allowance error", async () => {
      const { fx, poolId } = await fixture();
      await expect(
        fx.dripFeed.connect(fx.grantee).fundWithPermit(poolId, GLM, FAR_DEADLINE, 27, ZeroHash, ZeroHash),
      ).to.be.revertedWithCustomError(fx.token, "ERC20InsufficientAllowance");
    });
  });

  describe("when the permit was signed by someone else than the caller", () => {
    it("cannot pull the signer's tokens: it reverts", async () => {
      const { fx, poolId } = await fixture();
      const p = await signPermit(fx.grantee, fx.token, fx.dripFeedAddress, GLM, FAR_DEADLINE, fx.chainId);
      // The relay has no tokens and no allowance; the permit names the grantee, so it is ignored.
      await expect(
        fx.dripFeed.connect(fx.relay).fundWithPermit(poolId, GLM, FAR_DEADLINE, p.v, p.r, p.s),
      ).to.be.revertedWithCustomError(fx.token, "ERC20InsufficientAllowance");
    });
  });
});
