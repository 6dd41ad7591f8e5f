import type { Logger } from "pino";

/**
 * The process side of a long-running watcher, kept apart so it can move onto the shared service skeleton: run a
 * step, sleep, repeat until SIGTERM or SIGINT; a signal during a step lets the step finish (a transaction in flight
 * is waited for) and then stops. Returns the exit status.
 */
export async function runUntilSignal(step: () => Promise<void>, intervalMs: number, log: Logger): Promise<number> {
  let stopping = false;
  let wake: (() => void) | undefined;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping after the current step");
    wake?.();
  };
  const onTerm = (): void => stop("SIGTERM");
  const onInt = (): void => stop("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  let status = 0;
  try {
    while (!stopping) {
      try {
        await step();
      } catch (error) {
        // One failed step (an RPC hiccup) is logged; the next one tries again.
        log.error({ err: (error as Error).message }, "step failed");
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
  } catch (error) {
    log.error({ err: (error as Error).message }, "watcher failed");
    status = 1;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
  }
  return status;
}
