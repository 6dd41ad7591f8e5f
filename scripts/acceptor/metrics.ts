import { Counter, Gauge, Registry } from "prom-client";

import { REJECTION_RULES } from "../sdk/acceptor";

/** Prometheus metrics of one acceptor, on a registry of its own (tests run several in one process). */
export class AcceptorMetrics {
  readonly registry = new Registry();

  readonly events = new Counter({
    name: "dripfeed_acceptor_events_total",
    help: "Debit-note events read from yagna, by event type (duplicates from overlapping polls not counted)",
    labelNames: ["type"] as const,
    registers: [this.registry],
  });
  readonly notesSeen = new Counter({
    name: "dripfeed_acceptor_notes_seen_total",
    help: "Debit notes received (DebitNoteReceivedEvent), each counted once",
    registers: [this.registry],
  });
  readonly accepted = new Counter({
    name: "dripfeed_acceptor_notes_accepted_total",
    help: "Debit notes the policy accepted and the acceptor signed",
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: "dripfeed_acceptor_notes_refused_total",
    help: "Debit notes the policy refused, by rule",
    labelNames: ["rule"] as const,
    registers: [this.registry],
  });
  readonly ignored = new Counter({
    name: "dripfeed_acceptor_notes_ignored_total",
    help: "Debit notes left alone: agreement not in the pool, or unknown to yagna",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: "dripfeed_acceptor_deliveries_total",
    help: "Acceptances handed on, by outcome (handed, settled, covered, failed)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly relayErrors = new Counter({
    name: "dripfeed_acceptor_relay_errors_total",
    help: "Failed hand-offs to the relay (or own settlements), by error code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly yagnaAccepts = new Counter({
    name: "dripfeed_acceptor_yagna_accepts_total",
    help: "POST /debitNotes/{id}/accept outcomes (accepted, failed)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly yagnaErrors = new Counter({
    name: "dripfeed_acceptor_yagna_errors_total",
    help: "Failed calls to yagna's payment API",
    registers: [this.registry],
  });
  readonly rpcErrors = new Counter({
    name: "dripfeed_acceptor_rpc_errors_total",
    help: "Failed chain reads",
    registers: [this.registry],
  });
  readonly pending = new Gauge({
    name: "dripfeed_acceptor_pending_deliveries",
    help: "Signed acceptances waiting to be handed on",
    registers: [this.registry],
  });
  readonly cursor = new Gauge({
    name: "dripfeed_acceptor_cursor_timestamp_seconds",
    help: "eventDate of the last yagna event handled (unix seconds)",
    registers: [this.registry],
  });

  constructor() {
    // Every rule appears from the start (at 0), so a dashboard can tell "never refused" from "not reported".
    for (const rule of REJECTION_RULES) this.refused.inc({ rule }, 0);
  }
}
