// The skeleton every DripFeed daemon (relay, supervisor acceptor, provider watcher) shares; each keeps only its own
// loop. lifecycle: start, SIGTERM/SIGINT drain, exit statuses. store: SQLite file opening, single-writer lock,
// identity binding. logger: pino. ops: /metrics and /healthz. chain: RPC provider, TTL cache, RPC error helpers.
export * from "./chain";
export * from "./concurrency";
export * from "./lifecycle";
export * from "./logger";
export * from "./ops";
export * from "./store";
