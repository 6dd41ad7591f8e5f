/**
 * Crash injection for the durability tests: with DRIPFEED_ACCEPTOR_CRASH_AT=<point>[:<n>] the acceptor kills itself
 * with SIGKILL the n-th time (default first) it reaches that point, exactly as `kill -9` would. Points:
 * "signed" (an acceptance signed, its decision not yet on disk), "decided" (decision on disk, not handed on yet),
 * "handed" (the relay took it, not yet recorded), "yagna-accepted" (yagna took the acceptance, not yet recorded).
 */
export type CrashPoint = "signed" | "decided" | "handed" | "yagna-accepted";

const spec = process.env.DRIPFEED_ACCEPTOR_CRASH_AT;
const [target, nth] = spec ? spec.split(":") : [undefined, undefined];
const wanted = nth ? Number(nth) : 1;
let hits = 0;

export function crashPoint(point: CrashPoint): void {
  if (point !== target) return;
  hits++;
  if (hits >= wanted) process.kill(process.pid, "SIGKILL");
}
