import { formatAmountFixed } from "../sdk/amounts";
import { toRfc3339 } from "../sdk/debitNote";

/** How a simulated Golem provider bills: a start price, then a price per debit-note interval. */
export interface Pricing {
  startPrice: bigint;
  perInterval: bigint;
}

/**
 * A Golem provider's yagna, reduced to what DripFeed sees: it issues debit notes for one activity of one agreement
 * in the JSON shape of yagna's payment API, with a cumulative `totalAmountDue`.
 */
export class SimulatedProvider {
  private issued = 0;
  private previousId: string | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly requestor: string,
    readonly golemAgreementId: string,
    readonly activityId: string,
    readonly pricing: Pricing,
    readonly decimals: number,
  ) {}

  /** The next debit note as yagna would send it (a JSON string), timestamped `now`. */
  issueDebitNote(now: bigint): string {
    this.issued += 1;
    const total = this.pricing.startPrice + this.pricing.perInterval * BigInt(this.issued);
    const debitNoteId = `${this.golemAgreementId.slice(0, 8)}-0000-4000-8000-${String(this.issued).padStart(12, "0")}`;
    const note = {
      debitNoteId,
      issuerId: this.address.toLowerCase(),
      recipientId: this.requestor.toLowerCase(),
      payeeAddr: this.address.toLowerCase(),
      payerAddr: this.requestor.toLowerCase(),
      paymentPlatform: "erc20-hardhat-glm",
      timestamp: toRfc3339(now),
      agreementId: this.golemAgreementId,
      activityId: this.activityId,
      totalAmountDue: formatAmountFixed(total, this.decimals),
      usageCounterVector: [this.issued * 120, this.issued * 96.5],
      paymentDueDate: toRfc3339(now + 86_400n),
      status: "RECEIVED",
      ...(this.previousId ? { previousDebitNoteId: this.previousId } : {}),
    };
    this.previousId = debitNoteId;
    return JSON.stringify(note);
  }
}
