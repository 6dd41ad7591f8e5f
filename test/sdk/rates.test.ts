import { expect } from "chai";

import { DripFeedError, formatRate, parseRate } from "../../scripts/sdk";
import { loadVector, type PayoutVectors } from "../helpers/vectors";

describe("sdk/rates", () => {
  const vectors = loadVector<PayoutVectors>("payout-rule.json");

  describe("parseRate", () => {
    for (const v of vectors.rates) {
      it(`reproduces the vector "${v.text}"`, () => {
        expect(parseRate(v.text, { decimals: v.decimals }).toString()).to.equal(v.rate);
      });
    }

    it("reads /s, /min, /day the same quantity per second", () => {
      const units = { decimals: 18, symbol: "GLM" };
      const perHour = parseRate("36 GLM/h", units);
      expect(parseRate("0.01 GLM/s", units)).to.equal(perHour);
      expect(parseRate("0.6 GLM/min", units)).to.equal(perHour);
      expect(parseRate("864 GLM/day", units)).to.equal(perHour);
    });

    it("refuses a rate without a unit, or with an unknown one", () => {
      const units = { decimals: 18, symbol: "GLM" };
      expect(() => parseRate("5 GLM", units)).to.throw(DripFeedError, /not a rate like "0.5 GLM\/h"/);
      expect(() => parseRate("5 GLM/week", units)).to.throw(DripFeedError);
      expect(() => parseRate("0.1234567 USDC/h", { decimals: 6, symbol: "USDC" })).to.throw(/7 decimals/);
    });
  });

  describe("formatRate", () => {
    it("shows the vectors' rates as written", () => {
      for (const v of vectors.rates) {
        const [, symbol, unit] = /^[\d.]+ (\w+)\/(\w+)$/.exec(v.text) ?? [];
        expect(formatRate(BigInt(v.rate), { decimals: v.decimals, symbol }, unit as "h")).to.equal(v.text);
      }
    });
  });
});
