import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import pino from "pino";

import { type Acceptor, startAcceptor } from "../acceptor";
import type { NoteRecord } from "../acceptor/store";
import type { DripFeedClient } from "../sdk/client";
import { DripFeedError } from "../sdk/errors";
import { type StandInNote, YagnaStandIn } from "./yagnaStandIn";

const APP_KEY = "demo-requestor-app-key";
const ALLOCATION = "demo-allocation";
const WAIT_LIMIT_MS = 30_000;

/**
 * The requestor's side of the demo while the requestor is offline: a yagna stand-in that receives the providers'
 * debit notes, and the supervisor acceptor daemon (`scripts/acceptor`, in-process) following it with the
 * supervisor's key, handing acceptances to the relay and accepting the notes in yagna.
 */
export class DemoSupervisor {
  private readonly decided = new Map<string, NoteRecord>();
  private readonly waiting = new Set<() => void>();

  private constructor(
    readonly yagna: YagnaStandIn,
    readonly acceptor: Acceptor,
    private readonly dir: string,
  ) {
    acceptor.onDecided((note) => {
      this.decided.set(note.debitNoteId, note);
      for (const wake of [...this.waiting]) wake();
    });
  }

  static async start(
    client: DripFeedClient,
    poolId: string,
    relayUrl: string,
    paymentPlatform: string,
  ): Promise<DemoSupervisor> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "dripfeed-demo-acceptor-"));
    const yagna = await YagnaStandIn.start({ appKey: APP_KEY, allocations: [ALLOCATION] });
    const acceptor = await startAcceptor({
      client,
      poolId,
      yagnaUrl: yagna.url,
      appKey: APP_KEY,
      db: path.join(dir, "acceptor.sqlite"),
      relayUrl,
      yagnaAllocation: ALLOCATION,
      // The over-cap start price of provider-2 is accepted and left to the contract, which pays it out at the cap.
      policy: { paymentPlatform, leaveRateToContract: true },
      port: null,
      pollTimeoutSeconds: 1,
      logger: pino({ level: "silent" }),
    });
    return new DemoSupervisor(yagna, acceptor, dir);
  }

  /** A note reaches the requestor's yagna at `atSeconds` (chain time: the demo's clock). */
  receive(note: StandInNote, atSeconds: bigint): void {
    this.yagna.receive(note, atSeconds * 1_000_000n);
  }

  /** Waits until the acceptor decided every note (in order) and handed on what it accepted; the records. */
  async settled(ids: readonly string[]): Promise<NoteRecord[]> {
    const end = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const records = ids.map((id) => this.acceptor.store.note(id));
      if (records.every((r) => r !== undefined && r.delivery !== "pending" && r.yagna !== "pending")) {
        return records as NoteRecord[];
      }
      if (Date.now() > end) throw new DripFeedError("RPC_ERROR", "the acceptor did not answer the notes in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 25);
        this.waiting.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiting.clear();
    }
  }

  async close(): Promise<void> {
    await this.acceptor.close();
    await this.yagna.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
