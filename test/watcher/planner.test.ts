import { expect } from "chai";

import type { AgreementReport } from "../../scripts/sdk";
import { type HeldBest, plan, type PlanOptions, warningsFor } from "../../scripts/watcher/planner";

const GLM = { decimals: 18, symbol: "GLM" };
const ONE = 10n ** 18n;
const NOW = 1_800_000_000n;
const PROVIDER = "0x00000000000000000000000000000000000000aa";

function agreement(overrides: Partial<AgreementReport> = {}): AgreementReport {
  return {
    poolId: `0x${"11".repeat(32)}`,
    agreementId: `0x${"22".repeat(32)}`,
    provider: PROVIDER,
    status: "Active",
    startedAt: NOW - 3600n,
    terminatedAt: 0n,
    terms: {
      budget: 10n * ONE,
      upfront: 0n,
      maxRate: 0n,
      streamRate: 0n,
      debitNoteInterval: 120,
      paymentTimeout: 3600,
    },
    paid: 0n,
    acceptedTotal: 0n,
    claimableNow: 0n,
    capNow: 10n * ONE,
    budgetLeft: 10n * ONE,
    ...overrides,
  };
}

const OPTIONS: PlanOptions = { minClaim: ONE, marginSeconds: 1800n, gasFactor: 3n };
const held = (overrides: Partial<HeldBest> = {}): HeldBest => ({
  totalAccepted: 2n * ONE,
  deadline: NOW + 86_400n,
  wouldPay: 2n * ONE,
  ...overrides,
});

describe("watcher/planner: when an agreement's money is collected", () => {
  describe("with a held acceptance", () => {
    it("settles once it is worth the threshold, waits below it", () => {
      expect(plan(agreement(), held(), NOW, OPTIONS, GLM)).to.deep.include({ action: "settle", urgent: false });
      expect(plan(agreement(), held({ wouldPay: ONE / 2n }), NOW, OPTIONS, GLM)).to.deep.include({ action: "wait" });
    });

    it("settles whatever it is worth when its deadline or its signer's ACCEPT notice ends within the margin", () => {
      const small = { wouldPay: 1n };
      const byDeadline = plan(agreement(), held({ ...small, deadline: NOW + 600n }), NOW, OPTIONS, GLM);
      expect(byDeadline).to.deep.include({ action: "settle", urgent: true });
      expect(byDeadline.reason).to.match(/the acceptance's deadline ends/);
      const byNotice = plan(agreement(), held({ ...small, signerValidUntil: NOW + 900n }), NOW, OPTIONS, GLM);
      expect(byNotice).to.deep.include({ action: "settle", urgent: true });
      expect(byNotice.reason).to.match(/ACCEPT right/);
      expect(plan(agreement(), held({ ...small, signerValidUntil: NOW + 7200n }), NOW, OPTIONS, GLM).action).to.equal(
        "wait",
      );
    });

    it("settles at once when the provider terminated (release may come any moment)", () => {
      const ended = agreement({
        status: "Terminated",
        terminatedAt: NOW - 10n,
        claimWindowEnd: NOW + 3590n,
        releasableAt: NOW - 10n,
        terminatedBy: PROVIDER,
      });
      const decision = plan(ended, held({ wouldPay: 1n }), NOW, OPTIONS, GLM);
      expect(decision).to.deep.include({ action: "settle", urgent: true });
      expect(decision.reason).to.match(/release \(the provider terminated\) is now/);
    });

    it("weighs the gas: worth at least gasFactor times its cost in tokens", () => {
      expect(
        plan(agreement(), held({ wouldPay: 2n * ONE }), NOW, { ...OPTIONS, settleCost: ONE }, GLM).action,
      ).to.equal("wait");
      expect(
        plan(agreement(), held({ wouldPay: 3n * ONE }), NOW, { ...OPTIONS, settleCost: ONE }, GLM).action,
      ).to.equal("settle");
    });
  });

  describe("without one", () => {
    it("claims what is claimable above the threshold", () => {
      expect(plan(agreement({ claimableNow: 2n * ONE }), undefined, NOW, OPTIONS, GLM)).to.deep.include({
        action: "claim",
      });
      expect(plan(agreement({ claimableNow: ONE / 2n }), undefined, NOW, OPTIONS, GLM).action).to.equal("wait");
      expect(plan(agreement(), undefined, NOW, OPTIONS, GLM)).to.deep.equal({
        action: "wait",
        reason: "nothing to collect",
      });
    });

    it("claims anything before a claim window ends", () => {
      const ended = agreement({
        status: "Terminated",
        terminatedAt: NOW - 3000n,
        claimWindowEnd: NOW + 600n,
        releasableAt: NOW + 600n,
        claimableNow: 1n,
      });
      expect(plan(ended, undefined, NOW, OPTIONS, GLM)).to.deep.include({ action: "claim", urgent: true });
    });

    it("does nothing for a released agreement", () => {
      expect(plan(agreement({ status: "Released" }), held(), NOW, OPTIONS, GLM).action).to.equal("wait");
    });
  });

  describe("warnings", () => {
    const input = { lastAcceptanceAt: NOW - 60n, budgetWarnPerMille: 900n };
    const kinds = (a: AgreementReport, i = input) => warningsFor(a, NOW, i, GLM).map((w) => w.kind);

    it("on termination: by the provider (release any time) or by the owner (until the window's end)", () => {
      const byOwner = warningsFor(
        agreement({
          status: "Terminated",
          terminatedAt: NOW - 5n,
          claimWindowEnd: NOW + 3595n,
          releasableAt: NOW + 3595n,
        }),
        NOW,
        input,
        GLM,
      );
      expect(byOwner.map((w) => w.kind)).to.deep.equal(["terminated"]);
      expect(byOwner[0].message).to.match(/settle and claims pay until/);
    });

    it("when the budget is nearly spent, and when no acceptance came for longer than the acceptance timeout", () => {
      expect(kinds(agreement({ acceptedTotal: 9n * ONE, budgetLeft: ONE * 10n }))).to.deep.equal([
        "budget-nearly-spent",
      ]);
      expect(kinds(agreement(), { ...input, lastAcceptanceAt: NOW - 241n })).to.deep.equal(["missing-acceptance"]);
      expect(kinds(agreement(), { ...input, lastAcceptanceAt: NOW - 240n })).to.deep.equal([]);
      // Keyed by the last acceptance: the same silence is reported once, a new one again.
      const first = warningsFor(agreement(), NOW, { ...input, lastAcceptanceAt: NOW - 500n }, GLM)[0].key;
      const second = warningsFor(agreement(), NOW, { ...input, lastAcceptanceAt: NOW - 300n }, GLM)[0].key;
      expect(first).to.not.equal(second);
    });
  });
});
