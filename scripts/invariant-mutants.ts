/**
 * Shows that the invariant campaign catches bugs: for each planted bug of test/foundry/mutants.json (one edit of
 * contracts/DripFeed.sol, in each invariant's territory), it copies the Foundry project into .forge/mutants/<id>
 * (the sources with the edit applied, the compiled artifacts of the unchanged files), runs one campaign with the
 * CI seed and reports how long forge took to find a failing sequence and how short the shrunk sequence is. The
 * repository's own contracts are never touched.
 *
 *   npm run invariant:mutants                       # every mutant
 *   npm run invariant:mutants -- --only cap-never-binds --seed 7
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";

import { runForge } from "./foundry/forge";

const ROOT = path.resolve(__dirname, "..");
const WORK = path.join(ROOT, ".forge", "mutants");

interface Mutant {
  id: string;
  territory: string;
  bug: string;
  find: string;
  replace: string;
}

interface Outcome {
  mutant: Mutant;
  caught: boolean;
  seconds: number;
  original?: number;
  shrunk?: number;
  failure: string;
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? undefined : process.argv[index + 1];
}

/** A copy of what forge reads, with `mutant` applied to the contract; node_modules is linked, not copied. */
function prepare(file: string, mutant: Mutant): string {
  const dir = path.join(WORK, mutant.id);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, "scripts"), { recursive: true });
  for (const entry of ["foundry.toml", "contracts", "test/foundry", "scripts/forge-solc.js"]) {
    cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  // The unchanged files need not compile again: forge's cache records paths relative to the project.
  for (const entry of [".forge/cache", ".forge/out"]) {
    if (existsSync(path.join(ROOT, entry))) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  }
  rmSync(path.join(dir, ".forge/cache/invariant"), { recursive: true, force: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  const target = path.join(dir, file);
  const source = readFileSync(target, "utf8");
  if (source.split(mutant.find).length !== 2)
    throw new Error(`${mutant.id}: the text to replace is not in ${file} once`);
  writeFileSync(target, source.replace(mutant.find, mutant.replace));
  return dir;
}

async function plant(file: string, mutant: Mutant, seed: string | undefined): Promise<Outcome> {
  const dir = prepare(file, mutant);
  const build = await runForge(ROOT, ["build"], { cwd: dir });
  if (build.code !== 0) throw new Error(`${mutant.id}: the mutant does not compile\n${build.output}`);
  const args = [
    "test",
    "--match-contract",
    "DripFeedInvariantsA",
    ...(seed === undefined ? [] : ["--fuzz-seed", seed]),
  ];
  const run = await runForge(ROOT, args, { cwd: dir });
  const sequence = /\(original: (\d+), shrunk: (\d+)\)/.exec(run.output);
  // "[FAIL: <reason>]" ends its line, or is followed by " invariant_spec() (runs: ...)" when set-up failed; the
  // reason may hold brackets itself.
  const failure = /^\[FAIL: (.*)\](?: \w+\(\) \(runs.*)?$/m.exec(run.output)?.[1] ?? "";
  // Forge's own time for the suite (finding the failure and shrinking it), without start-up and compilation.
  const suite = /Suite result: \w+\..*finished in ([\d.]+)(ms|s)/.exec(run.output);
  const seconds = suite ? Number(suite[1]) / (suite[2] === "ms" ? 1000 : 1) : run.seconds;
  return {
    mutant,
    caught: run.code !== 0,
    seconds,
    original: sequence ? Number(sequence[1]) : failure.startsWith("failed to set up") ? 0 : undefined,
    shrunk: sequence ? Number(sequence[2]) : failure.startsWith("failed to set up") ? 0 : undefined,
    failure,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(path.join(ROOT, "test/foundry/mutants.json"), "utf8")) as {
    file: string;
    mutants: Mutant[];
  };
  const only = option("only");
  const seed = option("seed");
  const mutants = spec.mutants.filter((m) => only === undefined || m.id === only);
  if (mutants.length === 0) {
    console.error(`no mutant named ${only}; see test/foundry/mutants.json`);
    process.exit(2);
  }
  console.log(
    "| planted bug | invariant territory | caught | time to failure (forge, incl. shrinking) | calls (found -> shrunk) | failure |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  let missed = 0;
  for (const mutant of mutants) {
    const o = await plant(spec.file, mutant, seed);
    if (!o.caught) missed += 1;
    const sequence =
      o.original === undefined ? "-" : o.original === 0 ? "0 (set-up)" : `${o.original} -> ${o.shrunk} calls`;
    const failure = o.failure.replace(/\|/g, "\\|").slice(0, 120);
    console.log(
      `| ${mutant.id}: ${mutant.bug} | ${mutant.territory} | ${o.caught ? "yes" : "**NO**"} | ${o.seconds.toFixed(1)} s | ${sequence} | ${failure} |`,
    );
  }
  if (only === undefined) rmSync(WORK, { recursive: true, force: true });
  process.exit(missed === 0 ? 0 : 1);
}

void main();
