import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import type { Provider, Signer } from "ethers";
import pino from "pino";

import { type Relay, startRelay } from "../relay";
import { type SignedAcceptance, toAcceptanceJson } from "../sdk/acceptance";
import { DripFeedError } from "../sdk/errors";
import type { AcceptanceSubmitter, SubmitOutcome } from "./submitter";

/** The relay's view of one acceptance (GET /v1/acceptances/:id). */
interface AcceptanceView {
  id: string;
  status: "queued" | "submitted" | "settled" | "superseded" | "failed";
  paid: string | null;
  reason: string | null;
}

const FINAL = new Set<AcceptanceView["status"]>(["settled", "superseded", "failed"]);
const POLL_MS = 25;
const WAIT_LIMIT_MS = 30_000;

/**
 * Submits through a real relay (`scripts/relay`), started in-process on a free port with a throw-away database:
 * acceptances go over HTTP exactly as a provider or supervisor would send them, and the relay batches them into
 * `settleBatch` transactions. `submit` waits until every item is settled, superseded or failed.
 */
export class RelaySubmitter implements AcceptanceSubmitter {
  private constructor(
    private readonly relay: Relay,
    private readonly dir: string,
  ) {}

  static async start(provider: Provider, signer: Signer, contract: string): Promise<RelaySubmitter> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dripfeed-demo-relay-"));
    const relay = await startRelay({
      provider,
      signer,
      contract,
      port: 0,
      db: path.join(dir, "relay.sqlite"),
      batchSize: 50,
      maxWaitMs: 20,
      // The demo settles at every step it shows (the default 1 h hold would keep its acceptances waiting).
      maxHoldMs: 0,
      pollIntervalMs: 200,
      pollMs: 20,
      // The demo prints its own timeline; the relay's structured log would interleave with it.
      logger: pino({ level: "silent" }),
    });
    return new RelaySubmitter(relay, dir);
  }

  get url(): string {
    return this.relay.url;
  }

  async submit(items: readonly SignedAcceptance[]): Promise<SubmitOutcome[]> {
    const ids = await Promise.all(items.map((item) => this.post(item)));
    const views = await Promise.all(ids.map((id) => this.waitFinal(id)));
    return views.map((view, i) => ({
      agreementId: items[i].agreementId,
      totalAccepted: items[i].totalAccepted,
      paid: BigInt(view.paid ?? "0"),
      failure: view.status === "failed" ? (view.reason ?? "failed") : undefined,
    }));
  }

  /** Stops the relay (it finishes what is in flight) and deletes its database. */
  async close(): Promise<void> {
    await this.relay.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async post(item: SignedAcceptance): Promise<string> {
    const response = await fetch(`${this.relay.url}/v1/acceptances`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(toAcceptanceJson(item)),
    });
    const body = (await response.json()) as { id?: string; error?: { code: string; message: string } };
    if (!response.ok || body.id === undefined) {
      throw new DripFeedError(
        "REVERTED",
        `the relay refused an acceptance (HTTP ${response.status}): ${body.error?.code ?? "?"} ${body.error?.message ?? ""}`,
      );
    }
    return body.id;
  }

  private async waitFinal(id: string): Promise<AcceptanceView> {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const view = (await (await fetch(`${this.relay.url}/v1/acceptances/${id}`)).json()) as AcceptanceView;
      if (FINAL.has(view.status)) return view;
      if (Date.now() > deadline) {
        throw new DripFeedError("RPC_ERROR", `acceptance ${id} still ${view.status} after ${WAIT_LIMIT_MS / 1000} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }
}
