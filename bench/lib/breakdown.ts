/**
 * Where a transaction's gas goes, read from the embedded network's opcode trace: what the transaction pays before
 * any code runs, what the token and the ecrecover precompile cost, DripFeed's events, storage and reentrancy guard,
 * and what is left: DripFeed's own computation. Everything but the computation is fixed by the SPEC's data and
 * events and by the storage layout, so `total - computation` is the floor this layout can reach.
 */
import hre from "hardhat";

/** One step of `debug_traceTransaction` (stack, memory and storage disabled). */
interface TraceStep {
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
}

interface Trace {
  gas: number;
  failed: boolean;
  structLogs: TraceStep[];
}

export interface GasBreakdown {
  /** `receipt.gasUsed`. */
  total: number;
  /** 21,000 plus calldata: paid before the first opcode. */
  intrinsic: number;
  /** The token call: account access, the token's code, its two balance slots and its `Transfer` log. */
  token: number;
  /** ecrecover precompile calls (3,000 each plus the warm account access). */
  precompile: number;
  /** DripFeed's own `LOG` opcodes: the SPEC's binding events. */
  events: number;
  /** DripFeed's `SLOAD`s and `SSTORE`s. */
  storage: number;
  /** Cold `SLOAD`s among them (2,100 each): how many slots DripFeed touched. */
  coldReads: number;
  /** `SSTORE`s. */
  writes: number;
  /** Transient-storage reentrancy guard. */
  guard: number;
  /** Every other DripFeed opcode: dispatch, ABI decoding, hashing, the payout rule, packing. */
  computation: number;
  /** Storage refunds (subtracted from the total). */
  refund: number;
}

const STORAGE_OPS = new Set(["SLOAD", "SSTORE"]);
const GUARD_OPS = new Set(["TLOAD", "TSTORE"]);
const CALL_OPS = new Set(["CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"]);
const COLD_SLOAD = 2_100;

/** Breaks down the gas of a mined transaction sent to DripFeed (depth 1) that may call a token (depth 2). */
export async function gasBreakdown(hash: string): Promise<GasBreakdown> {
  const [trace, tx, receipt] = await Promise.all([
    hre.network.provider.send("debug_traceTransaction", [
      hash,
      { disableStack: true, disableMemory: true, disableStorage: true },
    ]) as Promise<Trace>,
    hre.ethers.provider.getTransaction(hash),
    hre.ethers.provider.getTransactionReceipt(hash),
  ]);
  if (tx === null || receipt === null) throw new Error(`transaction ${hash} is not mined`);
  const steps = trace.structLogs;
  if (steps.length === 0) throw new Error(`transaction ${hash} ran no code`);

  const total = Number(receipt.gasUsed);
  const intrinsic = Number(tx.gasLimit) - steps[0].gas;
  const b: GasBreakdown = {
    total,
    intrinsic,
    token: 0,
    precompile: 0,
    events: 0,
    storage: 0,
    coldReads: 0,
    writes: 0,
    guard: 0,
    computation: 0,
    refund: 0,
  };
  let executed = 0;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step.depth !== 1) continue;
    if (CALL_OPS.has(step.op)) {
      // A call's own gasCost includes the gas it forwards: what it really cost is the drop in gas until the next
      // step back at depth 1.
      let next = i + 1;
      while (next < steps.length && steps[next].depth > 1) next++;
      const spent = next < steps.length ? step.gas - steps[next].gas : step.gasCost;
      const ranCode = next > i + 1;
      if (ranCode) b.token += spent;
      else b.precompile += spent;
      executed += spent;
      continue;
    }
    executed += step.gasCost;
    if (step.op.startsWith("LOG")) b.events += step.gasCost;
    else if (GUARD_OPS.has(step.op)) b.guard += step.gasCost;
    else if (STORAGE_OPS.has(step.op)) {
      b.storage += step.gasCost;
      if (step.op === "SLOAD" && step.gasCost >= COLD_SLOAD) b.coldReads++;
      if (step.op === "SSTORE") b.writes++;
    } else b.computation += step.gasCost;
  }
  // The parts must add up to what the trace says execution used (the first step's gas minus what the last one left),
  // or a step was attributed twice or not at all.
  const last = steps[steps.length - 1];
  const used = steps[0].gas - (last.gas - last.gasCost);
  if (executed !== used) throw new Error(`breakdown of ${hash}: parts add up to ${executed}, execution used ${used}`);
  b.refund = intrinsic + executed - total;
  return b;
}

/** The breakdown of a batch divided by its item count (the intrinsic part included, as in the per-item figure). */
export function perItem(b: GasBreakdown, items: number): GasBreakdown {
  const scaled = { ...b };
  for (const key of Object.keys(scaled) as (keyof GasBreakdown)[]) scaled[key] = b[key] / items;
  return scaled;
}

/** What the transaction would cost with no DripFeed computation at all: the floor of this storage layout. */
export function floorOf(b: GasBreakdown): number {
  return b.total - b.computation;
}
