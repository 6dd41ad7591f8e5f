import { type ErrorDescription, Interface, isError, isHexString, MaxUint256 } from "ethers";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { IERC20Errors__factory } from "../../typechain-types/factories/@openzeppelin/contracts/interfaces/draft-IERC6093.sol/IERC20Errors__factory";
import { type DripFeedErrorCode, DripFeedError, isDripFeedError } from "./errors";

/** Every custom error a DripFeed call can surface: the contract's own and the OpenZeppelin ERC-20 errors. */
const ERRORS = new Interface([
  ...DripFeed__factory.abi.filter((item) => item.type === "error"),
  ...IERC20Errors__factory.abi.filter((item) => item.type === "error"),
]);

/** The stable code a custom error maps to (anything not listed is REVERTED). */
const CODES: Readonly<Record<string, DripFeedErrorCode>> = {
  PoolExists: "POOL_EXISTS",
  PoolNotFound: "UNKNOWN_POOL",
  NotPoolOwner: "NOT_AUTHORIZED",
  NotAuthorized: "NOT_AUTHORIZED",
  AllowanceExceeded: "INSUFFICIENT_ALLOWANCE",
  InsufficientFreeBalance: "INSUFFICIENT_BALANCE",
  InvalidTerms: "INVALID_TERMS",
  AgreementExists: "AGREEMENT_EXISTS",
  AgreementNotFound: "UNKNOWN_AGREEMENT",
  AgreementNotActive: "AGREEMENT_NOT_ACTIVE",
  ClaimWindowOpen: "CLAIM_WINDOW_OPEN",
  SignatureExpired: "EXPIRED",
  InvalidSignature: "BAD_SIGNATURE",
  NothingToSettle: "NOTHING_TO_SETTLE",
  ERC20InsufficientAllowance: "INSUFFICIENT_ALLOWANCE",
  ERC20InsufficientBalance: "INSUFFICIENT_BALANCE",
};

/** `InvalidTerms(reason)` codes (DripFeed.sol `BAD_*`). */
const TERMS_REASONS: Readonly<Record<string, string>> = {
  "1": "budget is zero",
  "2": "upfront exceeds the budget",
  "3": "stream rate exceeds the max rate",
  "4": "debit-note interval outside 120..900 s",
  "5": "payment timeout outside 1..86400 s",
  "6": "bad provider (zero, the pool owner, or DripFeed itself)",
  "7": "budget would exceed 128 bits",
};

/** The custom error a selector (or full revert data) stands for, e.g. "0x..." -> "NothingToSettle". */
export function errorNameOf(data: string): string {
  try {
    const parsed = ERRORS.parseError(data);
    if (parsed) return parsed.name;
  } catch {
    // fall through
  }
  return data.slice(0, 10);
}

function findRevertData(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== "object" || error === null) return undefined;
  const record = error as Record<string, unknown>;
  const data = record.data;
  if (typeof data === "string" && isHexString(data) && data.length >= 10) return data;
  if (typeof data === "object" && data !== null) {
    const nested = findRevertData(data, depth + 1);
    if (nested) return nested;
  }
  for (const key of ["error", "info", "cause", "revert"]) {
    const nested = findRevertData(record[key], depth + 1);
    if (nested) return nested;
  }
  return undefined;
}

function describe(parsed: ErrorDescription): string {
  const args = parsed.fragment.inputs.map((input, i) => `${input.name || i}=${String(parsed.args[i])}`);
  let detail = "";
  if (parsed.name === "InvalidTerms") detail = ` (${TERMS_REASONS[String(parsed.args[0])] ?? "unknown reason"})`;
  if (parsed.name === "ClaimWindowOpen" && parsed.args[0] === MaxUint256) {
    detail = " (the agreement is still active: terminate it first)";
  }
  return `${parsed.name}(${args.join(", ")})${detail}`;
}

/**
 * Any error thrown by an ethers contract call as a DripFeedError: a revert is decoded to its custom error name and
 * arguments; a JSON-RPC or network failure becomes RPC_ERROR. `action` says what was being done ("fund pool 0x..").
 */
export function toDripFeedError(error: unknown, action: string, options: { simulated?: boolean } = {}): DripFeedError {
  if (isDripFeedError(error)) return error;
  // A failure found by simulating (staticCall) before sending is not a revert that happened: say so.
  const reverted = options.simulated ? "would revert" : "reverted";
  const nothingSent = options.simulated ? "; nothing was sent" : "";
  const data = findRevertData(error);
  if (data) {
    let parsed: ErrorDescription | null = null;
    try {
      parsed = ERRORS.parseError(data);
    } catch {
      parsed = null;
    }
    if (parsed) {
      return new DripFeedError(
        CODES[parsed.name] ?? "REVERTED",
        `${action} ${reverted}: ${describe(parsed)}${nothingSent}`,
      );
    }
    return new DripFeedError(
      "REVERTED",
      `${action} ${reverted} with unknown error data ${data.slice(0, 74)}${nothingSent}`,
    );
  }
  if (isError(error, "CALL_EXCEPTION")) {
    return new DripFeedError("REVERTED", `${action} ${reverted}: ${error.shortMessage}${nothingSent}`);
  }
  const message =
    error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error);
  return new DripFeedError("RPC_ERROR", `${action} failed: ${message.split("\n")[0]}`);
}
