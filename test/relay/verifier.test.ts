import { expect } from "chai";
import { Signature, Transaction, Wallet, hexlify, randomBytes } from "ethers";

import { agreementView, decodeAgreement } from "../../scripts/relay/chain";
import { encodeSettleBatch, signEip1559 } from "../../scripts/relay/encoding";
import { AcceptanceHasher, acceptanceId, recoverEcdsa } from "../../scripts/relay/verifier";
import { DripFeed__factory } from "../../typechain-types";
import { acceptanceDigest, signAcceptance } from "../../scripts/sdk/acceptance";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The relay's fast paths must agree byte for byte with the SDK (and so with the contract). */
describe("relay: verifier fast paths", function () {
  const domain = { chainId: 31337n, verifyingContract: Wallet.createRandom().address };
  const acceptance = {
    poolId: hexlify(randomBytes(32)),
    agreementId: hexlify(randomBytes(32)),
    debitNoteId: hexlify(randomBytes(32)),
    totalAccepted: (1n << 200n) + 12345n,
    deadline: 1_900_000_000n,
  };

  it("computes the SDK's EIP-712 digest", async function () {
    const hasher = new AcceptanceHasher(domain.chainId, domain.verifyingContract);
    const signed = { ...acceptance, ...domain, signer: Wallet.createRandom().address, signature: "0x" };
    expect(`0x${hasher.digest(signed).toString("hex")}`).to.equal(acceptanceDigest(domain, acceptance));
  });

  it("recovers the signer (lower-case) and refuses what OpenZeppelin's ECDSA refuses (v not 27/28, high s)", async function () {
    const wallet = Wallet.createRandom();
    const signed = await signAcceptance(wallet, domain, acceptance);
    const digest = Buffer.from(acceptanceDigest(domain, acceptance).slice(2), "hex");
    const sig = Buffer.from(signed.signature.slice(2), "hex");
    expect(recoverEcdsa(digest, sig)).to.equal(wallet.address.toLowerCase());

    const v01 = Buffer.from(sig);
    v01[64] -= 27;
    expect(recoverEcdsa(digest, v01)).to.equal(undefined);

    const parsed = Signature.from(signed.signature);
    const highS = Buffer.concat([
      Buffer.from(parsed.r.slice(2), "hex"),
      Buffer.from((N - BigInt(parsed.s)).toString(16).padStart(64, "0"), "hex"),
      Buffer.from([parsed.v === 27 ? 28 : 27]),
    ]);
    expect(recoverEcdsa(digest, highS)).to.equal(undefined);
    expect(recoverEcdsa(digest, sig.subarray(0, 64))).to.equal(undefined);
    expect(recoverEcdsa(digest, Buffer.alloc(65))).to.equal(undefined);
  });

  it("gives an exact resubmission the same id and any change another", async function () {
    const digest = Buffer.alloc(32, 7);
    const signer = Wallet.createRandom().address;
    const sig = Buffer.alloc(65, 1);
    expect(acceptanceId(digest, signer, sig)).to.equal(acceptanceId(digest, signer, Buffer.from(sig)));
    expect(acceptanceId(digest, signer, sig)).to.not.equal(acceptanceId(digest, signer, Buffer.alloc(65, 2)));
    expect(acceptanceId(digest, signer, sig)).to.match(/^0x[0-9a-f]{64}$/);
  });

  it("encodes settleBatch calldata exactly as ethers does", function () {
    const iface = DripFeed__factory.createInterface();
    const item = (signatureBytes: number, total: bigint, deadline: number) => ({
      poolId: hexlify(randomBytes(32)),
      agreementId: hexlify(randomBytes(32)),
      debitNoteId: hexlify(randomBytes(32)),
      totalAccepted: total,
      deadline,
      signer: Wallet.createRandom().address,
      signature: hexlify(randomBytes(signatureBytes)),
    });
    const cases = [
      [],
      [item(65, 1n, 1_900_000_000)],
      [item(65, (1n << 256n) - 1n, 0), item(1, 0n, 2 ** 53 - 1), item(64, 10n ** 30n, 5), item(2048, 7n, 9)],
      Array.from({ length: 100 }, (_, i) => item(i % 3 ? 65 : 97, BigInt(i) * 1_000_000n, 1_900_000_000 + i)),
    ];
    for (const items of cases) {
      const expected = iface.encodeFunctionData("settleBatch", [
        items.map((i) => ({
          acceptance: {
            poolId: i.poolId,
            agreementId: i.agreementId,
            debitNoteId: i.debitNoteId,
            totalAccepted: i.totalAccepted,
            deadline: i.deadline,
          },
          signer: i.signer,
          signature: i.signature,
        })),
      ]);
      expect(encodeSettleBatch(items)).to.equal(expected);
    }
  });

  it("signs settleBatch transactions exactly as ethers' Wallet does", async function () {
    for (const [nonce, fee, gas, dataBytes] of [
      [0, 1n, 21_000n, 0],
      [1, 875_000_000n, 3_456_789n, 4],
      [127, 10n ** 18n, 30_000_000n, 55],
      [128, 2n ** 64n, 1n, 30_000],
    ] as const) {
      const wallet = Wallet.createRandom();
      const fields = {
        chainId: nonce % 2 ? 31337n : 1n,
        nonce,
        maxPriorityFeePerGas: fee / 2n,
        maxFeePerGas: fee,
        gasLimit: gas,
        to: Wallet.createRandom().address,
        data: hexlify(randomBytes(dataBytes)),
      };
      const expected = await wallet.signTransaction({ ...fields, type: 2 });
      const signed = signEip1559(fields, wallet.privateKey);
      if (!signed) this.skip(); // no libsecp256k1: the relay uses ethers' signer
      expect(signed.raw).to.equal(expected);
      expect(signed.hash).to.equal(Transaction.from(expected).hash);
    }
  });

  it("decodes getAgreement results exactly as ethers does", function () {
    const iface = DripFeed__factory.createInterface();
    const big = (bits: number) => BigInt(hexlify(randomBytes(bits / 8)));
    for (let i = 0; i < 20; i++) {
      const agreement = {
        provider: i === 0 ? "0x0000000000000000000000000000000000000000" : Wallet.createRandom().address,
        status: i % 4,
        startedAt: i === 1 ? 2n ** 40n - 1n : big(32),
        terminatedAt: big(32),
        terms: {
          budget: i === 1 ? 2n ** 128n - 1n : big(128),
          upfront: big(64),
          maxRate: big(128),
          streamRate: 0n,
          debitNoteInterval: big(32),
          paymentTimeout: 3600n,
        },
        paid: big(256),
        acceptedTotal: i === 2 ? 0n : big(256),
      };
      const data = iface.encodeFunctionResult("getAgreement", [agreement]);
      const viaEthers = agreementView(iface.decodeFunctionResult("getAgreement", data)[0]);
      expect(decodeAgreement(data)).to.deep.equal(viaEthers);
    }
    expect(decodeAgreement("0x")).to.equal(undefined);
  });
});
