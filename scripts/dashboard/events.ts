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

/** The events of one agreement, in the order the timeline and the chart use (all carry poolId, agreementId). */
export const AGREEMENT_EVENTS = [
  "AgreementOpened",
  "BudgetIncreased",
  "DebitNoteSettled",
  "SettlementFailed",
  "Claimed",
  "AgreementTerminated",
  "AgreementReleased",
] as const satisfies readonly DripFeedEventName[];

type Topic = string | string[] | null;

/** Most block timestamps kept (a long-running dashboard reads each block once; the map is cleared past this). */
const MAX_CACHED_BLOCKS = 50_000;

/**
 * Reads DripFeed's logs by topic and decodes them with the contract's ABI. Block timestamps are cached: a block's
 * time never changes, and every page poll asks for the same ones again.
 */
export class EventReader {
  private readonly blockTimes = new Map<number, bigint>();

  constructor(
    private readonly client: DripFeedClient,
    /** The deployment block: nothing of DripFeed's exists before it. */
    private readonly fromBlock: number,
  ) {}

  /** The topic hash of one of DripFeed's events. */
  topic(name: DripFeedEventName): string {
    const event = this.client.contract.interface.getEvent(name);
    if (!event) throw new Error(`DripFeed has no event ${name}`);
    return event.topicHash;
  }

  /** Events of the given names whose indexed arguments match `indexed` (null: any), oldest first. */
  async read(names: readonly DripFeedEventName[], ...indexed: Topic[]): Promise<ChainEvent[]> {
    const topics: Topic[] = [names.map((name) => this.topic(name)), ...indexed];
    let logs: Log[];
    try {
      logs = await this.client.provider.getLogs({
        address: this.client.address,
        fromBlock: this.fromBlock,
        toBlock: "latest",
        topics,
      });
    } catch (error) {
      throw toDripFeedError(error, `reading ${names.join("/")} events`);
    }
    const events: ChainEvent[] = [];
    for (const log of logs) {
      const parsed = this.client.contract.interface.parseLog(log);
      if (!parsed) continue;
      events.push({
        name: parsed.name,
        args: parsed.args,
        blockNumber: log.blockNumber,
        logIndex: log.index,
        txHash: log.transactionHash,
        time: await this.blockTime(log.blockNumber),
      });
    }
    return events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  private async blockTime(blockNumber: number): Promise<bigint> {
    const known = this.blockTimes.get(blockNumber);
    if (known !== undefined) return known;
    let block;
    try {
      block = await this.client.provider.getBlock(blockNumber);
    } catch (error) {
      throw toDripFeedError(error, `reading block ${blockNumber}`);
    }
    if (!block) throw toDripFeedError(new Error(`block ${blockNumber} not found`), "reading event times");
    const time = BigInt(block.timestamp);
    if (this.blockTimes.size >= MAX_CACHED_BLOCKS) this.blockTimes.clear();
    this.blockTimes.set(blockNumber, time);
    return time;
  }
}
