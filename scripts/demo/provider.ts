import { formatAmountFixed } from "../sdk/amounts";
import { formatRfc3339Micros } from "../sdk/debitNote";
import { type StandInNote, newActivityId, newDebitNoteId } from "./yagnaStandIn";

/** How a simulated Golem provider bills: a start price, then a price per debit-note interval. */
export interface Pricing {
  startPrice: bigint;
  perInterval: bigint;
}

/**
 * A Golem provider's yagna, reduced to what DripFeed sees: it issues debit notes for one activity of one agreement
 * in the JSON of yagna's payment API (UUID note ids, a 32-hex activity id, microsecond timestamps, 18-decimal
 * cumulative `totalAmountDue`, the previous note's id).
 */
export class SimulatedProvider {
  private issued = 0;
  private previousId: string | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly requestor: string,
    readonly golemAgreementId: string,
    readonly pricing: Pricing,
    readonly decimals: number,
    readonly paymentPlatform = "erc20-hardhat-glm",
    readonly activityId = newActivityId(),
  ) {}

  /** The next debit note as yagna would serve it, stamped `nowMicros` by the provider's clock. */
  issueDebitNote(nowMicros: bigint): StandInNote {
    this.issued += 1;
    const total = this.pricing.startPrice + this.pricing.perInterval * BigInt(this.issued);
    const debitNoteId = newDebitNoteId();
    const note: StandInNote = {
      debitNoteId,
      issuerId: this.address.toLowerCase(),
      recipientId: this.requestor.toLowerCase(),
      payeeAddr: this.address.toLowerCase(),
      payerAddr: this.requestor.toLowerCase(),
      paymentPlatform: this.paymentPlatform,
      timestamp: formatRfc3339Micros(nowMicros),
      agreementId: this.golemAgreementId,
      activityId: this.activityId,
      totalAmountDue: formatAmountFixed(total, this.decimals),
      usageCounterVector: [this.issued * 120, this.issued * 96.5],
      paymentDueDate: formatRfc3339Micros(nowMicros + 86_400_000_000n),
      status: "RECEIVED",
      ...(this.previousId ? { previousDebitNoteId: this.previousId } : {}),
    };
    this.previousId = debitNoteId;
    return note;
  }
}
