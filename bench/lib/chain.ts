/**
 * A deterministic clock for the embedded Hardhat network. Every transaction the bench sends is mined at a
 * timestamp the bench chose, so elapsed times, payouts, deadlines and signatures (and therefore calldata and gas)
 * are the same on every run and every machine.
 */
import type { ContractTransactionResponse, TransactionReceipt } from "ethers";
import hre from "hardhat";

/** Far beyond any machine's wall clock (2065-01-24), so the first `setNextBlockTimestamp` never goes backwards. */
export const BENCH_EPOCH = 3_000_000_000n;

export class Clock {
  private current: bigint;

  private constructor(start: bigint) {
    this.current = start;
  }

  /** Starts the clock at `BENCH_EPOCH`, after whatever blocks the deployment mined at wall-clock time. */
  static async start(): Promise<Clock> {
    const latest = await hre.ethers.provider.getBlock("latest");
    const latestTs = BigInt(latest?.timestamp ?? 0);
    if (latestTs >= BENCH_EPOCH) {
      throw new Error(`the chain is already at ${latestTs}, past the bench epoch ${BENCH_EPOCH}`);
    }
    return new Clock(BENCH_EPOCH);
  }

  /** The timestamp of the last block the bench mined (or the epoch). */
  get now(): bigint {
    return this.current;
  }

  /** Moves the clock `seconds` ahead (at least 1) and pins the next block to it. */
  async advance(seconds: bigint = 1n): Promise<bigint> {
    if (seconds < 1n) throw new Error("a block must move time forward");
    this.current += seconds;
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(this.current)]);
    return this.current;
  }
}

/** Sends one transaction at the clock's next second (or `seconds` later) and returns its receipt. */
export async function mine(
  clock: Clock,
  send: () => Promise<ContractTransactionResponse>,
  seconds: bigint = 1n,
): Promise<TransactionReceipt> {
  await clock.advance(seconds);
  const response = await send();
  const receipt = await response.wait();
  if (receipt === null || receipt.status !== 1) throw new Error(`transaction ${response.hash} failed`);
  return receipt;
}
