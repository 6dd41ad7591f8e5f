import { DripFeedError } from "./errors";

/** What a token amount needs to be read or written by a person: its decimals and (for display) its symbol. */
export interface TokenUnits {
  decimals: number;
  symbol?: string;
}

const AMOUNT_PATTERN = /^(\d+)(?:\.(\d+))?$/;

/**
 * A decimal amount in token units ("12.5", optionally followed by the token's symbol: "12.5 GLM") as base units.
 * Refuses signs, exponents, empty parts and more fractional digits than the token has, naming `field`.
 */
export function parseAmount(text: string, units: TokenUnits, field = "amount"): bigint {
  const trimmed = text.trim();
  const [number, symbol, ...rest] = trimmed.split(/\s+/);
  if (rest.length > 0 || number === undefined || number === "") {
    throw new DripFeedError("INVALID_ARGUMENT", `${field} "${text}" is not an amount like "12.5"`, field);
  }
  if (symbol !== undefined && units.symbol !== undefined && symbol.toUpperCase() !== units.symbol.toUpperCase()) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `${field} "${text}" is in ${symbol}, but the token is ${units.symbol}`,
      field,
    );
  }
  const match = AMOUNT_PATTERN.exec(number);
  if (!match) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `${field} "${text}" is not a plain decimal number like "12.5" (no sign, no exponent)`,
      field,
    );
  }
  const [, whole, fraction = ""] = match;
  if (fraction.length > units.decimals) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `${field} "${text}" has ${fraction.length} decimals, but ${units.symbol ?? "the token"} has only ${units.decimals}`,
      field,
    );
  }
  return BigInt(whole) * 10n ** BigInt(units.decimals) + BigInt(fraction.padEnd(units.decimals, "0") || "0");
}

/** Base units as a decimal string in token units, trailing zeros trimmed ("12.5"), with the symbol when known. */
export function formatAmount(value: bigint, units: TokenUnits): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const scale = 10n ** BigInt(units.decimals);
  const whole = abs / scale;
  const fraction = (abs % scale).toString().padStart(units.decimals, "0").replace(/0+$/, "");
  const number = `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
  return units.symbol ? `${number} ${units.symbol}` : number;
}

/** Base units as a fixed decimal string with every digit the token has ("0.012000000000000000"), as yagna writes. */
export function formatAmountFixed(value: bigint, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  if (decimals === 0) return value.toString();
  return `${value / scale}.${(value % scale).toString().padStart(decimals, "0")}`;
}
