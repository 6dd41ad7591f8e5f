/**
 * The Foundry invariant campaign of test/foundry (see test/foundry/README.md).
 *
 *   npm run invariant                                   # what CI runs: the settings in foundry.toml, fixed seed
 *   npm run invariant -- --runs 20000 --seed 7          # a longer campaign with another seed
 *   npm run invariant -- --depth 500 --check-interval 1 # deeper sequences, invariants after every call
 *
 * `--runs` counts sequences per campaign contract (two run side by side); each sequence makes `--depth` handler
 * calls. Prints the calls made and their rate; on failure, the command that replays the same campaign (forge also
 * keeps the shrunk sequence under .forge/cache/invariant and replays it first on the next run).
 */
import path from "node:path";

import { runForge } from "./foundry/forge";

const ROOT = path.resolve(__dirname, "..");

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  if (index === -1) return undefined;
  const value = process.argv[index + 1];
  if (value === undefined || !/^(\d+|0x[0-9a-fA-F]+)$/.test(value)) {
    console.error(`--${name} needs a non-negative integer (decimal or 0x-hex)`);
    process.exit(2);
  }
  return value;
}

async function main(): Promise<void> {
  const runs = option("runs");
  const depth = option("depth");
  const checkInterval = option("check-interval");
  const seed = option("seed");
  const env: NodeJS.ProcessEnv = {};
  if (runs !== undefined) env.FOUNDRY_INVARIANT_RUNS = runs;
  if (depth !== undefined) env.FOUNDRY_INVARIANT_DEPTH = depth;
  if (checkInterval !== undefined) env.FOUNDRY_INVARIANT_CHECK_INTERVAL = checkInterval;
  const args = ["test", ...(seed === undefined ? [] : ["--fuzz-seed", seed])];
  console.log(
    `forge ${args.join(" ")}  ${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")}`.trimEnd(),
  );

  const result = await runForge(ROOT, args, { env, echo: true });
  const calls = [...result.output.matchAll(/\(runs: (\d+), calls: (\d+), reverts: (\d+)\)/g)].reduce(
    (sum, match) => sum + Number(match[2]),
    0,
  );
  const seconds = result.seconds.toFixed(0);
  console.log(`invariant campaign: ${calls.toLocaleString("en-US")} handler calls in ${seconds} s (with compilation)`);
  if (result.code !== 0) {
    const given = { runs, depth, "check-interval": checkInterval, seed };
    const again = Object.entries(given)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `--${name} ${value}`)
      .join(" ");
    console.error(`invariant campaign failed; replay with: npm run invariant${again ? ` -- ${again}` : ""}`);
  }
  process.exit(result.code);
}

void main();
