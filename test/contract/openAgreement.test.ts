import { expect } from "chai";
import { ZeroAddress } from "ethers";

import {
  ACCEPT,
  GLM,
  OPEN,
  Status,
  TERMINATE,
  type Terms,
  agreementIdOf,
  createFundedPool,
  deployFixture,
  expectDeltas,
  now,
  openAgreement,
  perHour,
  saltOf,
  setupPool,
  terms,
  termsStruct,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("openAgreement", () => {
  async function fixture() {
    const fx = await deployFixture();
    const poolId = await createFundedPool(fx, { amount: 1000n * GLM });
    return { fx, poolId, dripFeed: fx.dripFeed, provider: fx.providers[0] };
  }

  describe("when the pool does not exist", () => {
    it("reverts PoolNotFound", async () => {
      const { dripFeed, provider } = await fixture();
      await expect(dripFeed.openAgreement(saltOf("nope"), agreementIdOf("a"), provider.address, termsStruct(terms())))
        .to.be.revertedWithCustomError(dripFeed, "PoolNotFound")
        .withArgs(saltOf("nope"));
    });
  });

  describe("when the caller is neither the owner nor an OPEN grantee", () => {
    it("reverts NotAuthorized for a stranger", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await expect(
        dripFeed.connect(fx.stranger).openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms())),
      )
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.stranger.address, OPEN);
    });

    it("reverts NotAuthorized for a grantee holding ACCEPT and TERMINATE only", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT | TERMINATE, FOREVER, 1000n * GLM, 0n);
      await expect(
        dripFeed.connect(fx.grantee).openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms())),
      )
        .to.be.revertedWithCustomError(dripFeed, "NotAuthorized")
        .withArgs(poolId, fx.grantee.address, OPEN);
    });

    it("reverts NotAuthorized for an OPEN grantee whose grant expired", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, (await now()) - 1n, 1000n * GLM, 0n);
      await expect(
        dripFeed.connect(fx.grantee).openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms())),
      ).to.be.revertedWithCustomError(dripFeed, "NotAuthorized");
    });
  });

  describe("when the terms are invalid", () => {
    const cases: [string, Partial<Terms>, number][] = [
      ["the budget is zero", { budget: 0n }, 1],
      ["upfront exceeds the budget", { budget: 10n, upfront: 11n }, 2],
      ["streamRate exceeds a non-zero maxRate", { maxRate: 100n, streamRate: 101n }, 3],
      ["the debit-note interval is below 120 s", { debitNoteInterval: 119n }, 4],
      ["the debit-note interval is above 900 s", { debitNoteInterval: 901n }, 4],
      ["the payment timeout is zero", { paymentTimeout: 0n }, 5],
      ["the payment timeout is above 24 h", { paymentTimeout: 86_401n }, 5],
    ];
    for (const [branch, overrides, reason] of cases) {
      describe(`when ${branch}`, () => {
        it("reverts InvalidTerms", async () => {
          const { poolId, dripFeed, provider } = await fixture();
          await expect(
            dripFeed.openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms(overrides))),
          )
            .to.be.revertedWithCustomError(dripFeed, "InvalidTerms")
            .withArgs(reason);
        });
      });
    }

    describe("when the provider is the zero address", () => {
      it("reverts InvalidTerms", async () => {
        const { poolId, dripFeed } = await fixture();
        await expect(dripFeed.openAgreement(poolId, agreementIdOf("a"), ZeroAddress, termsStruct(terms())))
          .to.be.revertedWithCustomError(dripFeed, "InvalidTerms")
          .withArgs(6);
      });
    });

    describe("when the provider is the pool owner", () => {
      it("reverts InvalidTerms", async () => {
        const { fx, poolId, dripFeed } = await fixture();
        await expect(dripFeed.openAgreement(poolId, agreementIdOf("a"), fx.owner.address, termsStruct(terms())))
          .to.be.revertedWithCustomError(dripFeed, "InvalidTerms")
          .withArgs(6);
      });

      it("reverts InvalidTerms also when an OPEN grantee names the owner", async () => {
        const { fx, poolId, dripFeed } = await fixture();
        await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 1000n * GLM, 0n);
        await expect(
          dripFeed
            .connect(fx.grantee)
            .openAgreement(poolId, agreementIdOf("a"), fx.owner.address, termsStruct(terms())),
        )
          .to.be.revertedWithCustomError(dripFeed, "InvalidTerms")
          .withArgs(6);
      });
    });

    describe("when the provider is DripFeed itself", () => {
      it("reverts InvalidTerms (its payouts would be stuck)", async () => {
        const { fx, poolId, dripFeed } = await fixture();
        await expect(dripFeed.openAgreement(poolId, agreementIdOf("a"), fx.dripFeedAddress, termsStruct(terms())))
          .to.be.revertedWithCustomError(dripFeed, "InvalidTerms")
          .withArgs(6);
      });
    });
  });

  describe("when the terms sit on the boundaries", () => {
    const cases: [string, Partial<Terms>][] = [
      ["interval 120 s, timeout 1 s", { debitNoteInterval: 120n, paymentTimeout: 1n }],
      ["interval 900 s, timeout 86 400 s", { debitNoteInterval: 900n, paymentTimeout: 86_400n }],
      ["upfront equal to the budget", { budget: 5n * GLM, upfront: 5n * GLM }],
      ["streamRate equal to maxRate", { maxRate: perHour(GLM), streamRate: perHour(GLM) }],
      ["a stream floor with no rate cap", { maxRate: 0n, streamRate: perHour(GLM) }],
      ["a budget of one base unit", { budget: 1n }],
    ];
    for (const [branch, overrides] of cases) {
      it(`opens with ${branch}`, async () => {
        const { poolId, dripFeed, provider } = await fixture();
        await expect(
          dripFeed.openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms(overrides))),
        ).to.emit(dripFeed, "AgreementOpened");
      });
    }
  });

  describe("when the agreement id is taken in the pool", () => {
    it("reverts AgreementExists", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await openAgreement(fx, poolId, { agreementId: agreementIdOf("a") });
      await expect(dripFeed.openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms())))
        .to.be.revertedWithCustomError(dripFeed, "AgreementExists")
        .withArgs(poolId, agreementIdOf("a"));
    });

    it("reverts AgreementExists even after the agreement was released (ids are never reused)", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await openAgreement(fx, poolId, { agreementId: agreementIdOf("a") });
      await dripFeed.connect(provider).terminate(poolId, agreementIdOf("a"));
      await dripFeed.release(poolId, agreementIdOf("a"));
      await expect(
        dripFeed.openAgreement(poolId, agreementIdOf("a"), provider.address, termsStruct(terms())),
      ).to.be.revertedWithCustomError(dripFeed, "AgreementExists");
    });

    it("lets another pool use the same id", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await openAgreement(fx, poolId, { agreementId: agreementIdOf("a") });
      const other = await createFundedPool(fx, { salt: saltOf("other") });
      await expect(dripFeed.openAgreement(other, agreementIdOf("a"), provider.address, termsStruct(terms()))).to.emit(
        dripFeed,
        "AgreementOpened",
      );
    });
  });

  describe("when the free balance is smaller than the budget", () => {
    it("reverts InsufficientFreeBalance", async () => {
      const { fx, dripFeed, provider } = await fixture();
      const { poolId } = await setupPool(fx, {
        salt: saltOf("small"),
        amount: 150n * GLM,
        agreements: [{ terms: { budget: 100n * GLM } }],
      });
      await expect(
        dripFeed.openAgreement(poolId, agreementIdOf("b"), provider.address, termsStruct(terms({ budget: 51n * GLM }))),
      )
        .to.be.revertedWithCustomError(dripFeed, "InsufficientFreeBalance")
        .withArgs(50n * GLM, 51n * GLM);
    });
  });

  describe("when the owner opens valid terms", () => {
    it("locks the budget, records the agreement, emits AgreementOpened and moves no tokens", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      const t = terms({
        budget: 40n * GLM,
        upfront: GLM,
        maxRate: perHour(36n * GLM),
        streamRate: perHour(18n * GLM),
        debitNoteInterval: 300n,
        paymentTimeout: 7200n,
      });
      const id = agreementIdOf("a");
      const tx = await expectDeltas(fx, () => dripFeed.openAgreement(poolId, id, provider.address, termsStruct(t)), {
        pools: [{ poolId, locked: 40n * GLM }],
        agreements: [{ poolId, agreementId: id }],
      });
      await expect(tx)
        .to.emit(dripFeed, "AgreementOpened")
        .withArgs(poolId, id, provider.address, [t.budget, t.upfront, t.maxRate, t.streamRate, 300n, 7200n]);
      const a = await dripFeed.getAgreement(poolId, id);
      expect(a.provider).to.equal(provider.address);
      expect(a.status).to.equal(Status.Active);
      expect(a.startedAt).to.equal(await now());
      expect(a.terminatedAt).to.equal(0n);
      expect([...a.terms]).to.deep.equal([t.budget, t.upfront, t.maxRate, t.streamRate, 300n, 7200n]);
      expect(a.paid).to.equal(0n);
      expect(a.acceptedTotal).to.equal(0n);
    });
  });

  describe("when an OPEN grantee opens within its allowance", () => {
    it("locks the budget from the pool and spends the grantee's bucket", async () => {
      const { fx, poolId, dripFeed, provider } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 100n * GLM, 0n);
      const id = agreementIdOf("g");
      const tx = await expectDeltas(
        fx,
        () =>
          dripFeed
            .connect(fx.grantee)
            .openAgreement(poolId, id, provider.address, termsStruct(terms({ budget: 30n * GLM }))),
        { pools: [{ poolId, locked: 30n * GLM }] },
      );
      await expect(tx).to.emit(dripFeed, "AgreementOpened");
      const [, , allowance] = await dripFeed.grantOf(poolId, fx.grantee.address);
      expect(allowance).to.equal(70n * GLM);
      expect((await dripFeed.getAgreement(poolId, id)).provider).to.equal(provider.address);
    });

    it("may name itself as the provider (the bucket bounds it)", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      await dripFeed.setGrant(poolId, fx.grantee.address, OPEN, FOREVER, 100n * GLM, 0n);
      await expect(
        dripFeed
          .connect(fx.grantee)
          .openAgreement(poolId, agreementIdOf("self"), fx.grantee.address, termsStruct(terms({ budget: 10n * GLM }))),
      ).to.emit(dripFeed, "AgreementOpened");
    });
  });
});
