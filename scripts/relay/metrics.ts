import { Counter, Gauge, Registry } from "prom-client";

import type { AcceptanceStatus } from "./store";

/** Prometheus metrics of one relay, on a registry of its own (several relays may share a process in tests). */
export class RelayMetrics {
  readonly registry = new Registry();

  /** POST /v1/acceptances answers by outcome: queued, duplicate, rejected (with the error code). */
  readonly received = new Counter({
    name: "dripfeed_relay_acceptances_received_total",
    help: "Acceptances received over HTTP, by outcome and error code",
    labelNames: ["outcome", "code"] as const,
    registers: [this.registry],
  });
  readonly settled = new Counter({
    name: "dripfeed_relay_acceptances_settled_total",
    help: "Acceptances settled on-chain",
    registers: [this.registry],
  });
  readonly failed = new Counter({
    name: "dripfeed_relay_acceptances_failed_total",
    help: "Acceptances that failed for good",
    registers: [this.registry],
  });
  readonly superseded = new Counter({
    name: "dripfeed_relay_acceptances_superseded_total",
    help: "Acceptances set aside because a total at least as high of the same agreement was settled",
    registers: [this.registry],
  });
  readonly batches = new Counter({
    name: "dripfeed_relay_batches_total",
    help: "settleBatch transactions, by result (mined, reverted, retry)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly gasUsed = new Counter({
    name: "dripfeed_relay_gas_used_total",
    help: "Gas used by mined settleBatch transactions",
    registers: [this.registry],
  });
  readonly splits = new Counter({
    name: "dripfeed_relay_batch_splits_total",
    help: "Batches cut in half because they failed the gas estimate (too big for a block, or an item that breaks it)",
    registers: [this.registry],
  });
  readonly simulations = new Counter({
    name: "dripfeed_relay_simulations_total",
    help: "Acceptances simulated alone before sending (untrusted pools and signers, quarantine lanes), by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly rpcErrors = new Counter({
    name: "dripfeed_relay_rpc_errors_total",
    help: "Failed JSON-RPC calls",
    registers: [this.registry],
  });
  readonly byStatus = new Gauge({
    name: "dripfeed_relay_acceptances",
    help: "Acceptances in the relay database, by status",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly queued = new Gauge({
    name: "dripfeed_relay_queued",
    help: "Acceptances waiting to be submitted",
    registers: [this.registry],
  });

  readonly submitterBalance = new Gauge({
    name: "dripfeed_relay_submitter_balance",
    help: "Balance of the submitting account in the chain's native token (ETH, POL), as last read",
    registers: [this.registry],
  });
  readonly agreements = new Gauge({
    name: "dripfeed_relay_agreements_waiting",
    help: "Agreements with queued acceptances, by whether their settlement is due now or held",
    labelNames: ["state"] as const,
    registers: [this.registry],
  });
  readonly quarantined = new Gauge({
    name: "dripfeed_relay_quarantined",
    help: "Pools and signers whose acceptances are kept out of shared batches",
    registers: [this.registry],
  });
  readonly problems = new Gauge({
    name: "dripfeed_relay_degraded",
    help: "1 while the relay has a problem of its own (no funds, RPC errors, nonce trouble), by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });

  /** Called before each scrape with the store's counts. */
  setCounts(counts: Record<AcceptanceStatus, number>): void {
    for (const [status, n] of Object.entries(counts)) this.byStatus.set({ status }, n);
    this.queued.set(counts.queued);
  }
}
