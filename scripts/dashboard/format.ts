import { formatAmount, formatAmountFixed } from "../sdk/amounts";
import { toRfc3339 } from "../sdk/debitNote";
import { formatRate, RATE_SCALE } from "../sdk/rates";
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
  /** Rounded to SHORT_DECIMALS places for reading at a glance, marked "≈" when that changed it ("≈5.83 GLM"). */
  short: string;
}

/** Decimal places an amount is shown with at a glance (the exact value is one hover away). */
export const SHORT_DECIMALS = 6;

export interface TimeJson {
  unix: number;
  /** "2026-11-21T12:02:00Z" */
  iso: string;
  /** Relative to the chain's clock: "in 3 h", "12 min ago", "now". */
  relative: string;
}

/** `value` rounded half up to SHORT_DECIMALS places, in token units with the symbol, "≈" when rounded. */
export function shortAmount(value: bigint, token: TokenInfo): string {
  const unit = 10n ** BigInt(Math.max(0, token.decimals - SHORT_DECIMALS));
  const rounded = ((value + unit / 2n) / unit) * unit;
  return `${rounded === value ? "" : "≈"}${formatAmount(rounded, token)}`;
}

export function amountJson(value: bigint, token: TokenInfo): AmountJson {
  return { raw: value.toString(), text: formatAmount(value, token), short: shortAmount(value, token) };
}

/** A 1e18-scaled per-second rate per hour, at a glance ("36 GLM/h", "≈7.458564 GLM/h"), or "none" for 0. */
export function rateText(rate: bigint, token: TokenInfo): string {
  if (rate === 0n) return "none";
  const exact = formatRate(rate, token, "h");
  const perHour = (rate * 3600n + RATE_SCALE / 2n) / RATE_SCALE;
  const short = `${shortAmount(perHour, token)}/h`;
  return short.startsWith("≈") ? short : exact;
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
  return { unix: Number(seconds), iso: toRfc3339(seconds), relative: relativeTime(seconds, now) };
}

/** A duration for terms ("120 s", "10 min", "1 h", "1 d 2 h"). */
export function durationText(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200 && seconds % 3600 !== 0) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${+(seconds / 3600).toFixed(1)} h`;
  return `${+(seconds / 86_400).toFixed(1)} d`;
}
