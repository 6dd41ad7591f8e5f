import { expect } from "chai";
import { ZeroAddress } from "ethers";

import {
  ACCEPT,
  AllowanceBucket,
  GLM,
  OPEN,
  TERMINATE,
  agreementIdOf,
  atTime,
  createFundedPool,
  deployFixture,
  expectDeltas,
  mineAt,
  now,
  openAgreement,
  perHour,
  saltOf,
  terms,
  termsStruct,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("setGrant / grantOf", () => {
  async function fixture() {
    const fx = await deployFixture();
    const poolId = await createFundedPool(fx, { amount: 1000n * GLM });
    return { fx, poolId, dripFeed: fx.dripFeed };
  }

  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { dripFeed, grantee } = await deployFixture();
      await expect(dripFeed.setGrant(saltOf("nope"), grantee.address, ACCEPT, FOREVER, 0n, 0n))
        .to.be.revertedWithCustomError(dripFeed, "PoolNotFound")
        .withArgs(saltOf("nope"));
    });
  });

  describe("when the caller is not the owner", () => {
    it("reverts NotPoolOwner", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await expect(dripFeed.connect(fx.stranger).setGrant(poolId, fx.stranger.address, ACCEPT, FOREVER, 0n, 0n))
        .to.be.revertedWithCustomError(dripFeed, "NotPoolOwner")
        .withArgs(poolId, fx.stranger.address);
    });

    it("reverts NotPoolOwner for a grantee trying to re-grant", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT | TERMINATE | OPEN, FOREVER, GLM, 0n);
      await expect(
        dripFeed.connect(fx.grantee).setGrant(poolId, fx.stranger.address, ACCEPT, FOREVER, 0n, 0n),
      ).to.be.revertedWithCustomError(dripFeed, "NotPoolOwner");
    });
  });

  describe("when the grantee is the zero address", () => {
    it("reverts ZeroAddress", async () => {
      const { poolId, dripFeed } = await fixture();
      await expect(dripFeed.setGrant(poolId, ZeroAddress, ACCEPT, FOREVER, 0n, 0n)).to.be.revertedWithCustomError(
        dripFeed,
        "ZeroAddress",
      );
    });
  });

  describe("when the permissions have unknown bits", () => {
    it("reverts InvalidPermissions", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await expect(dripFeed.setGrant(poolId, fx.grantee.address, 8, FOREVER, 0n, 0n))
        .to.be.revertedWithCustomError(dripFeed, "InvalidPermissions")
        .withArgs(8);
    });
  });

  describe("when the grant is valid", () => {
    it("records it, emits GrantSet, starts the bucket full and moves no tokens", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      const tx = await expectDeltas(
        fx,
        () => dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT | OPEN, 1_900_000_000n, 50n * GLM, 7n),
        { pools: [{ poolId }] },
      );
      await expect(tx)
        .to.emit(dripFeed, "GrantSet")
        .withArgs(poolId, fx.grantee.address, ACCEPT | OPEN, 1_900_000_000n, 50n * GLM, 7n);
      const [permissions, validUntil, allowance] = await dripFeed.grantOf(poolId, fx.grantee.address);
      expect(permissions).to.equal(ACCEPT | OPEN);
      expect(validUntil).to.equal(1_900_000_000n);
      expect(allowance).to.equal(50n * GLM);
    });

    it("is scoped to its pool", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      const other = await createFundedPool(fx, { salt: saltOf("other") });
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 50n * GLM, 0n);
      const [permissions] = await dripFeed.grantOf(other, fx.grantee.address);
      expect(permissions).to.equal(0n);
      await expect(
        dripFeed
          .connect(fx.grantee)
          .openAgreement(other, agreementIdOf("x"), fx.providers[0].address, termsStruct(terms())),
      ).to.be.revertedWithCustomError(dripFeed, "NotAuthorized");
    });
  });

  describe("grantOf when nothing was granted", () => {
    it("returns zeros for an unknown pool and for an account never granted", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      for (const [pool, account] of [
        [saltOf("nope"), fx.grantee.address],
        [poolId, fx.stranger.address],
      ]) {
        const [permissions, validUntil, allowance] = await dripFeed.grantOf(pool, account);
        expect([permissions, validUntil, allowance]).to.deep.equal([0n, 0n, 0n]);
      }
    });
  });

  describe("when the permissions are zero", () => {
    it("revokes the grant entirely", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 50n * GLM, 1n);
      await expect(dripFeed.setGrant(poolId, fx.grantee.address, 0, 0n, 0n, 0n))
        .to.emit(dripFeed, "GrantSet")
        .withArgs(poolId, fx.grantee.address, 0, 0n, 0n, 0n);
      const [permissions, validUntil, allowance] = await dripFeed.grantOf(poolId, fx.grantee.address);
      expect([permissions, validUntil, allowance]).to.deep.equal([0n, 0n, 0n]);
      await expect(
        dripFeed
          .connect(fx.grantee)
          .openAgreement(poolId, agreementIdOf("x"), fx.providers[0].address, termsStruct(terms())),
      )
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, OPEN);
    });
  });

  describe("when the grant's validUntil passes", () => {
    it("counts up to and including validUntil, and not one second later", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      const t0 = await now();
      const validUntil = t0 + 100n;
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, validUntil, 500n * GLM, 0n);
      await atTime(validUntil);
      await expect(
        dripFeed
          .connect(fx.grantee)
          .openAgreement(poolId, agreementIdOf("in-time"), fx.providers[0].address, termsStruct(terms())),
      ).to.emit(dripFeed, "AgreementOpened");
      await atTime(validUntil + 1n);
      await expect(
        dripFeed
          .connect(fx.grantee)
          .openAgreement(poolId, agreementIdOf("late"), fx.providers[0].address, termsStruct(terms())),
      )
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, OPEN);
    });
  });

  describe("the OPEN allowance bucket", () => {
    const ALLOWANCE = 100n * GLM;
    const REFILL = perHour(10n * GLM);

    async function bucketFixture() {
      const f = await fixture();
      const t0 = (await now()) + 10n;
      await atTime(t0);
      await f.dripFeed.setGrant(f.poolId, f.fx.grantee.address, OPEN | TERMINATE, FOREVER, ALLOWANCE, REFILL);
      return { ...f, t0, bucket: new AllowanceBucket(ALLOWANCE, REFILL, t0) };
    }

    async function allowanceAt(f: Awaited<ReturnType<typeof bucketFixture>>, t: bigint): Promise<bigint> {
      await mineAt(t);
      const [, , allowance] = await f.dripFeed.grantOf(f.poolId, f.fx.grantee.address);
      return allowance;
    }

    it("starts full and spends exactly the budgets a grantee locks", async () => {
      const f = await bucketFixture();
      expect(await allowanceAt(f, f.t0 + 5n)).to.equal(ALLOWANCE);
      await openAgreement(f.fx, f.poolId, {
        from: f.fx.grantee,
        agreementId: agreementIdOf("g1"),
        terms: { budget: 60n * GLM },
        at: f.t0 + 10n,
      });
      f.bucket.spend(60n * GLM, f.t0 + 10n);
      expect(await allowanceAt(f, f.t0 + 11n)).to.equal(f.bucket.available(f.t0 + 11n));
      expect(f.bucket.available(f.t0 + 11n)).to.be.lt(41n * GLM);
    });

    it("refills at openRefillRate and never above openAllowance", async () => {
      const f = await bucketFixture();
      await openAgreement(f.fx, f.poolId, {
        from: f.fx.grantee,
        agreementId: agreementIdOf("g1"),
        terms: { budget: 90n * GLM },
        at: f.t0 + 1n,
      });
      f.bucket.spend(90n * GLM, f.t0 + 1n);
      for (const dt of [2n, 60n, 360n, 1800n, 3600n, 3n * 3600n, 10n * 3600n]) {
        const t = f.t0 + 1n + dt;
        const onChain = await allowanceAt(f, t);
        expect(onChain, `after ${dt}s`).to.equal(f.bucket.available(t));
        expect(onChain).to.be.lte(ALLOWANCE);
      }
      expect(await allowanceAt(f, f.t0 + 100n * 3600n)).to.equal(ALLOWANCE);
    });

    it("reverts AllowanceExceeded before InsufficientFreeBalance when a grantee is short of both", async () => {
      const f = await bucketFixture();
      const pool = await f.dripFeed.getPool(f.poolId);
      const tooMuch = pool.balance - pool.locked + 1n;
      expect(tooMuch).to.be.gt(f.bucket.available(f.t0 + 1n));
      await atTime(f.t0 + 1n);
      await expect(
        f.dripFeed
          .connect(f.fx.grantee)
          .openAgreement(
            f.poolId,
            agreementIdOf("g0"),
            f.fx.providers[1].address,
            termsStruct(terms({ budget: tooMuch })),
          ),
      ).to.be.revertedWithCustomError(f.dripFeed, "AllowanceExceeded");
    });

    it("reverts AllowanceExceeded when the bucket holds too little, for openAgreement and increaseBudget", async () => {
      const f = await bucketFixture();
      const a = await openAgreement(f.fx, f.poolId, {
        from: f.fx.grantee,
        agreementId: agreementIdOf("g1"),
        terms: { budget: 70n * GLM },
        at: f.t0 + 1n,
      });
      f.bucket.spend(70n * GLM, f.t0 + 1n);
      const t = f.t0 + 100n;
      await atTime(t);
      await expect(
        f.dripFeed
          .connect(f.fx.grantee)
          .openAgreement(
            f.poolId,
            agreementIdOf("g2"),
            f.fx.providers[1].address,
            termsStruct(terms({ budget: 40n * GLM })),
          ),
      )
        .to.be.revertedWithCustomError(f.dripFeed, "AllowanceExceeded")
        .withArgs(f.bucket.available(t), 40n * GLM);
      await atTime(t + 1n);
      await expect(f.dripFeed.connect(f.fx.grantee).increaseBudget(f.poolId, a.agreementId, 40n * GLM))
        .to.be.revertedWithCustomError(f.dripFeed, "AllowanceExceeded")
        .withArgs(f.bucket.available(t + 1n), 40n * GLM);
      // Exactly what is available goes through, and leaves the bucket empty.
      const t2 = t + 2n;
      const available = f.bucket.available(t2);
      await atTime(t2);
      await expect(f.dripFeed.connect(f.fx.grantee).increaseBudget(f.poolId, a.agreementId, available))
        .to.emit(f.dripFeed, "BudgetIncreased")
        .withArgs(f.poolId, a.agreementId, available);
      expect(await allowanceAt(f, t2)).to.equal(0n);
    });

    it("is not refilled by releases", async () => {
      const f = await bucketFixture();
      const a = await openAgreement(f.fx, f.poolId, {
        from: f.fx.grantee,
        agreementId: agreementIdOf("g1"),
        terms: { budget: 80n * GLM, paymentTimeout: 60n },
        at: f.t0 + 1n,
      });
      f.bucket.spend(80n * GLM, f.t0 + 1n);
      await atTime(f.t0 + 2n);
      await f.dripFeed.connect(f.fx.grantee).terminate(f.poolId, a.agreementId);
      await atTime(f.t0 + 63n);
      await expect(f.dripFeed.release(f.poolId, a.agreementId)).to.emit(f.dripFeed, "AgreementReleased");
      expect(await allowanceAt(f, f.t0 + 64n)).to.equal(f.bucket.available(f.t0 + 64n));
      expect(f.bucket.available(f.t0 + 64n)).to.be.lt(21n * GLM);
    });

    it("bounds what a grantee commits over a period to openAllowance + rate x T", async () => {
      const f = await bucketFixture();
      let committed = 0n;
      for (let i = 0n; i < 5n; i++) {
        const t = f.t0 + 1n + i * 1800n;
        const amount = f.bucket.available(t);
        await openAgreement(f.fx, f.poolId, {
          from: f.fx.grantee,
          agreementId: agreementIdOf(`g${i}`),
          provider: f.fx.providers[Number(i % 3n)],
          terms: { budget: amount },
          at: t,
        });
        f.bucket.spend(amount, t);
        committed += amount;
      }
      const period = 4n * 1800n + 1n;
      expect(committed).to.be.lte(ALLOWANCE + (REFILL * period) / 10n ** 18n);
      expect((await f.dripFeed.getPool(f.poolId)).locked).to.equal(committed);
    });

    it("is never used by the owner's own openAgreement and increaseBudget", async () => {
      const f = await bucketFixture();
      const a = await openAgreement(f.fx, f.poolId, { terms: { budget: 300n * GLM }, at: f.t0 + 1n });
      await atTime(f.t0 + 2n);
      await f.dripFeed.increaseBudget(f.poolId, a.agreementId, 200n * GLM);
      expect(await allowanceAt(f, f.t0 + 3n)).to.equal(ALLOWANCE);
    });

    it("is not used by the owner even when the owner holds an OPEN grant of its own", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.owner.address, OPEN, FOREVER, 0n, 0n);
      const a = await openAgreement(fx, poolId, { terms: { budget: 100n * GLM } });
      await dripFeed.increaseBudget(poolId, a.agreementId, 50n * GLM);
      expect((await dripFeed.getPool(poolId)).locked).to.equal(150n * GLM);
      const [, , allowance] = await dripFeed.grantOf(poolId, fx.owner.address);
      expect(allowance).to.equal(0n);
    });

    it("starts full again when the owner replaces the grant", async () => {
      const f = await bucketFixture();
      await openAgreement(f.fx, f.poolId, { from: f.fx.grantee, terms: { budget: 100n * GLM }, at: f.t0 + 1n });
      expect(await allowanceAt(f, f.t0 + 2n)).to.be.lt(GLM);
      await f.dripFeed.setGrant(f.poolId, f.fx.grantee.address, OPEN, FOREVER, 30n * GLM, 0n);
      expect(await allowanceAt(f, (await now()) + 1n)).to.equal(30n * GLM);
    });

    it("with a zero refill rate is a fixed total", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 10n * GLM, 0n);
      await openAgreement(fx, poolId, { from: fx.grantee, terms: { budget: 10n * GLM } });
      await mineAt((await now()) + 365n * 86400n);
      const [, , allowance] = await dripFeed.grantOf(poolId, fx.grantee.address);
      expect(allowance).to.equal(0n);
    });
  });
});
