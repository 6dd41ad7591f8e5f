import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import type { Provider, Signer } from "ethers";
import pino from "pino";

import { type Relay, startRelay } from "../relay";
import { DripFeedError } from "../sdk/errors";

/** The relay's view of one acceptance (GET /v1/acceptances/:id). */
export interface RelayAcceptanceView {
  id: string;
  status: "queued" | "submitted" | "settled" | "superseded" | "failed";
  agreementId: string;
  totalAccepted: string;
  txHash: string | null;
  paid: string | null;
  reason: string | null;
}

const FINAL = new Set<RelayAcceptanceView["status"]>(["settled", "superseded", "failed"]);
const POLL_MS = 25;
const WAIT_LIMIT_MS = 30_000;

/**
 * The demo's relay: the real one (`scripts/relay`), in-process on a free port with a throw-away database. The
 * supervisor acceptor posts to it over HTTP exactly as it would in production; the demo only reads outcomes back.
 */
export class DemoRelay {
  private constructor(
    private readonly relay: Relay,
    private readonly dir: string,
  ) {}

  static async start(provider: Provider, signer: Signer, contract: string): Promise<DemoRelay> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dripfeed-demo-relay-"));
    const relay = await startRelay({
      provider,
      signer,
      contract,
      port: 0,
      db: path.join(dir, "relay.sqlite"),
      batchSize: 50,
      maxWaitMs: 20,
      pollMs: 20,
      // The demo prints its own timeline; the relay's structured log would interleave with it.
      logger: pino({ level: "silent" }),
    });
    return new DemoRelay(relay, dir);
  }

  get url(): string {
    return this.relay.url;
  }

  /** Waits until the relay settled, superseded or failed each acceptance; their final views. */
  async waitFinal(ids: readonly string[]): Promise<RelayAcceptanceView[]> {
    return Promise.all(ids.map((id) => this.waitOne(id)));
  }

  /** Stops the relay (it finishes what is in flight) and deletes its database. */
  async close(): Promise<void> {
    await this.relay.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitOne(id: string): Promise<RelayAcceptanceView> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const view = (await (await fetch(`${this.relay.url}/v1/acceptances/${id}`)).json()) as RelayAcceptanceView;
      if (FINAL.has(view.status)) return view;
      if (Date.now() > deadline) {
        throw new DripFeedError("RPC_ERROR", `acceptance ${id} still ${view.status} after ${WAIT_LIMIT_MS / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
