/**
 * Crash injection for the durability tests: with DRIPFEED_RELAY_CRASH_AT=<point>[:<n>] the relay kills itself with
 * SIGKILL the n-th time (default first) it reaches that point after it queued its first new acceptance of this run
 * (so the crash hits new work, not the resumption of an earlier run's), exactly as `kill -9` would.
 * Points: "after-persist" (acceptance on disk, 202 not yet sent), "batch-created" (items marked submitted, no
 * transaction yet), "signed" (transaction hash recorded, not broadcast), "broadcast" (sent, receipt not read),
 * "receipt" (receipt read, outcomes not recorded).
 */
export type CrashPoint = "after-persist" | "batch-created" | "signed" | "broadcast" | "receipt";

const spec = process.env.DRIPFEED_RELAY_CRASH_AT;
const [target, nth] = spec ? spec.split(":") : [undefined, undefined];
const wanted = nth ? Number(nth) : 1;
let hits = 0;
let armed = false;

/** Called when an acceptance is queued: from then on the crash point counts. */
export function armCrashPoints(): void {
  armed = true;
}

export function crashPoint(point: CrashPoint): void {
  if (point !== target || !armed) return;
  hits++;
  if (hits >= wanted) process.kill(process.pid, "SIGKILL");
}
