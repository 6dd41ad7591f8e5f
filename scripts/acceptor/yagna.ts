import { type DebitNote, parseDebitNote, rfc3339Micros } from "../sdk/debitNote";
import { DripFeedError } from "../sdk/errors";

/**
 * The part of yagna's payment API (requestor side, base path /payment-api/v1, bearer app key) the acceptor uses:
 * the debit-note event long poll, one note, and accepting one. Every failure is a DripFeedError: YAGNA_ERROR with
 * the HTTP status (or none for a connection failure) and, when yagna said why, its words.
 */

export const PAYMENT_API = "/payment-api/v1";

/** yagna's debit-note event types (ya-client `DebitNoteEventType`). */
export type DebitNoteEventType =
  | "DebitNoteReceivedEvent"
  | "DebitNoteAcceptedEvent"
  | "DebitNoteRejectedEvent"
  | "DebitNoteCancelledEvent"
  | "DebitNoteSettledEvent"
  | "DebitNotePaymentStatusEvent"
  | "DebitNotePaymentOkEvent";

export interface DebitNoteEvent {
  debitNoteId: string;
  /** As yagna wrote it (RFC 3339, microseconds): the cursor is kept in this exact form. */
  eventDate: string;
  /** `eventDate` in microseconds since the epoch. */
  at: bigint;
  eventType: string;
}

export class YagnaError extends DripFeedError {
  constructor(
    message: string,
    /** The HTTP status, or undefined when yagna could not be reached. */
    readonly status?: number,
  ) {
    super("YAGNA_ERROR", message);
  }

  /** Worth trying again: yagna unreachable, timing out, or failing on its side. */
  get transient(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export function isYagnaError(error: unknown): error is YagnaError {
  return error instanceof YagnaError;
}

export interface YagnaClientOptions {
  /** yagna's REST URL, e.g. http://127.0.0.1:7465 (the payment API path is added). */
  url: string;
  /** The requestor's app key (`yagna app-key create`). */
  appKey: string;
  /** Longest a plain request may take (ms); long polls get their poll timeout on top. */
  requestTimeoutMs?: number;
}

export class YagnaClient {
  readonly base: string;
  private readonly requestTimeoutMs: number;

  constructor(private readonly options: YagnaClientOptions) {
    this.base = `${options.url.replace(/\/+$/, "")}${PAYMENT_API}`;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /**
   * `GET /debitNoteEvents`: the events after `afterTimestamp` (exclusive), oldest first, waiting up to
   * `timeoutSeconds` for one to arrive. `signal` ends the wait early (shutdown).
   */
  async debitNoteEvents(
    afterTimestamp: string | undefined,
    timeoutSeconds: number,
    maxEvents: number,
    signal?: AbortSignal,
  ): Promise<DebitNoteEvent[]> {
    const query = new URLSearchParams({ timeout: String(timeoutSeconds), maxEvents: String(maxEvents) });
    if (afterTimestamp !== undefined) query.set("afterTimestamp", afterTimestamp);
    const body = await this.request(
      "GET",
      `/debitNoteEvents?${query.toString()}`,
      undefined,
      timeoutSeconds * 1000 + this.requestTimeoutMs,
      signal,
    );
    if (!Array.isArray(body)) throw new YagnaError("yagna answered debitNoteEvents with something other than a list");
    return body.map((raw: unknown, i) => parseEvent(raw, i));
  }

  /** `GET /debitNotes/{id}`, validated; undefined when yagna does not know the note (404). */
  async debitNote(debitNoteId: string): Promise<DebitNote | undefined> {
    try {
      return parseDebitNote(await this.request("GET", `/debitNotes/${encodeURIComponent(debitNoteId)}`));
    } catch (error) {
      if (isYagnaError(error) && error.status === 404) return undefined;
      throw error;
    }
  }

  /**
   * `POST /debitNotes/{id}/accept`: accepts the note in yagna for exactly its `totalAmountDue` (yagna refuses any
   * other amount) against `allocationId`. yagna answers 200 for a note it had already accepted.
   */
  async acceptDebitNote(debitNoteId: string, totalAmountAccepted: string, allocationId: string): Promise<void> {
    const timeoutSeconds = 10;
    await this.request(
      "POST",
      `/debitNotes/${encodeURIComponent(debitNoteId)}/accept?timeout=${timeoutSeconds}`,
      { totalAmountAccepted, allocationId },
      timeoutSeconds * 1000 + this.requestTimeoutMs,
    );
  }

  private async request(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    timeoutMs = this.requestTimeoutMs,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.appKey}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      const why = signal?.aborted ? "cancelled" : (error as Error).name === "TimeoutError" ? "timed out" : "failed";
      throw new YagnaError(`${method} ${this.base}${path.split("?")[0]} ${why}: ${(error as Error).message}`);
    }
    const text = await response.text();
    if (!response.ok) {
      const hint =
        response.status === 401 || response.status === 403 ? " (is YAGNA_APPKEY the requestor's app key?)" : "";
      throw new YagnaError(
        `yagna answered ${method} ${path.split("?")[0]} with HTTP ${response.status}${hint}: ${text.slice(0, 300)}`,
        response.status,
      );
    }
    if (text.trim() === "") return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new YagnaError(`yagna answered ${method} ${path.split("?")[0]} with something that is not JSON`);
    }
  }
}

function parseEvent(raw: unknown, index: number): DebitNoteEvent {
  const event = raw as Partial<Record<string, unknown>> | null;
  if (
    typeof event !== "object" ||
    event === null ||
    typeof event.debitNoteId !== "string" ||
    typeof event.eventDate !== "string" ||
    typeof event.eventType !== "string"
  ) {
    throw new YagnaError(`debit-note event ${index} lacks debitNoteId, eventDate or eventType`);
  }
  return {
    debitNoteId: event.debitNoteId,
    eventDate: event.eventDate,
    at: rfc3339Micros(event.eventDate, "eventDate"),
    eventType: event.eventType,
  };
}
