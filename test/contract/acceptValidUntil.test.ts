import { expect } from "chai";

import {
  ACCEPT,
  ACCEPT_NOTICE,
  GLM,
  OPEN,
  TERMINATE,
  agreementIdOf,
  atTime,
  batchItem,
  deployFixture,
  errorSelector,
  expectDeltas,
  now,
  settleArgs,
  setupPool,
  signTotal,
  termsStruct,
  terms,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

/**
 * Protocol 1.1: taking ACCEPT away gives notice. A grantee's acceptances settle while
 * `now <= acceptValidUntil`, and a `setGrant` that removes or shortens a counting ACCEPT leaves
 * `max(new, min(old, now + ACCEPT_NOTICE))`.
 */
describe("acceptValidUntil (the ACCEPT notice)", () => {
  async function fixture(validUntil = FOREVER, permissions = ACCEPT) {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, { amount: 500n * GLM });
    const id = agreements[0].agreementId;
    await fx.dripFeed.setGrant(poolId, fx.grantee.address, permissions, validUntil, GLM, 0n);
    const grantee = fx.grantee.address;
    return { fx, poolId, id, grantee, dripFeed: fx.dripFeed };
  }

  /** Sets the grant at exactly `at` and returns that time. */
  async function setGrantAt(
    f: Awaited<ReturnType<typeof fixture>>,
    at: bigint,
    permissions: number,
    validUntil: bigint,
  ): Promise<bigint> {
    await atTime(at);
    await f.dripFeed.setGrant(f.poolId, f.grantee, permissions, validUntil, GLM, 0n);
    return at;
  }

  /** Settles `total` signed by the grantee at `at` and checks it pays `paid` more to provider 0. */
  async function expectSettlesAt(f: Awaited<ReturnType<typeof fixture>>, at: bigint, total: bigint, paid: bigint) {
    const s = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, total);
    await atTime(at);
    await expectDeltas(f.fx, () => f.dripFeed.connect(f.fx.relay).settle(...settleArgs(s)), {
      tokens: { dripFeed: -paid, provider0: paid },
      pools: [{ poolId: f.poolId, balance: -paid, locked: -paid }],
      agreements: [{ poolId: f.poolId, agreementId: f.id, paid, acceptedTotal: paid }],
    });
  }

  async function expectRefusedAt(f: Awaited<ReturnType<typeof fixture>>, at: bigint, total: bigint) {
    const s = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, total);
    await atTime(at);
    await expect(f.dripFeed.connect(f.fx.relay).settle(...settleArgs(s))).to.be.revertedWithCustomError(
      f.dripFeed,
      "InvalidSignature",
    );
  }

  it("exposes ACCEPT_NOTICE = 3600 and ITEM_CALL_GAS = 200000", async () => {
    const { dripFeed } = await deployFixture();
    expect(await dripFeed.ACCEPT_NOTICE()).to.equal(3600n);
    expect(await dripFeed.ITEM_CALL_GAS()).to.equal(200_000n);
  });

  describe("when nothing was granted", () => {
    it("is 0 for an unknown grantee, an unknown pool, and a grantee without ACCEPT", async () => {
      const f = await fixture(FOREVER, TERMINATE | OPEN);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(0n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.fx.stranger.address)).to.equal(0n);
      expect(await f.dripFeed.acceptValidUntil(agreementIdOf("no pool"), f.grantee)).to.equal(0n);
    });

    it("is 0 for the owner, whose own signature never expires", async () => {
      const f = await fixture();
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.fx.owner.address)).to.equal(0n);
      const s = await signTotal(f.fx.owner, f.fx.domain, f.poolId, f.id, 2n * GLM);
      await f.dripFeed.settle(...settleArgs(s));
      expect((await f.dripFeed.getAgreement(f.poolId, f.id)).paid).to.equal(2n * GLM);
    });
  });

  describe("when ACCEPT is granted", () => {
    it("equals validUntil, and acceptances settle up to and including it", async () => {
      const f = await fixture(FOREVER, TERMINATE);
      const until = (await now()) + 1000n;
      await setGrantAt(f, (await now()) + 1n, ACCEPT, until);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(until);
      await expectSettlesAt(f, until, 3n * GLM, 3n * GLM);
      await expectRefusedAt(f, until + 1n, 4n * GLM);
    });

    it("extends at once when a later validUntil is set", async () => {
      const f = await fixture((await now()) + 1000n);
      const t = await setGrantAt(f, (await now()) + 10n, ACCEPT, FOREVER);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(FOREVER);
      await expectSettlesAt(f, t + 5000n, 3n * GLM, 3n * GLM);
    });

    it("is the past validUntil when ACCEPT is granted already expired (cannot sign)", async () => {
      const f = await fixture();
      const t = (await now()) + 10n;
      await setGrantAt(f, t, 0, 0n);
      await setGrantAt(f, t + ACCEPT_NOTICE + 10n, ACCEPT, t);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t);
      await expectRefusedAt(f, t + ACCEPT_NOTICE + 20n, GLM);
    });
  });

  describe("when ACCEPT is revoked while it counts", () => {
    it("keeps the grantee's acceptances settling for ACCEPT_NOTICE seconds, then refuses them", async () => {
      const f = await fixture();
      const s = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, 7n * GLM);
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
      // grantOf keeps returning the grant as set.
      const [permissions, validUntil, allowance] = await f.dripFeed.grantOf(f.poolId, f.grantee);
      expect([permissions, validUntil, allowance]).to.deep.equal([0n, 0n, GLM]);
      await atTime(t + ACCEPT_NOTICE);
      await expectDeltas(f.fx, () => f.dripFeed.connect(f.fx.providers[0]).settle(...settleArgs(s)), {
        tokens: { dripFeed: -7n * GLM, provider0: 7n * GLM },
        pools: [{ poolId: f.poolId, balance: -7n * GLM, locked: -7n * GLM }],
        agreements: [{ poolId: f.poolId, agreementId: f.id, paid: 7n * GLM, acceptedTotal: 7n * GLM }],
      });
      await expectRefusedAt(f, t + ACCEPT_NOTICE + 1n, 8n * GLM);
    });

    it("never extends an old validUntil sooner than the notice", async () => {
      const start = (await now()) + 100n;
      const f = await fixture(start + 600n);
      const t = await setGrantAt(f, start, 0, 0n);
      expect(t + ACCEPT_NOTICE > start + 600n).to.equal(true);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(start + 600n);
      await expectSettlesAt(f, start + 600n, 2n * GLM, 2n * GLM);
      await expectRefusedAt(f, start + 601n, 3n * GLM);
    });

    it("does not extend the notice on a second revocation during it", async () => {
      const f = await fixture();
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      await setGrantAt(f, t + 1800n, 0, 0n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
      await setGrantAt(f, t + 1900n, TERMINATE, FOREVER);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
      await expectRefusedAt(f, t + ACCEPT_NOTICE + 1n, GLM);
    });

    it("starts nothing when the grant had already expired (nothing counts to give notice of)", async () => {
      const start = (await now()) + 100n;
      const f = await fixture(start);
      await setGrantAt(f, start + 1n, 0, 0n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(0n);
    });
  });

  describe("when ACCEPT is moved earlier while it counts", () => {
    it("keeps max(new, min(old, now + notice)): a new end inside the notice is raised to the notice", async () => {
      const f = await fixture();
      const t = await setGrantAt(f, (await now()) + 10n, ACCEPT, (await now()) + 100n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
      await expectSettlesAt(f, t + ACCEPT_NOTICE, 2n * GLM, 2n * GLM);
      await expectRefusedAt(f, t + ACCEPT_NOTICE + 1n, 3n * GLM);
    });

    it("keeps the new end when it lies beyond the notice", async () => {
      const f = await fixture();
      const t = (await now()) + 10n;
      await setGrantAt(f, t, ACCEPT, t + 2n * ACCEPT_NOTICE);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + 2n * ACCEPT_NOTICE);
    });
  });

  describe("when ACCEPT is granted again during a notice", () => {
    it("takes the new grant's validUntil, and revives what the key signed before (judged at settlement)", async () => {
      const f = await fixture();
      const s = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, 4n * GLM);
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      await setGrantAt(f, t + 100n, ACCEPT, t + 10n * ACCEPT_NOTICE);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + 10n * ACCEPT_NOTICE);
      await atTime(t + 5n * ACCEPT_NOTICE);
      await expectDeltas(f.fx, () => f.dripFeed.settle(...settleArgs(s)), {
        tokens: { dripFeed: -4n * GLM, provider0: 4n * GLM },
        pools: [{ poolId: f.poolId, balance: -4n * GLM, locked: -4n * GLM }],
        agreements: [{ poolId: f.poolId, agreementId: f.id, paid: 4n * GLM, acceptedTotal: 4n * GLM }],
      });
    });

    it("keeps the running notice when the new grant ends sooner than it", async () => {
      const f = await fixture();
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      await setGrantAt(f, t + 100n, ACCEPT, t + 200n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
    });
  });

  describe("the other permissions", () => {
    it("end at once: TERMINATE and OPEN are refused while the ACCEPT notice still runs", async () => {
      const f = await fixture(FOREVER, ACCEPT | TERMINATE | OPEN);
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      expect(await f.dripFeed.acceptValidUntil(f.poolId, f.grantee)).to.equal(t + ACCEPT_NOTICE);
      const asGrantee = f.dripFeed.connect(f.fx.grantee);
      await expect(asGrantee.terminate(f.poolId, f.id))
        .to.be.revertedWithCustomError(f.dripFeed, "NotAuthorized")
        .withArgs(f.poolId, f.grantee, TERMINATE);
      await expect(
        asGrantee.openAgreement(f.poolId, agreementIdOf("new"), f.fx.providers[1].address, termsStruct(terms())),
      )
        .to.be.revertedWithCustomError(f.dripFeed, "NotAuthorized")
        .withArgs(f.poolId, f.grantee, OPEN);
      await expect(asGrantee.increaseBudget(f.poolId, f.id, GLM))
        .to.be.revertedWithCustomError(f.dripFeed, "NotAuthorized")
        .withArgs(f.poolId, f.grantee, OPEN);
      // ...while ACCEPT still counts.
      await expectSettlesAt(f, t + 20n, GLM, GLM);
    });
  });

  describe("in settleBatch", () => {
    it("applies the same notice to each item", async () => {
      const f = await fixture();
      const inside = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, 2n * GLM);
      const after = await signTotal(f.fx.grantee, f.fx.domain, f.poolId, f.id, 3n * GLM);
      const t = await setGrantAt(f, (await now()) + 10n, 0, 0n);
      await atTime(t + ACCEPT_NOTICE);
      await expectDeltas(f.fx, () => f.dripFeed.settleBatch([batchItem(inside)]), {
        tokens: { dripFeed: -2n * GLM, provider0: 2n * GLM },
        pools: [{ poolId: f.poolId, balance: -2n * GLM, locked: -2n * GLM }],
        agreements: [{ poolId: f.poolId, agreementId: f.id, paid: 2n * GLM, acceptedTotal: 2n * GLM }],
      });
      await atTime(t + ACCEPT_NOTICE + 1n);
      await expect(f.dripFeed.settleBatch([batchItem(after)]))
        .to.emit(f.dripFeed, "SettlementFailed")
        .withArgs(f.poolId, f.id, after.acceptance.debitNoteId, errorSelector(f.dripFeed, "InvalidSignature"));
    });
  });
});
