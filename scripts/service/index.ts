// The skeleton every DripFeed daemon (relay, supervisor acceptor, provider watcher) shares; each keeps only its own
// work. lifecycle: start, SIGTERM/SIGINT drain, exit statuses. loop: a polling step on an interval that drains.
// store: SQLite file opening, single-writer lock, identity binding. logger: pino. metrics: a registry with one-line
// counters and gauges. ops: /metrics and /healthz. chain: RPC provider, TTL cache, RPC error helpers. concurrency: a
// limiter for calls to a dependency.
export * from "./chain";
export * from "./concurrency";
export * from "./lifecycle";
export * from "./logger";
export * from "./loop";
export * from "./metrics";
export * from "./ops";
export * from "./store";
