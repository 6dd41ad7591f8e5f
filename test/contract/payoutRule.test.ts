import { expect } from "chai";
import fc from "fast-check";
import { parseUnits } from "ethers";
import { ethers } from "hardhat";

import type { PayoutRuleHarness } from "../../typechain-types";
import {
  type AgreementState,
  type DripFeedFixture,
  GLM,
  RATE_SCALE,
  Status,
  type Terms,
  allowanceNow,
  atTime,
  claimableAt,
  createFundedPool,
  deployFixture,
  expectDeltas,
  mineAt,
  now,
  openAgreement,
  payableAmount,
  perHour,
  perSecond,
  settleArgs,
  settleOutcome,
  signTotal,
  terms as termsOf,
  termsStruct,
  agreementIdOf,
  loadVector,
  type PayoutVectors,
} from "../helpers";

const payoutVectors = loadVector<PayoutVectors>("payout-rule.json");

const MAX128 = (1n << 128n) - 1n;
const MAX40 = (1n << 40n) - 1n;

async function deployHarness(): Promise<PayoutRuleHarness> {
  const factory = await ethers.getContractFactory("PayoutRuleHarness");
  return (await factory.deploy()) as unknown as PayoutRuleHarness;
}

/** One step of a payout scenario, at `dt` seconds after the agreement started (strictly increasing). */
type Step =
  | { dt: bigint; kind: "view" }
  | { dt: bigint; kind: "settle"; total: bigint }
  | { dt: bigint; kind: "claim" }
  | { dt: bigint; kind: "terminate" };

/**
 * Runs `steps` on a fresh agreement with `terms` and, after every step, compares the chain with the model kept
 * here: paid, acceptedTotal, status, claimable, the money that moved (every party), and that paid never decreases.
 */
async function runScenario(fx: DripFeedFixture, terms: Terms, steps: Step[]): Promise<void> {
  const poolId = await createFundedPool(fx, { amount: terms.budget + GLM });
  const start = (await now()) + 10n;
  const { agreementId } = await openAgreement(fx, poolId, { terms, at: start });
  const model: AgreementState = {
    status: Status.Active,
    startedAt: start,
    terminatedAt: 0n,
    terms,
    paid: 0n,
    acceptedTotal: 0n,
  };
  let lastPaid = 0n;

  for (const step of steps) {
    const t = start + step.dt;
    const label = `${step.kind} at +${step.dt}s`;
    if (step.kind === "view") {
      await mineAt(t);
    } else if (step.kind === "terminate") {
      await atTime(t);
      await expectDeltas(fx, () => fx.dripFeed.terminate(poolId, agreementId), {
        agreements: [{ poolId, agreementId }],
        pools: [{ poolId }],
      });
      model.status = Status.Terminated;
      model.terminatedAt = t;
    } else if (step.kind === "claim") {
      const payout = claimableAt(model, t);
      await atTime(t);
      if (payout === 0n) {
        await expect(fx.dripFeed.connect(fx.relay).claim(poolId, agreementId), label).to.be.revertedWithCustomError(
          fx.dripFeed,
          "NothingToSettle",
        );
        await mineAt(t);
      } else {
        await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).claim(poolId, agreementId), {
          tokens: { dripFeed: -payout, provider0: payout },
          pools: [{ poolId, balance: -payout, locked: -payout }],
          agreements: [{ poolId, agreementId, paid: payout }],
        });
        model.paid += payout;
      }
    } else {
      const s = await signTotal(fx.owner, fx.domain, poolId, agreementId, step.total);
      const outcome = settleOutcome(model, step.total, t);
      await atTime(t);
      if (outcome.acceptedTotal === model.acceptedTotal && outcome.payout === 0n) {
        await expect(fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), label).to.be.revertedWithCustomError(
          fx.dripFeed,
          "NothingToSettle",
        );
        await mineAt(t);
      } else {
        await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
          tokens: { dripFeed: -outcome.payout, provider0: outcome.payout },
          pools: [{ poolId, balance: -outcome.payout, locked: -outcome.payout }],
          agreements: [
            { poolId, agreementId, paid: outcome.payout, acceptedTotal: outcome.acceptedTotal - model.acceptedTotal },
          ],
        });
        model.paid = outcome.paid;
        model.acceptedTotal = outcome.acceptedTotal;
      }
    }

    const chain = await fx.dripFeed.getAgreement(poolId, agreementId);
    expect(chain.paid, `${label}: paid`).to.equal(model.paid);
    expect(chain.acceptedTotal, `${label}: acceptedTotal`).to.equal(model.acceptedTotal);
    expect(chain.status, `${label}: status`).to.equal(model.status);
    expect(chain.paid, `${label}: paid never decreases`).to.be.gte(lastPaid);
    lastPaid = chain.paid;
    expect(await now(), label).to.equal(t);
    expect(await fx.dripFeed.claimable(poolId, agreementId), `${label}: claimable`).to.equal(claimableAt(model, t));
    expect(chain.paid + claimableAt(model, t), `${label}: payable <= budget`).to.be.lte(terms.budget);
  }
}

describe("the payout rule", () => {
  describe("PayoutRule library (through PayoutRuleHarness)", () => {
    describe("against test/vectors/payout-rule.json", () => {
      it("matches every payout case, and so does the TypeScript model", async () => {
        const harness = await deployHarness();
        expect(payoutVectors.cases.length).to.be.greaterThan(10);
        for (const c of payoutVectors.cases) {
          const t = {
            budget: BigInt(c.budget),
            upfront: BigInt(c.upfront),
            maxRate: BigInt(c.maxRate),
            streamRate: BigInt(c.streamRate),
          };
          const label = `${c.terms}, accepted ${c.acceptedTotal}, ${c.elapsed}s`;
          const onChain = await harness.payableAmount(
            t.budget,
            t.upfront,
            t.maxRate,
            t.streamRate,
            BigInt(c.acceptedTotal),
            BigInt(c.elapsed),
          );
          expect(onChain, label).to.equal(BigInt(c.payable));
          expect(payableAmount(t, BigInt(c.acceptedTotal), BigInt(c.elapsed)), label).to.equal(BigInt(c.payable));
        }
      });

      it("converts every rate text the way the vectors do", () => {
        for (const r of payoutVectors.rates) {
          const [amount] = r.text.split(" ");
          expect(perHour(parseUnits(amount, r.decimals)), r.text).to.equal(BigInt(r.rate));
        }
      });
    });

    describe("against the TypeScript model on random inputs", () => {
      it("agrees on payableAmount, including at the 128-bit and 40-bit extremes (no overflow)", async () => {
        const harness = await deployHarness();
        const u128 = fc.oneof(
          fc.bigInt({ min: 0n, max: MAX128 }),
          fc.constantFrom(0n, 1n, MAX128),
          fc.bigInt({ min: 0n, max: 10n ** 24n }),
        );
        const rate = fc.oneof(fc.constant(0n), u128, fc.bigInt({ min: 0n, max: perHour(1000n * GLM) }));
        await fc.assert(
          fc.asyncProperty(
            u128,
            u128,
            rate,
            rate,
            u128,
            fc.oneof(fc.bigInt({ min: 0n, max: MAX40 }), fc.bigInt({ min: 0n, max: 10n ** 6n })),
            async (budget, upfrontRaw, maxRate, streamRate, accepted, elapsed) => {
              const upfront = upfrontRaw > budget ? budget : upfrontRaw;
              const t = { budget, upfront, maxRate, streamRate };
              const onChain = await harness.payableAmount(budget, upfront, maxRate, streamRate, accepted, elapsed);
              expect(onChain).to.equal(payableAmount(t, accepted, elapsed));
              expect(onChain).to.be.lte(budget);
            },
          ),
          { numRuns: 150 },
        );
      });

      it("agrees on allowanceNow (refill, cap at openAllowance)", async () => {
        const harness = await deployHarness();
        const u128 = fc.oneof(fc.bigInt({ min: 0n, max: MAX128 }), fc.bigInt({ min: 0n, max: 10n ** 22n }));
        await fc.assert(
          fc.asyncProperty(
            u128,
            u128,
            fc.oneof(u128, fc.constant(0n)),
            fc.bigInt({ min: 0n, max: MAX40 }),
            async (levelRaw, allowance, rate, seconds) => {
              const level = levelRaw > allowance ? allowance : levelRaw;
              const onChain = await harness.allowanceNow(level, allowance, rate, seconds);
              expect(onChain).to.equal(allowanceNow(level, allowance, rate, seconds));
              expect(onChain).to.be.lte(allowance);
            },
          ),
          { numRuns: 100 },
        );
      });

      it("refills by rate x seconds / 1e18 and stops at openAllowance", async () => {
        const harness = await deployHarness();
        const rate = perHour(10n * GLM);
        expect(await harness.allowanceNow(0n, 100n * GLM, rate, 3600n)).to.equal((rate * 3600n) / RATE_SCALE);
        expect(await harness.allowanceNow(95n * GLM, 100n * GLM, rate, 3600n)).to.equal(100n * GLM);
        expect(await harness.allowanceNow(7n, 100n, 0n, MAX40)).to.equal(7n);
      });
    });
  });

  describe("DripFeed against the model over time", () => {
    describe("when terms are acceptance only", () => {
      it("pays each acceptance at once, up to the budget ceiling", async () => {
        const fx = await deployFixture();
        await runScenario(fx, termsOf({ budget: 100n * GLM }), [
          { dt: 1n, kind: "view" },
          { dt: 5n, kind: "settle", total: 10n * GLM },
          { dt: 6n, kind: "claim" },
          { dt: 60n, kind: "settle", total: 99n * GLM },
          { dt: 61n, kind: "settle", total: 150n * GLM },
          { dt: 62n, kind: "settle", total: 200n * GLM },
          { dt: 63n, kind: "settle", total: 150n * GLM },
          { dt: 64n, kind: "claim" },
          { dt: 100n, kind: "terminate" },
          { dt: 200n, kind: "view" },
        ]);
      });
    });

    describe("when acceptances exceed the rate cap", () => {
      it("records them and drips them out at maxRate, frozen at termination", async () => {
        const fx = await deployFixture();
        // 36 GLM/h cap (0.01 GLM/s), 1 GLM upfront, 100 GLM budget.
        await runScenario(fx, termsOf({ budget: 100n * GLM, upfront: GLM, maxRate: perHour(36n * GLM) }), [
          { dt: 1n, kind: "settle", total: 50n * GLM },
          { dt: 2n, kind: "view" },
          { dt: 60n, kind: "claim" },
          { dt: 61n, kind: "claim" },
          { dt: 600n, kind: "view" },
          { dt: 601n, kind: "settle", total: 40n * GLM },
          { dt: 1800n, kind: "claim" },
          { dt: 3600n, kind: "view" },
          { dt: 4900n, kind: "claim" },
          { dt: 5000n, kind: "settle", total: 100n * GLM },
          { dt: 6000n, kind: "terminate" },
          { dt: 7000n, kind: "view" },
          { dt: 7001n, kind: "claim" },
          { dt: 7002n, kind: "claim" },
        ]);
      });

      it("never pays faster than maxRate even for a huge acceptance", async () => {
        const fx = await deployFixture();
        await runScenario(fx, termsOf({ budget: 10n * GLM, maxRate: perSecond(GLM / 1000n) }), [
          { dt: 1n, kind: "settle", total: MAX128 },
          { dt: 2n, kind: "claim" },
          { dt: 1000n, kind: "claim" },
          { dt: 9999n, kind: "view" },
          { dt: 10_000n, kind: "claim" },
          { dt: 20_000n, kind: "claim" },
        ]);
      });
    });

    describe("when a stream floor is set and no acceptance ever comes", () => {
      it("pays by the second until termination, then nothing more", async () => {
        const fx = await deployFixture();
        await runScenario(
          fx,
          termsOf({ budget: 10n * GLM, maxRate: perHour(36n * GLM), streamRate: perHour(18n * GLM) }),
          [
            { dt: 1n, kind: "view" },
            { dt: 60n, kind: "claim" },
            { dt: 120n, kind: "view" },
            { dt: 121n, kind: "claim" },
            { dt: 1000n, kind: "terminate" },
            { dt: 5000n, kind: "claim" },
            { dt: 5001n, kind: "claim" },
          ],
        );
      });

      it("runs up to the budget and stops there", async () => {
        const fx = await deployFixture();
        await runScenario(fx, termsOf({ budget: 10n * GLM, streamRate: perHour(18n * GLM) }), [
          { dt: 1999n, kind: "claim" },
          { dt: 2000n, kind: "claim" },
          { dt: 2001n, kind: "view" },
          { dt: 3000n, kind: "claim" },
          { dt: 3001n, kind: "settle", total: 20n * GLM },
        ]);
      });

      it("combines with acceptances: whichever is higher is payable", async () => {
        const fx = await deployFixture();
        await runScenario(
          fx,
          termsOf({ budget: 10n * GLM, maxRate: perHour(36n * GLM), streamRate: perHour(18n * GLM) }),
          [
            { dt: 60n, kind: "settle", total: GLM / 2n },
            { dt: 61n, kind: "settle", total: 5n * GLM },
            { dt: 300n, kind: "claim" },
            { dt: 600n, kind: "claim" },
            { dt: 1200n, kind: "claim" },
            { dt: 1500n, kind: "terminate" },
            { dt: 1501n, kind: "settle", total: 9n * GLM },
            { dt: 4000n, kind: "view" },
          ],
        );
      });
    });

    describe("when the terms have an upfront", () => {
      it("makes the upfront payable from the first second, with no time elapsed", async () => {
        const fx = await deployFixture();
        const poolId = await createFundedPool(fx);
        const id = agreementIdOf("upfront");
        const t = termsOf({ budget: 10n * GLM, upfront: 2n * GLM, maxRate: perHour(GLM) });
        // Open and settle in the same transaction: elapsed is 0, only the upfront is payable.
        const calls = [
          fx.dripFeed.interface.encodeFunctionData("openAgreement", [
            poolId,
            id,
            fx.providers[0].address,
            termsStruct(t),
          ]),
          fx.dripFeed.interface.encodeFunctionData(
            "settle",
            settleArgs(await signTotal(fx.owner, fx.domain, poolId, id, 5n * GLM)),
          ),
        ];
        await expectDeltas(fx, () => fx.dripFeed.multicall(calls), {
          tokens: { dripFeed: -2n * GLM, provider0: 2n * GLM },
          pools: [{ poolId, balance: -2n * GLM, locked: 8n * GLM }],
        });
        const a = await fx.dripFeed.getAgreement(poolId, id);
        expect([a.paid, a.acceptedTotal]).to.deep.equal([2n * GLM, 5n * GLM]);
        expect(await fx.dripFeed.claimable(poolId, id)).to.equal(0n);
      });

      it("follows the model over time", async () => {
        const fx = await deployFixture();
        await runScenario(
          fx,
          termsOf({ budget: 10n * GLM, upfront: 3n * GLM, maxRate: perHour((3600n * GLM) / 1000n) }),
          [
            { dt: 1n, kind: "settle", total: GLM },
            { dt: 2n, kind: "settle", total: 4n * GLM },
            { dt: 500n, kind: "claim" },
            { dt: 1000n, kind: "claim" },
            { dt: 1001n, kind: "settle", total: 10n * GLM },
            { dt: 7000n, kind: "terminate" },
            { dt: 8000n, kind: "claim" },
          ],
        );
      });
    });

    describe("on random step sequences", () => {
      it("always agrees with the model", async () => {
        const stepArb = fc.record({
          gap: fc.bigInt({ min: 1n, max: 900n }),
          kind: fc.constantFrom("view", "settle", "settle", "claim", "terminate"),
          total: fc.bigInt({ min: 0n, max: 12n * GLM }),
        });
        const termsArb = fc.record({
          upfront: fc.bigInt({ min: 0n, max: 2n * GLM }),
          maxRate: fc.constantFrom(0n, perHour(GLM), perHour(36n * GLM)),
          streamRate: fc.constantFrom(0n, perHour(GLM / 2n), perHour(GLM)),
        });
        await fc.assert(
          fc.asyncProperty(termsArb, fc.array(stepArb, { minLength: 3, maxLength: 10 }), async (tr, raw) => {
            const fx = await deployFixture();
            const t = termsOf({ budget: 10n * GLM, ...tr });
            let dt = 0n;
            let terminated = false;
            const steps: Step[] = [];
            for (const r of raw) {
              dt += r.gap;
              if (r.kind === "terminate") {
                if (terminated) continue;
                terminated = true;
                steps.push({ dt, kind: "terminate" });
              } else if (r.kind === "settle") steps.push({ dt, kind: "settle", total: r.total });
              else steps.push({ dt, kind: r.kind as "view" | "claim" });
            }
            await runScenario(fx, t, steps);
          }),
          { numRuns: 12 },
        );
      });
    });
  });
});
