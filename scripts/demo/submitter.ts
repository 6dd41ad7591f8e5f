import type { SignedAcceptance } from "../sdk/acceptance";

/** What became of one submitted acceptance. */
export interface SubmitOutcome {
  agreementId: string;
  totalAccepted: bigint;
  paid: bigint;
  failure?: string;
}

/**
 * The step that puts acceptances on chain. The demo uses `RelaySubmitter` (the real relay over HTTP); anything that
 * gets them into `settle`/`settleBatch` can take its place.
 */
export interface AcceptanceSubmitter {
  submit(items: readonly SignedAcceptance[]): Promise<SubmitOutcome[]>;
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
