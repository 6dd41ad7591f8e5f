import type { Logger } from "pino";

/**
 * The relay's own troubles (not an acceptance's): no gas money, an unreachable RPC, nonce trouble. None of them
 * ever uses up an acceptance's attempts; they make `/healthz` answer `degraded` with the reason, are logged once
 * when they start and once when they end, and the relay resumes by itself when they are over.
 */

export type ProblemCode = "NO_FUNDS" | "RPC_ERROR" | "NONCE";

export interface Problem {
  code: ProblemCode;
  message: string;
  since: string;
}

/** Errors that are the relay's own trouble, recognised from what ethers and the common nodes say. */
const PATTERNS: [ProblemCode, RegExp][] = [
  ["NO_FUNDS", /insufficient funds|doesn't have enough funds|not enough funds|balance too low/i],
  [
    "NONCE",
    /nonce too low|nonce too high|nonce has already been used|already known|known transaction|replacement (fee too low|transaction underpriced)|underpriced/i,
  ],
  [
    "RPC_ERROR",
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|socket hang up|fetch failed|network error|timeout|bad gateway|service unavailable|too many requests|rate limit/i,
  ],
];
const ETHERS_CODES: Partial<Record<string, ProblemCode>> = {
  INSUFFICIENT_FUNDS: "NO_FUNDS",
  NONCE_EXPIRED: "NONCE",
  REPLACEMENT_UNDERPRICED: "NONCE",
  NETWORK_ERROR: "RPC_ERROR",
  TIMEOUT: "RPC_ERROR",
  SERVER_ERROR: "RPC_ERROR",
};

/** Whether an error is the relay's own trouble, and which; undefined for anything else (a revert, bad data). */
export function relayProblemOf(error: unknown): ProblemCode | undefined {
  const e = error as { code?: string; message?: string; shortMessage?: string; error?: { message?: string } } | null;
  // A revert is the transaction's answer, not the relay's trouble (its message may say anything).
  if (e?.code === "CALL_EXCEPTION") return undefined;
  const text = `${e?.shortMessage ?? ""} ${e?.message ?? ""} ${e?.error?.message ?? ""}`;
  for (const [code, pattern] of PATTERNS) if (pattern.test(text)) return code;
  return e?.code ? ETHERS_CODES[e.code] : undefined;
}

export class Health {
  private readonly problems = new Map<ProblemCode, Problem>();

  constructor(private readonly log: Logger) {}

  /** Records a problem; logs one line when it starts (or its message changes kind), not on every retry. */
  set(code: ProblemCode, message: string): void {
    const known = this.problems.get(code);
    if (known) {
      known.message = message;
      return;
    }
    this.problems.set(code, { code, message, since: new Date().toISOString() });
    this.log.error({ code }, message);
  }

  /** Ends a problem; logs one line when it was on. */
  clear(code: ProblemCode, message: string): void {
    if (!this.problems.delete(code)) return;
    this.log.info({ code }, message);
  }

  has(code: ProblemCode): boolean {
    return this.problems.has(code);
  }

  get ok(): boolean {
    return this.problems.size === 0;
  }

  list(): Problem[] {
    return [...this.problems.values()];
  }
}
