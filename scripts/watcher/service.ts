import type { Logger } from "pino";

import { isoTime } from "../sdk/time";
import type { Service } from "../service/lifecycle";
import { type Loop, startLoop } from "../service/loop";
import { type Health, type OpsServer, startOpsServer } from "../service/ops";
import type { StepSummary, Watcher } from ".";

/**
 * The watcher as a service on the shared skeleton: its steps on an interval (scripts/service/loop.ts), /metrics and
 * /healthz (scripts/service/ops.ts), and a drain that lets the step in hand finish, stops serving and closes the state
 * file. `dripfeed watch` runs it until SIGTERM (scripts/service/lifecycle.ts); `--once` runs one step through it.
 */

/** The /metrics and /healthz port of the daemon when --port is not given (`--once` serves none unless asked). */
export const DEFAULT_WATCHER_PORT = 8790;

/** A daemon whose last good step is older than this many polls (and at least 5 minutes) is unhealthy. */
const STALE_POLLS = 3;
const STALE_MIN_MS = 300_000;

export interface WatcherServiceOptions {
  /** Time between steps (ms); also sets when the health answer calls the daemon stale. */
  intervalMs: number;
  log: Logger;
  /** /metrics and /healthz port (0: any free port); undefined: not served. */
  port?: number;
  host?: string;
}

export class WatcherService implements Service {
  private ops?: OpsServer;
  private loop?: Loop;
  private closing?: Promise<void>;
  private readonly startedAt = Date.now();
  private lastOkAt?: number;
  private lastError?: string;
  private lastFailed = 0;

  private constructor(
    readonly watcher: Watcher,
    private readonly options: WatcherServiceOptions,
  ) {}

  /** Serves /metrics and /healthz when a port is given; closes the watcher when that fails (a port in use). */
  static async start(watcher: Watcher, options: WatcherServiceOptions): Promise<WatcherService> {
    const service = new WatcherService(watcher, options);
    if (options.port !== undefined) {
      try {
        service.ops = await startOpsServer({
          registry: watcher.metrics.registry,
          port: options.port,
          host: options.host,
          health: () => service.health(),
        });
      } catch (error) {
        watcher.close();
        throw error;
      }
    }
    return service;
  }

  /** The /metrics and /healthz base URL, when served. */
  get opsUrl(): string | undefined {
    return this.ops?.url;
  }

  /** One step, recorded for the health answer and the metrics; its failure is thrown. */
  async step(): Promise<StepSummary> {
    try {
      const summary = await this.watcher.step();
      this.lastOkAt = Date.now();
      this.lastError = undefined;
      this.lastFailed = summary.failed;
      this.watcher.metrics.lastStep.set(Math.floor(this.lastOkAt / 1000));
      return summary;
    } catch (error) {
      this.lastError = (error as Error).message;
      this.watcher.metrics.errors.inc({ stage: "step" });
      throw error;
    }
  }

  /** Steps on the interval until `close()`. */
  run(): void {
    this.loop ??= startLoop(() => this.step().then(() => undefined), this.options.intervalMs, this.options.log);
  }

  /**
   * Healthy while the last step succeeded for every agreement and is recent. The body says what is wrong: the step's
   * error (often the RPC), how many agreements failed (their `error` events say why), or how old the last step is.
   */
  health(now = Date.now()): Health {
    const staleAfterMs = Math.max(STALE_POLLS * this.options.intervalMs, STALE_MIN_MS);
    const stale = now - (this.lastOkAt ?? this.startedAt) > staleAfterMs;
    return {
      ok: this.lastError === undefined && this.lastFailed === 0 && !stale,
      followed: this.watcher.followedCount(),
      lastStepAt: this.lastOkAt === undefined ? null : isoTime(BigInt(Math.floor(this.lastOkAt / 1000))),
      failedAgreements: this.lastFailed,
      ...(this.lastError !== undefined ? { stepError: this.lastError } : {}),
      ...(stale ? { stale: `no good step for more than ${Math.round(staleAfterMs / 1000)} s` } : {}),
    };
  }

  /** Lets the step in hand finish (a transaction in flight is waited for), stops serving, closes the state file. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      if (this.loop) this.options.log.info("stopping after the current step");
      await this.loop?.stop();
      await this.ops?.close();
      this.watcher.close();
      if (this.loop) this.options.log.info("watcher stopped");
    })());
  }
}
