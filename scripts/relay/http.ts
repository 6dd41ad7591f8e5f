import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";

import { type DripFeedErrorCode, isDripFeedError } from "../sdk/errors";
import { parseBytes32 } from "../sdk/ids";
import { type ChainReader, shortMessage } from "./chain";
import type { Health } from "./health";
import type { RelayMetrics } from "./metrics";
import type { Quarantine } from "./quarantine";
import type { Due, Scheduler } from "./schedule";
import type { RelayStore, StoredAcceptance } from "./store";
import type { Verifier } from "./verifier";

/** Largest request body accepted (a signed acceptance is well under 1 KiB; ERC-1271 signatures are bounded at 2 KiB). */
export const MAX_BODY_BYTES = 16 * 1024;

/** Error codes of the HTTP API: the SDK's, plus the ones only HTTP has. */
export type RelayErrorCode = DripFeedErrorCode | "BODY_TOO_LARGE" | "NOT_FOUND" | "SHUTTING_DOWN" | "INTERNAL_ERROR";

/** The one place error codes become HTTP statuses: 400 malformed, 422 well-formed but unacceptable. */
const HTTP_STATUS: Partial<Record<RelayErrorCode, number>> = {
  INVALID_JSON: 400,
  INVALID_FIELD: 400,
  INVALID_ARGUMENT: 400,
  BODY_TOO_LARGE: 413,
  NOT_FOUND: 404,
  WRONG_CHAIN: 422,
  WRONG_CONTRACT: 422,
  BAD_SIGNATURE: 422,
  NOT_AUTHORIZED: 422,
  EXPIRED: 422,
  STALE_TOTAL: 422,
  UNKNOWN_POOL: 422,
  UNKNOWN_AGREEMENT: 422,
  AGREEMENT_RELEASED: 422,
  RPC_ERROR: 503,
  SHUTTING_DOWN: 503,
};

export function httpStatusOf(code: RelayErrorCode): number {
  return HTTP_STATUS[code] ?? 500;
}

interface ErrorBody {
  error: { code: RelayErrorCode; message: string; field?: string };
}

function sendError(
  reply: FastifyReply,
  code: RelayErrorCode,
  message: string,
  field?: string,
  status?: number,
): FastifyReply {
  const body: ErrorBody = { error: { code, message, ...(field ? { field } : {}) } };
  return reply.code(status ?? httpStatusOf(code)).send(body);
}

/** When a queued acceptance's agreement is due to be settled, and why (ISO time, chain clock). */
function dueView(due: Due | undefined): { dueAt: string | null; dueReason: string | null } {
  return { dueAt: due ? new Date(due.at).toISOString() : null, dueReason: due?.reason ?? null };
}

/** The public view of an acceptance (GET /v1/acceptances/:id). */
export function acceptanceView(
  item: StoredAcceptance,
  schedule?: { due: Due | undefined; quarantine: string | undefined },
): Record<string, unknown> {
  const waiting = item.status === "queued";
  return {
    id: item.id,
    status: item.status,
    poolId: item.poolId,
    agreementId: item.agreementId,
    debitNoteId: item.debitNoteId,
    totalAccepted: item.totalAccepted.toString(),
    deadline: item.deadline,
    signer: item.signer,
    // The signature too, so a provider's watcher can settle a held acceptance itself (before its deadline).
    signature: item.signature,
    txHash: item.txHash,
    paid: item.paid === null ? null : item.paid.toString(),
    reason: item.reason,
    supersededBy: item.supersededBy,
    attempts: item.attempts,
    receivedAt: new Date(item.receivedAt).toISOString(),
    updatedAt: new Date(item.updatedAt).toISOString(),
    ...(waiting ? dueView(schedule?.due) : { dueAt: null, dueReason: null }),
    quarantine: waiting ? (schedule?.quarantine ?? null) : null,
  };
}

export interface HttpDeps {
  verifier: Verifier;
  store: RelayStore;
  chain: ChainReader;
  scheduler: Scheduler;
  quarantine: Quarantine;
  health: Health;
  /** The submitting account. */
  submitter: () => string;
  /** Wakes the submitter (a settlement was requested). */
  wake: () => void;
  metrics: RelayMetrics;
  log: Logger;
  /** Whether the relay is draining (new acceptances are refused with 503). */
  draining: () => boolean;
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const { verifier, store, chain, scheduler, quarantine, health, metrics, log } = deps;
  const view = (item: StoredAcceptance) =>
    acceptanceView(item, {
      due: scheduler.dueOf(item.poolId, item.agreementId),
      quarantine: quarantine.laneOf(item),
    });
  const ids = <K extends string>(params: Record<K, string>, fields: K[]): Record<K, string> => {
    const out = {} as Record<K, string>;
    for (const field of fields) out[field] = parseBytes32(params[field], field);
    return out;
  };
  /** The agreement named in a URL; on a malformed id, the 400 is sent and the result is undefined. */
  const agreementIds = (
    params: { poolId: string; agreementId: string },
    reply: FastifyReply,
  ): { poolId: string; agreementId: string } | undefined => {
    try {
      return ids(params, ["poolId", "agreementId"]);
    } catch (error) {
      if (!isDripFeedError(error)) throw error;
      sendError(reply, error.code, error.message, error.field);
      return undefined;
    }
  };
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY_BYTES, return503OnClosing: true });

  // Every body is read as text and parsed here, so any content type works (curl -d) and bad JSON gets our error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string", bodyLimit: MAX_BODY_BYTES }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((error: { code?: string; statusCode?: number; message?: string }, _request, reply) => {
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE" || error.statusCode === 413) {
      metrics.received.inc({ outcome: "rejected", code: "BODY_TOO_LARGE" });
      return sendError(
        reply,
        "BODY_TOO_LARGE",
        `request body exceeds ${MAX_BODY_BYTES} bytes; send one acceptance per request`,
      );
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, "INVALID_JSON", error.message ?? "bad request");
    }
    log.error({ err: shortMessage(error) }, "unhandled request error");
    return sendError(reply, "INTERNAL_ERROR", "internal error; see the relay log");
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, "NOT_FOUND", `no route ${request.method} ${request.url}; see GET /healthz, POST /v1/acceptances`),
  );

  app.post("/v1/acceptances", async (request, reply) => {
    if (deps.draining())
      return sendError(reply, "SHUTTING_DOWN", "the relay is shutting down; retry against another relay or later");
    const raw = request.body;
    if (typeof raw !== "string" || raw.length === 0) {
      metrics.received.inc({ outcome: "rejected", code: "INVALID_JSON" });
      return sendError(reply, "INVALID_JSON", "the body must be a signed-acceptance JSON object");
    }
    try {
      const result = await verifier.verifyAndQueue(raw);
      if (result.kind === "duplicate") {
        metrics.received.inc({ outcome: "duplicate", code: "" });
        return reply.code(200).send({ id: result.existing.id, status: result.existing.status, duplicate: true });
      }
      if (result.kind === "revived") {
        metrics.received.inc({ outcome: "requeued", code: "" });
        return reply.code(202).send({ id: result.item.id, status: "queued", requeued: true });
      }
      metrics.received.inc({ outcome: "queued", code: "" });
      return reply.code(202).send({ id: result.item.id, status: "queued" });
    } catch (error) {
      if (isDripFeedError(error)) {
        metrics.received.inc({ outcome: "rejected", code: error.code });
        return sendError(reply, error.code, error.message, error.field);
      }
      log.error({ err: shortMessage(error) }, "acceptance could not be stored");
      return sendError(reply, "INTERNAL_ERROR", "the acceptance could not be stored; it was NOT queued, retry");
    }
  });

  app.get<{ Params: { id: string } }>("/v1/acceptances/:id", async (request, reply) => {
    let id: string;
    try {
      id = parseBytes32(request.params.id, "id");
    } catch (error) {
      return sendError(reply, "INVALID_FIELD", isDripFeedError(error) ? error.message : "bad id", "id");
    }
    const item = store.get(id);
    if (!item) return sendError(reply, "NOT_FOUND", `no acceptance ${id} on this relay`);
    return reply.send(view(item));
  });

  app.get<{ Params: { poolId: string; agreementId: string } }>(
    "/v1/agreements/:poolId/:agreementId",
    async (request, reply) => {
      const parsed = agreementIds(request.params, reply);
      if (!parsed) return reply;
      const { poolId, agreementId } = parsed;
      try {
        const [agreement, claimable] = await Promise.all([
          chain.freshAgreement(poolId, agreementId),
          chain.rpc("read claimable", () => chain.contract.claimable(poolId, agreementId)),
        ]);
        const items = store.forAgreement(poolId, agreementId);
        if (agreement.status === "None" && items.length === 0) {
          // A lookup of something that is not there: 404, with the same code a submission would get.
          return sendError(
            reply,
            "UNKNOWN_AGREEMENT",
            `agreement ${agreementId} does not exist in pool ${poolId}`,
            undefined,
            404,
          );
        }
        const pending = items.filter((i) => i.status === "queued" || i.status === "submitted");
        const pendingTotal = store.pendingTotal(poolId, agreementId);
        const due = scheduler.dueOf(poolId, agreementId);
        return reply.send({
          chainId: Number(chain.chainId),
          contract: chain.address,
          poolId,
          agreementId,
          onChain: {
            status: agreement.status,
            provider: agreement.provider,
            startedAt: agreement.startedAt,
            terminatedAt: agreement.terminatedAt,
            budget: agreement.budget.toString(),
            paid: agreement.paid.toString(),
            acceptedTotal: agreement.acceptedTotal.toString(),
            claimable: claimable.toString(),
          },
          pending: {
            highestTotal: pendingTotal === undefined ? null : pendingTotal.toString(),
            ...dueView(due),
            acceptances: pending.map(view),
          },
          recent: items.slice(0, 20).map(view),
        });
      } catch (error) {
        if (isDripFeedError(error)) return sendError(reply, error.code, error.message, error.field);
        throw error;
      }
    },
  );

  app.post<{ Params: { poolId: string; agreementId: string } }>(
    "/v1/agreements/:poolId/:agreementId/settle",
    async (request, reply) => {
      const parsed = agreementIds(request.params, reply);
      if (!parsed) return reply;
      const { poolId, agreementId } = parsed;
      const due = scheduler.request(poolId, agreementId, chain.nowMs());
      if (!due) {
        return sendError(
          reply,
          "NOT_FOUND",
          `nothing is waiting to be settled for agreement ${agreementId} of pool ${poolId} on this relay`,
        );
      }
      deps.wake();
      return reply.code(202).send({ poolId, agreementId, ...dueView(due) });
    },
  );

  app.get("/healthz", async (_request, reply) => {
    const counts = store.countByStatus();
    const draining = deps.draining();
    // Degraded (the relay's own trouble: funds, RPC, nonces) still answers 200: acceptances are still taken and
    // kept; the body says what is wrong.
    return reply.code(draining ? 503 : 200).send({
      status: draining ? "draining" : health.ok ? "ok" : "degraded",
      problems: health.list(),
      chainId: Number(chain.chainId),
      contract: chain.address,
      submitter: deps.submitter(),
      block: chain.latestBlock?.number ?? null,
      chainTime: new Date(chain.nowMs()).toISOString(),
      queued: counts.queued,
      submitted: counts.submitted,
      agreements: scheduler.counts(chain.nowMs()),
      quarantined: quarantine.list().map((q) => ({ lane: q.key, reason: q.reason, strikes: q.strikes })),
    });
  });

  app.get("/metrics", async (_request, reply) => {
    metrics.setCounts(store.countByStatus());
    const waiting = scheduler.counts(chain.nowMs());
    metrics.agreements.set({ state: "due" }, waiting.due);
    metrics.agreements.set({ state: "held" }, waiting.held);
    metrics.quarantined.set(quarantine.list().length);
    for (const code of ["NO_FUNDS", "RPC_ERROR", "NONCE"] as const)
      metrics.problems.set({ code }, health.has(code) ? 1 : 0);
    return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
