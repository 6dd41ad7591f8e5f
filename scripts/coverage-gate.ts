/**
 * Coverage gate, run after `hardhat coverage`: fails unless the protocol contracts (contracts/ without the test-only
 * contracts/test/) reach the thresholds, summed over every file. Reads coverage/coverage-final.json (istanbul).
 *
 *   ts-node scripts/coverage-gate.ts [--lines 95] [--branches 90]
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

interface FileCoverage {
  path: string;
  s: Record<string, number>;
  b: Record<string, number[]>;
  statementMap: Record<string, { start: { line: number } }>;
}

function threshold(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

const root = join(__dirname, "..");
const report = join(root, "coverage", "coverage-final.json");
if (!existsSync(report)) {
  console.error(`coverage gate: ${relative(root, report)} not found; run \`hardhat coverage\` first`);
  process.exit(2);
}
const files = Object.values(JSON.parse(readFileSync(report, "utf8")) as Record<string, FileCoverage>);
const protocol = files.filter((f) => {
  const path = relative(root, f.path).split(sep).join("/");
  return path.startsWith("contracts/") && !path.startsWith("contracts/test/");
});
if (protocol.length === 0) {
  console.error("coverage gate: no protocol contracts in the report");
  process.exit(2);
}

let linesTotal = 0;
let linesHit = 0;
let branchesTotal = 0;
let branchesHit = 0;
const rows: string[] = [];
for (const f of protocol) {
  // Lines as istanbul counts them: a line is covered when any statement starting on it ran.
  const lines = new Map<number, boolean>();
  for (const [id, loc] of Object.entries(f.statementMap)) {
    const line = loc.start.line;
    lines.set(line, (lines.get(line) ?? false) || f.s[id] > 0);
  }
  const fileLines = lines.size;
  const fileLinesHit = [...lines.values()].filter(Boolean).length;
  const arms = Object.values(f.b).flat();
  const fileBranchesHit = arms.filter((n) => n > 0).length;
  linesTotal += fileLines;
  linesHit += fileLinesHit;
  branchesTotal += arms.length;
  branchesHit += fileBranchesHit;
  rows.push(
    `  ${relative(root, f.path)}: lines ${fileLinesHit}/${fileLines}, branches ${fileBranchesHit}/${arms.length}`,
  );
}

const pct = (hit: number, total: number): number => (total === 0 ? 100 : (100 * hit) / total);
const linePct = pct(linesHit, linesTotal);
const branchPct = pct(branchesHit, branchesTotal);
const minLines = threshold("lines", 95);
const minBranches = threshold("branches", 90);
console.log("coverage gate (contracts/, without contracts/test/):");
for (const row of rows) console.log(row);
console.log(
  `  total: lines ${linePct.toFixed(2)}% (min ${minLines}%), branches ${branchPct.toFixed(2)}% (min ${minBranches}%)`,
);
if (linePct < minLines || branchPct < minBranches) {
  console.error("coverage gate: FAILED");
  process.exit(1);
}
console.log("coverage gate: passed");
