import { DripFeedError } from "../sdk/errors";

/**
 * Reads a relay's public API (`GET /healthz`, `GET /metrics`, `GET /v1/agreements/:poolId/:agreementId`) for the
 * dashboard's relay panel. Read defensively: relays of other versions add or lack fields, so every field is
 * optional here and the panel shows what is there. Nothing is ever sent to the relay but GETs.
 */

/** Acceptances by status (`dripfeed_relay_acceptances{status}` of /metrics) and agreements waiting (/healthz). */
export interface RelayCounts {
  queued?: number;
  submitted?: number;
  settled?: number;
  superseded?: number;
  failed?: number;
  /** Agreements whose acceptances the relay holds until they are due (relays that schedule settlements). */
  held?: number;
  /** Agreements due to be settled now. */
  due?: number;
}

export interface RelayHealth {
  reachable: boolean;
  /** Why it is not reachable, or what it reported wrong. */
  error?: string;
  status?: string;
  chainId?: number;
  contract?: string;
  problems: string[];
  counts: RelayCounts;
}

/** What the relay holds for one agreement. */
export interface RelayAgreement {
  /** Acceptances not yet on chain (queued or submitted). */
  pending: { id: string; status: string; totalAccepted: bigint; deadline?: number }[];
  highestTotal?: bigint;
  /** When the relay will settle it (ms since the epoch), when the relay says. */
  dueAtMs?: number;
  dueReason?: string;
}

const STATUSES = ["queued", "submitted", "settled", "superseded", "failed"] as const;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;
const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const big = (value: unknown): bigint | undefined => {
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  try {
    return BigInt(value);
  } catch {
    return undefined;
  }
};

/** `name{status="x"} 3` lines of a Prometheus text exposition, by label value. */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const values: Record<string, number> = {};
  const pattern = new RegExp(`^${name}\\{([^}]*)\\}\\s+(\\S+)`, "gm");
  for (const [, labels, value] of text.matchAll(pattern)) {
    const match = new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(labels);
    const n = Number(value);
    if (match && Number.isFinite(n)) values[match[1]] = n;
  }
  return values;
}

export class RelayClient {
  readonly url: string;

  constructor(
    url: string,
    private readonly timeoutMs = 3_000,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DripFeedError("INVALID_ARGUMENT", `--relay "${url}" is not a URL like http://127.0.0.1:8787`, "relay");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new DripFeedError("INVALID_ARGUMENT", `--relay "${url}" must be an http(s) URL`, "relay");
    }
    this.url = parsed.href.replace(/\/+$/, "");
  }

  /** /healthz and /metrics together; never throws (an unreachable relay is a state the panel shows). */
  async health(): Promise<RelayHealth> {
    const health: RelayHealth = { reachable: false, problems: [], counts: {} };
    let body: unknown;
    try {
      const response = await this.get("/healthz");
      body = await response.json();
      // 503 while draining still has a body that says so.
      if (!response.ok && !isObject(body)) throw new Error(`GET /healthz answered ${response.status}`);
    } catch (error) {
      health.error = `relay ${this.url} is unreachable: ${failureReason(error)}`;
      return health;
    }
    health.reachable = true;
    if (isObject(body)) {
      health.status = str(body.status);
      health.chainId = num(body.chainId);
      health.contract = str(body.contract);
      health.counts.queued = num(body.queued);
      health.counts.submitted = num(body.submitted);
      if (isObject(body.agreements)) {
        health.counts.held = num(body.agreements.held);
        health.counts.due = num(body.agreements.due);
      }
      if (Array.isArray(body.problems)) {
        for (const problem of body.problems) {
          const text = isObject(problem) ? (str(problem.message) ?? str(problem.code)) : str(problem);
          if (text) health.problems.push(text);
        }
      }
    }
    try {
      const response = await this.get("/metrics");
      if (response.ok) {
        const byStatus = metricByLabel(await response.text(), "dripfeed_relay_acceptances", "status");
        for (const status of STATUSES) health.counts[status] = byStatus[status] ?? health.counts[status];
      }
    } catch {
      // Counts from /healthz are enough to show; /metrics may be firewalled off.
    }
    return health;
  }

  /** What the relay holds for one agreement; undefined when it knows nothing of it. Throws when unreachable. */
  async agreement(poolId: string, agreementId: string): Promise<RelayAgreement | undefined> {
    const response = await this.get(`/v1/agreements/${poolId}/${agreementId}`);
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`GET /v1/agreements answered ${response.status}`);
    const body: unknown = await response.json();
    if (!isObject(body) || !isObject(body.pending)) return undefined;
    const pending: RelayAgreement["pending"] = [];
    for (const item of Array.isArray(body.pending.acceptances) ? body.pending.acceptances : []) {
      if (!isObject(item)) continue;
      const status = str(item.status) ?? "queued";
      if (status !== "queued" && status !== "submitted") continue;
      pending.push({
        id: str(item.id) ?? "",
        status,
        totalAccepted: big(item.totalAccepted) ?? 0n,
        deadline: num(item.deadline),
      });
    }
    const dueAt = str(body.pending.dueAt);
    const dueAtMs = dueAt === undefined ? undefined : Date.parse(dueAt);
    return {
      pending,
      highestTotal: big(body.pending.highestTotal),
      dueAtMs: dueAtMs !== undefined && Number.isFinite(dueAtMs) ? dueAtMs : undefined,
      dueReason: str(body.pending.dueReason),
    };
  }

  private get(path: string): Promise<Response> {
    return fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(this.timeoutMs) });
  }
}

/** Why a request to the relay failed, in a few words ("ECONNREFUSED", "no answer in time", "answered 500"). */
export function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (error.name === "TimeoutError") return "no answer in time";
  return cause?.code ?? cause?.message ?? error.message;
}
