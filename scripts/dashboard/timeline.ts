import { formatAmount } from "../sdk/amounts";
import { errorNameOf } from "../sdk/revert";
import type { TokenInfo } from "../sdk/token";
import type { ChainEvent } from "./events";
import { rateText, type TimeJson, timeJson } from "./format";

/** One line of the agreement page's event timeline. */
export interface TimelineEntry {
  event: string;
  time: TimeJson;
  block: number;
  txHash: string;
  /** What happened, in token units. */
  text: string;
}

interface TermsArgs {
  budget: bigint;
  upfront: bigint;
  maxRate: bigint;
  streamRate: bigint;
}

function describe(event: ChainEvent, token: TokenInfo): string {
  const amount = (key: string): string => formatAmount(event.args[key] as bigint, token);
  switch (event.name) {
    case "AgreementOpened": {
      const terms = event.args.terms as TermsArgs;
      return (
        `opened for ${event.args.provider as string}: budget ${formatAmount(terms.budget, token)}, ` +
        `upfront ${formatAmount(terms.upfront, token)}, cap ${rateText(terms.maxRate, token)}, ` +
        `floor ${rateText(terms.streamRate, token)}`
      );
    }
    case "BudgetIncreased":
      return `budget raised by ${amount("amount")}`;
    case "DebitNoteSettled":
      return (
        `debit note ${(event.args.debitNoteId as string).slice(0, 10)}… settled: accepted total ` +
        `${amount("totalAccepted")}, paid ${amount("paid")} (signed by ${event.args.signer as string})`
      );
    case "SettlementFailed":
      return `settlement of debit note ${(event.args.debitNoteId as string).slice(0, 10)}… failed: ${errorNameOf(event.args.reason as string)}`;
    case "Claimed":
      return `claimed: paid ${amount("paid")}`;
    case "AgreementTerminated":
      return `terminated by ${event.args.by as string}`;
    case "AgreementReleased":
      return `released: ${amount("refunded")} back to the pool's free balance`;
    default:
      return event.name;
  }
}

/** The agreement's events, newest first (what a person looks for first), each with its transaction. */
export function timelineJson(events: readonly ChainEvent[], token: TokenInfo, now: bigint): TimelineEntry[] {
  return [...events].reverse().map((event) => ({
    event: event.name,
    time: timeJson(event.time, now),
    block: event.blockNumber,
    txHash: event.txHash,
    text: describe(event, token),
  }));
}
