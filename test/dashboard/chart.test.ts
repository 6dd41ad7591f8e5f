import { expect } from "chai";

import { payoutChart } from "../../scripts/dashboard/chart";
import { formatAmountFixed } from "../../scripts/sdk";
import { capAt, floorAt, payableAmount, perHour } from "../helpers/payoutModel";
import { agreementOf, claimed, eventAt, GLM, GLM_TOKEN, settled, START } from "./model";

const units = (value: bigint): number => Number(formatAmountFixed(value, 18));
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

describe("dashboard chart: the payout rule over time", () => {
  // Opened with 10 GLM, raised to 12 at 1,000 s; settled at 300 s and 600 s, claimed at 900 s, terminated at 1,500 s.
  const opened = { budget: 10n * GLM, upfront: GLM, maxRate: perHour(12n * GLM), streamRate: perHour(6n * GLM) };
  const terms = { ...opened, budget: 12n * GLM, debitNoteInterval: 120, paymentTimeout: 600 };
  const events = [
    eventAt("AgreementOpened", START, { terms: opened }),
    settled(START + 300n, (5n * GLM) / 2n, 2n * GLM),
    settled(START + 600n, 4n * GLM, GLM),
    claimed(START + 900n, GLM / 2n),
    eventAt("BudgetIncreased", START + 1_000n, { amount: 2n * GLM }),
    eventAt("AgreementTerminated", START + 1_500n, { by: "0x0" }),
  ];
  const agreement = agreementOf({
    terms,
    status: "Terminated",
    terminatedAt: START + 1_500n,
    acceptedTotal: 4n * GLM,
    paid: (7n * GLM) / 2n,
  });
  const now = START + 2_000n;
  const chart = payoutChart(agreement, events, now, GLM_TOKEN);
  const series = (key: string): (number | null)[] => chart.series.find((s) => s.key === key)!.values;
  const xs = chart.x.map(BigInt);

  it("has every line of the rule, the accepted and paid steps, now and the termination", () => {
    expect(chart.series.map((s) => s.key)).to.deep.equal(["budget", "cap", "floor", "payable", "accepted", "paid"]);
    expect(chart.symbol).to.equal("GLM");
    expect(chart.now).to.equal(Number(now));
    expect(chart.terminatedAt).to.equal(Number(START + 1_500n));
    for (const s of chart.series) expect(s.values).to.have.length(chart.x.length);
  });

  it("runs from the start past now, through every event time, ascending", () => {
    expect(xs[0]).to.equal(START);
    expect(xs[xs.length - 1] > now).to.equal(true);
    for (let i = 1; i < xs.length; i++) expect(xs[i] > xs[i - 1]).to.equal(true);
    for (const t of [now, ...events.map((e) => e.time)]) expect(xs).to.include(t);
  });

  it("equals the payout model at every point: budget steps, cap and floor frozen at termination", () => {
    xs.forEach((t, i) => {
      const budget = t >= START + 1_000n ? 12n * GLM : 10n * GLM;
      const elapsed = min(t, START + 1_500n) - START;
      const accepted = t >= START + 600n ? 4n * GLM : t >= START + 300n ? (5n * GLM) / 2n : 0n;
      const at = { ...terms, budget };
      expect(series("budget")[i], `budget at ${t}`).to.equal(units(budget));
      expect(series("cap")[i], `cap at ${t}`).to.equal(units(min(budget, capAt(at, elapsed))));
      expect(series("floor")[i], `floor at ${t}`).to.equal(units(min(budget, floorAt(at, elapsed))));
      expect(series("payable")[i], `payable at ${t}`).to.equal(units(payableAmount(at, accepted, elapsed)));
    });
  });

  it("steps accepted and paid at their events, and leaves them unknown after now", () => {
    xs.forEach((t, i) => {
      const paid =
        (t >= START + 300n ? 2n * GLM : 0n) + (t >= START + 600n ? GLM : 0n) + (t >= START + 900n ? GLM / 2n : 0n);
      if (t > now) {
        expect(series("paid")[i]).to.equal(null);
        expect(series("accepted")[i]).to.equal(null);
      } else {
        expect(series("paid")[i], `paid at ${t}`).to.equal(units(paid));
      }
    });
    expect(series("paid")[chart.x.indexOf(Number(now))]).to.equal(units(agreement.paid));
    expect(series("accepted")[chart.x.indexOf(Number(now))]).to.equal(units(agreement.acceptedTotal));
  });

  it("draws no cap without maxRate and no floor without streamRate", () => {
    const plain = payoutChart(agreementOf(), [], START + 600n, GLM_TOKEN);
    expect(plain.series.map((s) => s.key)).to.deep.equal(["budget", "payable", "accepted", "paid"]);
    expect(plain.terminatedAt).to.equal(null);
  });
});
