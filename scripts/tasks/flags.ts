import { readFileSync } from "node:fs";

import { DripFeedError } from "../sdk/errors";
import { agreementIdToBytes32, parseBytes32 } from "../sdk/ids";
import { PERMISSION_NAMES } from "../sdk/terms";

/** A flag that must be given (declared optional to Hardhat so a missing one is our one-line error, not Hardhat's). */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === null || (typeof value === "string" && value.trim() === "")) {
    throw new DripFeedError("INVALID_ARGUMENT", `--${flag} is required`, flag);
  }
  return value;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400, w: 604_800 };

/** "7d", "12h", "30m", "90s", "1w" or plain seconds ("120") as seconds. */
export function parseDuration(text: string, flag: string): bigint {
  const match = /^\s*(\d+)\s*(s|m|min|h|d|w)?\s*$/.exec(text);
  if (!match) {
    throw new DripFeedError("INVALID_ARGUMENT", `--${flag} "${text}" is not a duration like 7d, 12h, 30m or 90s`, flag);
  }
  return BigInt(match[1]) * BigInt(DURATION_UNITS[match[2] ?? "s"]);
}

/** A whole number of seconds within [min, max]. */
export function parseSeconds(text: string, flag: string, min: number, max: number): number {
  const value = Number(parseDuration(text, flag));
  if (value < min || value > max) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--${flag} must be between ${min} and ${max} seconds (got ${value})`,
      flag,
    );
  }
  return value;
}

/** "accept,terminate,open" (or "none" to revoke) as the permission mask. */
export function parsePermissions(text: string, flag = "permissions"): number {
  if (text.trim().toLowerCase() === "none") return 0;
  let mask = 0;
  for (const part of text.split(",").map((p) => p.trim().toLowerCase())) {
    const bit = PERMISSION_NAMES[part];
    if (bit === undefined) {
      throw new DripFeedError(
        "INVALID_ARGUMENT",
        `--${flag}: unknown permission "${part}" (use accept, terminate, open, comma-separated, or none)`,
        flag,
      );
    }
    mask |= bit;
  }
  return mask;
}

/** A pool id flag: 64 hex characters, with or without 0x. */
export function parsePoolId(text: string | undefined): string {
  const value = required(text, "pool");
  try {
    return parseBytes32(value, "pool");
  } catch {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--pool "${value}" is not a pool id (64 hex characters, with or without 0x)`,
      "pool",
    );
  }
}

/** An agreement id flag: a Golem agreement id (64 hex characters, with or without 0x). */
export function parseAgreementId(text: string | undefined): string {
  return agreementIdToBytes32(required(text, "agreement"));
}

/**
 * A point in time a person writes: an ISO 8601 time ("2026-12-01T12:00:00Z"), unix seconds, or a duration from
 * `now` ("1h"). Returns unix seconds.
 */
export function parseTime(text: string, flag: string, now: bigint): bigint {
  const trimmed = text.trim();
  if (/^\d{9,}$/.test(trimmed)) return BigInt(trimmed);
  if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isNaN(ms)) {
      throw new DripFeedError("INVALID_ARGUMENT", `--${flag} "${text}" is not a valid ISO 8601 time`, flag);
    }
    return BigInt(Math.floor(ms / 1000));
  }
  return now + parseDuration(trimmed, flag);
}

/** A file's text, or one line naming the file and why it cannot be read. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}
