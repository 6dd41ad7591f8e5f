import type { Logger } from "pino";

import { parseAcceptanceJson, type SignedAcceptance } from "../sdk/acceptance";
import { isDripFeedError } from "../sdk/errors";
import { shortMessage } from "../service/chain";
import { limiter } from "../service/concurrency";
import type { AcceptorChain } from "./chain";
import { crashPoint } from "./faults";
import type { AcceptorMetrics } from "./metrics";
import type { AcceptorStore, NoteRecord } from "./store";
import { type YagnaClient, isYagnaError } from "./yagna";

/**
 * The acceptor's outbox: takes signed acceptances from the database to the chain, through a relay
 * (`POST /v1/acceptances`) or, with no relay, in its own `settleBatch`; and, with --yagna-accept, accepts the notes
 * in yagna so the provider's side sees them answered. Per agreement only the highest pending total goes out (totals
 * are cumulative: it covers the lower ones). Each is tried at most 5 times; a retry never happens after Golem's
 * acceptance timeout (2 x the debit-note interval after the note was received), and an acceptance whose deadline
 * has passed is never sent.
 */

export const MAX_ATTEMPTS = 5;
/** Most agreements per own settleBatch. */
const BATCH = 50;
/** Concurrent relay posts and yagna accepts. */
const CONCURRENCY = 8;
/** Longest pause between rounds when nothing is due (ms); new decisions wake the loop at once. */
const IDLE_MS = 5_000;
/** Final outcomes decided without trying (no relay call, no transaction). */
const NOT_ATTEMPTED = new Set(["GAVE_UP", "EXPIRED"]);
/** Relay answers that mean "the chain or the relay already has this total or more". */
const COVERED_CODES = new Set(["STALE_TOTAL"]);

export interface DelivererOptions {
  store: AcceptorStore;
  chain: AcceptorChain;
  metrics: AcceptorMetrics;
  log: Logger;
  /** The relay's base URL; without one the acceptor settles with its own key (which then needs gas). */
  relayUrl?: string;
  /** Accept notes in yagna too (`--yagna-accept --allocation <id>`). */
  yagna?: { client: YagnaClient; allocationId: string };
  /** The requestor's clock in unix seconds (yagna's eventDate clock); the wall clock by default. */
  clock?: () => number;
  /** Delay before the first retry (ms, default 1000); it doubles with each attempt. */
  retryBaseMs?: number;
}

/** What one attempt came to. */
type Outcome =
  | { kind: "done"; state: "handed" | "settled" | "covered"; detail: string; relayId?: string; txHash?: string }
  | { kind: "final"; code: string; detail: string }
  | { kind: "retry"; code: string; detail: string };

/** Delay before attempt n + 1 (after n failed), in units of the retry base: 1, 2, 4, 8. */
function backoffFactor(attempts: number): number {
  return Math.min(60, 2 ** Math.max(0, attempts - 1));
}

export class Deliverer {
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private readonly clock: () => number;
  private readonly retryBaseMs: number;
  lastError: string | undefined;

  constructor(private readonly options: DelivererOptions) {
    this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
    this.retryBaseMs = options.retryBaseMs ?? 1_000;
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** New work is on disk: run a round now. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Finishes the round in flight (attempts already started complete and are recorded), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeUp?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.woken = false;
      let nextDueMs = Date.now() + IDLE_MS;
      try {
        const [a, b] = await Promise.all([this.deliverAcceptances(), this.acceptInYagna()]);
        nextDueMs = Math.min(nextDueMs, a, b);
        this.lastError = undefined;
      } catch (error) {
        this.lastError = shortMessage(error);
        this.options.log.warn({ err: this.lastError }, "delivery round failed; trying again shortly");
        nextDueMs = Date.now() + 1_000;
      }
      if (this.stopping || this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, nextDueMs - Date.now()));
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** May this item be tried now? The first attempt always (the work was done); retries only in time. */
  private mayTry(attempts: number, acceptTimeoutAt: number | null): boolean {
    if (attempts === 0) return true;
    return attempts < MAX_ATTEMPTS && (acceptTimeoutAt === null || this.clock() <= acceptTimeoutAt);
  }

  /** Hands on the highest pending acceptance of each agreement; returns when the next one falls due (ms). */
  private async deliverAcceptances(): Promise<number> {
    const { store, metrics } = this.options;
    const pending = store.pendingDeliveries();
    metrics.pending.set(pending.length);
    const latest = new Map<string, NoteRecord>();
    for (const note of pending) {
      const current = latest.get(note.agreementId);
      if (!current || (note.agreementTotal ?? 0n) > (current.agreementTotal ?? 0n)) latest.set(note.agreementId, note);
    }
    const nowMs = Date.now();
    let nextDue = Number.POSITIVE_INFINITY;
    const due: NoteRecord[] = [];
    for (const note of latest.values()) {
      if (!this.mayTry(note.deliveryAttempts, note.acceptTimeoutAt)) {
        this.finish(note, {
          kind: "final",
          code: "GAVE_UP",
          detail: `gave up after ${note.deliveryAttempts} attempts (${note.deliveryDetail ?? "no answer"}); the acceptance timeout passed or the attempts ran out`,
        });
      } else if (note.deliveryNextAt > nowMs) {
        nextDue = Math.min(nextDue, note.deliveryNextAt);
      } else {
        due.push(note);
      }
    }
    if (due.length === 0) return nextDue;
    const chainNow = await this.options.chain.now();
    const live = due.filter((note) => {
      if (note.deadline !== null && BigInt(note.deadline) >= chainNow) return true;
      this.finish(note, {
        kind: "final",
        code: "EXPIRED",
        detail: `the acceptance's deadline ${note.deadline} passed (chain time ${chainNow}) before it reached the chain`,
      });
      return false;
    });
    if (this.options.relayUrl) {
      const limit = limiter(CONCURRENCY);
      await Promise.all(
        live.map((note) =>
          limit(async () => {
            const outcome = await this.postToRelay(note);
            if (outcome.kind === "done") crashPoint("handed");
            this.finish(note, outcome);
          }),
        ),
      );
    } else {
      for (let i = 0; i < live.length; i += BATCH) await this.settleOwn(live.slice(i, i + BATCH));
    }
    // Something was just done or given up: look again at once (a lower pending total may now be the latest).
    return Date.now();
  }

  /** Records an outcome: done (covering lower totals of the agreement), final failure, or a retry later. */
  private finish(note: NoteRecord, outcome: Outcome): void {
    const { store, metrics, log } = this.options;
    // Giving up and an expired deadline are decided here, without an attempt: they do not count as one.
    const attempted = !(outcome.kind === "final" && NOT_ATTEMPTED.has(outcome.code));
    const attempts = note.deliveryAttempts + (attempted ? 1 : 0);
    const context = { debitNoteId: note.debitNoteId, agreementId: note.agreementId, attempts };
    if (outcome.kind === "done") {
      store.setDelivery(note.debitNoteId, outcome.state, attempts, 0, outcome.detail, outcome);
      const covered = store.coverPendingBelow(note.agreementId, note.debitNoteId, note.agreementTotal ?? 0n);
      metrics.deliveries.inc({ outcome: outcome.state });
      if (covered > 0) metrics.deliveries.inc({ outcome: "covered" }, covered);
      log.info(
        { ...context, total: note.agreementTotal?.toString(), covered },
        `acceptance ${outcome.state}: ${outcome.detail}`,
      );
      return;
    }
    if (attempted) metrics.relayErrors.inc({ code: outcome.code });
    if (outcome.kind === "retry" && this.mayTry(attempts, note.acceptTimeoutAt)) {
      const retryInMs = this.retryBaseMs * backoffFactor(attempts);
      store.setDelivery(note.debitNoteId, "pending", attempts, Date.now() + retryInMs, outcome.detail);
      log.warn({ ...context, code: outcome.code, retryInMs }, `acceptance not handed on yet: ${outcome.detail}`);
      return;
    }
    store.setDelivery(note.debitNoteId, "failed", attempts, 0, `${outcome.code}: ${outcome.detail}`);
    metrics.deliveries.inc({ outcome: "failed" });
    log.error({ ...context, code: outcome.code }, `acceptance failed for good: ${outcome.detail}`);
  }

  private async postToRelay(note: NoteRecord): Promise<Outcome> {
    const url = `${this.options.relayUrl?.replace(/\/+$/, "")}/v1/acceptances`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: note.acceptance ?? "",
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      return { kind: "retry", code: "RELAY_UNREACHABLE", detail: `POST ${url} failed: ${shortMessage(error)}` };
    }
    let body: { id?: string; status?: string; error?: { code?: string; message?: string } } = {};
    try {
      body = (await response.json()) as typeof body;
    } catch {
      body = {};
    }
    if (response.ok && body.id) {
      return {
        kind: "done",
        state: "handed",
        detail: `the relay has it (${body.status ?? response.status})`,
        relayId: body.id,
      };
    }
    const code = body.error?.code ?? `HTTP_${response.status}`;
    const detail = `the relay answered ${response.status} ${code}: ${body.error?.message ?? ""}`.trim();
    if (COVERED_CODES.has(code)) return { kind: "done", state: "covered", detail };
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      return { kind: "retry", code, detail };
    }
    return { kind: "final", code, detail };
  }

  /** Settles the items with the acceptor's own key in one settleBatch (items the chain already holds skip it). */
  private async settleOwn(items: NoteRecord[]): Promise<void> {
    const { chain } = this.options;
    const toSend: { note: NoteRecord; signed: SignedAcceptance }[] = [];
    for (const note of items) {
      chain.forget(note.agreementId);
      let agreement;
      try {
        agreement = await chain.agreement(note.agreementId);
      } catch (error) {
        this.finish(note, { kind: "retry", code: "RPC_ERROR", detail: shortMessage(error) });
        continue;
      }
      if (agreement === null || agreement.status === "Released") {
        this.finish(note, { kind: "final", code: "AGREEMENT_RELEASED", detail: "the agreement is released" });
      } else if (agreement.acceptedTotal >= (note.agreementTotal ?? 0n)) {
        this.finish(note, { kind: "done", state: "covered", detail: "the chain already holds this total" });
      } else {
        toSend.push({ note, signed: parseAcceptanceJson(note.acceptance ?? "") });
      }
    }
    if (toSend.length === 0) return;
    try {
      const result = await chain.client.settleBatch(toSend.map((item) => item.signed));
      for (const [i, item] of toSend.entries()) {
        const outcome = result.items[i];
        chain.forget(item.note.agreementId);
        if (!outcome.failure) {
          this.finish(item.note, {
            kind: "done",
            state: "settled",
            detail: `settled in ${result.hash}, paid ${outcome.paid}`,
            txHash: result.hash,
          });
        } else if (outcome.failure === "NothingToSettle") {
          this.finish(item.note, { kind: "done", state: "covered", detail: "the chain already held this total" });
        } else {
          this.finish(item.note, {
            kind: "final",
            code: outcome.failure,
            detail: `settleBatch item failed: ${outcome.failure}`,
          });
        }
      }
    } catch (error) {
      const code = isDripFeedError(error) ? error.code : "RPC_ERROR";
      for (const item of toSend) this.finish(item.note, { kind: "retry", code, detail: shortMessage(error) });
    }
  }

  /** Accepts due notes in yagna (exactly their totalAmountDue); returns when the next one falls due (ms). */
  private async acceptInYagna(): Promise<number> {
    const yagna = this.options.yagna;
    if (!yagna) return Number.POSITIVE_INFINITY;
    const { store, metrics, log } = this.options;
    const nowMs = Date.now();
    let nextDue = Number.POSITIVE_INFINITY;
    const limit = limiter(CONCURRENCY);
    const work: Promise<void>[] = [];
    for (const note of store.pendingYagnaAccepts()) {
      const attempts = note.yagnaAttempts + 1;
      const context = { debitNoteId: note.debitNoteId, agreementId: note.agreementId, attempts };
      if (!this.mayTry(note.yagnaAttempts, note.acceptTimeoutAt)) {
        store.setYagna(note.debitNoteId, "failed", note.yagnaAttempts, 0, `gave up: ${note.yagnaDetail ?? ""}`);
        metrics.yagnaAccepts.inc({ outcome: "failed" });
        log.error(context, "could not accept the note in yagna before its acceptance timeout");
        continue;
      }
      if (note.yagnaNextAt > nowMs) {
        nextDue = Math.min(nextDue, note.yagnaNextAt);
        continue;
      }
      work.push(
        limit(async () => {
          try {
            await yagna.client.acceptDebitNote(note.debitNoteId, note.totalAmountDue, yagna.allocationId);
            crashPoint("yagna-accepted");
            store.setYagna(note.debitNoteId, "accepted", attempts, 0, null);
            metrics.yagnaAccepts.inc({ outcome: "accepted" });
            log.info(context, "accepted in yagna");
          } catch (error) {
            metrics.yagnaErrors.inc();
            const detail = shortMessage(error);
            if (isYagnaError(error) && error.transient && this.mayTry(attempts, note.acceptTimeoutAt)) {
              const nextAt = Date.now() + this.retryBaseMs * backoffFactor(attempts);
              store.setYagna(note.debitNoteId, "pending", attempts, nextAt, detail);
              nextDue = Math.min(nextDue, nextAt);
              log.warn({ ...context, err: detail }, "yagna did not take the acceptance yet");
            } else {
              store.setYagna(note.debitNoteId, "failed", attempts, 0, detail);
              metrics.yagnaAccepts.inc({ outcome: "failed" });
              log.error({ ...context, err: detail }, "yagna refused the acceptance");
            }
          }
        }),
      );
    }
    await Promise.all(work);
    return nextDue;
  }
}
