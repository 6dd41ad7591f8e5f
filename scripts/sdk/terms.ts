import { DripFeedError } from "./errors";

/** Golem's limits as the contract enforces them (SPEC, "Agreements"). */
export const MIN_DEBIT_NOTE_INTERVAL = 120;
export const MAX_DEBIT_NOTE_INTERVAL = 900;
export const MAX_PAYMENT_TIMEOUT = 86_400;

/** Permission bits of a grant (SPEC, "Grants"). */
export const ACCEPT = 1;
export const TERMINATE = 2;
export const OPEN = 4;
export const PERMISSION_NAMES: Readonly<Record<string, number>> = { accept: ACCEPT, terminate: TERMINATE, open: OPEN };

/** The terms of one agreement (mirrors the Solidity struct; amounts in base units, rates 1e18-scaled per second). */
export interface Terms {
  budget: bigint;
  upfront: bigint;
  maxRate: bigint;
  streamRate: bigint;
  debitNoteInterval: number;
  paymentTimeout: number;
}

const UINT128_MAX = (1n << 128n) - 1n;

/**
 * The SPEC's validation of `Terms` (what reverts `InvalidTerms`), done before anything is sent so the error can
 * name the field. `provider`/`owner` are checked when given.
 */
export function validateTerms(terms: Terms, provider?: string, owner?: string): void {
  const fail = (field: string, message: string): never => {
    throw new DripFeedError("INVALID_TERMS", message, field);
  };
  for (const field of ["budget", "upfront", "maxRate", "streamRate"] as const) {
    if (terms[field] < 0n || terms[field] > UINT128_MAX) fail(field, `${field} must fit in 128 bits`);
  }
  if (terms.budget === 0n) fail("budget", "budget must be greater than zero");
  if (terms.upfront > terms.budget) fail("upfront", "upfront must not exceed the budget");
  if (terms.maxRate !== 0n && terms.streamRate > terms.maxRate) {
    fail("streamRate", "the stream rate must not exceed the max rate (the floor cannot be above the cap)");
  }
  if (
    !Number.isInteger(terms.debitNoteInterval) ||
    terms.debitNoteInterval < MIN_DEBIT_NOTE_INTERVAL ||
    terms.debitNoteInterval > MAX_DEBIT_NOTE_INTERVAL
  ) {
    fail(
      "debitNoteInterval",
      `the debit-note interval must be ${MIN_DEBIT_NOTE_INTERVAL}..${MAX_DEBIT_NOTE_INTERVAL} s (got ${terms.debitNoteInterval})`,
    );
  }
  if (
    !Number.isInteger(terms.paymentTimeout) ||
    terms.paymentTimeout < 1 ||
    terms.paymentTimeout > MAX_PAYMENT_TIMEOUT
  ) {
    fail("paymentTimeout", `the payment timeout must be 1..${MAX_PAYMENT_TIMEOUT} s (got ${terms.paymentTimeout})`);
  }
  if (provider !== undefined && /^0x0{40}$/i.test(provider))
    fail("provider", "the provider must not be the zero address");
  if (provider !== undefined && owner !== undefined && provider.toLowerCase() === owner.toLowerCase()) {
    fail("provider", "the provider must not be the pool owner");
  }
}
