import type { Logger } from "pino";

import { isDripFeedError } from "../sdk/errors";
import { shortMessage } from "./chain";

/**
 * The life of a DripFeed daemon process: it starts (or fails to, with one log line and an exit status that says
 * whether the operator got something wrong), runs until SIGTERM or SIGINT, then drains (stops taking work, finishes
 * what is in flight, closes its database) within a time limit, and exits.
 */

/** Exit statuses shared by every DripFeed service. */
export const EXIT = {
  /** Drained and stopped. */
  OK: 0,
  /** A failure: the chain or another dependency, a drain that failed or ran out of time. */
  FAILURE: 1,
  /** The operator's input: a flag, a missing variable, a database that is locked or belongs to something else. */
  CONFIG: 2,
} as const;

/** Error codes that mean "fix the command line or the environment", not "try again later". */
const CONFIG_CODES = new Set([
  "INVALID_ARGUMENT",
  "STORE_LOCKED",
  "STORE_MISMATCH",
  "NOT_DEPLOYED",
  "NOT_AUTHORIZED",
  "UNKNOWN_POOL",
]);

/** The exit status for an error that stopped a service. */
export function exitStatusOf(error: unknown): number {
  return isDripFeedError(error) && CONFIG_CODES.has(error.code) ? EXIT.CONFIG : EXIT.FAILURE;
}

/** What a started service offers its process: a drain. */
export interface Service {
  /** Stops taking new work, finishes what is in flight, releases its resources. */
  close(): Promise<void>;
}

export interface ServeOptions {
  log: Logger;
  /** Longest drain (ms) before the process gives up and exits 1; no limit when omitted. */
  drainTimeoutMs?: number;
}

/** Logs why a service could not start (one line, with the error's code) and exits with `exitStatusOf`. */
export function exitOnStartFailure(log: Logger, error: unknown): never {
  log.fatal({ code: isDripFeedError(error) ? error.code : undefined }, shortMessage(error));
  log.flush?.();
  process.exit(exitStatusOf(error));
}

/**
 * Runs until SIGTERM or SIGINT, drains `service`, then exits: 0 when the drain finished, 1 when it failed or ran
 * past `drainTimeoutMs`. A second signal while draining exits 1 at once (an operator who presses Ctrl+C twice
 * means it).
 */
export async function serveUntilSignal(service: Service, options: ServeOptions): Promise<never> {
  const { log } = options;
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "signal received: draining");
  const again = (second: NodeJS.Signals) => {
    log.warn({ signal: second }, "second signal while draining: exiting now");
    process.exit(EXIT.FAILURE);
  };
  process.once("SIGTERM", again);
  process.once("SIGINT", again);
  const status = await drain(service, log, options.drainTimeoutMs);
  log.flush?.();
  process.exit(status);
}

/** Closes `service` within `timeoutMs` (no limit when undefined); the exit status that outcome deserves. */
export async function drain(service: Service, log: Logger, timeoutMs?: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    if (timeoutMs !== undefined) timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([service.close().then(() => "closed" as const), timedOut]);
    if (outcome === "timeout") {
      log.error({ timeoutMs }, "drain did not finish in time; exiting with work in flight (it resumes on restart)");
      return EXIT.FAILURE;
    }
    return EXIT.OK;
  } catch (error) {
    log.error({ err: shortMessage(error) }, "drain failed");
    return EXIT.FAILURE;
  } finally {
    if (timer) clearTimeout(timer);
  }
}
