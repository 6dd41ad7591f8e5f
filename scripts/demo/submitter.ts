import type { SignedAcceptance } from "../sdk/acceptance";
import type { DripFeedClient } from "../sdk/client";

/** What became of one submitted acceptance. */
export interface SubmitOutcome {
  agreementId: string;
  totalAccepted: bigint;
  paid: bigint;
  failure?: string;
}

/**
 * The step that puts acceptances on chain. The demo settles them itself with `settleBatch`; the relay
 * (`npx hardhat dripfeed relay`) can take its place by implementing this interface.
 */
export interface AcceptanceSubmitter {
  submit(items: readonly SignedAcceptance[]): Promise<SubmitOutcome[]>;
}

/** Submits with one `settleBatch` transaction from its client's signer (a keeper: anyone may). */
export class SettleBatchSubmitter implements AcceptanceSubmitter {
  constructor(private readonly client: DripFeedClient) {}

  async submit(items: readonly SignedAcceptance[]): Promise<SubmitOutcome[]> {
    if (items.length === 0) return [];
    const { items: results } = await this.client.settleBatch(items);
    return results.map((r, i) => ({
      agreementId: r.agreementId,
      totalAccepted: items[i].totalAccepted,
      paid: r.paid,
      failure: r.failure,
    }));
  }
}

/**
 * Pending acceptances, coalesced per agreement: totals are cumulative, so only the highest one needs to go on chain.
 */
export class AcceptanceQueue {
  private readonly pending = new Map<string, SignedAcceptance>();

  add(signed: SignedAcceptance): void {
    const key = `${signed.poolId}:${signed.agreementId}`;
    const current = this.pending.get(key);
    if (!current || signed.totalAccepted > current.totalAccepted) this.pending.set(key, signed);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Takes everything pending (one acceptance per agreement). */
  drain(): SignedAcceptance[] {
    const items = [...this.pending.values()];
    this.pending.clear();
    return items;
  }
}
