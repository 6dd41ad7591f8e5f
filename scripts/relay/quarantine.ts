import type { QuarantineRecord, RelayStore, StoredAcceptance } from "./store";

/**
 * Keeps what breaks batches away from everyone else's acceptances.
 *
 * Anyone can create a pool whose token burns gas or reverts on transfer, or sign as a contract wallet whose ERC-1271
 * check does; the contract caps each batch item's calls (`ITEM_CALL_GAS`), but a relay that keeps sending such an
 * item pays for it every time and, with enough of them, the batch no longer fits in a block. So:
 *
 * - **Probation**: the first acceptance of a pool (and of a contract-wallet signer) this relay sends is simulated
 *   alone (`eth_call settle`) before it joins a shared batch; once one passes, the pool (signer) is trusted.
 * - **Quarantine**: a pool (its token) or a contract signer whose item failed, in a simulation or on chain, or broke
 *   a batch's gas estimate, is quarantined: its acceptances go in a lane of their own (simulated one by one, sent
 *   apart, never with others), and the failure is charged to its own item's attempts only. A lane batch that settles
 *   every item lifts the quarantine.
 *
 * Quarantines are kept in the database (they survive a restart); trust is re-earned after one.
 */

export type Culprit = "transfer" | "signature" | "other";

export function poolLane(poolId: string): string {
  return `pool:${poolId}`;
}

export function signerLane(signer: string): string {
  return `signer:${signer.toLowerCase()}`;
}

export class Quarantine {
  private readonly records = new Map<string, QuarantineRecord>();
  private readonly trustedPools = new Set<string>();
  private readonly trustedSigners = new Set<string>();

  constructor(private readonly store: RelayStore) {
    for (const record of store.quarantined()) this.records.set(record.key, record);
  }

  /** The lane an acceptance must go in (its quarantined signer or pool), or undefined for a shared batch. */
  laneOf(item: StoredAcceptance): string | undefined {
    if (item.contractSigner) {
      const lane = signerLane(item.signer);
      if (this.records.has(lane)) return lane;
    }
    const lane = poolLane(item.poolId);
    return this.records.has(lane) ? lane : undefined;
  }

  /** Whether the acceptance must pass a simulation alone before it may join a shared batch. */
  needsProbation(item: StoredAcceptance): boolean {
    if (!this.trustedPools.has(item.poolId)) return true;
    return item.contractSigner && !this.trustedSigners.has(item.signer.toLowerCase());
  }

  /** The acceptance settled (or simulated fine): its pool (and contract signer) can share batches. */
  trust(item: StoredAcceptance): void {
    this.trustedPools.add(item.poolId);
    if (item.contractSigner) this.trustedSigners.add(item.signer.toLowerCase());
  }

  /**
   * Quarantines what made the acceptance fail: its contract signer for a signature that a wallet refused, else its
   * pool (whose token is the pool's). Returns the lane.
   */
  strike(item: StoredAcceptance, culprit: Culprit, reason: string, now: number): string {
    const lane = culprit === "signature" && item.contractSigner ? signerLane(item.signer) : poolLane(item.poolId);
    if (lane.startsWith("pool:")) this.trustedPools.delete(item.poolId);
    else this.trustedSigners.delete(item.signer.toLowerCase());
    const previous = this.records.get(lane);
    const record: QuarantineRecord = {
      key: lane,
      reason,
      since: previous?.since ?? now,
      strikes: (previous?.strikes ?? 0) + 1,
    };
    this.records.set(lane, record);
    this.store.putQuarantine(record);
    return lane;
  }

  /** Lifts a lane's quarantine (a lane batch settled every item). */
  lift(lane: string): boolean {
    if (!this.records.delete(lane)) return false;
    this.store.liftQuarantine(lane);
    return true;
  }

  get(lane: string): QuarantineRecord | undefined {
    return this.records.get(lane);
  }

  list(): QuarantineRecord[] {
    return [...this.records.values()];
  }
}
