import { formatAmount } from "../sdk/amounts";
import type { TokenInfo } from "../sdk/token";
import { ServiceMetrics } from "../service/metrics";
import type { WatchEvent } from "./events";
import { WARNING_KINDS } from "./planner";

/** What the watcher sends: a settle of a held acceptance, or a claim. */
export type WatcherAction = "settle" | "claim";

/** Prometheus metrics of one watcher. */
export class WatcherMetrics extends ServiceMetrics {
  readonly followed = this.gauge(
    "dripfeed_watcher_agreements_followed",
    "Agreements paying the provider that the watcher follows (released ones drop out)",
  );
  readonly sent = this.counter(
    "dripfeed_watcher_transactions_total",
    "Settles and claims the watcher sent and saw mined, by action",
    ["action"],
  );
  readonly paid = this.counter(
    "dripfeed_watcher_paid_total",
    "What the watcher's settles and claims paid the provider, in token units, by action and token symbol",
    ["action", "token"],
  );
  readonly received = this.counter(
    "dripfeed_watcher_acceptances_received_total",
    "Acceptances taken in (from the --acceptances folder or a relay), each counted once",
  );
  readonly warnings = this.counter("dripfeed_watcher_warnings_total", "Warnings given (each cause once), by kind", [
    "kind",
  ]);
  readonly errors = this.counter(
    "dripfeed_watcher_errors_total",
    "Failures: of one agreement's handling (stage agreement), or of a whole step (stage step, e.g. the RPC)",
    ["stage"],
  );
  readonly lastStep = this.gauge(
    "dripfeed_watcher_last_step_timestamp_seconds",
    "When the last step finished without failing (unix seconds)",
  );

  constructor() {
    super();
    // Every series appears from the start (at 0), so a dashboard can tell "never happened" from "not reported".
    for (const kind of WARNING_KINDS) this.warnings.inc({ kind }, 0);
    for (const action of ["settle", "claim"]) this.sent.inc({ action }, 0);
    for (const stage of ["agreement", "step"]) this.errors.inc({ stage }, 0);
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
