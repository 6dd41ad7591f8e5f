import type { Logger } from "pino";

import type { RelayStore } from "./store";

/**
 * `--retain`: the relay's database would otherwise keep every acceptance for good (a simulated day of 200
 * agreements with a note every 120 s left a 259 MB file), so finished ones are forgotten a while after they arrived.
 */

/** How often finished acceptances past --retain are looked for (at most; a tenth of --retain when shorter). */
const RETENTION_INTERVAL_MS = 3_600_000;

/**
 * Forgets finished acceptances `retainMs` after they arrived: at start, then every hour (or a tenth of `retainMs`).
 * A backlog is deleted a chunk per event-loop turn, so HTTP requests keep being answered meanwhile.
 */
export function startRetention(store: RelayStore, retainMs: number, log: Logger): { stop(): void } {
  let stopped = false;
  let pruning = false;
  const sweep = (): void => {
    if (stopped || pruning) return;
    pruning = true;
    const before = Date.now() - retainMs;
    let deleted = 0;
    const step = (): void => {
      try {
        const n = stopped ? 0 : store.prune(before);
        deleted += n;
        if (n > 0) {
          setImmediate(step);
          return;
        }
      } catch (error) {
        log.warn({ err: (error as Error).message }, "could not forget finished acceptances; trying again later");
      }
      pruning = false;
      if (deleted > 0) {
        log.info({ deleted, before: new Date(before).toISOString() }, "forgot finished acceptances past --retain");
      }
    };
    step();
  };
  sweep();
  const timer = setInterval(sweep, Math.max(1_000, Math.min(RETENTION_INTERVAL_MS, retainMs / 10)));
  timer.unref();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
