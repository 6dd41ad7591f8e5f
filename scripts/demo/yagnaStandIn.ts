import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { type DebitNote, formatRfc3339Micros, rfc3339Micros } from "../sdk/debitNote";

/**
 * A stand-in for the requestor's yagna, serving the three payment-API calls the acceptor makes with yagna's JSON:
 * `GET /payment-api/v1/debitNoteEvents` (a long poll: events after `afterTimestamp`, oldest first, at most
 * `maxEvents`, an empty list when `timeout` seconds pass with none), `GET /debitNotes/{id}` and
 * `POST /debitNotes/{id}/accept` (400 unless `totalAmountAccepted` is exactly the note's `totalAmountDue`, 400 for a
 * cancelled note, 200 again for one already accepted), behind a bearer app key. The demo plays a provider's yagna
 * into it; the tests script resends, cancellations, other agreements' notes and faults.
 */

/** A note as the stand-in serves it: yagna's `DebitNote` JSON, with any status (the tests serve odd ones). */
export type StandInNote = Omit<DebitNote, "status"> & { status: string };

export interface StandInEvent {
  debitNoteId: string;
  eventDate: string;
  eventType: string;
  /** eventDate in microseconds (not served). */
  at: bigint;
}

export interface AcceptCall {
  debitNoteId: string;
  totalAmountAccepted: unknown;
  allocationId: unknown;
  status: number;
}

export interface YagnaStandInOptions {
  appKey: string;
  /** Allocations `accept` takes (others answer 400 "Allocation ... not found"). */
  allocations?: string[];
  port?: number;
}

/** A fault to serve instead of the real answer: the next `count` requests whose path matches get `status`. */
interface Fault {
  method: string;
  path: RegExp;
  status: number;
  count: number;
}

export class YagnaStandIn {
  readonly notes = new Map<string, StandInNote>();
  readonly events: StandInEvent[] = [];
  readonly accepts: AcceptCall[] = [];
  /** Every debitNoteEvents request: its query (the cursor the acceptor sent) and how many events it got (-1: open). */
  readonly polls: { query: URLSearchParams; returned: number }[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly faults: Fault[] = [];
  private lastAt = 0n;

  private constructor(
    private readonly options: YagnaStandInOptions,
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  static async start(options: YagnaStandInOptions): Promise<YagnaStandIn> {
    const holder: { standIn?: YagnaStandIn } = {};
    const server = createServer((request, response) => {
      holder.standIn?.route(request, response).catch((error: unknown) => {
        response.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ message: String(error) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    holder.standIn = new YagnaStandIn(options, server, `http://127.0.0.1:${port}`);
    return holder.standIn;
  }

  /**
   * A date for a new event: `at` (microseconds) when given, otherwise the wall clock; never earlier than the last
   * event's, and one microsecond later when it would tie (yagna's events are ordered by their timestamps).
   */
  private stamp(at?: bigint): bigint {
    const wanted = at ?? BigInt(Date.now()) * 1000n;
    this.lastAt = wanted > this.lastAt ? wanted : this.lastAt + 1n;
    return this.lastAt;
  }

  /** Adds an event and wakes the long polls. */
  event(debitNoteId: string, eventType: string, at?: bigint): StandInEvent {
    const stamped = this.stamp(at);
    const event = { debitNoteId, eventType, eventDate: formatRfc3339Micros(stamped), at: stamped };
    this.events.push(event);
    for (const wake of [...this.waiters]) wake();
    return event;
  }

  /** A provider's note arrives: stored as RECEIVED, with a DebitNoteReceivedEvent at `at` (microseconds). */
  receive(note: StandInNote, at?: bigint): StandInEvent {
    this.notes.set(note.debitNoteId, { ...note, status: "RECEIVED" });
    return this.event(note.debitNoteId, "DebitNoteReceivedEvent", at);
  }

  /** The provider cancels a note: its status becomes CANCELLED, with a DebitNoteCancelledEvent. */
  cancel(debitNoteId: string, at?: bigint): StandInEvent {
    const note = this.notes.get(debitNoteId);
    if (note) note.status = "CANCELLED";
    return this.event(debitNoteId, "DebitNoteCancelledEvent", at);
  }

  /** The next `count` requests of `method` whose path matches answer `status` (an outage, a 500). */
  fail(method: string, path: RegExp, status: number, count = 1): void {
    this.faults.push({ method, path, status, count });
  }

  /** Accept calls that yagna took (200). */
  accepted(): AcceptCall[] {
    return this.accepts.filter((call) => call.status === 200);
  }

  async close(): Promise<void> {
    for (const wake of [...this.waiters]) wake();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const send = (status: number, body: unknown): void => {
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    };
    if (request.headers.authorization !== `Bearer ${this.options.appKey}`) {
      return send(401, { message: "Invalid application key" });
    }
    const url = new URL(request.url ?? "/", this.url);
    const path = url.pathname;
    const fault = this.faults.find((f) => f.method === request.method && f.path.test(path) && f.count > 0);
    if (fault) {
      fault.count--;
      return send(fault.status, { message: "stand-in fault" });
    }
    const base = "/payment-api/v1";
    if (request.method === "GET" && path === `${base}/debitNoteEvents`) return this.pollEvents(url, send);
    const match = new RegExp(`^${base}/debitNotes/([^/]+)(/accept)?$`).exec(path);
    if (!match) return send(404, { message: `no route ${request.method} ${path}` });
    const note = this.notes.get(decodeURIComponent(match[1]));
    if (request.method === "GET" && !match[2]) return note ? send(200, note) : send(404, null);
    if (request.method === "POST" && match[2]) return this.accept(note, await readBody(request), send);
    return send(405, { message: "method not allowed" });
  }

  private async pollEvents(url: URL, send: (status: number, body: unknown) => void): Promise<void> {
    const poll = { query: url.searchParams, returned: -1 };
    this.polls.push(poll);
    const after = url.searchParams.get("afterTimestamp");
    const afterAt = after ? rfc3339Micros(after, "afterTimestamp") : undefined;
    const timeout = Number(url.searchParams.get("timeout") ?? "5");
    const max = Math.min(100, Math.max(1, Number(url.searchParams.get("maxEvents") ?? "100")));
    const pick = () =>
      this.events
        .filter((e) => afterAt === undefined || e.at > afterAt)
        .slice(0, max)
        .map(({ debitNoteId, eventDate, eventType }) => ({ debitNoteId, eventDate, eventType }));
    let found = pick();
    if (found.length === 0 && timeout > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, timeout * 1000);
        this.waiters.add(done);
      });
      found = pick();
    }
    poll.returned = found.length;
    send(200, found);
  }

  private accept(note: StandInNote | undefined, body: string, send: (status: number, body: unknown) => void): void {
    let parsed: { totalAmountAccepted?: unknown; allocationId?: unknown } = {};
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      return send(400, { message: "Json deserialize error" });
    }
    const answer = (status: number, message: unknown) => {
      this.accepts.push({
        debitNoteId: note?.debitNoteId ?? "?",
        totalAmountAccepted: parsed.totalAmountAccepted,
        allocationId: parsed.allocationId,
        status,
      });
      send(status, message);
    };
    if (!note) return answer(404, null);
    if (parsed.totalAmountAccepted !== note.totalAmountDue) return answer(400, { message: "Invalid amount accepted" });
    if (note.status === "ACCEPTED" || note.status === "SETTLED") return answer(200, null);
    if (note.status === "CANCELLED") return answer(400, { message: "Debit note cancelled" });
    if (!(this.options.allocations ?? []).includes(String(parsed.allocationId))) {
      return answer(400, { message: `Allocation ${String(parsed.allocationId)} not found` });
    }
    note.status = "ACCEPTED";
    this.event(note.debitNoteId, "DebitNoteAcceptedEvent");
    return answer(200, null);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    request.on("data", (chunk: Buffer) => (text += chunk.toString()));
    request.on("end", () => resolve(text));
    request.on("error", reject);
  });
}

/** A Golem debit-note id as yagna makes them: a hyphenated UUID v4. */
export function newDebitNoteId(): string {
  return randomUUID();
}

/** A Golem activity id as yagna makes them: 32 hex characters (a UUID without hyphens). */
export function newActivityId(): string {
  return randomUUID().replace(/-/g, "");
}
