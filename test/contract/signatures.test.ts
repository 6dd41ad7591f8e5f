import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { setBalance, setCode } from "@nomicfoundation/hardhat-network-helpers";
import { expect } from "chai";
import { MaxUint256, Wallet, computeAddress, keccak256, parseEther, toUtf8Bytes } from "ethers";
import { ethers } from "hardhat";

import { parseAcceptanceJson } from "../../scripts/sdk/acceptance";
import { debitNoteIdHash } from "../../scripts/sdk/ids";
import {
  type DripFeed,
  DripFeed__factory,
  type MockERC1271Wallet,
  MockERC1271Wallet__factory,
  MockGLM__factory,
} from "../../typechain-types";
import {
  ACCEPT,
  ACCEPT_NOTICE,
  type AcceptanceVectors,
  type DripFeedFixture,
  GLM,
  OPEN,
  TERMINATE,
  acceptanceOf,
  agreementIdOf,
  atTime,
  createFundedPool,
  deployFixture,
  digestOf,
  expectDeltas,
  loadVector,
  now,
  openAgreement,
  saltOf,
  settleArgs,
  setupPool,
  sign,
  signTotal,
  terms,
  termsStruct,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

async function deployWallet(fx: DripFeedFixture, key: HardhatEthersSigner): Promise<MockERC1271Wallet> {
  const wallet = await new MockERC1271Wallet__factory(fx.deployer).deploy(key.address);
  await wallet.waitForDeployment();
  return wallet;
}

describe("signatures", () => {
  describe("when the pool owner is an ERC-1271 contract wallet", () => {
    async function walletPool() {
      const fx = await deployFixture();
      const key = fx.stranger; // the wallet's owner EOA
      const wallet = await deployWallet(fx, key);
      const walletAddress = await wallet.getAddress();
      const df = fx.dripFeed.interface;
      await fx.token.mint(walletAddress, 100n * GLM);
      await wallet
        .connect(key)
        .execute(fx.tokenAddress, fx.token.interface.encodeFunctionData("approve", [fx.dripFeedAddress, MaxUint256]));
      const salt = saltOf("safe");
      const poolId = await fx.dripFeed.poolIdOf(walletAddress, salt);
      const id = agreementIdOf("safe-a");
      await wallet
        .connect(key)
        .execute(fx.dripFeedAddress, df.encodeFunctionData("createPool", [fx.tokenAddress, salt]));
      await wallet.connect(key).execute(fx.dripFeedAddress, df.encodeFunctionData("fund", [poolId, 100n * GLM]));
      await wallet
        .connect(key)
        .execute(
          fx.dripFeedAddress,
          df.encodeFunctionData("openAgreement", [
            poolId,
            id,
            fx.providers[0].address,
            termsStruct(terms({ budget: 50n * GLM })),
          ]),
        );
      return { fx, key, wallet, walletAddress, poolId, id };
    }

    it("settles an acceptance its owner key signed, with the wallet as signer", async () => {
      const { fx, key, walletAddress, poolId, id } = await walletPool();
      const s = await signTotal(key, fx.domain, poolId, id, 8n * GLM, { as: walletAddress });
      const tx = await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
        extraParties: { wallet: walletAddress },
        tokens: { dripFeed: -8n * GLM, provider0: 8n * GLM },
        pools: [{ poolId, balance: -8n * GLM, locked: -8n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 8n * GLM, acceptedTotal: 8n * GLM }],
      });
      await expect(tx)
        .to.emit(fx.dripFeed, "DebitNoteSettled")
        .withArgs(poolId, id, s.acceptance.debitNoteId, 8n * GLM, 8n * GLM, walletAddress);
    });

    it("reverts InvalidSignature when another key signed for the wallet", async () => {
      const { fx, walletAddress, poolId, id } = await walletPool();
      const s = await signTotal(fx.owner, fx.domain, poolId, id, 8n * GLM, { as: walletAddress });
      await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(fx.dripFeed, "InvalidSignature");
    });

    it("reverts InvalidSignature when the wallet's key names itself as signer (it is not the owner)", async () => {
      const { fx, key, poolId, id } = await walletPool();
      const s = await signTotal(key, fx.domain, poolId, id, 8n * GLM);
      await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(fx.dripFeed, "InvalidSignature");
    });

    it("lets the wallet withdraw and grant like any owner", async () => {
      const { fx, key, wallet, walletAddress, poolId } = await walletPool();
      const df = fx.dripFeed.interface;
      await expectDeltas(
        fx,
        () =>
          wallet
            .connect(key)
            .execute(fx.dripFeedAddress, df.encodeFunctionData("withdraw", [poolId, 50n * GLM, walletAddress])),
        {
          extraParties: { wallet: walletAddress },
          tokens: { dripFeed: -50n * GLM, wallet: 50n * GLM },
          pools: [{ poolId, balance: -50n * GLM }],
        },
      );
      await wallet
        .connect(key)
        .execute(
          fx.dripFeedAddress,
          df.encodeFunctionData("setGrant", [poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n]),
        );
      expect((await fx.dripFeed.grantOf(poolId, fx.grantee.address))[0]).to.equal(ACCEPT);
    });
  });

  describe("when the ACCEPT grantee is an ERC-1271 contract wallet", () => {
    it("settles an acceptance the wallet's key signed, within the notice after revocation, and not after", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx);
      const id = agreements[0].agreementId;
      const wallet = await deployWallet(fx, fx.grantee);
      const walletAddress = await wallet.getAddress();
      await fx.dripFeed.setGrant(poolId, walletAddress, ACCEPT, FOREVER, 0n, 0n);
      const s1 = await signTotal(fx.grantee, fx.domain, poolId, id, 5n * GLM, { as: walletAddress });
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s1)), {
        extraParties: { wallet: walletAddress },
        tokens: { dripFeed: -5n * GLM, provider0: 5n * GLM },
        pools: [{ poolId, balance: -5n * GLM, locked: -5n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 5n * GLM, acceptedTotal: 5n * GLM }],
      });
      const s2 = await signTotal(fx.grantee, fx.domain, poolId, id, 9n * GLM, { as: walletAddress });
      const s3 = await signTotal(fx.grantee, fx.domain, poolId, id, 12n * GLM, { as: walletAddress });
      await fx.dripFeed.setGrant(poolId, walletAddress, 0, 0n, 0n, 0n);
      const revokedAt = await now();
      await atTime(revokedAt + ACCEPT_NOTICE);
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s2)), {
        extraParties: { wallet: walletAddress },
        tokens: { dripFeed: -4n * GLM, provider0: 4n * GLM },
        pools: [{ poolId, balance: -4n * GLM, locked: -4n * GLM }],
        agreements: [{ poolId, agreementId: id, paid: 4n * GLM, acceptedTotal: 4n * GLM }],
      });
      await atTime(revokedAt + ACCEPT_NOTICE + 1n);
      await expect(fx.dripFeed.settle(...settleArgs(s3))).to.be.revertedWithCustomError(
        fx.dripFeed,
        "InvalidSignature",
      );
    });
  });

  describe("replays", () => {
    async function twoAgreements() {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx, { agreements: [{}, {}] });
      return { fx, poolId, a0: agreements[0].agreementId, a1: agreements[1].agreementId };
    }

    describe("when an acceptance for one agreement is submitted for another", () => {
      it("reverts InvalidSignature, and the original still pays only its own provider", async () => {
        const { fx, poolId, a0, a1 } = await twoAgreements();
        const s = await signTotal(fx.owner, fx.domain, poolId, a0, 6n * GLM);
        await expect(
          fx.dripFeed.settle({ ...s.acceptance, agreementId: a1 }, s.signer, s.signature),
        ).to.be.revertedWithCustomError(fx.dripFeed, "InvalidSignature");
        await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
          tokens: { dripFeed: -6n * GLM, provider0: 6n * GLM },
          pools: [{ poolId, balance: -6n * GLM, locked: -6n * GLM }],
          agreements: [
            { poolId, agreementId: a0, paid: 6n * GLM, acceptedTotal: 6n * GLM },
            { poolId, agreementId: a1 },
          ],
        });
      });
    });

    describe("when an acceptance for one pool is submitted for another pool of the same owner", () => {
      it("reverts InvalidSignature", async () => {
        const fx = await deployFixture();
        const id = agreementIdOf("same-id");
        const p1 = await createFundedPool(fx, { salt: saltOf("p1") });
        const p2 = await createFundedPool(fx, { salt: saltOf("p2") });
        await openAgreement(fx, p1, { agreementId: id });
        await openAgreement(fx, p2, { agreementId: id });
        const s = await signTotal(fx.owner, fx.domain, p1, id, GLM);
        await expect(
          fx.dripFeed.settle({ ...s.acceptance, poolId: p2 }, s.signer, s.signature),
        ).to.be.revertedWithCustomError(fx.dripFeed, "InvalidSignature");
      });
    });

    describe("when the acceptance was signed for another chain", () => {
      it("reverts InvalidSignature", async () => {
        const { fx, poolId, a0 } = await twoAgreements();
        for (const chainId of [1n, 137n, fx.chainId + 1n]) {
          const s = await signTotal(fx.owner, { ...fx.domain, chainId }, poolId, a0, GLM);
          await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(
            fx.dripFeed,
            "InvalidSignature",
          );
        }
      });
    });

    describe("when the acceptance was signed for another DripFeed contract", () => {
      it("is refused here and accepted by the contract it names", async () => {
        const { fx, poolId, a0 } = await twoAgreements();
        // From the compiled artifact (what deploy/ uses), not a possibly older typechain copy of the bytecode.
        const other = (await (
          await ethers.getContractFactory("DripFeed", fx.deployer)
        ).deploy()) as unknown as DripFeed;
        const otherAddress = await other.getAddress();
        // The same pool and agreement ids on the other contract (pool ids do not depend on the contract).
        await fx.token.connect(fx.owner).approve(otherAddress, MaxUint256);
        await other.connect(fx.owner).createPool(fx.tokenAddress, saltOf("pool"));
        await other.connect(fx.owner).fund(poolId, 100n * GLM);
        await other.connect(fx.owner).openAgreement(poolId, a0, fx.providers[0].address, termsStruct(terms()));
        const s = await signTotal(
          fx.owner,
          { chainId: fx.chainId, verifyingContract: otherAddress },
          poolId,
          a0,
          3n * GLM,
        );
        await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(
          fx.dripFeed,
          "InvalidSignature",
        );
        await expectDeltas(fx, () => other.connect(fx.relay).settle(...settleArgs(s)), {
          extraParties: { other: otherAddress },
          tokens: { other: -3n * GLM, provider0: 3n * GLM },
          pools: [{ poolId }],
        });
      });
    });

    describe("when a settled acceptance is replayed", () => {
      it("reverts NothingToSettle and pays nothing twice", async () => {
        const { fx, poolId, a0 } = await twoAgreements();
        const s = await signTotal(fx.owner, fx.domain, poolId, a0, 4n * GLM);
        await fx.dripFeed.connect(fx.relay).settle(...settleArgs(s));
        for (const submitter of [fx.relay, fx.providers[0], fx.stranger]) {
          await expect(fx.dripFeed.connect(submitter).settle(...settleArgs(s))).to.be.revertedWithCustomError(
            fx.dripFeed,
            "NothingToSettle",
          );
        }
        expect((await fx.dripFeed.getAgreement(poolId, a0)).paid).to.equal(4n * GLM);
      });
    });
  });

  describe("deadlines", () => {
    it("refuses an owner's or a grantee's acceptance after its deadline (SignatureExpired)", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx);
      const id = agreements[0].agreementId;
      await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n);
      const deadline = (await now()) + 100n;
      const byOwner = await signTotal(fx.owner, fx.domain, poolId, id, GLM, { deadline });
      const byGrantee = await signTotal(fx.grantee, fx.domain, poolId, id, 2n * GLM, { deadline });
      await atTime(deadline + 1n);
      for (const s of [byOwner, byGrantee]) {
        await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(
          fx.dripFeed,
          "SignatureExpired",
        );
      }
    });
  });

  describe("grants are checked when an acceptance is settled", () => {
    async function granted(validUntil = FOREVER) {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx);
      const id = agreements[0].agreementId;
      await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, validUntil, 0n, 0n);
      return { fx, poolId, id };
    }

    describe("when the grant is revoked before settlement", () => {
      it("settles the grantee's acceptance until ACCEPT_NOTICE after the revocation, then voids it", async () => {
        const { fx, poolId, id } = await granted();
        const s3 = await signTotal(fx.grantee, fx.domain, poolId, id, 3n * GLM);
        const s5 = await signTotal(fx.grantee, fx.domain, poolId, id, 5n * GLM);
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, 0, 0n, 0n, 0n);
        const revokedAt = await now();
        await atTime(revokedAt + ACCEPT_NOTICE);
        await expectDeltas(fx, () => fx.dripFeed.settle(...settleArgs(s3)), {
          tokens: { dripFeed: -3n * GLM, provider0: 3n * GLM },
          pools: [{ poolId, balance: -3n * GLM, locked: -3n * GLM }],
          agreements: [{ poolId, agreementId: id, paid: 3n * GLM, acceptedTotal: 3n * GLM }],
        });
        await atTime(revokedAt + ACCEPT_NOTICE + 1n);
        await expect(fx.dripFeed.settle(...settleArgs(s5))).to.be.revertedWithCustomError(
          fx.dripFeed,
          "InvalidSignature",
        );
      });

      it("gives the same notice when ACCEPT is replaced by other permissions (which count at once)", async () => {
        const { fx, poolId, id } = await granted();
        const s = await signTotal(fx.grantee, fx.domain, poolId, id, 3n * GLM);
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, TERMINATE | OPEN, FOREVER, GLM, 0n);
        const changedAt = await now();
        expect(await fx.dripFeed.acceptValidUntil(poolId, fx.grantee.address)).to.equal(changedAt + ACCEPT_NOTICE);
        await atTime(changedAt + ACCEPT_NOTICE + 1n);
        await expect(fx.dripFeed.settle(...settleArgs(s))).to.be.revertedWithCustomError(
          fx.dripFeed,
          "InvalidSignature",
        );
      });
    });

    describe("when the grant expires before settlement", () => {
      it("settles up to validUntil and voids the acceptance one second later", async () => {
        const fx = await deployFixture();
        const validUntil = (await now()) + 1000n;
        const { poolId, agreements } = await setupPool(fx);
        const id = agreements[0].agreementId;
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, validUntil, 0n, 0n);
        const s1 = await signTotal(fx.grantee, fx.domain, poolId, id, GLM);
        const s2 = await signTotal(fx.grantee, fx.domain, poolId, id, 2n * GLM);
        await atTime(validUntil);
        await expect(fx.dripFeed.settle(...settleArgs(s1))).to.emit(fx.dripFeed, "DebitNoteSettled");
        await atTime(validUntil + 1n);
        await expect(fx.dripFeed.settle(...settleArgs(s2))).to.be.revertedWithCustomError(
          fx.dripFeed,
          "InvalidSignature",
        );
      });
    });

    describe("when the grant is restored", () => {
      it("makes the grantee's earlier acceptance settle again", async () => {
        const { fx, poolId, id } = await granted();
        const s = await signTotal(fx.grantee, fx.domain, poolId, id, 3n * GLM);
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, 0, 0n, 0n, 0n);
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, ACCEPT, FOREVER, 0n, 0n);
        await expect(fx.dripFeed.settle(...settleArgs(s))).to.emit(fx.dripFeed, "DebitNoteSettled");
      });
    });

    describe("when the owner signed", () => {
      it("never expires through grants: it settles after grants are revoked and long after", async () => {
        const { fx, poolId, id } = await granted((await now()) + 10n);
        const s = await signTotal(fx.owner, fx.domain, poolId, id, 3n * GLM);
        await fx.dripFeed.setGrant(poolId, fx.grantee.address, 0, 0n, 0n, 0n);
        await atTime((await now()) + 365n * 86_400n);
        await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
          tokens: { dripFeed: -3n * GLM, provider0: 3n * GLM },
          pools: [{ poolId, balance: -3n * GLM, locked: -3n * GLM }],
          agreements: [{ poolId, agreementId: id, paid: 3n * GLM, acceptedTotal: 3n * GLM }],
        });
      });
    });
  });

  describe("test/vectors/acceptances.json, verified on-chain", () => {
    const vectors = loadVector<AcceptanceVectors>("acceptances.json");
    const ownerKey = keccak256(toUtf8Bytes(vectors.keys.owner));
    const granteeKey = keccak256(toUtf8Bytes(vectors.keys.grantee));

    /** DripFeed's runtime code placed at the vector's verifyingContract (EIP712 rebuilds its separator there). */
    async function vectorDripFeed() {
      const fx = await deployFixture();
      const address = vectors.domain.verifyingContract;
      await setCode(address, await ethers.provider.getCode(fx.dripFeedAddress));
      const dripFeed = DripFeed__factory.connect(address, fx.relay);
      return { fx, address, dripFeed };
    }

    it("names keys whose addresses are the vector signers", () => {
      expect(computeAddress(ownerKey)).to.equal(vectors.cases[0].signer);
      expect(computeAddress(granteeKey)).to.equal(vectors.cases[1].signer);
    });

    it("has a domain whose chain and contract match eip712Domain() at that address", async () => {
      const { fx, address, dripFeed } = await vectorDripFeed();
      const d = await dripFeed.eip712Domain();
      expect([d.name, d.version, d.chainId, d.verifyingContract]).to.deep.equal([
        vectors.domain.name,
        vectors.domain.version,
        BigInt(vectors.domain.chainId),
        address,
      ]);
      expect(fx.chainId).to.equal(BigInt(vectors.domain.chainId));
    });

    it("gives the vector digests from acceptanceDigest on-chain and from the SDK", async () => {
      const { address, dripFeed } = await vectorDripFeed();
      for (const c of vectors.cases) {
        const acceptance = {
          ...c.acceptance,
          totalAccepted: BigInt(c.acceptance.totalAccepted),
          deadline: BigInt(c.acceptance.deadline),
        };
        expect(acceptance.debitNoteId).to.equal(debitNoteIdHash(c.golemDebitNoteId));
        expect(await dripFeed.acceptanceDigest(acceptance), c.signerRole).to.equal(c.digest);
        expect(digestOf({ chainId: BigInt(vectors.domain.chainId), verifyingContract: address }, acceptance)).to.equal(
          c.digest,
        );
      }
    });

    it("reproduces the vector signatures with the SDK (RFC 6979 deterministic)", async () => {
      for (const [c, key] of [
        [vectors.cases[0], ownerKey],
        [vectors.cases[1], granteeKey],
      ] as const) {
        const acceptance = {
          ...c.acceptance,
          totalAccepted: BigInt(c.acceptance.totalAccepted),
          deadline: BigInt(c.acceptance.deadline),
        };
        const s = await sign(
          new Wallet(key),
          { chainId: BigInt(vectors.domain.chainId), verifyingContract: vectors.domain.verifyingContract },
          acceptance,
        );
        expect(s.signature).to.equal(c.signature);
        expect(s.signer).to.equal(c.signer);
      }
    });

    it("creates the vector pool and settles both vector signatures", async () => {
      const { fx, address, dripFeed } = await vectorDripFeed();
      const owner = new Wallet(ownerKey, ethers.provider);
      const granteeAddress = computeAddress(granteeKey);
      await setBalance(owner.address, parseEther("10"));
      // A fresh token: the fixture's MockGLM lived at the vector address and was just replaced.
      const token = await new MockGLM__factory(fx.deployer).deploy();
      const tokenAddress = await token.getAddress();
      await token.mint(owner.address, 100n * GLM);
      await token.connect(owner).approve(address, MaxUint256);

      await dripFeed.connect(owner).createPool(tokenAddress, vectors.poolSalt);
      expect(await dripFeed.poolIdOf(owner.address, vectors.poolSalt)).to.equal(vectors.poolId);
      const poolId = vectors.poolId;
      const agreementId = vectors.cases[0].acceptance.agreementId;
      await dripFeed.connect(owner).fund(poolId, 10n * GLM);
      await dripFeed
        .connect(owner)
        .openAgreement(poolId, agreementId, fx.providers[0].address, termsStruct(terms({ budget: 10n * GLM })));
      await dripFeed.connect(owner).setGrant(poolId, granteeAddress, ACCEPT, FOREVER, 0n, 0n);

      const ctx = {
        token,
        dripFeed,
        parties: {
          dripFeed: address,
          owner: owner.address,
          grantee: granteeAddress,
          provider0: fx.providers[0].address,
          relay: fx.relay.address,
        },
      };
      const first = vectors.cases[0];
      const paid1 = BigInt(first.acceptance.totalAccepted);
      const acceptance1 = { ...first.acceptance, totalAccepted: paid1, deadline: BigInt(first.acceptance.deadline) };
      const tx1 = await expectDeltas(
        ctx,
        () => dripFeed.connect(fx.relay).settle(acceptance1, first.signer, first.signature),
        {
          tokens: { dripFeed: -paid1, provider0: paid1 },
          pools: [{ poolId, balance: -paid1, locked: -paid1 }],
          agreements: [{ poolId, agreementId, paid: paid1, acceptedTotal: paid1 }],
        },
      );
      await expect(tx1)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, agreementId, first.acceptance.debitNoteId, paid1, paid1, first.signer);

      // The grantee's case, as the signed-acceptance JSON a relay receives, parsed by the SDK.
      const signed = parseAcceptanceJson(vectors.signedAcceptanceJson);
      expect(signed.signature).to.equal(vectors.cases[1].signature.toLowerCase());
      const total2 = signed.totalAccepted;
      const tx2 = await expectDeltas(
        ctx,
        () =>
          dripFeed.connect(fx.relay).settle(
            acceptanceOf(signed.poolId, signed.agreementId, signed.totalAccepted, {
              debitNoteId: signed.debitNoteId,
              deadline: signed.deadline,
            }),
            signed.signer,
            signed.signature,
          ),
        {
          tokens: { dripFeed: -(total2 - paid1), provider0: total2 - paid1 },
          pools: [{ poolId, balance: -(total2 - paid1), locked: -(total2 - paid1) }],
          agreements: [{ poolId, agreementId, paid: total2 - paid1, acceptedTotal: total2 - paid1 }],
        },
      );
      await expect(tx2)
        .to.emit(dripFeed, "DebitNoteSettled")
        .withArgs(poolId, agreementId, signed.debitNoteId, total2, total2 - paid1, granteeAddress);
    });
  });
});
