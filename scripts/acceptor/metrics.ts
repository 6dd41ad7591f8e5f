import { REJECTION_RULES } from "../sdk/acceptor";
import { ServiceMetrics } from "../service/metrics";

/** Prometheus metrics of one acceptor. */
export class AcceptorMetrics extends ServiceMetrics {
  readonly events = this.counter(
    "dripfeed_acceptor_events_total",
    "Debit-note events read from yagna, by event type (duplicates from overlapping polls not counted)",
    ["type"],
  );
  readonly notesSeen = this.counter(
    "dripfeed_acceptor_notes_seen_total",
    "Debit notes received (DebitNoteReceivedEvent), each counted once",
  );
  readonly accepted = this.counter(
    "dripfeed_acceptor_notes_accepted_total",
    "Debit notes the policy accepted and the acceptor signed",
  );
  readonly refused = this.counter("dripfeed_acceptor_notes_refused_total", "Debit notes the policy refused, by rule", [
    "rule",
  ]);
  readonly ignored = this.counter(
    "dripfeed_acceptor_notes_ignored_total",
    "Debit notes left alone: agreement not in the pool, or unknown to yagna",
    ["reason"],
  );
  readonly deliveries = this.counter(
    "dripfeed_acceptor_deliveries_total",
    "Acceptances handed on, by outcome (handed, settled, covered, failed)",
    ["outcome"],
  );
  readonly relayErrors = this.counter(
    "dripfeed_acceptor_relay_errors_total",
    "Failed hand-offs to the relay (or own settlements), by error code",
    ["code"],
  );
  readonly yagnaAccepts = this.counter(
    "dripfeed_acceptor_yagna_accepts_total",
    "POST /debitNotes/{id}/accept outcomes (accepted, failed)",
    ["outcome"],
  );
  readonly yagnaErrors = this.counter("dripfeed_acceptor_yagna_errors_total", "Failed calls to yagna's payment API");
  readonly rpcErrors = this.counter("dripfeed_acceptor_rpc_errors_total", "Failed chain reads");
  readonly pending = this.gauge("dripfeed_acceptor_pending_deliveries", "Signed acceptances waiting to be handed on");
  readonly cursor = this.gauge(
    "dripfeed_acceptor_cursor_timestamp_seconds",
    "eventDate of the last yagna event handled (unix seconds)",
  );

  constructor() {
    super();
    // Every rule appears from the start (at 0), so a dashboard can tell "never refused" from "not reported".
    for (const rule of REJECTION_RULES) this.refused.inc({ rule }, 0);
  }
}
