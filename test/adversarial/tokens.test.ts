/**
 * Hostile tokens (issue 5): fee-on-transfer, USDT-like (no return value), returning false, re-entering DripFeed,
 * and blocklisting a provider. Every money movement checks the balance change of every party.
 */
import { expect } from "chai";
import { ethers, network } from "hardhat";

import {
  type Hostile,
  acceptance,
  agreementIdOf,
  agreementState,
  createPool,
  expectMoves,
  hostileFixture,
  partiesOf,
  poolState,
  saltOf,
  signed,
  terms,
  UNDER_COVERAGE,
} from "./setup";

const SAFE_ERC20_FAILED = ethers.id("SafeERC20FailedOperation(address)").slice(0, 10);

async function increaseTime(seconds: number): Promise<void> {
  await network.provider.send("evm_increaseTime", [seconds]);
  await network.provider.send("evm_mine", []);
}

describe("adversarial: hostile tokens", () => {
  let f: Hostile;
  let parties: Record<string, string>;

  beforeEach(async () => {
    f = await hostileFixture();
    parties = await partiesOf(f);
  });

  describe("a fee-on-transfer token", () => {
    it("is refused by fund with UnsupportedToken and nobody's balance moves", async () => {
      const poolId = await createPool(f, f.owner, f.fot, "fot", 0n);
      await expectMoves(
        f.fot,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.owner).fund(poolId, 1_000n)).to.be.revertedWithCustomError(
            f.dripFeed,
            "UnsupportedToken",
          ),
        {},
      );
      expect(await poolState(f, poolId)).to.deep.equal([0n, 0n]);
    });
  });

  describe("a USDT-like token whose transfers return nothing", () => {
    it("works for the whole lifecycle: fund, open, settle, claim, terminate, release, withdraw", async () => {
      const t = f.noReturn;
      const poolId = await createPool(f, f.owner, t, "usdt", 0n);
      const agreementId = agreementIdOf("usdt");

      await expectMoves(t, parties, () => f.dripFeed.connect(f.owner).fund(poolId, 10_000n), {
        owner: -10_000n,
        dripFeed: 10_000n,
      });
      const rate = 10n * 10n ** 18n; // 10 units per second floor
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(
          poolId,
          agreementId,
          await f.providerA.getAddress(),
          terms({ budget: 6_000n, maxRate: rate * 2n, streamRate: rate }),
        );
      expect(await poolState(f, poolId)).to.deep.equal([10_000n, 6_000n]);

      // An acceptance far above the cap pays only up to the cap now.
      const message = acceptance(poolId, agreementId, 5_000n);
      const signature = await signed(f, f.owner, message);
      await network.provider.send("evm_setNextBlockTimestamp", [
        Number((await f.dripFeed.getAgreement(poolId, agreementId)).startedAt) + 100,
      ]);
      await expectMoves(t, parties, () => f.dripFeed.connect(f.relay).settle(message, parties.owner, signature), {
        dripFeed: -2_000n,
        providerA: 2_000n,
      });
      // The rest drips out at maxRate: 50 s later 1 000 more.
      await network.provider.send("evm_setNextBlockTimestamp", [
        Number((await f.dripFeed.getAgreement(poolId, agreementId)).startedAt) + 150,
      ]);
      await expectMoves(t, parties, () => f.dripFeed.connect(f.stranger).claim(poolId, agreementId), {
        dripFeed: -1_000n,
        providerA: 1_000n,
      });
      await f.dripFeed.connect(f.owner).terminate(poolId, agreementId);
      // What the cap allowed up to termination is the provider's even if it never claims it.
      const { startedAt, terminatedAt } = await f.dripFeed.getAgreement(poolId, agreementId);
      const due = 2n * 10n * (terminatedAt - startedAt) - 3_000n;
      await increaseTime(601);
      await expectMoves(t, parties, () => f.dripFeed.connect(f.stranger).release(poolId, agreementId), {
        dripFeed: -due,
        providerA: due,
      });
      // Release paid the provider first, then refunded budget - payable to the pool.
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([3n, 3_000n + due, 5_000n]);
      expect(await poolState(f, poolId)).to.deep.equal([7_000n - due, 0n]);
      await expectMoves(t, parties, () => f.dripFeed.connect(f.owner).withdraw(poolId, 7_000n - due, parties.owner), {
        dripFeed: -(7_000n - due),
        owner: 7_000n - due,
      });
      expect(await poolState(f, poolId)).to.deep.equal([0n, 0n]);
    });
  });

  describe("a token that returns false", () => {
    let poolId: string;
    let agreementId: string;

    beforeEach(async () => {
      poolId = await createPool(f, f.owner, f.falseReturn, "false", 5_000n);
      agreementId = agreementIdOf("false");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(poolId, agreementId, parties.providerA, terms({ budget: 4_000n }));
      await f.falseReturn.setFailing(true);
    });

    it("makes fund revert SafeERC20FailedOperation", async () => {
      await expectMoves(
        f.falseReturn,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.owner).fund(poolId, 1n)).to.be.revertedWithCustomError(
            f.dripFeed,
            "SafeERC20FailedOperation",
          ),
        {},
      );
    });

    it("makes settle and withdraw revert with the state intact", async () => {
      const message = acceptance(poolId, agreementId, 1_000n);
      const signature = await signed(f, f.owner, message);
      await expectMoves(
        f.falseReturn,
        parties,
        async () => {
          await expect(
            f.dripFeed.connect(f.relay).settle(message, parties.owner, signature),
          ).to.be.revertedWithCustomError(f.dripFeed, "SafeERC20FailedOperation");
          await expect(
            f.dripFeed.connect(f.owner).withdraw(poolId, 1_000n, parties.owner),
          ).to.be.revertedWithCustomError(f.dripFeed, "SafeERC20FailedOperation");
        },
        {},
      );
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, poolId)).to.deep.equal([5_000n, 4_000n]);
    });

    it("fails one settleBatch item with SafeERC20FailedOperation's selector and rolls that item back", async () => {
      const message = acceptance(poolId, agreementId, 1_000n);
      const signature = await signed(f, f.owner, message);
      await expectMoves(
        f.falseReturn,
        parties,
        async () => {
          const tx = f.dripFeed
            .connect(f.relay)
            .settleBatch([{ acceptance: message, signer: parties.owner, signature }]);
          await expect(tx)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(poolId, agreementId, message.debitNoteId, SAFE_ERC20_FAILED);
        },
        {},
      );
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, poolId)).to.deep.equal([5_000n, 4_000n]);
      // Once the token behaves, the same acceptance settles in full.
      await f.falseReturn.setFailing(false);
      await expectMoves(
        f.falseReturn,
        parties,
        () => f.dripFeed.connect(f.relay).settle(message, parties.owner, signature),
        {
          dripFeed: -1_000n,
          providerA: 1_000n,
        },
      );
    });
  });

  describe("a token that re-enters DripFeed from transfer and transferFrom", () => {
    let poolId: string;
    let agreementId: string;
    const reentryError = async (): Promise<string | undefined> => {
      const data = await f.reentrant.lastReentryReturnData();
      return f.dripFeed.interface.parseError(data)?.name;
    };

    beforeEach(async () => {
      poolId = await createPool(f, f.owner, f.reentrant, "reenter", 10_000n);
      agreementId = agreementIdOf("reenter");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(poolId, agreementId, parties.providerA, terms({ budget: 5_000n }));
    });

    it("cannot re-enter settle from the payout (the whole settle reverts, state intact)", async () => {
      const message = acceptance(poolId, agreementId, 1_000n);
      const signature = await signed(f, f.owner, message);
      const payload = f.dripFeed.interface.encodeFunctionData("settle", [message, parties.owner, signature]);
      await f.reentrant.arm(f.dripFeedAddress, payload, true);
      await expectMoves(
        f.reentrant,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.relay).settle(message, parties.owner, signature)).to.be.revertedWithCustomError(
            f.dripFeed,
            "ReentrancyGuardReentrantCall",
          ),
        {},
      );
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, poolId)).to.deep.equal([10_000n, 5_000n]);
    });

    it("cannot re-enter through any state-changing function or multicall while money moves", async () => {
      const payloads = [
        f.dripFeed.interface.encodeFunctionData("claim", [poolId, agreementId]),
        f.dripFeed.interface.encodeFunctionData("withdraw", [poolId, 1n, parties.stranger]),
        f.dripFeed.interface.encodeFunctionData("fund", [poolId, 1n]),
        f.dripFeed.interface.encodeFunctionData("release", [poolId, agreementId]),
        f.dripFeed.interface.encodeFunctionData("multicall", [
          [f.dripFeed.interface.encodeFunctionData("claim", [poolId, agreementId])],
        ]),
        // Every other state-changing entry point is guarded too (the token calls as itself).
        f.dripFeed.interface.encodeFunctionData("createPool", [await f.reentrant.getAddress(), saltOf("inside")]),
        f.dripFeed.interface.encodeFunctionData("fundWithPermit", [
          poolId,
          1n,
          0n,
          27,
          ethers.ZeroHash,
          ethers.ZeroHash,
        ]),
        f.dripFeed.interface.encodeFunctionData("setGrant", [
          poolId,
          parties.stranger,
          7,
          4_000_000_000,
          10n ** 30n,
          0n,
        ]),
        f.dripFeed.interface.encodeFunctionData("openAgreement", [
          poolId,
          agreementIdOf("inside"),
          parties.providerB,
          terms(),
        ]),
        f.dripFeed.interface.encodeFunctionData("increaseBudget", [poolId, agreementId, 1n]),
        f.dripFeed.interface.encodeFunctionData("terminate", [poolId, agreementId]),
        f.dripFeed.interface.encodeFunctionData("settleBatch", [[]]),
      ];
      let paid = 0n;
      for (const payload of payloads) {
        // Swallowed re-entry: the outer call completes normally and the re-entry is refused by the guard.
        await f.reentrant.arm(f.dripFeedAddress, payload, false);
        const next = acceptance(poolId, agreementId, paid + 100n, `dn-${paid}`);
        await expectMoves(
          f.reentrant,
          parties,
          async () => f.dripFeed.connect(f.relay).settle(next, parties.owner, await signed(f, f.owner, next)),
          { dripFeed: -100n, providerA: 100n },
        );
        paid += 100n;
        expect(await f.reentrant.reentered()).to.equal(true);
        expect(await f.reentrant.lastReentrySucceeded()).to.equal(false);
        expect(await reentryError()).to.equal("ReentrancyGuardReentrantCall");
      }
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, paid, paid]);
      expect(await poolState(f, poolId)).to.deep.equal([10_000n - paid, 5_000n - paid]);
    });

    it("cannot re-enter from fund's transferFrom or withdraw's transfer", async () => {
      await f.reentrant.arm(f.dripFeedAddress, f.dripFeed.interface.encodeFunctionData("fund", [poolId, 7n]), false);
      await expectMoves(f.reentrant, parties, () => f.dripFeed.connect(f.owner).fund(poolId, 1_000n), {
        owner: -1_000n,
        dripFeed: 1_000n,
      });
      expect(await reentryError()).to.equal("ReentrancyGuardReentrantCall");
      await f.reentrant.arm(
        f.dripFeedAddress,
        f.dripFeed.interface.encodeFunctionData("openAgreement", [
          poolId,
          agreementIdOf("x"),
          parties.providerB,
          terms(),
        ]),
        false,
      );
      await expectMoves(f.reentrant, parties, () => f.dripFeed.connect(f.owner).withdraw(poolId, 500n, parties.owner), {
        owner: 500n,
        dripFeed: -500n,
      });
      expect(await reentryError()).to.equal("ReentrancyGuardReentrantCall");
      expect(await poolState(f, poolId)).to.deep.equal([10_500n, 5_000n]);
    });
  });

  describe("a token that blocklists one provider", () => {
    let poolId: string;
    const good = agreementIdOf("good");
    const bad = agreementIdOf("bad");

    beforeEach(async () => {
      poolId = await createPool(f, f.owner, f.blocklist, "blocklist", 10_000n);
      await f.dripFeed.connect(f.owner).openAgreement(poolId, good, parties.providerA, terms({ budget: 3_000n }));
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(poolId, bad, parties.providerB, terms({ budget: 4_000n, paymentTimeout: 300 }));
      await f.blocklist.setBlocked(parties.providerB, true);
    });

    it("fails that provider's settle alone", async () => {
      const badMessage = acceptance(poolId, bad, 1_000n);
      await expectMoves(
        f.blocklist,
        parties,
        async () =>
          expect(
            f.dripFeed.connect(f.relay).settle(badMessage, parties.owner, await signed(f, f.owner, badMessage)),
          ).to.be.revertedWithCustomError(f.blocklist, "Blocked"),
        {},
      );
      const goodMessage = acceptance(poolId, good, 1_000n);
      await expectMoves(
        f.blocklist,
        parties,
        async () =>
          f.dripFeed.connect(f.relay).settle(goodMessage, parties.owner, await signed(f, f.owner, goodMessage)),
        { dripFeed: -1_000n, providerA: 1_000n },
      );
    });

    it("settles the others in a batch and reports the bad item with SafeERC20FailedOperation's selector", async () => {
      const items = [
        acceptance(poolId, good, 500n, "g1"),
        acceptance(poolId, bad, 1_000n, "b1"),
        acceptance(poolId, good, 900n, "g2"),
      ];
      const batch = await Promise.all(
        items.map(async (message) => ({
          acceptance: message,
          signer: parties.owner,
          signature: await signed(f, f.owner, message),
        })),
      );
      await expectMoves(
        f.blocklist,
        parties,
        async () => {
          const tx = f.dripFeed.connect(f.relay).settleBatch(batch);
          await expect(tx)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(poolId, bad, items[1].debitNoteId, SAFE_ERC20_FAILED);
          await expect(tx)
            .to.emit(f.dripFeed, "DebitNoteSettled")
            .withArgs(poolId, good, items[2].debitNoteId, 900n, 400n, parties.owner);
        },
        { dripFeed: -900n, providerA: 900n },
      );
      expect(await agreementState(f, poolId, good)).to.deep.equal([1n, 900n, 900n]);
      expect(await agreementState(f, poolId, bad)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, poolId)).to.deep.equal([9_100n, 6_100n]);
    });

    it("strands nothing: after the claim window the lock returns to the pool and the owner withdraws it", async () => {
      await f.dripFeed.connect(f.owner).terminate(poolId, bad);
      await expect(f.dripFeed.connect(f.relay).release(poolId, bad)).to.be.revertedWithCustomError(
        f.dripFeed,
        "ClaimWindowOpen",
      );
      await increaseTime(301);
      await expect(f.dripFeed.connect(f.relay).release(poolId, bad))
        .to.emit(f.dripFeed, "AgreementReleased")
        .withArgs(poolId, bad, 4_000n);
      expect(await poolState(f, poolId)).to.deep.equal([10_000n, 3_000n]);
      await expectMoves(
        f.blocklist,
        parties,
        () => f.dripFeed.connect(f.owner).withdraw(poolId, 7_000n, parties.owner),
        {
          dripFeed: -7_000n,
          owner: 7_000n,
        },
      );
      expect(await poolState(f, poolId)).to.deep.equal([3_000n, 3_000n]);
    });

    it("never turns a blocked provider's due into a refund: release reverts until the provider can be paid", async () => {
      const streamed = agreementIdOf("streamed");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(
          poolId,
          streamed,
          parties.providerB,
          terms({ budget: 2_000n, streamRate: 10n ** 18n, paymentTimeout: 300 }),
        );
      await increaseTime(99);
      await f.dripFeed.connect(f.owner).terminate(poolId, streamed);
      const { startedAt, terminatedAt } = await f.dripFeed.getAgreement(poolId, streamed);
      const due = terminatedAt - startedAt;
      await increaseTime(301);
      await expectMoves(
        f.blocklist,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.relay).release(poolId, streamed)).to.be.revertedWithCustomError(
            f.blocklist,
            "Blocked",
          ),
        {},
      );
      expect(await agreementState(f, poolId, streamed)).to.deep.equal([2n, 0n, 0n]);
      await f.blocklist.setBlocked(parties.providerB, false);
      await expectMoves(f.blocklist, parties, () => f.dripFeed.connect(f.relay).release(poolId, streamed), {
        dripFeed: -due,
        providerB: due,
      });
      expect(await agreementState(f, poolId, streamed)).to.deep.equal([3n, due, 0n]);
      expect(await poolState(f, poolId)).to.deep.equal([10_000n - due, 7_000n]);
    });
  });

  describe("a token that burns all the gas of a transfer to one provider", () => {
    // Gas figures: instrumented contracts use more, so these run only without coverage.
    let griefPool: string;
    let glmPool: string;
    const grief = agreementIdOf("grief");
    const honest = agreementIdOf("honest");

    beforeEach(async function () {
      if (UNDER_COVERAGE) this.skip();
      const token = await (await ethers.getContractFactory("GasGriefToken")).deploy();
      await token.mint(parties.owner, 10_000n);
      await token.connect(f.owner).approve(f.dripFeedAddress, ethers.MaxUint256);
      griefPool = await createPool(f, f.owner, token, "grief", 5_000n);
      glmPool = await createPool(f, f.owner, f.glm, "honest", 5_000n);
      await f.dripFeed.connect(f.owner).openAgreement(griefPool, grief, parties.providerB, terms({ budget: 4_000n }));
      await f.dripFeed.connect(f.owner).openAgreement(glmPool, honest, parties.providerA, terms({ budget: 4_000n }));
      await token.setVictim(parties.providerB);
    });

    async function batch(): Promise<
      { acceptance: ReturnType<typeof acceptance>; signer: string; signature: string }[]
    > {
      const items = [acceptance(griefPool, grief, 1_000n, "grief"), acceptance(glmPool, honest, 700n, "honest")];
      return Promise.all(
        items.map(async (message) => ({
          acceptance: message,
          signer: parties.owner,
          signature: await signed(f, f.owner, message),
        })),
      );
    }

    it("fails alone within ITEM_CALL_GAS, and the other pool's item settles under a normal gas limit", async () => {
      const items = await batch();
      await expectMoves(
        f.glm,
        parties,
        async () => {
          const tx = f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit: 700_000 });
          await expect(tx)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(griefPool, grief, items[0].acceptance.debitNoteId, SAFE_ERC20_FAILED);
        },
        { dripFeed: -700n, providerA: 700n },
      );
      expect(await agreementState(f, griefPool, grief)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, griefPool)).to.deep.equal([5_000n, 4_000n]);
    });

    it("reverts the whole batch (InsufficientGasForItem) when the burning item cannot get its whole allowance", async () => {
      const items = await batch();
      // Below ITEM_CALL_GAS for the first item's call: its failure could be the sender's fault, so nothing counts.
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(f.dripFeed.connect(f.relay).settleBatch(items, { gasLimit: 220_000 })).to.be.revertedWithCustomError(
            f.dripFeed,
            "InsufficientGasForItem",
          ),
        {},
      );
      expect(await agreementState(f, glmPool, honest)).to.deep.equal([1n, 0n, 0n]);
      expect(await agreementState(f, griefPool, grief)).to.deep.equal([1n, 0n, 0n]);
    });
  });

  it("keeps pools of different tokens apart (a hostile token cannot touch a GLM pool)", async () => {
    const glmPool = await createPool(f, f.owner, f.glm, "glm", 1_000n);
    const badPool = await createPool(f, f.owner, f.reentrant, "bad", 1_000n);
    await f.reentrant.arm(
      f.dripFeedAddress,
      f.dripFeed.interface.encodeFunctionData("withdraw", [glmPool, 1_000n, parties.stranger]),
      false,
    );
    await expectMoves(
      f.glm,
      parties,
      () =>
        expectMoves(f.reentrant, parties, () => f.dripFeed.connect(f.owner).withdraw(badPool, 1_000n, parties.owner), {
          dripFeed: -1_000n,
          owner: 1_000n,
        }),
      {},
    );
    expect(await f.reentrant.lastReentrySucceeded()).to.equal(false);
    expect(await poolState(f, glmPool)).to.deep.equal([1_000n, 0n]);
    expect(await f.dripFeed.poolIdOf(parties.owner, saltOf("glm"))).to.equal(glmPool);
  });
});
