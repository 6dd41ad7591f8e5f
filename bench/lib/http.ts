/**
 * The relay benches' load generator: keep-alive HTTP/1.1 connections on raw sockets that write pre-serialised
 * requests and parse the answers with a minimal parser (no http.Agent, no per-request objects), so that the load
 * generator, which shares the machine with the relay and the node, stays cheap.
 */
import net from "node:net";

/** One answer as the load generator sees it. */
export interface Answer {
  status: number;
  body: string;
}

/**
 * A keep-alive HTTP/1.1 connection that pipelines pre-serialised requests and parses the answers, which come back
 * in order (Content-Length bodies only: what the relay sends).
 */
export class PipelinedConnection {
  private readonly socket: net.Socket;
  private readonly pending: ((answer: Answer) => void)[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private corked = false;

  constructor(port: number, onError: (error: Error) => void) {
    this.socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", onError);
    this.socket.on("close", () => {
      if (this.pending.length > 0) onError(new Error(`connection closed with ${this.pending.length} answers due`));
    });
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Queues a request; writes made in the same tick leave in one packet. */
  send(request: Buffer, onAnswer: (answer: Answer) => void): void {
    this.pending.push(onAnswer);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(request);
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const headEnd = this.buffered.indexOf("\r\n\r\n");
      if (headEnd < 0) return;
      const head = this.buffered.toString("latin1", 0, headEnd);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (!length) throw new Error(`answer without content-length: ${head}`);
      const end = headEnd + 4 + Number(length[1]);
      if (this.buffered.length < end) return;
      const answer = { status: Number(head.slice(9, 12)), body: this.buffered.toString("utf8", headEnd + 4, end) };
      this.buffered = this.buffered.subarray(end);
      const waiting = this.pending.shift();
      if (!waiting) throw new Error(`an answer nobody asked for: ${head} ${answer.body}`);
      waiting(answer);
    }
  }

  close(): void {
    this.socket.end();
  }
}

export function serialise(port: number, body: string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([
    Buffer.from(
      `POST /v1/acceptances HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${bytes.length}\r\n\r\n`,
    ),
    bytes,
  ]);
}
