/**
 * Protocol 1.1: `settleBatch` gives each item's external calls at most ITEM_CALL_GAS, so a token or an ERC-1271
 * wallet that burns gas fails its own item and nothing else; a batch sent with too little gas reverts as a whole
 * instead of failing an honest item. Every money movement checks every party's balance.
 */
import { expect } from "chai";
import { ethers } from "hardhat";

import type { GasGriefToken } from "../../typechain-types";
import type { SignedAcceptanceStruct } from "../../typechain-types/contracts/DripFeed";
import {
  type Hostile,
  Mode,
  UNDER_COVERAGE,
  acceptance,
  agreementIdOf,
  agreementState,
  createPool,
  deployWallet,
  expectMoves,
  hostileFixture,
  partiesOf,
  poolState,
  signed,
  terms,
  walletPool,
} from "./setup";

const HONEST_ITEMS = 30;
const PAY = 100n;
const SAFE_ERC20_FAILED = ethers.id("SafeERC20FailedOperation(address)").slice(0, 10);
const INVALID_SIGNATURE = ethers.id("InvalidSignature()").slice(0, 10);
/** What a relay would call a normal limit for 31 items: far below a block, far above the honest items' need. */
const NORMAL_GAS_LIMIT = 3_000_000;

describe("adversarial: the per-item gas cap of settleBatch", () => {
  let f: Hostile;
  let parties: Record<string, string>;
  let honestPool: string;
  let honest: SignedAcceptanceStruct[];

  beforeEach(async function () {
    // Gas figures change under coverage instrumentation.
    if (UNDER_COVERAGE) this.skip();
    f = await hostileFixture();
    parties = await partiesOf(f);
    honestPool = await createPool(f, f.owner, f.glm, "honest", 100_000n);
    honest = [];
    const provider = parties.providerA;
    for (let i = 0; i < HONEST_ITEMS; i++) {
      const agreementId = agreementIdOf(`honest-${i}`);
      await f.dripFeed.connect(f.owner).openAgreement(honestPool, agreementId, provider, terms({ budget: 1_000n }));
      const message = acceptance(honestPool, agreementId, PAY, `honest-${i}`);
      honest.push({ acceptance: message, signer: parties.owner, signature: await signed(f, f.owner, message) });
    }
  });

  /** Checks that every honest agreement was paid `PAY` exactly once. */
  async function expectHonestPaid(paid: bigint): Promise<void> {
    for (const item of honest) {
      const a = item.acceptance as { agreementId: string };
      expect(await agreementState(f, honestPool, a.agreementId)).to.deep.equal([1n, paid, paid === 0n ? 0n : PAY]);
    }
  }

  describe("when the first item's token burns all the gas of its transfer", () => {
    let grief: GasGriefToken;
    let griefPool: string;
    let griefItem: SignedAcceptanceStruct;
    const griefAgreement = agreementIdOf("grief");

    beforeEach(async () => {
      grief = await (await ethers.getContractFactory("GasGriefToken")).deploy();
      await grief.mint(parties.owner, 10_000n);
      await grief.connect(f.owner).approve(f.dripFeedAddress, ethers.MaxUint256);
      griefPool = await createPool(f, f.owner, grief, "grief", 5_000n);
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(griefPool, griefAgreement, parties.providerB, terms({ budget: 4_000n }));
      await grief.setVictim(parties.providerB);
      const message = acceptance(griefPool, griefAgreement, 1_000n, "grief");
      griefItem = { acceptance: message, signer: parties.owner, signature: await signed(f, f.owner, message) };
    });

    it("fails that item alone and settles every honest item within a normal gas limit", async () => {
      const items = [griefItem, ...honest];
      const estimate = await f.dripFeed.connect(f.relay).settleBatch.estimateGas(items);
      expect(estimate < BigInt(NORMAL_GAS_LIMIT)).to.equal(true);
      await expectMoves(
        f.glm,
        parties,
        async () => {
          const tx = f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit: estimate });
          await expect(tx)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(griefPool, griefAgreement, griefItem.acceptance.debitNoteId, SAFE_ERC20_FAILED);
          const receipt = await (await tx).wait();
          const settled = receipt!.logs.filter(
            (log) => f.dripFeed.interface.parseLog(log)?.name === "DebitNoteSettled",
          );
          expect(settled.length).to.equal(HONEST_ITEMS);
        },
        { dripFeed: -PAY * BigInt(HONEST_ITEMS), providerA: PAY * BigInt(HONEST_ITEMS) },
      );
      await expectHonestPaid(PAY);
      // The failed item changed nothing in its own pool either.
      expect(await agreementState(f, griefPool, griefAgreement)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, griefPool)).to.deep.equal([5_000n, 4_000n]);
      expect(await grief.balanceOf(parties.providerB)).to.equal(0n);
    });

    it("never fails an honest item at any gas limit: the batch either reverts or pays them all", async () => {
      const items = [griefItem, ...honest];
      const estimate = await f.dripFeed.connect(f.relay).settleBatch.estimateGas(items);
      let reverted = 0;
      for (let gasLimit = estimate - 400_000n; gasLimit <= estimate + 20_000n; gasLimit += 7_919n) {
        try {
          const paid = await f.dripFeed.connect(f.relay).settleBatch.staticCall(items, { gasLimit });
          expect(paid, `paid at gas limit ${gasLimit}`).to.deep.equal([0n, ...honest.map(() => PAY)]);
        } catch (error) {
          reverted++;
          expect(String(error), `revert at gas limit ${gasLimit}`).to.match(/InsufficientGasForItem|out of gas/i);
        }
      }
      expect(reverted).to.be.greaterThan(0);
    });

    it("reverts as a whole (InsufficientGasForItem) when the burning item cannot get its allowance", async () => {
      // The burning item last: below the estimate its call gets less than ITEM_CALL_GAS, so its failure could be
      // the sender's fault, and the batch reverts rather than charge the item.
      const items = [...honest, griefItem];
      const gasLimit = (await f.dripFeed.connect(f.relay).settleBatch.estimateGas(items)) - 20_000n;
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit })).to.be.revertedWithCustomError(
            f.dripFeed,
            "InsufficientGasForItem",
          ),
        {},
      );
      await expectHonestPaid(0n);
      expect(await poolState(f, griefPool)).to.deep.equal([5_000n, 4_000n]);
    });

    it("reverts as a whole when the gas runs out before the end, and nothing moves", async () => {
      const items = [griefItem, ...honest];
      const gasLimit = (await f.dripFeed.connect(f.relay).settleBatch.estimateGas(items)) - 20_000n;
      await expectMoves(
        f.glm,
        parties,
        async () => expect(f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit })).to.be.reverted,
        {},
      );
      await expectHonestPaid(0n);
    });
  });

  describe("when the first item's signer is an ERC-1271 wallet that burns all the gas it is given", () => {
    it("fails that item alone (InvalidSignature) and settles every honest item within a normal gas limit", async () => {
      const wallet = await deployWallet(Mode.BurnGas);
      parties = await partiesOf(f, { wallet: await wallet.getAddress() });
      const own = await walletPool(f, wallet, parties.providerB, "burner", 1_000n);
      const bad = acceptance(own.poolId, own.agreementId, 500n, "bad");
      const items = [{ acceptance: bad, signer: parties.wallet, signature: "0x01" }, ...honest];
      const estimate = await f.dripFeed.connect(f.relay).settleBatch.estimateGas(items);
      expect(estimate < BigInt(NORMAL_GAS_LIMIT)).to.equal(true);
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit: NORMAL_GAS_LIMIT }))
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(own.poolId, own.agreementId, bad.debitNoteId, INVALID_SIGNATURE),
        { dripFeed: -PAY * BigInt(HONEST_ITEMS), providerA: PAY * BigInt(HONEST_ITEMS) },
      );
      await expectHonestPaid(PAY);
      expect(await agreementState(f, own.poolId, own.agreementId)).to.deep.equal([1n, 0n, 0n]);
    });
  });

  describe("when a wallet answers the magic selector with non-zero padding", () => {
    it("is refused InvalidSignature by settle and by settleBatch (the whole word must match)", async () => {
      const wallet = await deployWallet(Mode.DirtyMagic);
      parties = await partiesOf(f, { wallet: await wallet.getAddress() });
      const own = await walletPool(f, wallet, parties.providerB, "dirty", 1_000n);
      const message = acceptance(own.poolId, own.agreementId, 500n, "dirty");
      await expectMoves(
        f.glm,
        parties,
        async () => {
          await expect(
            f.dripFeed.connect(f.relay).settle(message, parties.wallet, "0x01"),
          ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature");
          await expect(
            f.dripFeed
              .connect(f.relay)
              .settleBatch([{ acceptance: message, signer: parties.wallet, signature: "0x01" }]),
          )
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(own.poolId, own.agreementId, message.debitNoteId, INVALID_SIGNATURE);
        },
        {},
      );
    });
  });
});
