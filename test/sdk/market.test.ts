import { expect } from "chai";

import {
  DRIPFEED_PROPERTIES,
  type DripFeedError,
  decimalOf,
  dripFeedDemandProperties,
  expectationsFromGolem,
  negotiatedTerms,
  parseDripFeedProperties,
  parseGolemAgreement,
  parseRate,
} from "../../scripts/sdk";

const GLM = { decimals: 18, symbol: "GLM" };
const INFO = {
  contract: "0x8a42Fb36574DAd7573DE36cffC896D3205F7EbB6",
  chainId: 137n,
  poolId: `0x${"ab".repeat(32)}`,
  token: "0x0B220b82F3eA3B7F6d9A1D8ab58930C064A2b5Bf",
};

function throwsCode(fn: () => unknown, code: string, field?: string): void {
  try {
    fn();
  } catch (error) {
    expect((error as DripFeedError).code, (error as Error).message).to.equal(code);
    if (field) expect((error as DripFeedError).field).to.equal(field);
    return;
  }
  expect.fail(`expected ${code}`);
}

function golemAgreement(demand: Record<string, unknown>, offer: Record<string, unknown> = {}): unknown {
  return {
    agreementId: "ab".repeat(32),
    state: "Pending",
    validTo: "2026-12-01T00:00:00Z",
    demand: { properties: demand, constraints: "", demandId: "d", requestorId: "0x01" },
    offer: { properties: offer, constraints: "", offerId: "o", providerId: "0x02" },
  };
}

describe("sdk/market: DripFeed's Golem market properties", () => {
  it("names the properties under golem.com.payment with the !exp segment", () => {
    expect(Object.values(DRIPFEED_PROPERTIES)).to.deep.equal([
      "golem.com.payment.!exp.dripfeed.v1.contract",
      "golem.com.payment.!exp.dripfeed.v1.chain-id",
      "golem.com.payment.!exp.dripfeed.v1.pool-id",
      "golem.com.payment.!exp.dripfeed.v1.token",
      "golem.com.payment.!exp.dripfeed.v1.relay-url",
    ]);
  });

  it("builds Demand properties and parses them back (flat, or nested as some tools write them)", () => {
    const built = dripFeedDemandProperties({ ...INFO, relayUrl: "https://relay.example/" });
    expect(built["golem.com.payment.!exp.dripfeed.v1.chain-id"]).to.equal(137);
    expect(parseDripFeedProperties({ other: 1, ...built })).to.deep.equal({
      ...INFO,
      relayUrl: "https://relay.example/",
    });
    const nested = {
      golem: {
        com: {
          payment: {
            "!exp": {
              dripfeed: {
                v1: { ...Object.fromEntries(Object.entries(built).map(([k, v]) => [k.split(".").pop(), v])) },
              },
            },
          },
        },
      },
    };
    expect(parseDripFeedProperties(nested)).to.deep.equal({ ...INFO, relayUrl: "https://relay.example/" });
    expect(parseDripFeedProperties({ "golem.com.payment.chosen-platform": "x" })).to.equal(undefined);
  });

  it("refuses partial or malformed properties, naming the property", () => {
    const built = dripFeedDemandProperties(INFO);
    const without = { ...built };
    delete without[DRIPFEED_PROPERTIES.token];
    throwsCode(() => parseDripFeedProperties(without), "INVALID_FIELD", DRIPFEED_PROPERTIES.token);
    throwsCode(
      () => parseDripFeedProperties({ ...built, [DRIPFEED_PROPERTIES.chainId]: -1 }),
      "INVALID_FIELD",
      DRIPFEED_PROPERTIES.chainId,
    );
    throwsCode(
      () => parseDripFeedProperties({ ...built, [DRIPFEED_PROPERTIES.relayUrl]: "ftp://x" }),
      "INVALID_FIELD",
      DRIPFEED_PROPERTIES.relayUrl,
    );
    throwsCode(() => dripFeedDemandProperties({ ...INFO, poolId: "0x12" }), "INVALID_FIELD", "poolId");
  });

  it("reads what a market agreement negotiated: times, payee on the chosen platform, linear pricing", () => {
    const agreement = parseGolemAgreement(
      JSON.stringify(
        golemAgreement(
          {
            "golem.com.scheme.payu.debit-note.interval-sec?": 120,
            "golem.com.scheme.payu.payment-timeout-sec?": 3600,
            "golem.com.payment.debit-notes.accept-timeout?": 240,
            "golem.com.payment.chosen-platform": "erc20-polygon-glm",
          },
          {
            "golem.com.payment.platform.erc20-polygon-glm.address": "0x00000000000000000000000000000000000000aa",
            "golem.com.pricing.model": "linear",
            "golem.com.pricing.model.linear.coeffs": [1e-7, 0.0002, 0.5],
            "golem.com.usage.vector": ["golem.usage.cpu_sec", "golem.usage.duration_sec"],
            "golem.inf.cpu.threads": 4,
          },
        ),
      ),
    );
    expect(agreement.agreementKey).to.equal(`0x${"ab".repeat(32)}`);
    const terms = negotiatedTerms(agreement);
    expect(terms).to.deep.include({
      debitNoteInterval: 120,
      paymentTimeout: 3600,
      acceptTimeout: 240,
      platform: "erc20-polygon-glm",
      payee: "0x00000000000000000000000000000000000000aa",
    });
    expect(terms.pricing).to.deep.equal({
      startPrice: "0.5",
      perDurationSecond: "0.0002",
      perCpuSecond: "0.0000001",
      threads: 4,
      otherCounters: [],
    });
    // full use: 0.0002 + 4 x 0.0000001 GLM/s = 0.0002004 GLM/s = 0.72144 GLM/h
    const expected = expectationsFromGolem(agreement, GLM);
    expect(expected.minMaxRate).to.equal(parseRate("0.72144 GLM/h", GLM));
    expect(expected.minUpfront).to.equal(5n * 10n ** 17n);
    expect(expected.marketMissing).to.equal(true);
  });

  it("refuses what is not a market agreement", () => {
    throwsCode(() => parseGolemAgreement("{"), "INVALID_JSON");
    throwsCode(() => parseGolemAgreement({ agreementId: "ab".repeat(32), demand: {} }), "INVALID_FIELD", "demand");
    throwsCode(
      () => negotiatedTerms(parseGolemAgreement(golemAgreement({ "golem.com.scheme.payu.payment-timeout-sec?": 1.5 }))),
      "INVALID_FIELD",
      "golem.com.scheme.payu.payment-timeout-sec?",
    );
  });

  it("writes JSON numbers as plain decimals", () => {
    expect(decimalOf(1e-7)).to.equal("0.0000001");
    expect(decimalOf(1.5e-8)).to.equal("0.000000015");
    expect(decimalOf(2e21)).to.equal("2000000000000000000000");
    expect(decimalOf(0.25)).to.equal("0.25");
  });
});
