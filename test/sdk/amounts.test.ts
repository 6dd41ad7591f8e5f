import { expect } from "chai";

import { DripFeedError, formatAmount, formatAmountFixed, parseAmount } from "../../scripts/sdk";

const GLM = { decimals: 18, symbol: "GLM" };
const USDC = { decimals: 6, symbol: "USDC" };

describe("sdk/amounts", () => {
  describe("parseAmount", () => {
    it("reads whole and fractional token units", () => {
      expect(parseAmount("12.5", GLM)).to.equal(12_500_000_000_000_000_000n);
      expect(parseAmount("0.000001", USDC)).to.equal(1n);
      expect(parseAmount("7", USDC)).to.equal(7_000_000n);
      expect(parseAmount(" 3.25 GLM ", GLM)).to.equal(3_250_000_000_000_000_000n);
    });

    it("refuses more decimals than the token has, naming them", () => {
      expect(() => parseAmount("0.0000001", USDC))
        .to.throw(DripFeedError, 'amount "0.0000001" has 7 decimals, but USDC has only 6')
        .with.property("code", "INVALID_ARGUMENT");
    });

    it("refuses signs, exponents, garbage and the wrong symbol", () => {
      for (const bad of ["-1", "1e18", "", "abc", "1.", ".5", "1,5", "1 2 3"]) {
        expect(() => parseAmount(bad, GLM), bad).to.throw(DripFeedError);
      }
      expect(() => parseAmount("1 USDC", GLM)).to.throw(/is in USDC, but the token is GLM/);
    });
  });

  describe("formatAmount", () => {
    it("trims trailing zeros and adds the symbol", () => {
      expect(formatAmount(12_500_000_000_000_000_000n, GLM)).to.equal("12.5 GLM");
      expect(formatAmount(0n, GLM)).to.equal("0 GLM");
      expect(formatAmount(1n, { decimals: 18 })).to.equal("0.000000000000000001");
    });

    it("round-trips with parseAmount", () => {
      for (const text of ["0", "1", "0.5", "123456.000001"]) {
        expect(formatAmount(parseAmount(text, USDC), { decimals: 6 })).to.equal(text);
      }
    });

    it("writes yagna's fixed form", () => {
      expect(formatAmountFixed(12_000_000_000_000_000n, 18)).to.equal("0.012000000000000000");
    });
  });
});
