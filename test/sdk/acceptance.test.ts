import { expect } from "chai";
import { getBytes, hexlify, keccak256, toUtf8Bytes, Wallet } from "ethers";

import {
  acceptanceDigest,
  parseAcceptanceJson,
  recoverAcceptanceSigner,
  signAcceptance,
  type SignedAcceptance,
  toAcceptanceJson,
} from "../../scripts/sdk/acceptance";
import { isDripFeedError } from "../../scripts/sdk/errors";
import { type AcceptanceVectors, loadVector } from "../helpers/vectors";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe("sdk/acceptance", () => {
  const vectors = loadVector<AcceptanceVectors>("acceptances.json");
  const domain = { chainId: BigInt(vectors.domain.chainId), verifyingContract: vectors.domain.verifyingContract };

  describe("acceptanceDigest and signAcceptance", () => {
    for (const c of vectors.cases) {
      it(`reproduces the ${c.signerRole} vector's digest and deterministic signature`, async () => {
        const acceptance = {
          ...c.acceptance,
          totalAccepted: BigInt(c.acceptance.totalAccepted),
          deadline: BigInt(c.acceptance.deadline),
        };
        expect(acceptanceDigest(domain, acceptance)).to.equal(c.digest);
        const key = c.signerRole === "owner" ? vectors.keys.owner : vectors.keys.grantee;
        const signed = await signAcceptance(new Wallet(keccak256(toUtf8Bytes(key))), domain, acceptance);
        expect(signed.signer).to.equal(c.signer);
        expect(signed.signature).to.equal(c.signature);
        expect(recoverAcceptanceSigner(signed)).to.equal(c.signer);
      });
    }
  });

  describe("recoverAcceptanceSigner refuses what the contract refuses", () => {
    const signed: SignedAcceptance = parseAcceptanceJson(vectors.signedAcceptanceJson);

    it("a v of 0 or 1 (the contract only takes 27 or 28)", () => {
      const bytes = getBytes(signed.signature);
      bytes[64] -= 27;
      expect(recoverAcceptanceSigner({ ...signed, signature: hexlify(bytes) })).to.equal(undefined);
    });

    it("the high-s twin of a valid signature (malleability)", () => {
      const bytes = getBytes(signed.signature);
      const s = BigInt(hexlify(bytes.slice(32, 64)));
      bytes.set(getBytes(`0x${(N - s).toString(16).padStart(64, "0")}`), 32);
      bytes[64] = bytes[64] === 27 ? 28 : 27;
      expect(recoverAcceptanceSigner({ ...signed, signature: hexlify(bytes) })).to.equal(undefined);
    });

    it("a 64-byte compact signature", () => {
      expect(
        recoverAcceptanceSigner({ ...signed, signature: hexlify(getBytes(signed.signature).slice(0, 64)) }),
      ).to.equal(undefined);
    });
  });

  describe("parseAcceptanceJson", () => {
    it("round-trips the SPEC's JSON shape", () => {
      expect(toAcceptanceJson(parseAcceptanceJson(JSON.stringify(vectors.signedAcceptanceJson)))).to.deep.equal({
        ...vectors.signedAcceptanceJson,
        signature: String(vectors.signedAcceptanceJson.signature).toLowerCase(),
      });
    });

    const bad: [string, unknown][] = [
      ["totalAccepted", "-1"],
      ["totalAccepted", "1.5"],
      ["totalAccepted", 5],
      ["totalAccepted", "1".repeat(79)],
      ["deadline", "1893456000"],
      ["chainId", 0],
      ["poolId", "0x1234"],
      ["signer", "0xnothex"],
      ["signature", "0x"],
    ];
    for (const [field, value] of bad) {
      it(`names the field for a bad ${field} (${JSON.stringify(value).slice(0, 20)})`, () => {
        try {
          parseAcceptanceJson({ ...vectors.signedAcceptanceJson, [field]: value });
          expect.fail("parsed");
        } catch (error) {
          expect(isDripFeedError(error) && error.field).to.equal(field);
        }
      });
    }

    it("refuses unknown fields and non-objects", () => {
      expect(() => parseAcceptanceJson({ ...vectors.signedAcceptanceJson, extra: 1 })).to.throw(/unknown field extra/);
      expect(() => parseAcceptanceJson("[1]")).to.throw(/JSON object/);
      expect(() => parseAcceptanceJson("{")).to.throw(/not valid JSON/);
    });
  });
});
