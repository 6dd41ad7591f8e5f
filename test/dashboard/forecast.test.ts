import { expect } from "chai";

import { forecast } from "../../scripts/dashboard/forecast";
import { depletionTime, RATE_SCALE } from "../../scripts/sdk";
import { agreementOf, GLM, settled, START } from "./model";

describe("dashboard forecast: pace now and when the budget runs out", () => {
  it("a stream floor alone: paces at the floor and runs out when the SDK's depletionTime says", () => {
    const terms = { ...agreementOf().terms, budget: 1_000_000n, streamRate: 1_000n * RATE_SCALE };
    const a = agreementOf({ terms });
    const f = forecast(a, [], START + 250n);
    expect(f.basis).to.equal("stream floor");
    expect(f.rate).to.equal(terms.streamRate);
    expect(f.runsOutAt).to.equal(depletionTime(terms, START));
    expect(f.budgetLeft).to.equal(1_000_000n);
  });

  it("acceptances under the cap: paces at the rise of the accepted total between the last two settles", () => {
    const terms = { ...agreementOf().terms, budget: 100n * GLM, maxRate: (72n * GLM * RATE_SCALE) / 3600n };
    // 2 GLM accepted by 120 s, 5 GLM by 420 s: 3 GLM over 300 s = 0.01 GLM/s.
    const events = [settled(START + 120n, 2n * GLM, 2n * GLM), settled(START + 420n, 5n * GLM, 3n * GLM)];
    const a = agreementOf({ terms, acceptedTotal: 5n * GLM, paid: 5n * GLM });
    const f = forecast(a, events, START + 500n);
    expect(f.basis).to.equal("acceptances");
    expect(f.rate).to.equal((GLM / 100n) * RATE_SCALE);
    expect(f.budgetLeft).to.equal(95n * GLM);
    // 95 GLM at 0.01 GLM/s: 9,500 s from now.
    expect(f.runsOutAt).to.equal(START + 500n + 9_500n);
  });

  it("accepted beyond the cap: the backlog drips at exactly maxRate", () => {
    const maxRate = (12n * GLM * RATE_SCALE) / 3600n;
    const terms = { ...agreementOf().terms, budget: 12n * GLM, upfront: GLM, maxRate };
    const a = agreementOf({ terms, acceptedTotal: 11n * GLM, paid: 2n * GLM });
    const f = forecast(a, [settled(START + 300n, 11n * GLM, 2n * GLM)], START + 300n);
    expect(f.basis).to.equal("cap backlog");
    expect(f.rate).to.equal(maxRate);
    // payable at 300 s: 1 + 12 GLM/h * 300 s = 2 GLM; the 10 GLM to the budget at 12 GLM/h: 3,000 s, and one more
    // because "12 GLM/h" as a per-second rate is rounded down (the contract pays the last wei a second later).
    expect(f.runsOutAt).to.equal(START + 300n + 3_001n);
  });

  it("no acceptance and no floor: idle, no run-out time", () => {
    const f = forecast(agreementOf(), [], START + 60n);
    expect(f).to.deep.include({ basis: "idle", rate: 0n, exhausted: false });
    expect(f.runsOutAt).to.equal(undefined);
  });

  it("terminated: stopped; a budget fully payable: used up", () => {
    const terms = { ...agreementOf().terms, budget: 5n * GLM, streamRate: GLM * RATE_SCALE };
    const stopped = forecast(agreementOf({ terms, status: "Terminated", terminatedAt: START + 2n }), [], START + 60n);
    expect(stopped).to.deep.include({ basis: "stopped", exhausted: false });
    expect(stopped.runsOutAt).to.equal(undefined);
    const released = forecast(
      agreementOf({ terms, status: "Released", terminatedAt: START + 2n, paid: 2n * GLM }),
      [],
      START + 60n,
    );
    expect(released, "a released budget is back in the pool").to.deep.include({ basis: "stopped", budgetLeft: 0n });
    const usedUp = forecast(agreementOf({ terms, paid: 5n * GLM }), [], START + 60n);
    expect(usedUp).to.deep.include({ exhausted: true, budgetLeft: 0n });
    expect(usedUp.runsOutAt).to.equal(undefined);
  });
});
