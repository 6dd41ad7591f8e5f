import { expect } from "chai";
import { AbiCoder, TypedDataEncoder, ZeroHash, concat, keccak256, toUtf8Bytes } from "ethers";

import { EIP712_NAME, EIP712_VERSION } from "../../scripts/sdk/acceptance";
import { poolIdOf as sdkPoolIdOf } from "../../scripts/sdk/ids";
import {
  ACCEPTANCE_TYPE_STRING,
  GLM,
  acceptanceOf,
  agreementIdOf,
  deployFixture,
  digestOf,
  saltOf,
  setupPool,
} from "../helpers";

describe("acceptanceDigest / eip712Domain / poolIdOf / acceptTimeoutOf", () => {
  describe("the EIP-712 type", () => {
    it("is keccak256 of the SDK's ACCEPTANCE_TYPE_STRING (digest rebuilt by hand from the type string)", async () => {
      const { dripFeed, domain } = await deployFixture();
      expect(ACCEPTANCE_TYPE_STRING).to.equal(
        "DebitNoteAcceptance(bytes32 poolId,bytes32 agreementId,bytes32 debitNoteId,uint256 totalAccepted,uint256 deadline)",
      );
      const a = acceptanceOf(saltOf("pool"), agreementIdOf("a"), 7n * GLM);
      const structHash = keccak256(
        AbiCoder.defaultAbiCoder().encode(
          ["bytes32", "bytes32", "bytes32", "bytes32", "uint256", "uint256"],
          [
            keccak256(toUtf8Bytes(ACCEPTANCE_TYPE_STRING)),
            a.poolId,
            a.agreementId,
            a.debitNoteId,
            a.totalAccepted,
            a.deadline,
          ],
        ),
      );
      const domainSeparator = TypedDataEncoder.hashDomain({
        name: EIP712_NAME,
        version: EIP712_VERSION,
        chainId: domain.chainId,
        verifyingContract: domain.verifyingContract,
      });
      expect(await dripFeed.acceptanceDigest(a)).to.equal(keccak256(concat(["0x1901", domainSeparator, structHash])));
    });
  });

  describe("constants", () => {
    it("exposes the permission bits, ACCEPT_NOTICE and ITEM_CALL_GAS of the protocol", async () => {
      const { dripFeed } = await deployFixture();
      expect([await dripFeed.ACCEPT(), await dripFeed.TERMINATE(), await dripFeed.OPEN()]).to.deep.equal([1n, 2n, 4n]);
      expect([await dripFeed.ACCEPT_NOTICE(), await dripFeed.ITEM_CALL_GAS()]).to.deep.equal([3600n, 200_000n]);
    });
  });

  describe("acceptanceDigest", () => {
    it("equals the SDK's EIP-712 digest for assorted acceptances", async () => {
      const fx = await deployFixture();
      const samples = [
        acceptanceOf(ZeroHash, ZeroHash, 0n, { debitNoteId: ZeroHash, deadline: 0n }),
        acceptanceOf(saltOf("p"), agreementIdOf("a"), 123n * GLM),
        acceptanceOf(saltOf("p"), agreementIdOf("b"), 2n ** 256n - 1n, { deadline: 2n ** 256n - 1n }),
      ];
      for (const acceptance of samples) {
        expect(await fx.dripFeed.acceptanceDigest(acceptance)).to.equal(digestOf(fx.domain, acceptance));
      }
    });

    it("changes with every field", async () => {
      const fx = await deployFixture();
      const base = acceptanceOf(saltOf("p"), agreementIdOf("a"), 5n);
      const digests = new Set<string>();
      for (const acceptance of [
        base,
        { ...base, poolId: saltOf("q") },
        { ...base, agreementId: agreementIdOf("b") },
        { ...base, debitNoteId: ZeroHash },
        { ...base, totalAccepted: 6n },
        { ...base, deadline: base.deadline + 1n },
      ]) {
        digests.add(await fx.dripFeed.acceptanceDigest(acceptance));
      }
      expect(digests.size).to.equal(6);
    });
  });

  describe("eip712Domain (EIP-5267)", () => {
    it("returns name DripFeed, version 1, this chain and this contract", async () => {
      const fx = await deployFixture();
      const d = await fx.dripFeed.eip712Domain();
      expect(d.fields).to.equal("0x0f");
      expect(d.name).to.equal(EIP712_NAME).and.to.equal("DripFeed");
      expect(d.version).to.equal(EIP712_VERSION).and.to.equal("1");
      expect(d.chainId).to.equal(fx.chainId);
      expect(d.verifyingContract).to.equal(fx.dripFeedAddress);
      expect(d.salt).to.equal(ZeroHash);
      expect(d.extensions).to.deep.equal([]);
    });
  });

  describe("poolIdOf", () => {
    it("is keccak256(abi.encode(owner, salt)) and matches the SDK", async () => {
      const fx = await deployFixture();
      for (const [owner, salt] of [
        [fx.owner.address, saltOf("x")],
        [fx.stranger.address, ZeroHash],
      ] as const) {
        const expected = keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [owner, salt]));
        expect(await fx.dripFeed.poolIdOf(owner, salt))
          .to.equal(expected)
          .and.to.equal(sdkPoolIdOf(owner, salt));
      }
    });
  });

  describe("acceptTimeoutOf", () => {
    it("is twice the agreement's debit-note interval", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx, {
        agreements: [{ terms: { debitNoteInterval: 120n } }, { terms: { debitNoteInterval: 900n } }],
      });
      expect(await fx.dripFeed.acceptTimeoutOf(poolId, agreements[0].agreementId)).to.equal(240n);
      expect(await fx.dripFeed.acceptTimeoutOf(poolId, agreements[1].agreementId)).to.equal(1800n);
    });

    it("is 0 for an unknown agreement", async () => {
      const fx = await deployFixture();
      expect(await fx.dripFeed.acceptTimeoutOf(saltOf("p"), agreementIdOf("nope"))).to.equal(0n);
    });
  });
});
