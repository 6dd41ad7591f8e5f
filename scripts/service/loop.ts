import type { Logger } from "pino";

import { shortMessage } from "./chain";

/**
 * The loop of a service that polls (the watcher follows the chain on an interval): run a step, sleep, repeat. A
 * failed step (an RPC hiccup) is logged and the next one tries again; the step records what its health answer needs.
 * `stop()` lets the step in hand finish (a transaction in flight is waited for) and ends the sleep at once, so a drain
 * never waits out an interval.
 */

export interface Loop {
  /** Stops after the step in hand (if any); resolves when it has finished. */
  stop(): Promise<void>;
}

export function startLoop(step: () => Promise<void>, intervalMs: number, log: Logger): Loop {
  let stopping = false;
  let wake: (() => void) | undefined;
  const run = async (): Promise<void> => {
    while (!stopping) {
      try {
        await step();
      } catch (error) {
        log.error({ err: shortMessage(error) }, "step failed; the next one tries again");
      }
      if (stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  };
  const done = run();
  return {
    stop: () => {
      stopping = true;
      wake?.();
      return done;
    },
  };
}
