import { FetchRequest, JsonRpcProvider, type Provider } from "ethers";
import type { Logger } from "pino";

import { DripFeedClient } from "../sdk/client";
import { DripFeedError } from "../sdk/errors";
import { createLogger } from "../service/logger";
import { type Service, serveUntilSignal } from "../service/lifecycle";
import { EventReader } from "./events";
import { buildHttp } from "./http";
import { Pages } from "./pages";
import { RelayClient } from "./relay";

/**
 * The read-only dashboard, wired: chain reads (SDK client, events) and an optional relay behind an HTTP server that
 * serves the page and its JSON. It holds no key and sends no transaction.
 */

export const DEFAULT_PORT = 8790;
export const DEFAULT_REFRESH_MS = 5_000;
/** The longest a JSON-RPC call may take before the page says the chain does not answer. */
export const RPC_TIMEOUT_MS = 10_000;

export interface DashboardOptions {
  provider: Provider;
  /** The DripFeed contract to show. */
  contract: string;
  /** Its deployment block (events are read from there). */
  fromBlock?: number;
  port?: number;
  host?: string;
  /** A relay's base URL, for its panel. */
  relay?: string;
  refreshMs?: number;
  logger?: Logger;
  /** Called with the URL once the server listens (the task prints it for people). */
  onListening?: (url: string) => void;
}

export interface Dashboard extends Service {
  url: string;
}

/**
 * A JSON-RPC provider for a fixed chain that fails a call after RPC_TIMEOUT_MS instead of hanging the page (the
 * services' `connectRpc` keeps ethers' five-minute default, right for a daemon but not for a person watching).
 */
export function rpcProvider(url: string, chainId: number): JsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = RPC_TIMEOUT_MS;
  return new JsonRpcProvider(request, chainId, { staticNetwork: true, cacheTimeout: -1 });
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const log = options.logger ?? createLogger("dripfeed-dashboard");
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  if (!Number.isInteger(refreshMs) || refreshMs < 250) {
    throw new DripFeedError("INVALID_ARGUMENT", `--refresh must be at least 250 ms, got ${refreshMs}`, "refresh");
  }
  const relay = options.relay ? new RelayClient(options.relay) : undefined;
  const fromBlock = options.fromBlock ?? 0;
  const client = await DripFeedClient.connect(options.contract, options.provider, { fromBlock });
  const pages = new Pages(client, new EventReader(client, fromBlock), relay);
  const app = buildHttp({ pages, refreshMs });
  const url = await app.listen({ port: options.port ?? DEFAULT_PORT, host: options.host ?? "127.0.0.1" });
  log.info(
    { url, chainId: client.chainId.toString(), contract: client.address, relay: relay?.url ?? null, refreshMs },
    "dashboard listening",
  );
  options.onListening?.(url);
  return { url, close: () => app.close() };
}

/** Starts the dashboard, then serves until SIGTERM or SIGINT and exits like every DripFeed service. */
export async function runDashboardUntilSignal(options: DashboardOptions): Promise<never> {
  const log = options.logger ?? createLogger("dripfeed-dashboard");
  const dashboard = await startDashboard({ ...options, logger: log });
  return serveUntilSignal(dashboard, { log, drainTimeoutMs: 5_000 });
}
