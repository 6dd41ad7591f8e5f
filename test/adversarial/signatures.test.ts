/**
 * Hostile signers and callers (issue 5): ERC-1271 wallets that lie, revert or burn gas; malleable (high-s) and
 * EIP-2098 compact signatures; a front-run EIP-2612 permit. Every money movement checks every party's balance.
 */
import { expect } from "chai";
import { Signature, type Signer, concat, toBeHex } from "ethers";
import { ethers } from "hardhat";

import type { HostileERC1271Wallet } from "../../typechain-types";
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
import { PERMIT_TYPES } from "../../scripts/sdk/permit";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const INVALID_SIGNATURE = ethers.id("InvalidSignature()").slice(0, 10);

describe("adversarial: hostile signers and callers", () => {
  let f: Hostile;
  let parties: Record<string, string>;

  beforeEach(async () => {
    f = await hostileFixture();
    parties = await partiesOf(f);
  });

  describe("an ERC-1271 wallet that lies (magic value for anything)", () => {
    let wallet: HostileERC1271Wallet;
    let own: { poolId: string; agreementId: string };
    let honestPool: string;
    const honestAgreement = agreementIdOf("honest");

    beforeEach(async () => {
      wallet = await deployWallet(Mode.Lie);
      parties = await partiesOf(f, { wallet: await wallet.getAddress() });
      own = await walletPool(f, wallet, parties.providerA, "liar", 1_000n);
      honestPool = await createPool(f, f.owner, f.glm, "honest", 5_000n);
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(honestPool, honestAgreement, parties.providerB, terms({ budget: 4_000n }));
    });

    it("lets anyone settle its own pool with any bytes, but never beyond the agreement's budget", async () => {
      const message = acceptance(own.poolId, own.agreementId, 10n ** 30n);
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.stranger).settle(message, parties.wallet, "0xdeadbeef"),
        {
          dripFeed: -1_000n,
          providerA: 1_000n,
        },
      );
      expect(await poolState(f, own.poolId)).to.deep.equal([1_000n, 0n]);
    });

    it("affects no other pool: as signer there it is refused InvalidSignature and nothing moves", async () => {
      const message = acceptance(honestPool, honestAgreement, 1_000n);
      await expectMoves(
        f.glm,
        parties,
        async () => {
          await expect(
            f.dripFeed.connect(f.stranger).settle(message, parties.wallet, "0xdeadbeef"),
          ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature");
          // Nor does a garbage signature pass for the honest EOA owner.
          await expect(
            f.dripFeed.connect(f.stranger).settle(message, parties.owner, "0xdeadbeef"),
          ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature");
          const batch = f.dripFeed
            .connect(f.stranger)
            .settleBatch([{ acceptance: message, signer: parties.wallet, signature: "0x" }]);
          await expect(batch)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(honestPool, honestAgreement, message.debitNoteId, INVALID_SIGNATURE);
        },
        {},
      );
      expect(await agreementState(f, honestPool, honestAgreement)).to.deep.equal([1n, 0n, 0n]);
      expect(await poolState(f, honestPool)).to.deep.equal([5_000n, 4_000n]);
    });

    it("is still bounded by the rate cap of its own agreements", async () => {
      const capped = await walletPool(f, wallet, parties.providerB, "liar-capped", 100_000n, 10n * 10n ** 18n);
      const message = acceptance(capped.poolId, capped.agreementId, 100_000n);
      const before = (await f.dripFeed.getAgreement(capped.poolId, capped.agreementId)).startedAt;
      await ethers.provider.send("evm_setNextBlockTimestamp", [Number(before) + 30]);
      await expectMoves(f.glm, parties, () => f.dripFeed.connect(f.stranger).settle(message, parties.wallet, "0x00"), {
        dripFeed: -300n,
        providerB: 300n,
      });
    });
  });

  describe("an ERC-1271 wallet that reverts", () => {
    it("is refused InvalidSignature by settle and reported InvalidSignature in a batch", async () => {
      const wallet = await deployWallet(Mode.Revert);
      parties = await partiesOf(f, { wallet: await wallet.getAddress() });
      const { poolId, agreementId } = await walletPool(f, wallet, parties.providerA, "reverter", 1_000n);
      const message = acceptance(poolId, agreementId, 500n);
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
            .withArgs(poolId, agreementId, message.debitNoteId, INVALID_SIGNATURE);
        },
        {},
      );
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, 0n, 0n]);
    });
  });

  describe("an ERC-1271 wallet that burns all the gas it is given", () => {
    let wallet: HostileERC1271Wallet;
    let own: { poolId: string; agreementId: string };

    beforeEach(async () => {
      wallet = await deployWallet(Mode.BurnGas);
      parties = await partiesOf(f, { wallet: await wallet.getAddress() });
      own = await walletPool(f, wallet, parties.providerA, "burner", 1_000n);
    });

    it("is refused InvalidSignature by settle (the 1/64 left after the check is enough to revert)", async () => {
      const message = acceptance(own.poolId, own.agreementId, 500n);
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(
            f.dripFeed.connect(f.relay).settle(message, parties.wallet, "0x01", { gasLimit: 3_000_000 }),
          ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature"),
        {},
      );
    });

    it("fails alone in a batch given enough gas, and the other items settle", async function () {
      // Depends on gas: instrumented contracts use more, so this runs only without coverage.
      if (UNDER_COVERAGE) this.skip();
      const honestPool = await createPool(f, f.owner, f.glm, "honest", 5_000n);
      const honestAgreement = agreementIdOf("honest");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(honestPool, honestAgreement, parties.providerB, terms({ budget: 4_000n }));
      const bad = acceptance(own.poolId, own.agreementId, 500n, "bad");
      const good = acceptance(honestPool, honestAgreement, 700n, "good");
      await expectMoves(
        f.glm,
        parties,
        async () => {
          const tx = f.dripFeed.connect(f.relay).settleBatch(
            [
              { acceptance: bad, signer: parties.wallet, signature: "0x01" },
              { acceptance: good, signer: parties.owner, signature: await signed(f, f.owner, good) },
            ],
            { gasLimit: 500_000 },
          );
          await expect(tx)
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(own.poolId, own.agreementId, bad.debitNoteId, INVALID_SIGNATURE);
          await expect(tx).to.emit(f.dripFeed, "DebitNoteSettled");
        },
        { dripFeed: -700n, providerB: 700n },
      );
    });

    it("reverts a batch as a whole (InsufficientGasForItem) when too little gas is left for its allowance", async function () {
      if (UNDER_COVERAGE) this.skip();
      const bad = acceptance(own.poolId, own.agreementId, 500n, "bad");
      const second = acceptance(own.poolId, own.agreementId, 600n, "bad2");
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(
            f.dripFeed.connect(f.relay).settleBatch(
              [
                { acceptance: bad, signer: parties.wallet, signature: "0x01" },
                { acceptance: second, signer: parties.wallet, signature: "0x01" },
              ],
              { gasLimit: 200_000 },
            ),
          ).to.be.revertedWithCustomError(f.dripFeed, "InsufficientGasForItem"),
        {},
      );
    });
  });

  describe("malformed ECDSA signatures", () => {
    let poolId: string;
    const agreementId = agreementIdOf("ecdsa");

    beforeEach(async () => {
      poolId = await createPool(f, f.owner, f.glm, "ecdsa", 5_000n);
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(poolId, agreementId, parties.providerA, terms({ budget: 4_000n }));
    });

    async function refused(message: ReturnType<typeof acceptance>, signature: string): Promise<void> {
      await expectMoves(
        f.glm,
        parties,
        async () => {
          await expect(
            f.dripFeed.connect(f.relay).settle(message, parties.owner, signature),
          ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature");
          await expect(
            f.dripFeed.connect(f.relay).settleBatch([{ acceptance: message, signer: parties.owner, signature }]),
          )
            .to.emit(f.dripFeed, "SettlementFailed")
            .withArgs(poolId, agreementId, message.debitNoteId, INVALID_SIGNATURE);
        },
        {},
      );
      expect(await agreementState(f, poolId, agreementId)).to.deep.equal([1n, 0n, 0n]);
    }

    it("refuses the malleable high-s twin of a valid signature, and accepts the original", async () => {
      const message = acceptance(poolId, agreementId, 1_000n);
      const signature = await signed(f, f.owner, message);
      const sig = Signature.from(signature);
      const highS = SECP256K1_N - BigInt(sig.s);
      const twin = concat([sig.r, toBeHex(highS, 32), sig.v === 27 ? "0x1c" : "0x1b"]);
      await refused(message, twin);
      await expectMoves(f.glm, parties, () => f.dripFeed.connect(f.relay).settle(message, parties.owner, signature), {
        dripFeed: -1_000n,
        providerA: 1_000n,
      });
    });

    it("refuses a 64-byte EIP-2098 compact signature", async () => {
      const message = acceptance(poolId, agreementId, 1_000n);
      const compact = Signature.from(await signed(f, f.owner, message)).compactSerialized;
      expect(ethers.getBytes(compact).length).to.equal(64);
      await refused(message, compact);
    });
  });

  describe("fundWithPermit against a front-runner", () => {
    async function permit(
      holder: Signer,
      value: bigint,
      deadline: bigint,
    ): Promise<{ v: number; r: string; s: string }> {
      const domain = {
        name: await f.glm.name(),
        version: "1",
        chainId: f.chainId,
        verifyingContract: await f.glm.getAddress(),
      };
      const types = PERMIT_TYPES;
      const holderAddress = await holder.getAddress();
      const message = {
        owner: holderAddress,
        spender: f.dripFeedAddress,
        value,
        nonce: await f.glm.nonces(holderAddress),
        deadline,
      };
      const sig = Signature.from(await holder.signTypedData(domain, types, message));
      return { v: sig.v, r: sig.r, s: sig.s };
    }

    let poolId: string;

    beforeEach(async () => {
      // The grantee account has never approved DripFeed: only the permit can give it allowance.
      await f.glm.mint(parties.grantee, 10_000n);
      poolId = await createPool(f, f.owner, f.glm, "permit", 0n);
    });

    it("still funds when the permit was already used by someone else", async () => {
      const { v, r, s } = await permit(f.grantee, 3_000n, 4_102_444_800n);
      await f.glm.connect(f.relay).permit(parties.grantee, f.dripFeedAddress, 3_000n, 4_102_444_800n, v, r, s);
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.grantee).fundWithPermit(poolId, 3_000n, 4_102_444_800n, v, r, s),
        { grantee: -3_000n, dripFeed: 3_000n },
      );
      expect(await poolState(f, poolId)).to.deep.equal([3_000n, 0n]);
    });

    it("funds with a fresh permit, and reverts (nothing moves) when the permit fails and allowance is short", async () => {
      const { v, r, s } = await permit(f.grantee, 2_000n, 4_102_444_800n);
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.grantee).fundWithPermit(poolId, 2_000n, 4_102_444_800n, v, r, s),
        { grantee: -2_000n, dripFeed: 2_000n },
      );
      // Replaying the used permit for more than the (now spent) allowance.
      await expectMoves(
        f.glm,
        parties,
        async () =>
          expect(
            f.dripFeed.connect(f.grantee).fundWithPermit(poolId, 2_000n, 4_102_444_800n, v, r, s),
          ).to.be.revertedWithCustomError(f.glm, "ERC20InsufficientAllowance"),
        {},
      );
      expect(await poolState(f, poolId)).to.deep.equal([2_000n, 0n]);
    });
  });
});
