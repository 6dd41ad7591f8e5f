/**
 * Errors as values with a stable `code` and a message a person can act on. The CLI and the relay map codes to exit
 * status and HTTP status in one place each (`scripts/tasks/output.ts`, `scripts/relay/http.ts`).
 */
export type DripFeedErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_JSON"
  | "INVALID_FIELD"
  | "UNKNOWN_POOL"
  | "UNKNOWN_AGREEMENT"
  | "AGREEMENT_RELEASED"
  | "WRONG_CHAIN"
  | "WRONG_CONTRACT"
  | "BAD_SIGNATURE"
  | "NOT_AUTHORIZED"
  | "EXPIRED"
  | "STALE_TOTAL"
  | "INSUFFICIENT_BALANCE"
  | "INSUFFICIENT_ALLOWANCE"
  | "NOT_DEPLOYED"
  | "REVERTED"
  | "RPC_ERROR"
  | "POOL_EXISTS"
  | "AGREEMENT_EXISTS"
  | "AGREEMENT_NOT_ACTIVE"
  | "INVALID_TERMS"
  | "CLAIM_WINDOW_OPEN"
  | "NOTHING_TO_SETTLE"
  | "DEBIT_NOTE_REJECTED"
  | "MISSING_KEY"
  | "WRONG_PROVIDER"
  | "STORE_LOCKED"
  | "STORE_MISMATCH"
  | "YAGNA_ERROR";

export class DripFeedError extends Error {
  override readonly name = "DripFeedError";

  constructor(
    readonly code: DripFeedErrorCode,
    message: string,
    /** The input field the error is about, when there is one (e.g. "totalAccepted"). */
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Whether a value is a DripFeedError (also across module copies). */
export function isDripFeedError(error: unknown): error is DripFeedError {
  return error instanceof Error && (error as { name?: string }).name === "DripFeedError" && "code" in error;
}
