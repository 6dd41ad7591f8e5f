import { expect } from "chai";

import { amountJson, rateText, relativeTime, shortAmount } from "../../scripts/dashboard/format";
import { parseRate } from "../../scripts/sdk";

const GLM = { address: "0x0000000000000000000000000000000000000001", symbol: "GLM", decimals: 18 };
const USDC = { address: "0x0000000000000000000000000000000000000002", symbol: "USDC", decimals: 6 };
const NOW = 1_800_000_000n;

describe("dashboard formatting", () => {
  describe("relativeTime (from the chain's clock)", () => {
    it("says now, seconds, minutes, hours and days, ahead and behind", () => {
      expect(relativeTime(NOW, NOW)).to.equal("now");
      expect(relativeTime(NOW + 45n, NOW)).to.equal("in 45 s");
      expect(relativeTime(NOW + 89n, NOW)).to.equal("in 89 s");
      expect(relativeTime(NOW + 90n, NOW)).to.equal("in 2 min");
      expect(relativeTime(NOW - 720n, NOW)).to.equal("12 min ago");
      expect(relativeTime(NOW + 3n * 3600n, NOW)).to.equal("in 3 h");
      expect(relativeTime(NOW + 35n * 3600n, NOW)).to.equal("in 35 h");
      expect(relativeTime(NOW + 7n * 86_400n, NOW)).to.equal("in 7 d");
      expect(relativeTime(NOW - 2n * 86_400n, NOW)).to.equal("2 d ago");
    });
  });

  describe("amounts", () => {
    it("keeps every digit in text and base units in raw; cuts to six decimals at a glance and marks it", () => {
      const value = 5_829_999_999_999_999_999n;
      expect(amountJson(value, GLM)).to.deep.equal({
        raw: "5829999999999999999",
        text: "5.829999999999999999 GLM",
        short: "~5.829999 GLM",
      });
      expect(shortAmount(12n * 10n ** 18n, GLM)).to.equal("12 GLM");
      expect(shortAmount(1n, GLM)).to.equal("~0 GLM");
      expect(shortAmount(1_234_567_890_000_000_000n, GLM)).to.equal("~1.234567 GLM");
      expect(shortAmount(0n, GLM)).to.equal("0 GLM");
    });

    it("shows a token with six decimals or fewer exactly", () => {
      expect(shortAmount(1_234_567n, USDC)).to.equal("1.234567 USDC");
    });
  });

  describe("rates", () => {
    it("shows a rate per hour, exact when it is, ~ when cut, none for 0", () => {
      expect(rateText(parseRate("12 GLM/h", GLM), GLM)).to.equal("12 GLM/h");
      expect(rateText(parseRate("0.5 GLM/h", GLM), GLM)).to.equal("0.5 GLM/h");
      expect(rateText(0n, GLM)).to.equal("none");
      // 3 GLM over 1,450 s: 7.448275862068965517... GLM/h
      expect(rateText((3n * 10n ** 36n) / 1450n, GLM)).to.equal("~7.448275 GLM/h");
    });
  });
});
