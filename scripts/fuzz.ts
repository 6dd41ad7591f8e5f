/**
 * Long stateful-fuzz campaign: `npm run fuzz -- --runs 500 --seed 42 [--steps 40] [--verbose]`.
 * Runs test/fuzz/stateful.test.ts under Hardhat with FUZZ_RUNS / FUZZ_SEED / FUZZ_STEPS set; the test prints the
 * number of sequences and steps executed, and on failure the shrunk counterexample with its seed and replay path.
 */
import { spawnSync } from "node:child_process";

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return undefined;
  const value = process.argv[index + 1];
  if (value === undefined || !/^-?\d+$/.test(value)) {
    console.error(`--${name} needs an integer value`);
    process.exit(2);
  }
  return value;
}

const runs = option("runs") ?? "300";
const seed = option("seed") ?? String(Date.now() % 2_147_483_647);
const steps = option("steps") ?? "40";
console.log(`fuzz campaign: ${runs} sequences of at most ${steps} steps, seed ${seed}`);

const env: NodeJS.ProcessEnv = { ...process.env, FUZZ_RUNS: runs, FUZZ_SEED: seed, FUZZ_STEPS: steps };
if (process.argv.includes("--verbose")) env.FUZZ_VERBOSE = "1";
const result = spawnSync("npx", ["hardhat", "test", "test/fuzz/stateful.test.ts"], { stdio: "inherit", env });
if (result.status !== 0)
  console.error(`fuzz campaign failed; replay with: npm run fuzz -- --runs ${runs} --seed ${seed}`);
process.exit(result.status ?? 1);
