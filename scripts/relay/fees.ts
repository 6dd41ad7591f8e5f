import { Transaction } from "ethers";

/**
 * The fees a settleBatch is sent with. A first transaction pays what the node suggests now. A replacement (same
 * nonce, sent when the first stayed unmined for `--tx-timeout`) pays the node's current suggestion raised by 30% per
 * replacement, and never less than the transaction it replaces plus 12.5%: nodes refuse a replacement that does not
 * raise both fees (geth and its forks want +10%), and when fees fell since the first was signed, a bump of today's
 * lower fee could land below it and be refused.
 */

/** An EIP-1559 fee pair, or a legacy gas price. */
export type Fees = { type: 2; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } | { type: 0; gasPrice: bigint };

/** What `provider.getFeeData()` answers (null where the chain has no such fee). */
export interface SuggestedFees {
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
  gasPrice: bigint | null;
}

/** A replacement raises each fee by at least this, in eighths (12.5%: above geth's 10% after rounding). */
const MIN_RAISE_EIGHTHS = 9n;
/** Each replacement raises the suggested fee by 30% over the one before. */
const RAISE_NUM = 13n;
const RAISE_DEN = 10n;

function raised(previous: bigint): bigint {
  // Rounded up, and by at least 1 wei (a fee of a few wei would otherwise not move).
  const bumped = (previous * MIN_RAISE_EIGHTHS + 7n) / 8n;
  return bumped > previous ? bumped : previous + 1n;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/**
 * Fees for the `replacements`-th replacement (0: the first transaction) of a transaction with `previous` fees.
 * Undefined when the node suggests no fee at all (the transaction is sent without one and the node fills it in).
 */
export function feesFor(suggested: SuggestedFees, replacements: number, previous?: Fees): Fees | undefined {
  const scale = (fee: bigint) => (fee * RAISE_NUM ** BigInt(replacements)) / RAISE_DEN ** BigInt(replacements);
  let fees: Fees | undefined;
  if (suggested.maxFeePerGas !== null && suggested.maxPriorityFeePerGas !== null) {
    fees = {
      type: 2,
      maxFeePerGas: scale(suggested.maxFeePerGas),
      maxPriorityFeePerGas: scale(suggested.maxPriorityFeePerGas),
    };
  } else if (suggested.gasPrice !== null) {
    fees = { type: 0, gasPrice: scale(suggested.gasPrice) };
  }
  if (replacements === 0 || previous === undefined) return fees;
  if (previous.type === 2) {
    const priority = max(fees?.type === 2 ? fees.maxPriorityFeePerGas : 0n, raised(previous.maxPriorityFeePerGas));
    // The cap must cover the tip (a node refuses maxPriorityFeePerGas above maxFeePerGas).
    const cap = max(max(fees?.type === 2 ? fees.maxFeePerGas : 0n, raised(previous.maxFeePerGas)), priority);
    return { type: 2, maxFeePerGas: cap, maxPriorityFeePerGas: priority };
  }
  const suggestedPrice = fees?.type === 0 ? fees.gasPrice : fees?.type === 2 ? fees.maxFeePerGas : 0n;
  return { type: 0, gasPrice: max(suggestedPrice, raised(previous.gasPrice)) };
}

/** The fees a signed transaction was sent with (read back from its raw bytes), if it carries any. */
export function feesOfRaw(raw: string): Fees | undefined {
  const tx = Transaction.from(raw);
  if (tx.type === 2 && tx.maxFeePerGas !== null && tx.maxPriorityFeePerGas !== null) {
    return { type: 2, maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas };
  }
  if (tx.gasPrice !== null) return { type: 0, gasPrice: tx.gasPrice };
  return undefined;
}
