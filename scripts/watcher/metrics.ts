import { Counter, Gauge, Registry } from "prom-client";

import { formatAmount } from "../sdk/amounts";
import type { TokenInfo } from "../sdk/token";
import type { WatchEvent } from "./events";
import { WARNING_KINDS } from "./planner";

/** What the watcher sends: a settle of a held acceptance, or a claim. */
export type WatcherAction = "settle" | "claim";

/** Prometheus metrics of one watcher, on a registry of its own (tests run several in one process). */
export class WatcherMetrics {
  readonly registry = new Registry();

  readonly followed = new Gauge({
    name: "dripfeed_watcher_agreements_followed",
    help: "Agreements paying the provider that the watcher follows (released ones drop out)",
    registers: [this.registry],
  });
  readonly sent = new Counter({
    name: "dripfeed_watcher_transactions_total",
    help: "Settles and claims the watcher sent and saw mined, by action",
    labelNames: ["action"] as const,
    registers: [this.registry],
  });
  readonly paid = new Counter({
    name: "dripfeed_watcher_paid_total",
    help: "What the watcher's settles and claims paid the provider, in token units, by action and token symbol",
    labelNames: ["action", "token"] as const,
    registers: [this.registry],
  });
  readonly received = new Counter({
    name: "dripfeed_watcher_acceptances_received_total",
    help: "Acceptances taken in (from the --acceptances folder or a relay), each counted once",
    registers: [this.registry],
  });
  readonly warnings = new Counter({
    name: "dripfeed_watcher_warnings_total",
    help: "Warnings given (each cause once), by kind",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: "dripfeed_watcher_errors_total",
    help: "Failures: of one agreement's handling (stage agreement), or of a whole step (stage step, e.g. the RPC)",
    labelNames: ["stage"] as const,
    registers: [this.registry],
  });
  readonly lastStep = new Gauge({
    name: "dripfeed_watcher_last_step_timestamp_seconds",
    help: "When the last step finished without failing (unix seconds)",
    registers: [this.registry],
  });

  constructor() {
    // Every series appears from the start (at 0), so a dashboard can tell "never happened" from "not reported".
    for (const kind of WARNING_KINDS) this.warnings.inc({ kind }, 0);
    for (const action of ["settle", "claim"] as const) this.sent.inc({ action }, 0);
    for (const stage of ["agreement", "step"] as const) this.errors.inc({ stage }, 0);
  }

  /** Counts what an event tells (warnings, per-agreement errors, acceptances taken in). */
  observe(e: WatchEvent): void {
    if (e.event === "warning") this.warnings.inc({ kind: e.kind });
    else if (e.event === "error") this.errors.inc({ stage: "agreement" });
    else if (e.event === "received") this.received.inc();
  }

  /** A mined settle or claim and what it paid (base units). */
  transaction(action: WatcherAction, paid: bigint, token: TokenInfo): void {
    this.sent.inc({ action });
    this.paid.inc({ action, token: token.symbol }, Number(formatAmount(paid, { decimals: token.decimals })));
  }
}
