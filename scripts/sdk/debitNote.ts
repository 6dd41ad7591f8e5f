import { DripFeedError } from "./errors";
import { requireAddress } from "./ids";

/** yagna's document status values (payment API `DocumentStatus`). */
export const DEBIT_NOTE_STATUSES = [
  "ISSUED",
  "RECEIVED",
  "ACCEPTED",
  "REJECTED",
  "FAILED",
  "SETTLED",
  "CANCELLED",
] as const;
export type DebitNoteStatus = (typeof DEBIT_NOTE_STATUSES)[number];

/**
 * A Golem debit note as yagna's payment API returns it (camelCase JSON). `totalAmountDue` is a decimal string in
 * token units, cumulative per activity; times are RFC 3339 strings.
 */
export interface DebitNote {
  debitNoteId: string;
  issuerId: string;
  recipientId: string;
  payeeAddr: string;
  payerAddr: string;
  paymentPlatform: string;
  timestamp: string;
  agreementId: string;
  activityId: string;
  totalAmountDue: string;
  usageCounterVector?: unknown[] | null;
  paymentDueDate?: string | null;
  status: DebitNoteStatus;
  previousDebitNoteId?: string | null;
}

const DECIMAL = /^\d+(\.\d+)?$/;
const GOLEM_ID = /^[0-9a-fA-F]{64}$/;

/**
 * Parses and validates a debit note (a JSON string or an already-parsed value). Every problem is a
 * DripFeedError("INVALID_FIELD" | "INVALID_JSON") naming the field; fields yagna may add later are ignored.
 */
export function parseDebitNote(input: unknown): DebitNote {
  let value = input;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value) as unknown;
    } catch (error) {
      throw new DripFeedError("INVALID_JSON", `debit note is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DripFeedError("INVALID_JSON", "a debit note must be a JSON object");
  }
  const obj = value as Record<string, unknown>;
  const text = (field: string): string => {
    const v = obj[field];
    if (typeof v !== "string" || v.trim() === "") {
      throw new DripFeedError("INVALID_FIELD", `debit note field ${field} must be a non-empty string`, field);
    }
    return v;
  };
  const optionalText = (field: string): string | null | undefined =>
    obj[field] == null ? (obj[field] as null | undefined) : text(field);
  const time = (field: string): string => {
    const v = text(field);
    if (Number.isNaN(Date.parse(v))) {
      throw new DripFeedError(
        "INVALID_FIELD",
        `debit note field ${field} must be an RFC 3339 date-time (got "${v}")`,
        field,
      );
    }
    return v;
  };
  const address = (field: string): string => requireAddress(text(field), `debit note field ${field}`).toLowerCase();

  const agreementId = text("agreementId");
  if (!GOLEM_ID.test(agreementId)) {
    throw new DripFeedError("INVALID_FIELD", "debit note field agreementId must be 64 hex characters", "agreementId");
  }
  const totalAmountDue = text("totalAmountDue");
  if (!DECIMAL.test(totalAmountDue)) {
    throw new DripFeedError(
      "INVALID_FIELD",
      `debit note field totalAmountDue must be a decimal string like "0.012" (got "${totalAmountDue}")`,
      "totalAmountDue",
    );
  }
  const status = text("status");
  if (!(DEBIT_NOTE_STATUSES as readonly string[]).includes(status)) {
    throw new DripFeedError(
      "INVALID_FIELD",
      `debit note field status "${status}" is not one of ${DEBIT_NOTE_STATUSES.join(", ")}`,
      "status",
    );
  }
  const usage = obj.usageCounterVector;
  if (usage != null && !Array.isArray(usage)) {
    throw new DripFeedError(
      "INVALID_FIELD",
      "debit note field usageCounterVector must be an array",
      "usageCounterVector",
    );
  }
  const paymentDueDate = obj.paymentDueDate == null ? (obj.paymentDueDate as null | undefined) : time("paymentDueDate");

  const note: DebitNote = {
    debitNoteId: text("debitNoteId"),
    issuerId: address("issuerId"),
    recipientId: address("recipientId"),
    payeeAddr: address("payeeAddr"),
    payerAddr: address("payerAddr"),
    paymentPlatform: text("paymentPlatform"),
    timestamp: time("timestamp"),
    agreementId,
    activityId: text("activityId"),
    totalAmountDue,
    status: status as DebitNoteStatus,
  };
  if (usage != null) note.usageCounterVector = usage as unknown[];
  if (paymentDueDate !== undefined) note.paymentDueDate = paymentDueDate;
  const previous = optionalText("previousDebitNoteId");
  if (previous !== undefined) note.previousDebitNoteId = previous;
  return note;
}

/** An RFC 3339 time as unix seconds (fractions dropped). */
export function unixSeconds(rfc3339: string): bigint {
  return BigInt(Math.floor(Date.parse(rfc3339) / 1000));
}

/** Unix seconds as yagna's RFC 3339 form ("2026-11-21T12:02:00Z"). */
export function toRfc3339(seconds: bigint | number): string {
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Golem's payment platform for GLM on each chain DripFeed is deployed to (`golem.com.payment.chosen-platform`):
 * the platform a note paid from a DripFeed pool on that chain must name. Local chains have none.
 */
export const GOLEM_PAYMENT_PLATFORMS: Readonly<Record<string, string>> = {
  "1": "erc20-mainnet-glm",
  "137": "erc20-polygon-glm",
  "17000": "erc20-holesky-tglm",
  "80002": "erc20-amoy-tglm",
  "11155111": "erc20-sepolia-tglm",
  "560048": "erc20-hoodi-tglm",
};

/** The Golem payment platform of a chain, or undefined for a chain Golem has none for (e.g. a local node). */
export function defaultPaymentPlatform(chainId: bigint | number): string | undefined {
  return GOLEM_PAYMENT_PLATFORMS[chainId.toString()];
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * An RFC 3339 time as microseconds since the epoch, exactly: yagna writes event and note times with microseconds
 * ("2026-11-21T12:02:00.123456Z"), more than a JavaScript Date holds, and its event cursor compares them exactly.
 * Digits past the sixth are dropped. Throws INVALID_FIELD naming `field` for anything else.
 */
export function rfc3339Micros(text: string, field = "time"): bigint {
  const match = RFC3339.exec(text.trim());
  const seconds = match ? Date.parse(`${match[1]}${match[3]}`) : Number.NaN;
  if (!match || Number.isNaN(seconds)) {
    throw new DripFeedError("INVALID_FIELD", `${field} must be an RFC 3339 date-time (got "${text}")`, field);
  }
  const fraction = (match[2] ?? "").padEnd(6, "0").slice(0, 6);
  return BigInt(seconds) * 1000n + BigInt(fraction);
}

/** Microseconds since the epoch as RFC 3339 in UTC with six fraction digits, the form yagna writes. */
export function formatRfc3339Micros(micros: bigint): string {
  const millis = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const base = new Date(Number(millis)).toISOString().slice(0, 19);
  const fraction = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return `${base}.${fraction.toString().padStart(6, "0")}Z`;
}
