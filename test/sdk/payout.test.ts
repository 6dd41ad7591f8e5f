import { expect } from "chai";

import {
  type AgreementState,
  claimableAt,
  depletionTime,
  dripCompleteAt,
  payableAmount,
  payableAt,
  parseRate,
} from "../../scripts/sdk";
import { loadVector, type PayoutVectors } from "../helpers/vectors";

const GLM = { decimals: 18, symbol: "GLM" };
const E18 = 10n ** 18n;

describe("sdk/payout", () => {
  const vectors = loadVector<PayoutVectors>("payout-rule.json");

  describe("payableAmount", () => {
    for (const c of vectors.cases) {
      it(`${c.terms}: accepted ${c.acceptedTotal} after ${c.elapsed} s pays ${c.payable}`, () => {
        const terms = {
          budget: BigInt(c.budget),
          upfront: BigInt(c.upfront),
          maxRate: BigInt(c.maxRate),
          streamRate: BigInt(c.streamRate),
        };
        expect(payableAmount(terms, BigInt(c.acceptedTotal), BigInt(c.elapsed)).toString()).to.equal(c.payable);
      });
    }
  });

  const stream: AgreementState = {
    provider: "0x0000000000000000000000000000000000000001",
    status: "Active",
    startedAt: 1000n,
    terminatedAt: 0n,
    terms: {
      budget: 10n * E18,
      upfront: 0n,
      maxRate: parseRate("36 GLM/h", GLM),
      streamRate: parseRate("18 GLM/h", GLM),
      debitNoteInterval: 120,
      paymentTimeout: 3600,
    },
    paid: 0n,
    acceptedTotal: 0n,
  };

  describe("payableAt / claimableAt", () => {
    it("when active, follows the clock and subtracts what was paid", () => {
      expect(payableAt(stream, 1060n)).to.equal((3n * E18) / 10n);
      expect(claimableAt({ ...stream, paid: E18 / 10n }, 1060n)).to.equal((2n * E18) / 10n);
      expect(claimableAt(stream, 500n)).to.equal(0n); // before the start
    });

    it("when terminated, freezes at terminatedAt", () => {
      const terminated = { ...stream, status: "Terminated" as const, terminatedAt: 1060n };
      expect(payableAt(terminated, 999_999n)).to.equal((3n * E18) / 10n);
    });

    it("when released, nothing more is claimable", () => {
      expect(claimableAt({ ...stream, status: "Released", terminatedAt: 1060n }, 5000n)).to.equal(0n);
    });

    it("takes a candidate accepted total without lowering the recorded one", () => {
      const capped = { ...stream, terms: { ...stream.terms, streamRate: 0n }, acceptedTotal: 2n * E18 };
      expect(payableAt(capped, 1100n, 0n)).to.equal(E18); // cap: 36 GLM/h x 100 s = 1 GLM
    });
  });

  describe("depletionTime / dripCompleteAt", () => {
    it("finds the first second the floor pays the whole budget", () => {
      const t = depletionTime(stream.terms, stream.startedAt);
      expect(t).to.equal(1000n + 2000n); // 10 GLM at 18 GLM/h = 2000 s
      expect(payableAmount(stream.terms, 0n, (t as bigint) - 1000n)).to.equal(stream.terms.budget);
      expect(payableAmount(stream.terms, 0n, (t as bigint) - 1001n)).to.be.lessThan(stream.terms.budget);
    });

    it("is undefined without a stream", () => {
      expect(depletionTime({ budget: 1n, streamRate: 0n }, 0n)).to.equal(undefined);
    });

    it("finds when an over-cap acceptance has dripped out", () => {
      const terms = { budget: 100n * E18, upfront: E18, maxRate: parseRate("36 GLM/h", GLM) };
      expect(dripCompleteAt(terms, 0n, 5n * E18)).to.equal(400n);
      expect(dripCompleteAt(terms, 0n, E18 / 2n)).to.equal(0n);
    });
  });
});
