import { expect } from "chai";

import {
  ACCEPT,
  GLM,
  atTime,
  deployFixture,
  expectDeltas,
  expectInvariants,
  perSecond,
  settleArgs,
  setupPool,
  signTotal,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;
const TIMEOUT = 600n;

/** The Ctrl+C scenario: a requestor terminates (or is terminated for) and goes offline; the provider must still be paid. */
describe("the claim window (terminate -> settle/claim -> release)", () => {
  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      amount: 300n * GLM,
      agreements: [
        { terms: { budget: 100n * GLM, paymentTimeout: TIMEOUT } },
        { terms: { budget: 100n * GLM, paymentTimeout: TIMEOUT, streamRate: perSecond(GLM / 100n) } },
      ],
    });
    await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n);
    const [a0, a1] = agreements;
    const all = [{ poolId, agreementIds: agreements.map((a) => a.agreementId) }];
    return { fx, poolId, a0, a1, all, dripFeed: fx.dripFeed };
  }

  describe("when the owner terminated with acceptances still unsettled", () => {
    it("pays them inside the window, refuses release there, then refunds budget - paid", async () => {
      const { fx, poolId, a0, all, dripFeed } = await fixture();
      const id = a0.agreementId;
      // Signed before termination, never submitted by the requestor.
      const s40 = await signTotal(fx.grantee, fx.domain, poolId, id, 40n * GLM);
      const s60 = await signTotal(fx.owner, fx.domain, poolId, id, 60n * GLM);
      const s80 = await signTotal(fx.grantee, fx.domain, poolId, id, 80n * GLM);
      await atTime(a0.startedAt + 1000n);
      await dripFeed.terminate(poolId, id);
      const terminatedAt = a0.startedAt + 1000n;

      // Inside the window: the provider settles what was accepted.
      await atTime(terminatedAt + 10n);
      await expectDeltas(fx, () => dripFeed.connect(fx.providers[0]).settle(...settleArgs(s40)), {
        tokens: { dripFeed: -40n * GLM, provider0: 40n * GLM },
        pools: [{ poolId, balance: -40n * GLM, locked: -40n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 40n * GLM, acceptedTotal: 40n * GLM }],
      });
      await atTime(terminatedAt + 20n);
      await expect(dripFeed.connect(fx.stranger).release(poolId, id))
        .to.be.revertedWithCustomError(dripFeed, "ClaimWindowOpen")
        .withArgs(terminatedAt + TIMEOUT);
      await atTime(terminatedAt + TIMEOUT);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s60)), {
        tokens: { dripFeed: -20n * GLM, provider0: 20n * GLM },
        pools: [{ poolId, balance: -20n * GLM, locked: -20n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 20n * GLM, acceptedTotal: 20n * GLM }],
      });
      await expectInvariants(fx, all);

      // After the window: release returns budget - paid = 40 GLM to the free balance, moving no tokens.
      await atTime(terminatedAt + TIMEOUT + 1n);
      const before = await dripFeed.getPool(poolId);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.stranger).release(poolId, id), {
        pools: [{ poolId, locked: -40n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expect(tx)
        .to.emit(dripFeed, "AgreementReleased")
        .withArgs(poolId, id, 40n * GLM);
      const after = await dripFeed.getPool(poolId);
      expect(after.balance).to.equal(before.balance);
      expect(after.balance - after.locked).to.equal(before.balance - before.locked + 40n * GLM);
      await expectInvariants(fx, all);

      // Released: later acceptances and claims are refused.
      await expect(dripFeed.settle(...settleArgs(s80))).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
      await expect(dripFeed.claim(poolId, id)).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
      await expect(dripFeed.release(poolId, id)).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
    });
  });

  describe("when the agreement streams", () => {
    it("pays the floor accrued until termination inside the window, and refunds the rest", async () => {
      const { fx, poolId, a1, all, dripFeed } = await fixture();
      const id = a1.agreementId;
      await atTime(a1.startedAt + 500n);
      await dripFeed.terminate(poolId, id);
      await atTime(a1.startedAt + 900n);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).claim(poolId, id), {
        tokens: { dripFeed: -5n * GLM, provider0: 0n, provider1: 5n * GLM },
        pools: [{ poolId, balance: -5n * GLM, locked: -5n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 5n * GLM }],
      });
      await atTime(a1.startedAt + 500n + TIMEOUT + 1n);
      await expectDeltas(fx, () => dripFeed.release(poolId, id), {
        pools: [{ poolId, locked: -95n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expectInvariants(fx, all);
    });

    it("pays the floor nobody claimed in the window to the provider at release, and refunds only the rest", async () => {
      const { fx, poolId, a1, all, dripFeed } = await fixture();
      const id = a1.agreementId;
      await atTime(a1.startedAt + 500n);
      await dripFeed.terminate(poolId, id);
      await atTime(a1.startedAt + 500n + TIMEOUT + 1n);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.stranger).release(poolId, id), {
        tokens: { dripFeed: -5n * GLM, provider1: 5n * GLM },
        pools: [{ poolId, balance: -5n * GLM, locked: -100n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 5n * GLM }],
      });
      await expect(tx)
        .to.emit(dripFeed, "Claimed")
        .withArgs(poolId, id, 5n * GLM);
      await expect(tx)
        .to.emit(dripFeed, "AgreementReleased")
        .withArgs(poolId, id, 95n * GLM);
      expect(await dripFeed.claimable(poolId, id)).to.equal(0n);
      await expectInvariants(fx, all);
    });
  });

  describe("when the provider terminated", () => {
    it("releases at once; its unsettled acceptances then revert AgreementNotActive", async () => {
      const { fx, poolId, a0, all, dripFeed } = await fixture();
      const id = a0.agreementId;
      const s = await signTotal(fx.grantee, fx.domain, poolId, id, 30n * GLM);
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await expectDeltas(fx, () => dripFeed.connect(fx.stranger).release(poolId, id), {
        pools: [{ poolId, locked: -100n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expect(dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(dripFeed, "AgreementNotActive");
      await expectInvariants(fx, all);
    });

    it("keeps the floor it earned when the requestor releases at once (the payout comes first)", async () => {
      const { fx, poolId, a1, all, dripFeed } = await fixture();
      const id = a1.agreementId;
      // 0.01 GLM/s for 453 s: 4.53 GLM earned by the stream floor, never claimed.
      await atTime(a1.startedAt + 453n);
      await dripFeed.connect(fx.providers[1]).terminate(poolId, id);
      const earned = (453n * GLM) / 100n;
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.owner).release(poolId, id), {
        tokens: { dripFeed: -earned, provider1: earned },
        pools: [{ poolId, balance: -earned, locked: -100n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: earned }],
      });
      await expect(tx).to.emit(dripFeed, "Claimed").withArgs(poolId, id, earned);
      await expect(tx)
        .to.emit(dripFeed, "AgreementReleased")
        .withArgs(poolId, id, 100n * GLM - earned);
      await expect(dripFeed.claim(poolId, id)).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
      await expectInvariants(fx, all);
    });

    it("keeps what it settled but did not claim when the requestor releases at once", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx, {
        amount: 100n * GLM,
        agreements: [
          { terms: { budget: 50n * GLM, upfront: 0n, maxRate: perSecond(GLM / 10n), paymentTimeout: TIMEOUT } },
        ],
      });
      const { agreementId: id, startedAt } = agreements[0];
      const all = [{ poolId, agreementIds: [id] }];
      // 20 GLM accepted at t+100 while the cap allows 10: 10 paid, 10 recorded and dripping at 0.1 GLM/s.
      await atTime(startedAt + 100n);
      await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 20n * GLM)));
      await atTime(startedAt + 160n);
      await fx.dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      // At termination the cap is 16 GLM: 6 more are the provider's, whoever releases.
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.owner).release(poolId, id), {
        tokens: { dripFeed: -6n * GLM, provider0: 6n * GLM },
        pools: [{ poolId, balance: -6n * GLM, locked: -40n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 6n * GLM }],
      });
      await expectInvariants(fx, all);
    });

    it("can still settle before anyone releases", async () => {
      const { fx, poolId, a0, dripFeed } = await fixture();
      const id = a0.agreementId;
      const s = await signTotal(fx.grantee, fx.domain, poolId, id, 30n * GLM);
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await expectDeltas(fx, () => dripFeed.connect(fx.providers[0]).settle(...settleArgs(s)), {
        tokens: { dripFeed: -30n * GLM, provider0: 30n * GLM },
        pools: [{ poolId, balance: -30n * GLM, locked: -30n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 30n * GLM, acceptedTotal: 30n * GLM }],
      });
      await expect(dripFeed.release(poolId, id))
        .to.emit(dripFeed, "AgreementReleased")
        .withArgs(poolId, id, 70n * GLM);
    });
  });
});
