import { formatAmount, type TokenUnits } from "./amounts";
import { formatRate } from "./rates";
import type { Terms } from "./terms";

/**
 * How the tools show an agreement's terms to a person: amounts in token units with the symbol, rates per hour,
 * durations in the largest whole unit. One place, so `status`, `find`, `verify` and `watch` say the same thing.
 */
export interface HumanTerms {
  budget: string;
  upfront: string;
  /** "36 GLM/h", or "none" (acceptances alone limit payouts, within the budget). */
  maxRate: string;
  /** "18 GLM/h", or "none". */
  streamRate: string;
  debitNoteInterval: string;
  paymentTimeout: string;
  /** 2 x the debit-note interval: how long an acceptance may take (`acceptTimeoutOf`). */
  acceptTimeout: string;
}

export function humanTerms(terms: Terms, token: TokenUnits): HumanTerms {
  return {
    budget: formatAmount(terms.budget, token),
    upfront: formatAmount(terms.upfront, token),
    maxRate: terms.maxRate === 0n ? "none" : formatRate(terms.maxRate, token),
    streamRate: terms.streamRate === 0n ? "none" : formatRate(terms.streamRate, token),
    debitNoteInterval: formatDuration(terms.debitNoteInterval),
    paymentTimeout: formatDuration(terms.paymentTimeout),
    acceptTimeout: formatDuration(2 * terms.debitNoteInterval),
  };
}

/** Seconds in the largest unit that divides them: "2 min", "1 h", "90 s", "1 day". */
export function formatDuration(seconds: number | bigint): string {
  const s = Number(seconds);
  if (s !== 0 && s % 86_400 === 0) return `${s / 86_400} day${s === 86_400 ? "" : "s"}`;
  if (s !== 0 && s % 3600 === 0) return `${s / 3600} h`;
  if (s !== 0 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/** An amount for a narrow column: at most `decimals` fraction digits, rounded down, "~" marking a cut. */
export function formatAmountShort(value: bigint, token: TokenUnits, decimals = 6): string {
  if (token.decimals <= decimals) return formatAmount(value, { decimals: token.decimals });
  const step = 10n ** BigInt(token.decimals - decimals);
  const cut = (value / step) * step;
  return `${cut === value ? "" : "~"}${formatAmount(cut, { decimals: token.decimals })}`;
}

/** A long hex id or address shortened for a table: "0x1234…abcd". */
export function shortHex(hex: string, head = 6, tail = 4): string {
  return hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}
