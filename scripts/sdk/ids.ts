import { AbiCoder, getAddress, isHexString, keccak256, toUtf8Bytes } from "ethers";

import { DripFeedError } from "./errors";

/**
 * A Golem agreement id (64 hex characters, with or without 0x) as the bytes32 DripFeed keys agreements by.
 * Golem ids are used directly, so the on-chain id can be read back as the Golem id.
 */
export function agreementIdToBytes32(golemAgreementId: string): string {
  const hex = golemAgreementId.trim().toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `agreement id "${golemAgreementId}" is not 64 hex characters (a Golem agreement id)`,
      "agreementId",
    );
  }
  return `0x${hex}`;
}

/** The bytes32 back to the Golem agreement id (64 hex characters, no 0x). */
export function bytes32ToAgreementId(id: string): string {
  return requireBytes32(id, "agreementId").slice(2);
}

/** The debit-note id as signed: `keccak256(utf8(golemDebitNoteId))`; it is only logged, for reconciliation. */
export function debitNoteIdHash(golemDebitNoteId: string): string {
  if (golemDebitNoteId.length === 0) {
    throw new DripFeedError("INVALID_ARGUMENT", "debit-note id is empty", "debitNoteId");
  }
  return keccak256(toUtf8Bytes(golemDebitNoteId));
}

/** `poolIdOf(owner, salt)` computed off-chain: `keccak256(abi.encode(owner, salt))`. */
export function poolIdOf(owner: string, salt: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [getAddress(owner), saltToBytes32(salt)]));
}

/**
 * A pool salt from what a person types: a 0x-prefixed 32-byte hex value is taken as is, anything else is UTF-8 text
 * of at most 32 bytes, right-padded with zeros (the way `encodeBytes32String` does).
 */
export function saltToBytes32(salt: string): string {
  if (isHexString(salt, 32)) return salt.toLowerCase();
  const bytes = toUtf8Bytes(salt);
  if (bytes.length > 32) {
    throw new DripFeedError("INVALID_ARGUMENT", `salt "${salt}" is longer than 32 bytes`, "salt");
  }
  const padded = new Uint8Array(32);
  padded.set(bytes);
  return `0x${Buffer.from(padded).toString("hex")}`;
}

/**
 * A 32-byte id as a person or a URL gives it: 64 hex characters with or without `0x` (any case, surrounding blanks
 * ignored), returned 0x-prefixed and lower-cased. For typed input; wire formats (the signed-acceptance JSON) stay
 * strict with `requireBytes32`.
 */
export function parseBytes32(value: unknown, field: string): string {
  if (typeof value === "string") {
    const hex = value.trim().replace(/^0x/i, "");
    if (/^[0-9a-fA-F]{64}$/.test(hex)) return `0x${hex.toLowerCase()}`;
  }
  throw new DripFeedError("INVALID_FIELD", `${field} must be 64 hex characters (with or without 0x)`, field);
}

/** Checks a 0x-prefixed 32-byte hex value and returns it lower-cased. */
export function requireBytes32(value: unknown, field: string): string {
  if (typeof value !== "string" || !isHexString(value, 32)) {
    throw new DripFeedError("INVALID_FIELD", `${field} must be a 0x-prefixed 32-byte hex string`, field);
  }
  return value.toLowerCase();
}

/**
 * Checksummed forms of recently checked addresses, by input string. The checksum is a keccak in JavaScript (tens of
 * microseconds); a relay sees the same few signers and contracts on every request. Only valid inputs are kept, and
 * the result is a pure function of the input, so the memo changes nothing but the time taken.
 */
const CHECKSUMMED = new Map<string, string>();
const CHECKSUMMED_MAX = 4_096;

/** Checks an address (any case; a mixed-case one must have a valid checksum) and returns it checksummed. */
export function requireAddress(value: unknown, field: string): string {
  if (typeof value === "string") {
    const known = CHECKSUMMED.get(value);
    if (known !== undefined) return known;
  }
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw new DripFeedError("INVALID_FIELD", `${field} must be a 0x-prefixed 20-byte address`, field);
  }
  let checksummed: string;
  try {
    checksummed = getAddress(value);
  } catch {
    throw new DripFeedError("INVALID_FIELD", `${field} has a bad checksum (mixed case that does not match)`, field);
  }
  if (CHECKSUMMED.size >= CHECKSUMMED_MAX) CHECKSUMMED.clear();
  CHECKSUMMED.set(value, checksummed);
  return checksummed;
}
