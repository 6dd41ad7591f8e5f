import { expect } from "chai";

import {
  ACCEPT,
  GLM,
  OPEN,
  Status,
  TERMINATE,
  agreementIdOf,
  atTime,
  deployFixture,
  expectDeltas,
  mineAt,
  now,
  perSecond,
  setupPool,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("terminate", () => {
  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      agreements: [{ terms: { budget: 100n * GLM, streamRate: perSecond(1000n), paymentTimeout: 600n } }],
    });
    return { fx, poolId, a: agreements[0], id: agreements[0].agreementId, dripFeed: fx.dripFeed };
  }

  describe("when the agreement does not exist", () => {
    it("reverts AgreementNotFound", async () => {
      const { poolId, dripFeed } = await fixture();
      await expect(dripFeed.terminate(poolId, agreementIdOf("nope"))).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotFound",
      );
    });
  });

  describe("when the agreement is already terminated", () => {
    it("reverts AgreementNotActive", async () => {
      const { poolId, id, dripFeed } = await fixture();
      await dripFeed.terminate(poolId, id);
      await expect(dripFeed.terminate(poolId, id)).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });
  });

  describe("when the agreement is released", () => {
    it("reverts AgreementNotActive", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      await expect(dripFeed.terminate(poolId, id)).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });
  });

  describe("when the caller is not the owner, a TERMINATE grantee or the provider", () => {
    it("reverts NotAuthorized for a stranger", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await expect(dripFeed.connect(fx.stranger).terminate(poolId, id))
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.stranger.address, TERMINATE);
    });

    it("reverts NotAuthorized for a grantee with ACCEPT and OPEN only", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT | OPEN, FOREVER, GLM, 0n);
      await expect(dripFeed.connect(fx.grantee).terminate(poolId, id))
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, TERMINATE);
    });

    it("reverts NotAuthorized for a TERMINATE grantee whose grant expired", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const validUntil = (await now()) + 5n;
      await dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE, validUntil, 0n, 0n);
      await atTime(validUntil + 1n);
      await expect(dripFeed.connect(fx.grantee).terminate(poolId, id)).to.be.revertedWithCustomError(
        dripFeed,
        "NotAuthorized",
      );
    });

    it("reverts NotAuthorized for the provider of another agreement", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx, { agreements: [{}, {}] });
      await expect(
        fx.dripFeed.connect(fx.providers[1]).terminate(poolId, agreements[0].agreementId),
      ).to.be.revertedWithCustomError(fx.dripFeed, "NotAuthorized");
    });
  });

  describe("when a TERMINATE grantee acts in the last second of its grant", () => {
    it("terminates: validUntil itself still counts", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      const validUntil = (await now()) + 5n;
      await dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE, validUntil, 0n, 0n);
      await atTime(validUntil);
      await expect(dripFeed.connect(fx.grantee).terminate(poolId, id))
        .to.emit(dripFeed, "AgreementTerminated")
        .withArgs(poolId, id, fx.grantee.address);
    });
  });

  describe("when the caller's TERMINATE grant was revoked", () => {
    it("reverts NotAuthorized", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE, FOREVER, 0n, 0n);
      await dripFeed.setGrant(poolId, fx.grantee.address, 0, 0n, 0n, 0n);
      await expect(dripFeed.connect(fx.grantee).terminate(poolId, id))
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, TERMINATE);
    });
  });

  for (const who of ["owner", "TERMINATE grantee", "provider"] as const) {
    describe(`when the ${who} terminates an active agreement`, () => {
      it("freezes the clock, opens the claim window, emits AgreementTerminated and moves no tokens", async () => {
        const { fx, poolId, a, id, dripFeed } = await fixture();
        await dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE, FOREVER, 0n, 0n);
        const caller = who === "owner" ? fx.owner : who === "provider" ? fx.providers[0] : fx.grantee;
        const t = a.startedAt + 100n;
        await atTime(t);
        const tx = await expectDeltas(fx, () => dripFeed.connect(caller).terminate(poolId, id), {
          pools: [{ poolId }],
          agreements: [{ poolId, agreementId: id }],
        });
        await expect(tx).to.emit(dripFeed, "AgreementTerminated").withArgs(poolId, id, caller.address);
        const after = await dripFeed.getAgreement(poolId, id);
        expect(after.status).to.equal(Status.Terminated);
        expect(after.terminatedAt).to.equal(t);
        // The stream floor stops growing at termination: 1000 base units/s for 100 s.
        expect(await dripFeed.claimable(poolId, id)).to.equal(100_000n);
        await mineAt(t + 500n);
        expect(await dripFeed.claimable(poolId, id)).to.equal(100_000n);
      });
    });
  }
});
