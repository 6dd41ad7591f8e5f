// The skeleton every DripFeed daemon (relay, supervisor acceptor, provider watcher) shares; each keeps only its own
// loop. lifecycle: start, SIGTERM/SIGINT drain, exit statuses. store: SQLite file opening, single-writer lock,
// identity binding. logger: pino. ops: /metrics and /healthz. loop: a polling step on an interval that drains.
// chain: RPC provider, TTL cache, RPC error helpers. concurrency: a limiter for calls to a dependency.
export * from "./chain";
export * from "./concurrency";
export * from "./lifecycle";
export * from "./logger";
export * from "./loop";
export * from "./ops";
export * from "./store";
