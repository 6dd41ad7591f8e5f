/**
 * Gas figures, their ratios to a plain ERC-20 transfer, the issue's ratio targets and the committed absolute
 * budgets (bench/budget.json), rendered as the Markdown table that goes to bench/results.md and stdout.
 */
import { readFileSync, writeFileSync } from "node:fs";

import { type GasBreakdown, floorOf } from "./breakdown";

/** One measured operation. */
export interface Figure {
  /** Stable key, used in budget.json. */
  key: string;
  /** What was measured, for people. */
  label: string;
  /** `receipt.gasUsed`, or gasUsed / n for a per-item batch figure. */
  gas: bigint;
}

/** A ratio ceiling from issue 6 part 2. */
export interface Target {
  key: string;
  maxRatio: number;
}

/** bench/budget.json: absolute gas ceilings, with the margin they were made with. */
export interface BudgetFile {
  comment: string;
  marginPercent: number;
  budgets: Record<string, number>;
}

export interface Verdict {
  figure: Figure;
  ratio: number;
  target?: number;
  budget?: number;
  overBudget: boolean;
  missesTarget: boolean;
}

export function judge(figures: Figure[], baseline: Figure, targets: Target[], budget: BudgetFile): Verdict[] {
  return figures.map((figure) => {
    const ratio = Number(figure.gas) / Number(baseline.gas);
    const target = targets.find((t) => t.key === figure.key)?.maxRatio;
    const limit = budget.budgets[figure.key];
    return {
      figure,
      ratio,
      target,
      budget: limit,
      overBudget: limit !== undefined && figure.gas > BigInt(limit),
      missesTarget: target !== undefined && ratio > target + 1e-9,
    };
  });
}

export function readBudget(path: string): BudgetFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as BudgetFile;
  } catch {
    return { comment: "", marginPercent: 0, budgets: {} };
  }
}

/** Budgets `marginPercent` above today's figures, rounded up to 100 gas. */
export function writeBudget(path: string, figures: Figure[], marginPercent: number): void {
  const budgets: Record<string, number> = {};
  for (const figure of figures) {
    const withMargin = (Number(figure.gas) * (100 + marginPercent)) / 100;
    budgets[figure.key] = Math.ceil(withMargin / 100) * 100;
  }
  const file: BudgetFile = {
    comment:
      "Gas ceilings for `npm run bench` (receipt.gasUsed; batch rows per item). The bench exits 1 when a figure " +
      "exceeds its ceiling. Regenerate after an intended change with BENCH_UPDATE_BUDGET=1 npm run bench.",
    marginPercent,
    budgets,
  };
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}

const number = new Intl.NumberFormat("en-US");

export function markdownTable(verdicts: Verdict[]): string {
  const lines = ["| operation | gas | × transfer | target | budget | |", "| --- | ---: | ---: | ---: | ---: | --- |"];
  for (const v of verdicts) {
    const status = v.overBudget ? "OVER BUDGET" : v.missesTarget ? "misses target" : v.target !== undefined ? "✓" : "";
    lines.push(
      `| ${v.figure.label} | ${number.format(v.figure.gas)} | ${v.ratio.toFixed(2)} | ` +
        `${v.target !== undefined ? `≤ ${v.target.toFixed(2)}` : ""} | ` +
        `${v.budget !== undefined ? number.format(v.budget) : ""} | ${status} |`,
    );
  }
  return lines.join("\n");
}

/** A target operation and where its gas goes. */
export interface TargetBreakdown {
  figure: Figure;
  target: Target;
  /** Batches: per item, so its parts are fractions that add up to the figure before rounding. */
  breakdown: GasBreakdown;
}

export function breakdownTable(rows: TargetBreakdown[], baselineGas: bigint): string {
  const base = Number(baselineGas);
  const gas = (value: number): string => number.format(Math.round(value));
  const lines = [
    "| operation | gas | intrinsic | token | ecrecover | events | storage (cold / written) | guard | computation | floor | floor × transfer | target |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { figure, target, breakdown: b } of rows) {
    const floor = floorOf(b);
    lines.push(
      `| ${figure.label} | ${number.format(figure.gas)} | ${gas(b.intrinsic)} | ${gas(b.token)} | ${gas(b.precompile)} | ` +
        `${gas(b.events)} | ${gas(b.storage)} (${b.coldReads.toFixed(b.coldReads % 1 === 0 ? 0 : 2)} / ` +
        `${b.writes.toFixed(b.writes % 1 === 0 ? 0 : 2)}) | ${gas(b.guard)} | ${gas(b.computation)} | ${gas(floor)} | ` +
        `${(floor / base).toFixed(2)} | ≤ ${target.maxRatio.toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}
