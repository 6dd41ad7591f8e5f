import { expect } from "chai";

import {
  GLM,
  agreementIdOf,
  atTime,
  createFundedPool,
  deployFixture,
  expectDeltas,
  mineAt,
  now,
  openAgreement,
  perSecond,
  saltOf,
  settleArgs,
  signTotal,
} from "../helpers";

describe("claim", () => {
  /** A 10 GLM budget, 1 GLM upfront, cap 0.1 GLM/s, floor 0.01 GLM/s, 10 min claim window. */
  async function fixture() {
    const fx = await deployFixture();
    const poolId = await createFundedPool(fx, { amount: 100n * GLM });
    const start = (await now()) + 10n;
    const a = await openAgreement(fx, poolId, {
      terms: {
        budget: 10n * GLM,
        upfront: GLM,
        maxRate: perSecond(GLM / 10n),
        streamRate: perSecond(GLM / 100n),
        paymentTimeout: 600n,
      },
      at: start,
    });
    return { fx, poolId, id: a.agreementId, start, dripFeed: fx.dripFeed };
  }

  describe("when the agreement does not exist", () => {
    it("reverts AgreementNotFound", async () => {
      const { poolId, dripFeed } = await fixture();
      await expect(dripFeed.claim(poolId, agreementIdOf("nope"))).to.be.revertedWithCustomError(
        dripFeed,
        "AgreementNotFound",
      );
    });
  });

  describe("when nothing is claimable", () => {
    it("reverts NothingToSettle on an acceptance-only agreement with no acceptance", async () => {
      const fx = await deployFixture();
      const poolId = await createFundedPool(fx);
      const { agreementId } = await openAgreement(fx, poolId);
      await expect(fx.dripFeed.claim(poolId, agreementId)).to.be.revertedWithCustomError(
        fx.dripFeed,
        "NothingToSettle",
      );
    });

    it("reverts NothingToSettle once everything accrued until termination was claimed", async () => {
      const { fx, poolId, id, start, dripFeed } = await fixture();
      await atTime(start + 50n);
      await dripFeed.claim(poolId, id);
      await dripFeed.terminate(poolId, id);
      await expect(dripFeed.connect(fx.relay).claim(poolId, id)).to.not.be.reverted; // floor of the last second
      await expect(dripFeed.connect(fx.relay).claim(poolId, id)).to.be.revertedWithCustomError(
        dripFeed,
        "NothingToSettle",
      );
    });

    it("reverts NothingToSettle once the agreement is released", async () => {
      const { fx, poolId, id, dripFeed } = await fixture();
      await dripFeed.connect(fx.providers[0]).terminate(poolId, id);
      await dripFeed.release(poolId, id);
      await expect(dripFeed.claim(poolId, id)).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
    });
  });

  describe("when the stream floor has accrued", () => {
    it("pays the floor to the provider, whoever calls, and emits Claimed", async () => {
      const { fx, poolId, id, start, dripFeed } = await fixture();
      await atTime(start + 100n);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.stranger).claim(poolId, id), {
        tokens: { dripFeed: -GLM, provider0: GLM },
        pools: [{ poolId, balance: -GLM, locked: -GLM }],
        agreements: [{ poolId, agreementId: id, paid: GLM }],
      });
      await expect(tx).to.emit(dripFeed, "Claimed").withArgs(poolId, id, GLM);
    });

    it("returns the amount paid", async () => {
      const { poolId, id, start, dripFeed } = await fixture();
      await mineAt(start + 200n);
      expect(await dripFeed.claimable(poolId, id)).to.equal(2n * GLM);
      expect(await dripFeed.claim.staticCall(poolId, id)).to.equal(2n * GLM);
    });

    it("stops at the budget", async () => {
      const { fx, poolId, id, start, dripFeed } = await fixture();
      await atTime(start + 100_000n);
      await expectDeltas(fx, () => dripFeed.claim(poolId, id), {
        tokens: { dripFeed: -10n * GLM, provider0: 10n * GLM },
        pools: [{ poolId, balance: -10n * GLM, locked: -10n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 10n * GLM }],
      });
      await atTime(start + 200_000n);
      await expect(dripFeed.claim(poolId, id)).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
    });
  });

  describe("when a recorded acceptance exceeds the rate cap", () => {
    it("drips the rest out at maxRate as time passes", async () => {
      const { fx, poolId, id, start, dripFeed } = await fixture();
      await atTime(start + 10n);
      // 9 GLM accepted at 10 s: the cap is 1 + 0.1 x 10 = 2 GLM.
      await expectDeltas(
        fx,
        async () =>
          dripFeed.connect(fx.relay).settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 9n * GLM))),
        {
          tokens: { dripFeed: -2n * GLM, provider0: 2n * GLM },
          pools: [{ poolId, balance: -2n * GLM, locked: -2n * GLM }],
          agreements: [{ poolId, agreementId: id, paid: 2n * GLM, acceptedTotal: 9n * GLM }],
        },
      );
      for (const [t, paid] of [
        [30n, 2n * GLM],
        [50n, 2n * GLM],
        [80n, 3n * GLM], // capped at the accepted 9 GLM
      ] as const) {
        await atTime(start + t);
        await expectDeltas(fx, () => dripFeed.connect(fx.relay).claim(poolId, id), {
          tokens: { dripFeed: -paid, provider0: paid },
          pools: [{ poolId, balance: -paid, locked: -paid }],
          agreements: [{ poolId, agreementId: id, paid }],
        });
      }
      expect((await dripFeed.getAgreement(poolId, id)).paid).to.equal(9n * GLM);
      // Above the accepted total, only the slower floor grows: 0.01 GLM/s reaches 9 GLM at 900 s.
      await atTime(start + 901n);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).claim(poolId, id), {
        tokens: { dripFeed: -(GLM / 100n), provider0: GLM / 100n },
        pools: [{ poolId, balance: -(GLM / 100n), locked: -(GLM / 100n) }],
        agreements: [{ poolId, agreementId: id, paid: GLM / 100n }],
      });
    });
  });

  describe("when the terms sit at the 128-bit extremes", () => {
    it("computes in 256 bits: upfront + maxRate x elapsed passes 2^128 without overflow; pays at most the budget", async () => {
      const fx = await deployFixture();
      const max128 = (1n << 128n) - 1n;
      await fx.token.mint(fx.owner.address, max128);
      const poolId = await createFundedPool(fx, { salt: saltOf("huge"), amount: max128 });
      const start = (await now()) + 10n;
      const a = await openAgreement(fx, poolId, {
        terms: { budget: max128, upfront: max128, maxRate: max128, streamRate: max128, paymentTimeout: 86_400n },
        at: start,
      });
      // No acceptance yet: only the floor, max128 x 1 s / 1e18, is payable.
      await mineAt(start + 1n);
      expect(await fx.dripFeed.claimable(poolId, a.agreementId)).to.equal(max128 / 10n ** 18n);
      // Ten years on: the floor is max128 x elapsed / 1e18 (no overflow) and still below the budget.
      const later = start + 10n * 365n * 86_400n;
      await mineAt(later);
      expect(await fx.dripFeed.claimable(poolId, a.agreementId)).to.equal((max128 * (later - start)) / 10n ** 18n);
      // The owner accepts the whole budget: cap = max128 + max128 x elapsed / 1e18 > 2^128, payable = budget.
      const s = await signTotal(fx.owner, fx.domain, poolId, a.agreementId, max128);
      await atTime(later + 1n);
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        tokens: { dripFeed: -max128, provider0: max128 },
        pools: [{ poolId, balance: -max128, locked: -max128 }],
        agreements: [{ poolId, agreementId: a.agreementId, paid: max128, acceptedTotal: max128 }],
      });
      await expect(fx.dripFeed.claim(poolId, a.agreementId)).to.be.revertedWithCustomError(
        fx.dripFeed,
        "NothingToSettle",
      );
    });
  });

  describe("when the agreement is terminated", () => {
    it("pays what accrued until termination, and nothing for time after it", async () => {
      const { fx, poolId, id, start, dripFeed } = await fixture();
      await atTime(start + 300n);
      await dripFeed.terminate(poolId, id);
      await atTime(start + 500n);
      await expectDeltas(fx, () => dripFeed.connect(fx.providers[0]).claim(poolId, id), {
        tokens: { dripFeed: -3n * GLM, provider0: 3n * GLM },
        pools: [{ poolId, balance: -3n * GLM, locked: -3n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 3n * GLM }],
      });
      await expect(dripFeed.claim(poolId, id)).to.be.revertedWithCustomError(dripFeed, "NothingToSettle");
    });
  });
});
