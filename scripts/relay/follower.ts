import type { Logger } from "pino";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { type ChainReader, shortMessage } from "./chain";

/**
 * Follows the chain for what changes when held acceptances must be settled: every new head moves the relay's clock
 * (deadlines, holds, acceptValidUntil are chain time), `GrantSet` can shorten a signer's acceptValidUntil (a
 * revocation leaves an hour's notice), `AgreementTerminated` starts a claim window the provider may close at once.
 * It polls (`eth_getLogs` over the new blocks), which every RPC supports; nothing is lost while the relay is down,
 * because the relay re-reads what it holds when it starts.
 */

const iface = DripFeed__factory.createInterface();
const GRANT_SET = iface.getEvent("GrantSet").topicHash;
const TERMINATED = iface.getEvent("AgreementTerminated").topicHash;
/** Most blocks per getLogs call (many RPCs refuse wider ranges). */
const MAX_RANGE = 2_000;

export interface FollowerEvents {
  /** A new head (the clock moved). */
  onBlock(): void;
  onGrantSet(poolId: string, grantee: string): void;
  onTerminated(poolId: string, agreementId: string): void;
}

export class ChainFollower {
  private timer: NodeJS.Timeout | undefined;
  private lastBlock: number | undefined;
  private polling: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly chain: ChainReader,
    private readonly events: FollowerEvents,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Reads the head now, then polls every `intervalMs`. */
  async start(): Promise<void> {
    await this.chain.syncClock();
    this.lastBlock = this.chain.latestBlock?.number;
    this.timer = setInterval(() => void this.poll(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  /** One poll (also callable directly); concurrent calls share the one in flight. */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      const head = await this.chain.provider.getBlock("latest");
      if (!head) return;
      const from = (this.lastBlock ?? head.number - 1) + 1;
      if (head.number >= from) {
        for (let start = from; start <= head.number; start += MAX_RANGE) {
          const end = Math.min(head.number, start + MAX_RANGE - 1);
          const logs = await this.chain.provider.getLogs({
            address: this.chain.address,
            topics: [[GRANT_SET, TERMINATED]],
            fromBlock: start,
            toBlock: end,
          });
          for (const log of logs) {
            if (log.topics[0] === GRANT_SET) {
              this.events.onGrantSet(log.topics[1], `0x${log.topics[2].slice(26)}`);
            } else {
              this.events.onTerminated(log.topics[1], log.topics[2]);
            }
          }
          this.lastBlock = end;
        }
      }
      this.chain.observeBlock(head);
      if (this.failing) this.log.info("following the chain again");
      this.failing = false;
      this.events.onBlock();
    } catch (error) {
      if (!this.failing) this.log.warn({ err: shortMessage(error) }, "could not follow the chain; retrying");
      this.failing = true;
    }
  }
}
