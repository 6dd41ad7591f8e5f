import { expect } from "chai";
import { ethers } from "hardhat";

import type { BlocklistToken } from "../../typechain-types";
import {
  ACCEPT,
  GLM,
  agreementIdOf,
  atTime,
  batchItem,
  deployFixture,
  errorSelector,
  expectDeltas,
  now,
  openAgreement,
  saltOf,
  setupPool,
  signTotal,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("settleBatch", () => {
  async function fixture() {
    const fx = await deployFixture();
    const { poolId, agreements } = await setupPool(fx, {
      amount: 500n * GLM,
      agreements: [
        { terms: { budget: 100n * GLM } },
        { terms: { budget: 100n * GLM } },
        { terms: { budget: 100n * GLM } },
      ],
    });
    await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n);
    const [a0, a1, a2] = agreements.map((a) => a.agreementId);
    return { fx, poolId, a0, a1, a2, dripFeed: fx.dripFeed };
  }

  describe("when the list is empty", () => {
    it("returns an empty array and does nothing", async () => {
      const { fx, poolId, dripFeed } = await fixture();
      expect(await dripFeed.settleBatch.staticCall([])).to.deep.equal([]);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch([]), { pools: [{ poolId }] });
      await expect(tx).to.not.emit(dripFeed, "DebitNoteSettled");
      await expect(tx).to.not.emit(dripFeed, "SettlementFailed");
    });
  });

  describe("when every item is valid", () => {
    it("pays every provider and returns each payout", async () => {
      const { fx, poolId, a0, a1, dripFeed } = await fixture();
      const items = [
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 10n * GLM)),
        batchItem(await signTotal(fx.grantee, fx.domain, poolId, a1, 20n * GLM)),
      ];
      expect(await dripFeed.connect(fx.relay).settleBatch.staticCall(items)).to.deep.equal([10n * GLM, 20n * GLM]);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch(items), {
        tokens: { dripFeed: -30n * GLM, provider0: 10n * GLM, provider1: 20n * GLM },
        pools: [{ poolId, balance: -30n * GLM, locked: -30n * GLM }],
        agreements: [
          { poolId, agreementId: a0, paid: 10n * GLM, acceptedTotal: 10n * GLM },
          { poolId, agreementId: a1, paid: 20n * GLM, acceptedTotal: 20n * GLM },
        ],
      });
      await expect(tx)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, a0, items[0].acceptance.debitNoteId, 10n * GLM, 10n * GLM, fx.owner.address);
      await expect(tx)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, a1, items[1].acceptance.debitNoteId, 20n * GLM, 20n * GLM, fx.grantee.address);
      await expect(tx).to.not.emit(dripFeed, "SettlementFailed");
    });

    it("settles rising totals of one agreement in order, paying each difference", async () => {
      const { fx, poolId, a0, dripFeed } = await fixture();
      const items = [
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 10n * GLM)),
        batchItem(await signTotal(fx.grantee, fx.domain, poolId, a0, 30n * GLM)),
      ];
      expect(await dripFeed.settleBatch.staticCall(items)).to.deep.equal([10n * GLM, 20n * GLM]);
      await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch(items), {
        tokens: { dripFeed: -30n * GLM, provider0: 30n * GLM },
        pools: [{ poolId, balance: -30n * GLM, locked: -30n * GLM }],
        agreements: [{ poolId, agreementId: a0, paid: 30n * GLM, acceptedTotal: 30n * GLM }],
      });
    });
  });

  describe("when some items are bad", () => {
    it("reports each with SettlementFailed and its error selector, and settles the rest", async () => {
      const { fx, poolId, a0, a1, a2, dripFeed } = await fixture();
      // a2 released; one stale replay of a0; one expired; one bad signer; one unknown agreement.
      await dripFeed.connect(fx.providers[2]).terminate(poolId, a2);
      await dripFeed.release(poolId, a2);
      const first = await signTotal(fx.owner, fx.domain, poolId, a0, 10n * GLM);
      const deadline = (await now()) + 5n;
      const bad = [
        {
          item: batchItem(await signTotal(fx.owner, fx.domain, poolId, a1, GLM, { deadline })),
          error: "SignatureExpired",
        },
        { item: batchItem(await signTotal(fx.stranger, fx.domain, poolId, a1, GLM)), error: "InvalidSignature" },
        {
          item: batchItem(await signTotal(fx.owner, fx.domain, poolId, agreementIdOf("nope"), GLM)),
          error: "AgreementNotFound",
        },
        { item: batchItem(await signTotal(fx.owner, fx.domain, poolId, a2, GLM)), error: "AgreementNotActive" },
        { item: batchItem(first), error: "NothingToSettle" },
      ];
      const good = batchItem(await signTotal(fx.grantee, fx.domain, poolId, a1, 5n * GLM));
      const items = [batchItem(first), bad[0].item, bad[1].item, good, bad[2].item, bad[3].item, bad[4].item];
      await atTime(deadline + 1n);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch(items), {
        tokens: { dripFeed: -15n * GLM, provider0: 10n * GLM, provider1: 5n * GLM },
        pools: [{ poolId, balance: -15n * GLM, locked: -15n * GLM }],
        agreements: [
          { poolId, agreementId: a0, paid: 10n * GLM, acceptedTotal: 10n * GLM },
          { poolId, agreementId: a1, paid: 5n * GLM, acceptedTotal: 5n * GLM },
          { poolId, agreementId: a2 },
        ],
      });
      for (const { item, error } of bad) {
        await expect(tx, error)
          .to.emit(dripFeed, "SettlementFailed")
          .withArgs(
            item.acceptance.poolId,
            item.acceptance.agreementId,
            item.acceptance.debitNoteId,
            errorSelector(dripFeed, error),
          );
      }
      const receipt = await tx.wait();
      const failed = receipt!.logs.filter(
        (l) => l.topics[0] === dripFeed.interface.getEvent("SettlementFailed").topicHash,
      );
      expect(failed).to.have.length(bad.length);
    });

    it("refuses the zero address and DripFeed itself as signers, even first in a run and even when granted", async () => {
      const { fx, poolId, a0, dripFeed } = await fixture();
      const self = fx.dripFeedAddress;
      await dripFeed.setGrant(poolId, self, ACCEPT, FOREVER, 0n, 0n);
      const signed = await signTotal(fx.owner, fx.domain, poolId, a0, 3n * GLM);
      const items = [
        { ...batchItem(signed), signer: ethers.ZeroAddress },
        { ...batchItem(signed), signer: self },
        { ...batchItem(signed), signer: self, signature: "0x" },
      ];
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch(items), {});
      const receipt = await tx.wait();
      const reasons = receipt!.logs
        .map((l) => dripFeed.interface.parseLog(l))
        .filter((e) => e?.name === "SettlementFailed")
        .map((e) => e!.args.reason as string);
      expect(reasons).to.deep.equal(items.map(() => errorSelector(dripFeed, "InvalidSignature")));
      await expect(dripFeed.settle(signed.acceptance, self, signed.signature)).to.be.revertedWithCustomError(
        dripFeed,
        "InvalidSignature",
      );
    });

    it("returns 0 for the failed items", async () => {
      const { fx, poolId, a0, dripFeed } = await fixture();
      const items = [
        batchItem(await signTotal(fx.stranger, fx.domain, poolId, a0, GLM)),
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 2n * GLM)),
      ];
      expect(await dripFeed.settleBatch.staticCall(items)).to.deep.equal([0n, 2n * GLM]);
    });
  });

  describe("when the items span several pools", () => {
    /** Pool A (owner, grantee holds ACCEPT there) and pool B (stranger's, no grant), interleaved in one batch. */
    async function twoPools() {
      const f = await fixture();
      const { poolId: poolB, agreements } = await setupPool(f.fx, {
        owner: f.fx.stranger,
        salt: saltOf("b"),
        amount: 100n * GLM,
        agreements: [{ agreementId: agreementIdOf("b0"), provider: f.fx.providers[2] }],
      });
      return { ...f, poolB, b0: agreements[0].agreementId };
    }

    it("checks the signer against each item's own pool: a signer valid for one pool fails in the next", async () => {
      const { fx, poolId, poolB, a0, a1, b0, dripFeed } = await twoPools();
      const items = [
        batchItem(await signTotal(fx.grantee, fx.domain, poolId, a0, 1n * GLM)),
        // The grantee and pool A's owner have no rights in pool B.
        batchItem(await signTotal(fx.grantee, fx.domain, poolB, b0, 2n * GLM)),
        batchItem(await signTotal(fx.grantee, fx.domain, poolId, a1, 3n * GLM)),
        batchItem(await signTotal(fx.owner, fx.domain, poolB, b0, 4n * GLM)),
        batchItem(await signTotal(fx.stranger, fx.domain, poolB, b0, 5n * GLM)),
        batchItem(await signTotal(fx.stranger, fx.domain, poolId, a0, 6n * GLM)),
      ];
      expect(await dripFeed.connect(fx.relay).settleBatch.staticCall(items)).to.deep.equal([
        1n * GLM,
        0n,
        3n * GLM,
        0n,
        5n * GLM,
        0n,
      ]);
      const tx = await expectDeltas(fx, () => dripFeed.connect(fx.relay).settleBatch(items), {
        tokens: { dripFeed: -9n * GLM, provider0: 1n * GLM, provider1: 3n * GLM, provider2: 5n * GLM },
        pools: [
          { poolId, balance: -4n * GLM, locked: -4n * GLM },
          { poolId: poolB, balance: -5n * GLM, locked: -5n * GLM },
        ],
        agreements: [
          { poolId, agreementId: a0, paid: 1n * GLM, acceptedTotal: 1n * GLM },
          { poolId, agreementId: a1, paid: 3n * GLM, acceptedTotal: 3n * GLM },
          { poolId: poolB, agreementId: b0, paid: 5n * GLM, acceptedTotal: 5n * GLM },
        ],
      });
      for (const i of [1, 3, 5]) {
        await expect(tx)
          .to.emit(dripFeed, "SettlementFailed")
          .withArgs(
            items[i].acceptance.poolId,
            items[i].acceptance.agreementId,
            items[i].acceptance.debitNoteId,
            errorSelector(dripFeed, "InvalidSignature"),
          );
      }
    });

    it("pays each item in its own pool's token", async () => {
      const { fx, poolId, a0, dripFeed } = await twoPools();
      const blt = (await (await ethers.getContractFactory("BlocklistToken")).deploy()) as unknown as BlocklistToken;
      await blt.mint(fx.owner.address, 50n * GLM);
      await blt.connect(fx.owner).approve(fx.dripFeedAddress, 50n * GLM);
      await dripFeed.createPool(await blt.getAddress(), saltOf("blt"));
      const poolC = await dripFeed.poolIdOf(fx.owner.address, saltOf("blt"));
      await dripFeed.fund(poolC, 50n * GLM);
      const c0 = (await openAgreement(fx, poolC, { agreementId: agreementIdOf("c0"), terms: { budget: 50n * GLM } }))
        .agreementId;
      const items = [
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 1n * GLM)),
        batchItem(await signTotal(fx.owner, fx.domain, poolC, c0, 2n * GLM)),
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 4n * GLM)),
      ];
      const provider = fx.providers[0].address;
      const [glmBefore, bltBefore] = [await fx.token.balanceOf(provider), await blt.balanceOf(provider)];
      await dripFeed.connect(fx.relay).settleBatch(items);
      expect((await fx.token.balanceOf(provider)) - glmBefore).to.equal(4n * GLM);
      expect((await blt.balanceOf(provider)) - bltBefore).to.equal(2n * GLM);
      expect((await dripFeed.getPool(poolC)).balance).to.equal(48n * GLM);
    });
  });

  describe("when one provider's payout transfer fails", () => {
    it("reports SafeERC20FailedOperation for that item, rolls it back, and pays the others", async () => {
      const fx = await deployFixture();
      const blt = (await (await ethers.getContractFactory("BlocklistToken")).deploy()) as unknown as BlocklistToken;
      await blt.mint(fx.owner.address, 300n * GLM);
      await blt.connect(fx.owner).approve(fx.dripFeedAddress, 300n * GLM);
      await fx.dripFeed.createPool(await blt.getAddress(), saltOf("blt"));
      const poolId = await fx.dripFeed.poolIdOf(fx.owner.address, saltOf("blt"));
      await fx.dripFeed.fund(poolId, 300n * GLM);
      const a0 = (await openAgreement(fx, poolId, { agreementId: agreementIdOf("a0"), provider: fx.providers[0] }))
        .agreementId;
      const a1 = (await openAgreement(fx, poolId, { agreementId: agreementIdOf("a1"), provider: fx.providers[1] }))
        .agreementId;
      await blt.setBlocked(fx.providers[0].address, true);
      const items = [
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a0, 10n * GLM)),
        batchItem(await signTotal(fx.owner, fx.domain, poolId, a1, 20n * GLM)),
      ];
      expect(await fx.dripFeed.settleBatch.staticCall(items)).to.deep.equal([0n, 20n * GLM]);
      const tx = await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settleBatch(items), {
        token: blt,
        tokens: { dripFeed: -20n * GLM, provider1: 20n * GLM },
        pools: [{ poolId, balance: -20n * GLM, locked: -20n * GLM }],
        agreements: [
          { poolId, agreementId: a0 },
          { poolId, agreementId: a1, paid: 20n * GLM, acceptedTotal: 20n * GLM },
        ],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "SettlementFailed")
        .withArgs(poolId, a0, items[0].acceptance.debitNoteId, errorSelector(fx.dripFeed, "SafeERC20FailedOperation"));
      // Once unblocked, the same acceptance settles.
      await blt.setBlocked(fx.providers[0].address, false);
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settleBatch([items[0]]), {
        token: blt,
        tokens: { dripFeed: -10n * GLM, provider0: 10n * GLM },
        pools: [{ poolId, balance: -10n * GLM, locked: -10n * GLM }],
        agreements: [{ poolId, agreementId: a0, paid: 10n * GLM, acceptedTotal: 10n * GLM }],
      });
    });
  });
});
