import { formatAmount, parseAmount, type TokenUnits } from "./amounts";
import { DripFeedError } from "./errors";

/** Rates are token base units per second scaled by this factor (SPEC: `maxRate`, `streamRate`, `openRefillRate`). */
export const RATE_SCALE = 10n ** 18n;

/** The time units a rate may be written in, in seconds. */
export const RATE_UNITS: Readonly<Record<string, bigint>> = {
  s: 1n,
  sec: 1n,
  min: 60n,
  h: 3600n,
  hour: 3600n,
  d: 86_400n,
  day: 86_400n,
};

export type RateUnit = "s" | "min" | "h" | "day";

/**
 * A rate a person writes ("0.5 GLM/h", "2 GLM/day", "0.001 GLM/s", "1 GLM/min") as the SPEC's 1e18-scaled
 * base units per second, rounded down (so a cap is never above what was written).
 */
export function parseRate(text: string, units: TokenUnits, field = "rate"): bigint {
  const match = /^\s*(.+?)\s*\/\s*([a-zA-Z]+)\s*$/.exec(text);
  const seconds = match ? RATE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || seconds === undefined) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `${field} "${text}" is not a rate like "0.5 GLM/h" (units: /s, /min, /h, /day)`,
      field,
    );
  }
  const amount = parseAmount(match[1], units, field);
  return (amount * RATE_SCALE) / seconds;
}

/** A 1e18-scaled per-second rate for display ("0.5 GLM/h"), rounded to the nearest base unit per `unit`. */
export function formatRate(rate: bigint, units: TokenUnits, unit: RateUnit = "h"): string {
  const perUnit = (rate * RATE_UNITS[unit] + RATE_SCALE / 2n) / RATE_SCALE;
  return `${formatAmount(perUnit, units)}/${unit}`;
}
