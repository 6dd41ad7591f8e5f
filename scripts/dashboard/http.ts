import { readFileSync } from "node:fs";
import path from "node:path";

import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";

import { type DripFeedErrorCode, isDripFeedError } from "../sdk/errors";
import type { Pages } from "./pages";

/**
 * The dashboard's HTTP server: one HTML shell for every page (the browser script picks the view from the path),
 * the static script, style and the charting library from the package itself (nothing from a CDN: it works
 * offline), and a read-only JSON API the page polls. Only GETs exist.
 */

export interface HttpOptions {
  pages: Pages;
  /** How often the page polls the API (ms). */
  refreshMs: number;
}

/** The one place error codes become HTTP statuses. */
const HTTP_STATUS: Partial<Record<DripFeedErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_FIELD: 400,
  UNKNOWN_POOL: 404,
  UNKNOWN_AGREEMENT: 404,
  RPC_ERROR: 503,
};

const STATIC_DIR = path.join(__dirname, "static");

interface Asset {
  type: string;
  body: string;
}

function loadAssets(): Record<string, Asset> {
  const file = (p: string): string => readFileSync(p, "utf8");
  return {
    "app.mjs": { type: "text/javascript; charset=utf-8", body: file(path.join(STATIC_DIR, "app.mjs")) },
    "render.mjs": { type: "text/javascript; charset=utf-8", body: file(path.join(STATIC_DIR, "render.mjs")) },
    "chart.mjs": { type: "text/javascript; charset=utf-8", body: file(path.join(STATIC_DIR, "chart.mjs")) },
    "style.css": { type: "text/css; charset=utf-8", body: file(path.join(STATIC_DIR, "style.css")) },
    "uplot.js": { type: "text/javascript; charset=utf-8", body: file(require.resolve("uplot/dist/uPlot.iife.min.js")) },
    "uplot.css": { type: "text/css; charset=utf-8", body: file(require.resolve("uplot/dist/uPlot.min.css")) },
  };
}

/** No script, style or connection from anywhere but this server. */
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'";

export function buildHttp(options: HttpOptions): FastifyInstance {
  const { pages } = options;
  const assets = loadAssets();
  const shell = readFileSync(path.join(STATIC_DIR, "index.html"), "utf8").replace(
    "{{REFRESH_MS}}",
    String(options.refreshMs),
  );
  const app = Fastify({ logger: false });

  app.addHook("onSend", async (_request, reply) => {
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
  });

  const sendShell = async (_request: unknown, reply: FastifyReply) =>
    reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(shell);
  app.get("/", sendShell);
  app.get("/pool/:poolId", sendShell);
  app.get("/agreement/:poolId/:agreementId", sendShell);
  app.get("/provider/:address", sendShell);

  app.get<{ Params: { name: string } }>("/assets/:name", async (request, reply) => {
    const asset = assets[request.params.name];
    if (!asset) return reply.code(404).send({ error: { code: "NOT_FOUND", message: "no such asset" } });
    return reply.type(asset.type).header("cache-control", "no-cache").send(asset.body);
  });

  const api = <P>(route: string, build: (params: P) => Promise<unknown>) =>
    app.get<{ Params: P }>(route, async (request, reply) => {
      reply.header("cache-control", "no-store");
      try {
        return reply.send(await build(request.params as P));
      } catch (error) {
        if (!isDripFeedError(error)) throw error;
        return reply
          .code(HTTP_STATUS[error.code] ?? 500)
          .send({ error: { code: error.code, message: error.message, field: error.field } });
      }
    });
  api("/api/index", () => pages.index());
  api<{ poolId: string }>("/api/pools/:poolId", (p) => pages.pool(p.poolId));
  api<{ poolId: string; agreementId: string }>("/api/agreements/:poolId/:agreementId", (p) =>
    pages.agreement(p.poolId, p.agreementId),
  );
  api<{ address: string }>("/api/providers/:address", (p) => pages.provider(p.address));

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { code: "NOT_FOUND", message: `no page ${request.url}; see / for the pools, /provider/<address>` },
    }),
  );
  app.setErrorHandler((error: Error, _request, reply) =>
    reply.code(500).send({ error: { code: "INTERNAL_ERROR", message: error.message.split("\n")[0] } }),
  );
  return app;
}
