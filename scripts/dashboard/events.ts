import type { Log, Result } from "ethers";

import type { DripFeed } from "../../typechain-types";
import type { DripFeedClient } from "../sdk/client";
import { toDripFeedError } from "../sdk/revert";

/** One DripFeed event as the dashboard shows it: decoded, with its block's time and its transaction. */
export interface ChainEvent {
  name: string;
  args: Result;
  blockNumber: number;
  logIndex: number;
  txHash: string;
  /** The block's timestamp (unix seconds): the contract's `now` when the event happened. */
  time: bigint;
}

/** The name of one of DripFeed's events. */
export type DripFeedEventName = Parameters<DripFeed["interface"]["getEvent"]>[0];

/** The events of one agreement (all carry poolId, agreementId as their first two indexed arguments). */
export const AGREEMENT_EVENTS = [
  "AgreementOpened",
  "BudgetIncreased",
  "DebitNoteSettled",
  "SettlementFailed",
  "Claimed",
  "AgreementTerminated",
  "AgreementReleased",
] as const satisfies readonly DripFeedEventName[];

/** An indexed argument to match: a 32-byte topic, or null for any. */
export type Topic = string | null;

interface Stored extends ChainEvent {
  topics: readonly string[];
}

/** Blocks read again at each update, so a shallow reorganisation of the chain's tip is picked up. */
const REORG_DEPTH = 12;
/** Blocks per eth_getLogs call at first; halved while a node refuses the range (public RPCs cap it). */
const FIRST_CHUNK = 5_000;
const SMALLEST_CHUNK = 50;

/**
 * Every DripFeed log from the deployment block on, kept in memory and brought up to date incrementally: each
 * `sync` reads only the blocks since the last one (plus the last REORG_DEPTH again), in ranges a public RPC accepts.
 * Pages call `sync` once per request and then filter in memory, so a page's events all come from one chain height.
 */
export class EventReader {
  private events: Stored[] = [];
  /** The last block read; the next sync starts REORG_DEPTH before the block after it. */
  private syncedTo: number;
  private chunk = FIRST_CHUNK;
  private syncing?: Promise<void>;
  private readonly blockTimes = new Map<number, bigint>();

  constructor(
    private readonly client: DripFeedClient,
    /** The deployment block: nothing of DripFeed's exists before it. */
    private readonly fromBlock: number,
  ) {
    this.syncedTo = fromBlock - 1;
  }

  /** The topic hash of one of DripFeed's events. */
  topic(name: DripFeedEventName): string {
    const event = this.client.contract.interface.getEvent(name);
    if (!event) throw new Error(`DripFeed has no event ${name}`);
    return event.topicHash;
  }

  /** Brings the events up to the latest block (one sync at a time; concurrent callers share it). */
  sync(): Promise<void> {
    this.syncing ??= this.syncOnce().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  /** Events of the given names whose indexed arguments match `indexed` (null: any), oldest first, as last synced. */
  read(names: readonly DripFeedEventName[], ...indexed: Topic[]): ChainEvent[] {
    const wanted = new Set(names.map((name) => this.topic(name)));
    const match = indexed.map((topic) => topic?.toLowerCase() ?? null);
    return this.events.filter(
      (e) => wanted.has(e.topics[0]) && match.every((topic, i) => topic === null || e.topics[i + 1] === topic),
    );
  }

  private async syncOnce(): Promise<void> {
    const latest = await chainRead("reading the latest block number", () => this.client.provider.getBlockNumber());
    // The blocks after the last sync, and its last REORG_DEPTH again; all of it on a chain that got shorter (a local
    // node restarted from scratch).
    const start = latest < this.syncedTo ? this.fromBlock : Math.max(this.fromBlock, this.syncedTo + 1 - REORG_DEPTH);
    const fresh: Stored[] = [];
    for (let from = start; from <= latest;) {
      const to = Math.min(latest, from + this.chunk - 1);
      let logs: Log[];
      try {
        logs = await this.client.provider.getLogs({ address: this.client.address, fromBlock: from, toBlock: to });
      } catch (error) {
        if (this.chunk > SMALLEST_CHUNK) {
          this.chunk = Math.max(SMALLEST_CHUNK, Math.floor(this.chunk / 2));
          continue;
        }
        throw toDripFeedError(error, `reading DripFeed's events in blocks ${from}..${to}`);
      }
      this.chunk = Math.min(FIRST_CHUNK, this.chunk * 2);
      for (const log of logs) fresh.push(await this.decode(log));
      from = to + 1;
    }
    // Replace what was read of the re-read blocks: a reorganised tip may have dropped or moved events.
    this.events = [...this.events.filter((e) => e.blockNumber < start), ...fresh].sort(
      (a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex,
    );
    for (const block of this.blockTimes.keys()) if (block >= start) this.blockTimes.delete(block);
    this.syncedTo = latest;
  }

  private async decode(log: Log): Promise<Stored> {
    const parsed = this.client.contract.interface.parseLog(log);
    return {
      name: parsed?.name ?? "unknown",
      args: parsed?.args ?? ([] as unknown as Result),
      topics: log.topics.map((t) => t.toLowerCase()),
      blockNumber: log.blockNumber,
      logIndex: log.index,
      txHash: log.transactionHash,
      time: await this.blockTime(log.blockNumber),
    };
  }

  private async blockTime(blockNumber: number): Promise<bigint> {
    const known = this.blockTimes.get(blockNumber);
    if (known !== undefined) return known;
    const block = await chainRead(`reading block ${blockNumber}`, () => this.client.provider.getBlock(blockNumber));
    if (!block) throw toDripFeedError(new Error(`block ${blockNumber} not found`), "reading event times");
    const time = BigInt(block.timestamp);
    this.blockTimes.set(blockNumber, time);
    return time;
  }
}

/** A chain read whose failure becomes the SDK's DripFeedError naming `action` (RPC_ERROR when the node is gone). */
export async function chainRead<T>(action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toDripFeedError(error, action);
  }
}
