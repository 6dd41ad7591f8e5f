import { FetchRequest, JsonRpcProvider, type Provider } from "ethers";
import pino, { type Logger } from "pino";

import { DripFeedClient } from "../sdk/client";
import { DripFeedError } from "../sdk/errors";
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

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

/** A JSON-RPC provider for a fixed chain that fails a call after RPC_TIMEOUT_MS instead of hanging the page. */
export function rpcProvider(url: string, chainId: number): JsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = RPC_TIMEOUT_MS;
  return new JsonRpcProvider(request, chainId, { staticNetwork: true, cacheTimeout: -1 });
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const log = options.logger ?? pino({ name: "dripfeed-dashboard" });
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

/** Runs the dashboard until SIGTERM or SIGINT, then closes the server and exits 0. */
export async function runDashboardUntilSignal(options: DashboardOptions): Promise<void> {
  const log = options.logger ?? pino({ name: "dripfeed-dashboard" });
  const dashboard = await startDashboard({ ...options, logger: log });
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "stopping");
  await dashboard.close();
  process.exit(0);
}
