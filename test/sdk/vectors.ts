import { readFileSync } from "node:fs";
import path from "node:path";

/** The shared test vectors (`../shared/vectors` beside the repository; DRIPFEED_VECTORS overrides). */
export const VECTORS_DIR = process.env.DRIPFEED_VECTORS ?? path.resolve(__dirname, "../../../shared/vectors");

export function loadVector<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(VECTORS_DIR, name), "utf8")) as T;
}

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

export interface DebitNoteVectors {
  terms: {
    debitNoteInterval: number;
    budget: string;
    maxRatePerHour: string;
    upfront: string;
    startedAt: string;
    token: string;
    decimals: number;
  };
  notes: { debitNote: unknown; expect: "accept" | "reject"; agreementTotalAfter?: string; reason?: string }[];
}
