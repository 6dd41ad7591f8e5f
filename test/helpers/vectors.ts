/**
 * The protocol's test vectors (`test/vectors/`, a copy of the vectors published with the protocol document; the
 * DRIPFEED_VECTORS environment variable points elsewhere, e.g. at a newer set to compare against), typed.
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export const VECTORS_DIR = process.env.DRIPFEED_VECTORS ?? path.resolve(__dirname, "../vectors");

export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(VECTORS_DIR, name), "utf8")) as T;
}

/** `payout-rule.json`. */
export interface PayoutVectors {
  rates: { text: string; decimals: number; rate: string }[];
  cases: {
    terms: string;
    budget: string;
    upfront: string;
    maxRate: string;
    streamRate: string;
    acceptedTotal: string;
    elapsed: number;
    payable: string;
  }[];
}

/** `acceptances.json`. */
export interface AcceptanceVectors {
  keys: { owner: string; grantee: string };
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  poolSalt: string;
  poolId: string;
  cases: {
    golemDebitNoteId: string;
    signerRole: string;
    signer: string;
    acceptance: { poolId: string; agreementId: string; debitNoteId: string; totalAccepted: string; deadline: number };
    digest: string;
    signature: string;
  }[];
  signedAcceptanceJson: Record<string, unknown>;
}

/** `golem-debit-notes.json`. */
export interface DebitNoteVectors {
  terms: {
    debitNoteInterval: number;
    budget: string;
    maxRatePerHour: string;
    upfront: string;
    startedAt: string;
    token: string;
    decimals: number;
    /** The agreement's provider (every note's payee must be it) and the requestor (the payer). */
    provider: string;
    requestor: string;
    paymentPlatform: string;
  };
  notes: {
    debitNote: unknown;
    /** When the requestor's side received the note: time rules are judged here, never at the note's timestamp. */
    receivedAt: string;
    expect: "accept" | "reject";
    agreementTotalAfter?: string;
    reason?: string;
    /** The rule that refuses the note (interval, lowered, rate, status, payee, ...). */
    rule?: string;
  }[];
}
