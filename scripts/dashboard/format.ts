import { formatAmount, formatAmountFixed } from "../sdk/amounts";
import { formatAmountShort } from "../sdk/describe";
import { formatRate, RATE_SCALE } from "../sdk/rates";
import { isoTime } from "../sdk/time";
import type { TokenInfo } from "../sdk/token";

/**
 * What the dashboard's JSON carries for people: every amount both exact (base units, for scripts and tests) and as
 * text in token units with the symbol (the SDK's formatting), every time as unix seconds, ISO and relative to the
 * chain's clock. The page only lays these out; it never formats a number itself.
 */

export interface AmountJson {
  /** Base units as a decimal string (exact). */
  raw: string;
  /** Token units with the symbol, every digit ("5.829999999999999999 GLM"). */
  text: string;
  /** At most six decimals for reading at a glance, cut down and marked "~" when cut ("~5.829999 GLM"), as the CLI. */
  short: string;
}

export interface TimeJson {
  unix: number;
  /** "2026-11-21T12:02:00Z" */
  iso: string;
  /** Relative to the chain's clock: "in 3 h", "12 min ago", "now". */
  relative: string;
}

/** The SDK's short form (six decimals at most, cut down, "~" when cut) with the token's symbol. */
export function shortAmount(value: bigint, token: TokenInfo): string {
  return `${formatAmountShort(value, token)} ${token.symbol}`;
}

export function amountJson(value: bigint, token: TokenInfo): AmountJson {
  return { raw: value.toString(), text: formatAmount(value, token), short: shortAmount(value, token) };
}

/** A 1e18-scaled per-second rate per hour, at a glance ("36 GLM/h", "~7.458563 GLM/h"), or "none" for 0. */
export function rateText(rate: bigint, token: TokenInfo): string {
  if (rate === 0n) return "none";
  // Per hour to the nearest base unit, as formatRate does ("12 GLM/h" parsed rounds down by a fraction of a unit).
  const short = `${shortAmount((rate * 3600n + RATE_SCALE / 2n) / RATE_SCALE, token)}/h`;
  return short.startsWith("~") ? short : formatRate(rate, token, "h");
}

/** Token units as a plain number, for charts only (loses precision past ~15 digits, which a chart cannot show). */
export function chartNumber(value: bigint, token: TokenInfo): number {
  return Number(formatAmountFixed(value, token.decimals));
}

const UNITS: readonly [limit: number, size: number, name: string][] = [
  [90, 1, "s"],
  [90 * 60, 60, "min"],
  [36 * 3600, 3600, "h"],
  [Number.POSITIVE_INFINITY, 86_400, "d"],
];

/** "in 3 h", "12 min ago", "now": the distance from `now`, rounded to one unit a person reads at a glance. */
export function relativeTime(seconds: bigint, now: bigint): string {
  const diff = Number(seconds - now);
  if (diff === 0) return "now";
  const abs = Math.abs(diff);
  const [, size, name] = UNITS.find(([limit]) => abs < limit) ?? UNITS[UNITS.length - 1];
  const count = Math.round(abs / size);
  return diff > 0 ? `in ${count} ${name}` : `${count} ${name} ago`;
}

export function timeJson(seconds: bigint, now: bigint): TimeJson {
  return { unix: Number(seconds), iso: isoTime(seconds), relative: relativeTime(seconds, now) };
}
