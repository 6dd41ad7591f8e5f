import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import type { Registry } from "prom-client";

/**
 * The operations endpoint of a service that has no HTTP API of its own: `GET /metrics` (Prometheus text) and
 * `GET /healthz` (JSON, 200 when healthy, 503 when not). Loopback by default: metrics name pools and agreements.
 */

export interface Health {
  ok: boolean;
  [detail: string]: unknown;
}

export interface OpsServerOptions {
  registry: Registry;
  health: () => Health;
  port: number;
  host?: string;
}

export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { "content-type": type }).end(body);
    };
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET") return send(405, "application/json", '{"error":"GET only"}');
    if (path === "/healthz") {
      const health = options.health();
      return send(health.ok ? 200 : 503, "application/json", JSON.stringify(health));
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        (error: unknown) => send(500, "text/plain", String(error)),
      );
      return;
    }
    send(404, "application/json", '{"error":"not found: GET /healthz or /metrics"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
