/**
 * Model-based stateful fuzzing of DripFeed (issue 5): random sequences of every state-changing function over two
 * tokens, two owners, grantees, providers and a relay, compared after every step with the model of docs/PROTOCOL.md and
 * checked against the SPEC invariants. `npm test` runs a small campaign; `npm run fuzz -- --runs N --seed S` a
 * long one (FUZZ_RUNS / FUZZ_SEED / FUZZ_STEPS carry the options into mocha).
 */
import fc from "fast-check";
import hre from "hardhat";

import { bootstrapCommands, commandArbitraries } from "./commands";
import { MINTED, type Real, latestTimestamp, stats, worldFixture } from "./harness";
import { type ModelState, initialModel } from "./model";

// Under solidity-coverage every step is several times slower and only the code paths matter: fewer sequences.
const UNDER_COVERAGE =
  (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;
const RUNS = Number(process.env.FUZZ_RUNS ?? (UNDER_COVERAGE ? 6 : 12));
const MAX_STEPS = Number(process.env.FUZZ_STEPS ?? 30);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

describe("fuzz: stateful model-based sequences", function () {
  // A long campaign sets its own budget; the default run stays well under two minutes.
  this.timeout(process.env.FUZZ_RUNS === undefined ? (UNDER_COVERAGE ? 300_000 : 110_000) : 0);

  it(`matches the SPEC model and keeps every invariant after every step (${RUNS} sequences, <= ${MAX_STEPS} steps)`, async () => {
    stats.sequences = 0;
    stats.steps = 0;
    stats.outcomes.clear();
    const started = Date.now();
    const setup = async (): Promise<{ model: ModelState; real: Real }> => {
      const world = await worldFixture();
      const model = initialModel(await latestTimestamp(), MINTED);
      const real: Real = { world, ledger: new Map(), lastPaid: new Map(), steps: 0 };
      for (const command of bootstrapCommands()) await command.run(model, real);
      stats.sequences += 1;
      return { model, real };
    };
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbitraries(), { maxCommands: MAX_STEPS, size: "max" }), (commands) =>
        fc.asyncModelRun(setup, commands),
      ),
      { numRuns: RUNS, seed: SEED, verbose: process.env.FUZZ_VERBOSE === undefined ? 0 : 1 },
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (process.env.FUZZ_VERBOSE !== undefined) {
      for (const [key, n] of [...stats.outcomes].sort()) console.log(`        ${String(n).padStart(6)}  ${key}`);
    }
    console.log(`      fuzz: ${stats.sequences} sequences, ${stats.steps} steps in ${seconds}s`);
  });
});
