import {
  BaseWallet,
  type ErrorFragment,
  JsonRpcApiProvider,
  type Log,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
  formatEther,
  formatUnits,
} from "ethers";
import type { Logger } from "pino";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { isDripFeedError } from "../sdk/errors";
import { type AgreementView, type ChainReader, shortMessage } from "./chain";
import { encodeSettle, encodeSettleBatch, signEip1559 } from "./encoding";
import { crashPoint } from "./faults";
import { type Fees, feesFor, feesOfRaw } from "./fees";
import { type Health, type ProblemCode, relayProblemOf } from "./health";
import type { RelayMetrics } from "./metrics";
import type { Culprit, Quarantine } from "./quarantine";
import { type AgreementPlan, type Scheduler, agreementKey } from "./schedule";
import type { BatchClose, BatchTx, ItemOutcome, OpenBatch, RelayStore, RetryPolicy, StoredAcceptance } from "./store";
import { keccak } from "./verifier";

/**
 * How settlements are sent: simulation, gas, funds, submission and reconciliation. (When they are sent is
 * `schedule.ts`'s job; what is kept apart, `quarantine.ts`'s.)
 *
 * - One batch is in flight at a time (nonces never race); its transaction hash is on disk before it is broadcast;
 *   outcomes are read back per item from the receipt's DebitNoteSettled / SettlementFailed events. Cumulative totals
 *   make any resubmission safe: the contract never pays an accepted total twice.
 * - Before a batch is sent, the agreements are read fresh (a total the chain already holds is set aside, a released
 *   agreement fails), untrusted pools are simulated alone, and the batch's gas is estimated. A batch whose estimate
 *   fails is bisected: the halves that estimate fine are sent, an item that fails alone is its pool's (or signer's)
 *   fault: quarantined, one attempt charged to it and to nobody else.
 * - The contract gives each item's token and ERC-1271 calls at most ITEM_CALL_GAS and reverts the whole batch with
 *   `InsufficientGasForItem()` rather than fail an honest item for want of gas: such a revert is resent with more gas
 *   (or in smaller batches), never charged to the items.
 * - The relay's own trouble (no funds, RPC down, nonce trouble, a transaction not mined in time) never uses an
 *   acceptance's attempts: the items go back to the queue as they were, `/healthz` says why, and the relay resumes
 *   when the trouble is over.
 */

export interface SubmitterOptions {
  /** Attempts per acceptance before it is marked failed (only its own failures count). */
  maxAttempts?: number;
  /** How long a broadcast transaction may stay unmined before it is replaced with a higher fee (ms). */
  txTimeoutMs?: number;
  /** Receipt polling interval (ms). */
  pollMs?: number;
  /** How often the submitting account's balance is read (ms); while it lacks funds, every 2 s. */
  fundsCheckMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const MAX_REPLACEMENTS = 2;
/** Gas for a one-item simulation: an honest settle needs ~100k; a token that needs more fails capped in a batch. */
const SIMULATION_GAS = 1_000_000n;
/** EIP-7825's cap on one transaction's gas (Osaka chains refuse more; no batch this relay sends needs more). */
const TX_GAS_CAP = 1n << 24n;
/** What a batch keeps in reserve beyond what it uses: an item's capped call needs ITEM_CALL_GAS available. */
const ITEM_RESERVE = 260_000n;
/** A node refusing an estimate (not the call reverting): Hardhat's EDR probing above EIP-7825's cap. */
const REFUSED_ESTIMATE = /greater than the cap|exceeds (the )?(transaction )?gas cap/i;
/** How often acceptances that can no longer settle are looked for (wall ms). */
const SWEEP_MS = 1_000;
/** Funds are re-read this often while the submitter lacks them. */
const UNFUNDED_RECHECK_MS = 2_000;
/**
 * How long a drain (SIGTERM) still polls for the receipt of the batch in flight. Past it the batch stays open on
 * disk with its transactions and resumes on restart: a transaction that is not mined soon (fees, a stuck node)
 * must not hold an operator's SIGTERM for the minutes its replacements can take.
 */
export const DRAIN_RECEIPT_WAIT_MS = 10_000;
/** What `wait` returns when a drain stopped it: the batch is left open. */
const LEFT_OPEN = "left open for the restart";

const iface = DripFeed__factory.createInterface();
const SETTLED_TOPIC = iface.getEvent("DebitNoteSettled").topicHash;
const FAILED_TOPIC = iface.getEvent("SettlementFailed").topicHash;

function selectorOf(name: string): string {
  const fragment = iface.getError(name) ?? iface.getError(`${name}()`);
  if (fragment) return (fragment as ErrorFragment).selector.toLowerCase();
  // Errors of libraries (SafeERC20) are not in the ABI when never thrown directly; compute them.
  return `0x${keccak(Buffer.from(`${name}(address)`))
    .subarray(0, 4)
    .toString("hex")}`;
}

const SELECTORS = {
  SignatureExpired: selectorOf("SignatureExpired"),
  AgreementNotActive: selectorOf("AgreementNotActive"),
  AgreementNotFound: selectorOf("AgreementNotFound"),
  InvalidSignature: selectorOf("InvalidSignature"),
  NothingToSettle: selectorOf("NothingToSettle"),
  InsufficientGasForItem: selectorOf("InsufficientGasForItem"),
  SafeERC20FailedOperation: selectorOf("SafeERC20FailedOperation"),
};

/** What an item's failure (a SettlementFailed reason or a simulation's revert) means for it. */
type Verdict =
  { kind: "final"; reason: string } | { kind: "covered" } | { kind: "culprit"; culprit: Culprit; reason: string };

/** Reads a failure selector (undefined: no reason, e.g. out of gas) for one item. */
export function verdictOf(
  selector: string | undefined,
  item: Pick<StoredAcceptance, "contractSigner" | "signer">,
): Verdict {
  switch (selector?.toLowerCase()) {
    case SELECTORS.SignatureExpired:
      return { kind: "final", reason: "EXPIRED: the deadline passed before it could be settled" };
    case SELECTORS.AgreementNotActive:
      return { kind: "final", reason: "AGREEMENT_RELEASED: the agreement was released before settlement" };
    case SELECTORS.AgreementNotFound:
      return { kind: "final", reason: "UNKNOWN_AGREEMENT: the agreement does not exist" };
    case SELECTORS.NothingToSettle:
      return { kind: "covered" };
    case SELECTORS.InvalidSignature:
      return item.contractSigner
        ? {
            kind: "culprit",
            culprit: "signature",
            reason: `NOT_AUTHORIZED: contract wallet ${item.signer} refused the signature (ERC-1271) at settlement, or its grant lapsed`,
          }
        : {
            kind: "final",
            reason:
              "NOT_AUTHORIZED: the signer's ACCEPT had lapsed at settlement (acceptValidUntil passed); post it again if the grant is renewed",
          };
    case SELECTORS.SafeERC20FailedOperation:
      return {
        kind: "culprit",
        culprit: "transfer",
        reason: "TOKEN_TRANSFER_FAILED: the pool's token refused the payout to the provider, or burnt its gas",
      };
    case undefined:
      // Settling alone reverts with no reason only when the token's transfer does (SafeERC20 bubbles its empty
      // revert, e.g. after burning all the gas); a wallet's failure comes back as InvalidSignature.
      return {
        kind: "culprit",
        culprit: "transfer",
        reason: "TOKEN_TRANSFER_FAILED: the pool's token reverts the payout without a reason (or burns all its gas)",
      };
    default:
      return {
        kind: "culprit",
        culprit: "other",
        reason: `SETTLEMENT_FAILED: the contract refused it with ${selector}`,
      };
  }
}

/** The revert data of a failed call or estimate, when the node gave it. */
export function revertData(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (value: unknown): string | undefined => {
    if (value === null || typeof value !== "object" || seen.has(value)) return undefined;
    seen.add(value);
    const v = value as Record<string, unknown>;
    if (typeof v.data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(v.data)) return v.data;
    for (const key of ["data", "error", "info", "cause", "revert"]) {
      const found = visit(v[key]);
      if (found) return found;
    }
    return undefined;
  };
  return visit(error);
}

/** What the node itself said about a failed call (ethers' own summary left out: it says "revert" for anything). */
function nodeMessages(error: unknown): string {
  const e = error as { info?: { error?: { message?: string } }; error?: { message?: string } } | null;
  return `${e?.info?.error?.message ?? ""} ${e?.error?.message ?? ""}`;
}

/**
 * Whether a failed call is the contract's answer (a revert, running out of gas), as opposed to the node refusing
 * the request or the network failing: only a revert may ever be held against an acceptance.
 */
export function isRevert(error: unknown): boolean {
  if (relayProblemOf(error) !== undefined) return false;
  if (revertData(error) !== undefined) return true;
  return /revert|out of gas|invalid opcode|VM Exception|gas required exceeds/i.test(nodeMessages(error));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Fit {
  /** Items whose batch estimates fine, and its estimate. */
  ok: StoredAcceptance[];
  estimate: bigint;
  /** Items not tried this round (the batch was too big): they wait for the next one. */
  rest: StoredAcceptance[];
  /** Items that fail the estimate alone. */
  breakers: StoredAcceptance[];
}

export class Submitter {
  private readonly maxAttempts: number;
  private readonly txTimeoutMs: number;
  private readonly pollMs: number;
  private readonly fundsCheckMs: number;
  private stopping = false;
  /** When `stop` was called (Date.now()). */
  private stoppedAt = 0;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private address = "";
  /** Multiplies estimates after an InsufficientGasForItem revert; decays back to 1 on success. */
  private gasFactor = 1;
  /** Gas per item of the last mined batch (a first guess where the node cannot estimate). */
  private gasPerItem = 60_000n;
  /** Lane of each lane batch in flight (a lane whose batch settles every item is lifted). */
  private readonly lanes = new Map<number, string>();
  /** The gas limit each batch was sent with (replacements reuse it). */
  private readonly gasLimits = new Map<number, bigint>();
  private lastFundsCheck = 0;
  private lastSweep = 0;
  /** The cost of the batch that could not be paid for (cleared once the balance covers it). */
  private needed: bigint | undefined;

  constructor(
    private readonly chain: ChainReader,
    private readonly signer: Signer,
    private readonly store: RelayStore,
    private readonly scheduler: Scheduler,
    private readonly quarantine: Quarantine,
    private readonly health: Health,
    private readonly metrics: RelayMetrics,
    private readonly log: Logger,
    options: SubmitterOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.txTimeoutMs = options.txTimeoutMs ?? 90_000;
    this.pollMs = options.pollMs ?? 100;
    this.fundsCheckMs = options.fundsCheckMs ?? 30_000;
    store.onQueued(() => this.wake());
  }

  private get retry(): RetryPolicy {
    return {
      maxAttempts: this.maxAttempts,
      notBefore: (attempt) => this.chain.nowMs() + Math.min(60_000, 500 * 2 ** attempt),
    };
  }

  /** Reads the balance (and says so when it is empty), then starts the loop (which first resumes open batches). */
  async start(): Promise<void> {
    this.address = await this.signer.getAddress();
    try {
      const fees = await this.chain.provider.getFeeData();
      const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
      await this.checkFunds(price * 150_000n, "a one-item batch");
    } catch (error) {
      this.noteProblem(error);
    }
    this.running = this.loop();
  }

  /**
   * Stops starting batches and waits for the one in flight: its outcome is recorded before this resolves, or, when
   * its receipt does not come within DRAIN_RECEIPT_WAIT_MS, the batch is left open (it resumes on restart).
   */
  async stop(): Promise<void> {
    if (!this.stopping) this.stoppedAt = Date.now();
    this.stopping = true;
    this.wake();
    await this.running;
  }

  get submitter(): string {
    return this.address;
  }

  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private async sleepUntil(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, ms));
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        for (const batch of this.store.openBatches()) {
          if (this.stopping) return;
          this.log.info(
            { batch: batch.id, txs: batch.txs.map((t) => t.txHash), items: batch.items.length },
            "resuming open batch",
          );
          await this.runBatch(batch, true);
        }
        const delay = await this.tick();
        failures = 0;
        this.health.clear("RPC_ERROR", "the chain RPC answers again: settlement resumed");
        if (delay > 0 && !this.stopping) await this.sleepUntil(delay);
      } catch (error) {
        failures++;
        const backoff = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        if (!this.noteProblem(error)) {
          const info = (error as { info?: { payload?: { method?: string }; error?: { message?: string } } }).info;
          this.log.warn(
            { err: shortMessage(error), call: info?.payload?.method, node: info?.error?.message, backoffMs: backoff },
            "submitter step failed; retrying",
          );
        }
        if (!this.stopping) await this.sleepUntil(backoff);
      }
    }
  }

  /** Records the relay's own trouble on /healthz (true), or returns false for anything else. */
  private noteProblem(error: unknown): boolean {
    const code: ProblemCode | undefined =
      relayProblemOf(error) ?? (isDripFeedError(error) && error.code === "RPC_ERROR" ? "RPC_ERROR" : undefined);
    if (!code) return false;
    const detail = shortMessage(error);
    const message = {
      NO_FUNDS: `submitter ${this.address} cannot pay for gas (${detail}): fund it; acceptances keep queueing and go out once it is funded, no attempt is used`,
      RPC_ERROR: `the chain RPC is failing (${detail}): settlement is paused, acceptances keep queueing; retrying`,
      NONCE: `nonce trouble sending from ${this.address} (${detail}): is another process sending from this account? Retrying with a fresh nonce`,
    }[code];
    this.health.set(code, message);
    return true;
  }

  /**
   * Reads the submitter's balance into the gauge; with `need`, says whether it covers it (NO_FUNDS on /healthz
   * until it does).
   */
  private async checkFunds(need: bigint, what: string): Promise<boolean> {
    const balance = await this.chain.rpc("read the submitter's balance", () =>
      this.chain.provider.getBalance(this.address),
    );
    this.lastFundsCheck = Date.now();
    this.metrics.submitterBalance.set(Number(formatEther(balance)));
    if (balance < need) {
      this.needed = need;
      this.health.set(
        "NO_FUNDS",
        `submitter ${this.address} holds ${formatEther(balance)} of the chain's native token; ${what} needs about ` +
          `${formatEther(need)}: fund it. Acceptances keep queueing (no attempt is used) and go out once it is funded`,
      );
      return false;
    }
    this.needed = undefined;
    this.health.clear("NO_FUNDS", `submitter ${this.address} funded (${formatEther(balance)}): settlement resumed`);
    return true;
  }

  /** Sends what is due; returns how long to sleep (0: look again at once). */
  private async tick(): Promise<number> {
    if (Date.now() - this.lastSweep >= SWEEP_MS) this.sweep(this.chain.nowMs());
    if (this.health.has("NO_FUNDS") || Date.now() - this.lastFundsCheck > this.fundsCheckMs) {
      // While unfunded, nothing is sent until the balance covers the batch that could not be paid for.
      const funded = await this.checkFunds(this.needed ?? 0n, "the next settleBatch");
      if (!funded) return UNFUNDED_RECHECK_MS;
    }
    const now = this.chain.nowMs();
    const pick = this.scheduler.next(now);
    if (pick.kind === "idle") return Math.min(pick.wakeInMs, this.scheduler.size > 0 ? SWEEP_MS : Infinity);
    return this.handle(pick.plans, pick.kind === "lane" ? pick.lane : undefined);
  }

  /** Records acceptances that can no longer settle (deadline or signer passed) as failed, without a transaction. */
  private sweep(now: number): void {
    this.lastSweep = Date.now();
    const { expired, unauthorized } = this.scheduler.dead(now);
    if (expired.length + unauthorized.length === 0) return;
    const outcomes = new Map<string, ItemOutcome>();
    for (const item of expired) outcomes.set(item.id, this.expiredOutcome(item));
    for (const item of unauthorized) outcomes.set(item.id, this.unauthorizedOutcome(item));
    this.resolve(outcomes, new Set(), new Set());
  }

  private expiredOutcome(item: StoredAcceptance): ItemOutcome {
    return {
      kind: "failed",
      txHash: null,
      reason: `EXPIRED: deadline ${item.deadline} passed before it could be settled`,
    };
  }

  private unauthorizedOutcome(item: StoredAcceptance): ItemOutcome {
    return {
      kind: "failed",
      txHash: null,
      reason: `NOT_AUTHORIZED: ${item.signer}'s ACCEPT on the pool lapsed (acceptValidUntil passed) before it could be settled`,
    };
  }

  /** Prepares, checks and sends one batch of due agreements (a shared batch, or one quarantine lane's). */
  private async handle(plans: AgreementPlan[], lane: string | undefined): Promise<number> {
    const now = this.chain.nowMs();
    this.scheduler.take(plans);
    const waiting = new Set(plans);
    try {
      const agreements = await this.chain.freshAgreements(plans.map((p) => [p.poolId, p.agreementId]));
      const resolved = new Map<string, ItemOutcome>();
      const candidates = this.candidates(plans, agreements, now, resolved);
      // A covered item that was in a transaction before (a batch cut short by a crash) may be what the chain holds.
      for (const plan of plans) {
        for (const item of plan.items) {
          if (resolved.get(item.id)?.kind !== "superseded" || item.txHash === null) continue;
          const own = await this.findSettlement(item, (this.chain.latestBlock?.number ?? 0) - 10_000);
          if (own) resolved.set(item.id, { kind: "settled", ...own, reason: "settled by an earlier transaction" });
        }
      }

      // Simulations: every item of a quarantine lane; in a shared batch, the first item of each untrusted pool or
      // contract signer (once one passes, the others of that pool or signer need none).
      const batch: StoredAcceptance[] = [];
      for (const item of candidates) {
        if (lane === undefined && this.quarantine.laneOf(item) !== undefined) continue; // struck meanwhile
        if (lane !== undefined || this.quarantine.needsProbation(item)) {
          const verdict = await this.simulate(item);
          if (verdict) {
            resolved.set(item.id, this.blame(item, verdict, now, "simulated alone"));
            continue;
          }
          this.quarantine.trust(item);
        }
        batch.push(item);
      }

      const fit = batch.length > 0 ? await this.fit(batch) : { ok: [], estimate: 0n, rest: [], breakers: [] };
      for (const item of fit.breakers) {
        const verdict = (await this.simulate(item)) ?? {
          kind: "culprit" as const,
          culprit: "other" as const,
          reason: "SETTLEMENT_FAILED: it makes every batch it is in fail the gas estimate",
        };
        resolved.set(item.id, this.blame(item, verdict, now, "found by bisecting a batch"));
      }
      const inBatch = new Set(fit.ok.map((item) => agreementKey(item.poolId, item.agreementId)));
      if (resolved.size > 0) this.resolve(resolved, inBatch, waiting);
      if (fit.ok.length === 0) return 0;

      const gasLimit = this.gasLimitFor(fit.estimate);
      const fees = await this.chain.rpc("read fees", () => this.chain.provider.getFeeData());
      const price = fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
      const what = `a settleBatch of ${fit.ok.length} items (gas limit ${gasLimit} at ${formatUnits(price, "gwei")} gwei)`;
      if (!(await this.checkFunds(gasLimit * price, what))) return UNFUNDED_RECHECK_MS;

      const fromBlock = this.chain.latestBlock?.number ?? 0;
      const batchId = this.store.createBatch(fit.ok, fromBlock);
      for (const plan of plans) if (inBatch.has(plan.key)) waiting.delete(plan);
      this.gasLimits.set(batchId, gasLimit);
      if (lane !== undefined) this.lanes.set(batchId, lane);
      crashPoint("batch-created");
      const open = this.store.batchById(batchId);
      if (open) await this.runBatch(open, false);
      return 0;
    } finally {
      // Plans neither sent nor resolved (a relay problem, a batch cut short) wait for the next round as they were.
      if (waiting.size > 0) this.scheduler.untake([...waiting], this.chain.nowMs());
    }
  }

  /**
   * Per plan, the acceptance to send: the highest that can still settle and raises the chain's accepted total.
   * Higher ones that can no longer settle, and those the chain already covers, are recorded in `resolved`.
   */
  private candidates(
    plans: AgreementPlan[],
    agreements: AgreementView[],
    now: number,
    resolved: Map<string, ItemOutcome>,
  ): StoredAcceptance[] {
    const out: StoredAcceptance[] = [];
    plans.forEach((plan, i) => {
      const agreement = agreements[i];
      plan.onChainAccepted = agreement.acceptedTotal;
      if (agreement.status === "Terminated") plan.terminatedAt ??= now;
      if (agreement.status === "Released" || agreement.status === "None") {
        const reason =
          agreement.status === "Released"
            ? "AGREEMENT_RELEASED: the agreement was released before settlement"
            : "UNKNOWN_AGREEMENT: the agreement does not exist";
        for (const item of plan.items) resolved.set(item.id, { kind: "failed", txHash: null, reason });
        return;
      }
      const { item, expired, unauthorized } = this.scheduler.pick(plan, now);
      for (const dead of expired) resolved.set(dead.id, this.expiredOutcome(dead));
      for (const dead of unauthorized) resolved.set(dead.id, this.unauthorizedOutcome(dead));
      for (const covered of plan.items) {
        if (covered.totalAccepted <= agreement.acceptedTotal && !resolved.has(covered.id)) {
          resolved.set(covered.id, {
            kind: "superseded",
            reason: `the chain's accepted total is already ${agreement.acceptedTotal} (settled by another submitter)`,
          });
        }
      }
      if (item && !resolved.has(item.id)) out.push(item);
    });
    return out;
  }

  /** Records outcomes decided without a transaction; plans not in the batch are reloaded (and freed). */
  private resolve(outcomes: Map<string, ItemOutcome>, inBatch: Set<string>, waiting: Set<AgreementPlan>): void {
    for (const [id, outcome] of outcomes) {
      if (outcome.kind === "failed") this.log.info({ id, reason: outcome.reason }, "acceptance failed");
    }
    const close = this.store.resolveQueued(outcomes, this.retry);
    this.count(close);
    for (const [poolId, agreementId] of close.agreements) {
      const key = agreementKey(poolId, agreementId);
      if (inBatch.has(key)) continue; // reloaded when its batch closes
      for (const plan of waiting) if (plan.key === key) waiting.delete(plan);
      this.scheduler.reload(poolId, agreementId, this.store.queuedOf(poolId, agreementId), this.chain.nowMs());
    }
  }

  /** An item's failure as its outcome; a culprit's pool or signer is quarantined and the item charged. */
  private blame(item: StoredAcceptance, verdict: Verdict, now: number, how: string): ItemOutcome {
    if (verdict.kind === "final") return { kind: "failed", txHash: null, reason: verdict.reason };
    if (verdict.kind === "covered") {
      return { kind: "superseded", reason: "the chain already holds this total or a higher one" };
    }
    const lane = this.quarantine.strike(item, verdict.culprit, verdict.reason, now);
    this.log.warn(
      { id: item.id, poolId: item.poolId, signer: item.signer, lane, how, reason: verdict.reason },
      "acceptance failed on its own; quarantined what caused it",
    );
    return { kind: "retry", reason: `${verdict.reason} (${how}; ${lane} quarantined)` };
  }

  /** Simulates one item with `settle` (eth_call): undefined when it would settle, else what its failure means. */
  private async simulate(item: StoredAcceptance): Promise<Verdict | undefined> {
    try {
      await this.chain.provider.call({
        from: this.address,
        to: this.chain.address,
        data: encodeSettle(item),
        gasLimit: SIMULATION_GAS,
      });
      this.metrics.simulations.inc({ result: "passed" });
      return undefined;
    } catch (error) {
      if (!isRevert(error)) throw error;
      this.metrics.simulations.inc({ result: "failed" });
      const data = revertData(error);
      return verdictOf(data?.slice(0, 10), item);
    }
  }

  /** Estimates a batch's gas; undefined when the batch reverts (the relay's own trouble throws). */
  private async estimate(items: StoredAcceptance[]): Promise<bigint | undefined> {
    const data = encodeSettleBatch(items);
    try {
      return await this.chain.provider.estimateGas({
        from: this.address,
        to: this.chain.address,
        data,
        // An explicit cap: without one nodes search up to the block's gas limit, which Osaka nodes refuse.
        gasLimit: this.gasCap(),
      });
    } catch (error) {
      if (isRevert(error)) {
        this.log.debug({ items: items.length, err: shortMessage(error) }, "batch fails the gas estimate");
        return undefined;
      }
      if (!REFUSED_ESTIMATE.test(nodeMessages(error))) throw error;
      // Some nodes (Hardhat's EDR before its fix) probe above EIP-7825's cap while estimating a call that needs
      // more gas available than it uses (settleBatch keeps ITEM_CALL_GAS in reserve): search with eth_call.
      return this.searchGas(data, items.length);
    }
  }

  /** Whether the batch runs without reverting when given `gas`. */
  private async runsWith(data: string, gas: bigint): Promise<boolean> {
    try {
      await this.chain.provider.call({ from: this.address, to: this.chain.address, data, gasLimit: gas });
      return true;
    } catch (error) {
      if (isRevert(error)) return false;
      throw error;
    }
  }

  /**
   * Enough gas for the batch, found with eth_call: a first guess from the gas per item seen so far, then a binary
   * search up to the cap (within 5 %). Undefined when it reverts even with the cap.
   */
  private async searchGas(data: string, items: number): Promise<bigint | undefined> {
    const cap = this.gasCap();
    const guess = BigInt(items) * this.gasPerItem + ITEM_RESERVE;
    if (guess < cap && (await this.runsWith(data, guess))) return guess;
    if (!(await this.runsWith(data, cap))) return undefined;
    let [low, high] = [guess < cap ? guess : 21_000n, cap];
    while ((high - low) * 20n > high) {
      const mid = (low + high) / 2n;
      if (await this.runsWith(data, mid)) high = mid;
      else low = mid;
    }
    return high;
  }

  /**
   * The largest first part of `items` whose batch estimates fine, found by halving: a batch too big for a block
   * is cut short (the rest waits for the next round, no attempt used); an item that fails alone is a breaker.
   */
  private async fit(items: StoredAcceptance[]): Promise<Fit> {
    const estimate = await this.estimate(items);
    if (estimate !== undefined) return { ok: items, estimate, rest: [], breakers: [] };
    if (items.length === 1) return { ok: [], estimate: 0n, rest: [], breakers: items };
    this.metrics.splits.inc();
    const half = Math.ceil(items.length / 2);
    const first = await this.fit(items.slice(0, half));
    if (first.ok.length > 0) return { ...first, rest: [...first.rest, ...items.slice(half)] };
    const second = await this.fit(items.slice(half));
    return { ...second, breakers: [...first.breakers, ...second.breakers] };
  }

  /** The most gas one transaction may use: the block's gas limit, and EIP-7825's cap. */
  private gasCap(): bigint {
    const block = this.chain.latestBlock?.gasLimit;
    return block !== undefined && block < TX_GAS_CAP ? block : TX_GAS_CAP;
  }

  /** The gas limit for an estimate: 20 % and 25k over it, more after InsufficientGasForItem, within the cap. */
  private gasLimitFor(estimate: bigint): bigint {
    const scaled = (estimate * BigInt(Math.round(120 * this.gasFactor))) / 100n + 25_000n;
    const cap = this.gasCap();
    return scaled > cap ? cap : scaled;
  }

  /**
   * Drives one batch to a recorded outcome: finds a receipt for any of its transactions, or waits for a pending
   * one, or sends (again). A batch with no receipt in the end goes back to the queue with no attempt used: a
   * transaction that is not mined is the relay's trouble (fees, node), not the acceptances'.
   */
  private async runBatch(batch: OpenBatch, resumed: boolean): Promise<void> {
    let receipt: TransactionReceipt | typeof LEFT_OPEN | null = null;
    let problem = resumed ? "relay restarted before the transaction was mined" : "";
    try {
      receipt = await this.findReceipt(batch);
      if (!receipt && batch.txs.length > 0 && (await this.anyPending(batch))) receipt = await this.wait(batch);
      if (!receipt && !resumed) {
        await this.send(batch, false);
        receipt = await this.wait(batch);
        if (!receipt) problem = `transaction not mined within ${this.txTimeoutMs} ms`;
      }
    } catch (error) {
      problem = shortMessage(error);
      if (!this.noteProblem(error)) this.log.warn({ batch: batch.id, err: problem }, "batch submission failed");
    }
    if (receipt === LEFT_OPEN) {
      this.log.warn(
        { batch: batch.id, txs: batch.txs.map((t) => t.txHash), items: batch.items.length },
        `draining: no receipt within ${DRAIN_RECEIPT_WAIT_MS} ms; the batch stays open and resumes on restart`,
      );
      return;
    }
    if (receipt) {
      crashPoint("receipt");
      await this.finish(batch, receipt);
      return;
    }
    this.metrics.batches.inc({ result: "retry" });
    const outcomes = new Map<string, ItemOutcome>();
    for (const item of batch.items) outcomes.set(item.id, { kind: "requeue", reason: problem || "no receipt" });
    const close = this.store.closeBatch(batch.id, outcomes, `requeued: ${problem}`, null, this.retry);
    this.afterClose(batch, close);
    this.log.info(
      { batch: batch.id, reason: problem, items: batch.items.length },
      "batch closed without receipt; items requeued (no attempt used)",
    );
  }

  private afterClose(batch: OpenBatch, close: BatchClose): void {
    this.lanes.delete(batch.id);
    this.gasLimits.delete(batch.id);
    this.count(close);
    const now = this.chain.nowMs();
    for (const [poolId, agreementId] of close.agreements) {
      this.scheduler.reload(poolId, agreementId, this.store.queuedOf(poolId, agreementId), now);
    }
  }

  private count(close: BatchClose): void {
    this.metrics.settled.inc(close.settled);
    this.metrics.failed.inc(close.failed);
    this.metrics.superseded.inc(close.superseded);
  }

  private async findReceipt(batch: OpenBatch): Promise<TransactionReceipt | null> {
    for (const tx of batch.txs) {
      const receipt = await this.chain.rpc("read a receipt", () =>
        this.chain.provider.getTransactionReceipt(tx.txHash),
      );
      if (receipt) return receipt;
    }
    return null;
  }

  /** Whether the node knows the transaction (pending or mined); false when it cannot tell. */
  private async isKnown(hash: string): Promise<boolean> {
    return (await this.chain.provider.getTransaction(hash).catch(() => null)) !== null;
  }

  private async anyPending(batch: OpenBatch): Promise<boolean> {
    for (const tx of batch.txs) {
      const seen = await this.chain.rpc("read a transaction", () => this.chain.provider.getTransaction(tx.txHash));
      if (seen) return true;
    }
    return false;
  }

  /** Builds, signs, records and broadcasts the batch's transaction (a replacement reuses the nonce, fee raised). */
  private async send(batch: OpenBatch, replace: boolean): Promise<void> {
    const provider = this.chain.provider;
    const data = encodeSettleBatch(batch.items);
    const last = batch.txs[batch.txs.length - 1];
    // Never cache the nonce: a restarted node or another sender may have moved it.
    const nonce =
      replace && last
        ? last.nonce
        : await this.chain.rpc("read the nonce", () => provider.getTransactionCount(this.address, "pending"));
    const known = this.gasLimits.get(batch.id);
    const [gasLimit, suggested] = await Promise.all([
      known ?? this.estimateOrThrow(batch.items).then((estimate) => this.gasLimitFor(estimate)),
      this.chain.rpc("read fees", () => provider.getFeeData()),
    ]);
    this.gasLimits.set(batch.id, gasLimit);
    const previous = replace && last ? await this.feesOf(last) : undefined;
    const fees = feesFor(suggested, replace ? batch.txs.length : 0, previous);
    const request: TransactionRequest = {
      to: this.chain.address,
      data,
      nonce,
      chainId: this.chain.chainId,
      gasLimit,
    };
    if (fees?.type === 2) {
      request.type = 2;
      request.maxFeePerGas = fees.maxFeePerGas;
      request.maxPriorityFeePerGas = fees.maxPriorityFeePerGas;
    } else if (fees?.type === 0) {
      request.type = 0;
      request.gasPrice = fees.gasPrice;
    }

    if (this.signer instanceof BaseWallet) {
      const fast =
        request.type === 2
          ? signEip1559(
              {
                chainId: this.chain.chainId,
                nonce,
                maxPriorityFeePerGas: request.maxPriorityFeePerGas as bigint,
                maxFeePerGas: request.maxFeePerGas as bigint,
                gasLimit,
                to: this.chain.address,
                data,
              },
              this.signer.privateKey,
            )
          : undefined;
      const raw = fast?.raw ?? (await this.signer.signTransaction(request));
      const hash = fast?.hash ?? `0x${keccak(Buffer.from(raw.slice(2), "hex")).toString("hex")}`;
      this.store.recordTx(batch.id, hash, nonce, raw);
      batch.txs.push({ txHash: hash, batchId: batch.id, nonce, raw, sentAt: Date.now() });
      crashPoint("signed");
      let refused: string | undefined;
      try {
        // A JSON-RPC provider gets the bytes as they are: broadcastTransaction would parse them back into a
        // transaction and hash them again (in JavaScript) only to return a response object nobody reads here.
        if (provider instanceof JsonRpcApiProvider) await provider.send("eth_sendRawTransaction", [raw]);
        else await provider.broadcastTransaction(raw);
      } catch (error) {
        // "already known" or "nonce too low" can mean a copy of it is in; the receipt poll decides.
        this.metrics.rpcErrors.inc();
        refused = shortMessage(error);
        if (!(await this.anyPending(batch).catch(() => false)) && !(await this.findReceipt(batch).catch(() => null))) {
          this.log.warn({ batch: batch.id, tx: hash, err: refused }, "broadcast failed");
          throw error;
        }
      }
      if (refused !== undefined && replace && !(await this.isKnown(hash))) {
        // A replacement the node refused (a fee bump too small for it; Hardhat refuses any while automining): the
        // earlier transaction is still out, and the receipt poll goes on for it.
        this.log.warn(
          { batch: batch.id, tx: hash, nonce, err: refused },
          "replacement refused by the node; still waiting for the earlier transaction",
        );
      } else {
        if (refused !== undefined) this.log.warn({ batch: batch.id, tx: hash, err: refused }, "broadcast failed");
        this.log.info({ batch: batch.id, tx: hash, nonce, items: batch.items.length, replace }, "settleBatch sent");
      }
    } else {
      // A node-held account (eth_sendTransaction): the hash is known at broadcast, recorded right away.
      const response = await this.signer.sendTransaction(request);
      this.store.recordTx(batch.id, response.hash, nonce, null);
      batch.txs.push({ txHash: response.hash, batchId: batch.id, nonce, raw: null, sentAt: Date.now() });
      this.log.info({ batch: batch.id, tx: response.hash, nonce, items: batch.items.length }, "settleBatch sent");
    }
    this.health.clear("NONCE", `transactions from ${this.address} go through again`);
    crashPoint("broadcast");
  }

  /** The fees a recorded transaction was sent with: from its signed bytes, else as the node reports it. */
  private async feesOf(tx: BatchTx): Promise<Fees | undefined> {
    if (tx.raw !== null) return feesOfRaw(tx.raw);
    const sent = await this.chain
      .rpc("read the transaction to replace", () => this.chain.provider.getTransaction(tx.txHash))
      .catch(() => null);
    if (sent?.maxFeePerGas != null && sent.maxPriorityFeePerGas != null) {
      return { type: 2, maxFeePerGas: sent.maxFeePerGas, maxPriorityFeePerGas: sent.maxPriorityFeePerGas };
    }
    return sent?.gasPrice != null ? { type: 0, gasPrice: sent.gasPrice } : undefined;
  }

  private async estimateOrThrow(items: StoredAcceptance[]): Promise<bigint> {
    const estimate = await this.estimate(items);
    if (estimate === undefined) throw new Error("the batch no longer passes the gas estimate");
    return estimate;
  }

  /**
   * Polls for a receipt of any of the batch's transactions. A transaction pending too long is replaced (same
   * nonce, higher fee); one the node no longer knows is resent; MAX_REPLACEMENTS of either in all. Returns null
   * when there is still no receipt after them, LEFT_OPEN when a drain ran out of time (nothing is sent while
   * draining).
   */
  private async wait(batch: OpenBatch): Promise<TransactionReceipt | typeof LEFT_OPEN | null> {
    let deadline = Date.now() + this.txTimeoutMs;
    let replacements = 0;
    let errors = 0;
    let interval = this.pollMs;
    for (;;) {
      try {
        const receipt = await this.findReceipt(batch);
        if (receipt) return receipt;
        errors = 0;
      } catch (error) {
        if (++errors >= this.maxAttempts) throw error;
      }
      if (this.stopping && Date.now() - this.stoppedAt >= DRAIN_RECEIPT_WAIT_MS) return LEFT_OPEN;
      if (Date.now() > deadline && !this.stopping) {
        // Bounded: a rebroadcast the node keeps refusing (say, its fee fell below the base fee) must not hold the
        // batch, and every batch behind it, forever.
        if (replacements >= MAX_REPLACEMENTS) return null;
        replacements++;
        const pending = await this.anyPending(batch);
        const last = batch.txs[batch.txs.length - 1];
        if (!pending && last?.raw) {
          // Dropped (e.g. a restarted node lost its mempool): the signed bytes are still valid if the nonce is free.
          const latest = await this.chain.rpc("read the nonce", () =>
            this.chain.provider.getTransactionCount(this.address, "latest"),
          );
          if (latest > last.nonce) return null;
          this.log.warn({ batch: batch.id, tx: last.txHash }, "transaction dropped; rebroadcasting");
          await this.chain.provider
            .broadcastTransaction(last.raw)
            .catch((error: unknown) =>
              this.log.warn({ batch: batch.id, tx: last.txHash, err: shortMessage(error) }, "rebroadcast refused"),
            );
        } else {
          this.log.warn(
            { batch: batch.id, tx: last?.txHash },
            "transaction not mined in time; replacing with a higher fee",
          );
          await this.send(batch, true);
        }
        deadline = Date.now() + this.txTimeoutMs;
      }
      await sleep(interval);
      interval = Math.min(interval * 2, 2_000);
    }
  }

  /** Reads each item's outcome from the receipt and records them in one transaction. */
  private async finish(batch: OpenBatch, receipt: TransactionReceipt): Promise<void> {
    const outcomes =
      receipt.status === 1 ? await this.minedOutcomes(batch, receipt) : await this.revertedOutcomes(batch, receipt);
    const close = this.store.closeBatch(
      batch.id,
      outcomes,
      receipt.status === 1 ? "mined" : "reverted",
      receipt.gasUsed,
      this.retry,
    );
    const lane = this.lanes.get(batch.id);
    if (receipt.status === 1) {
      this.gasFactor = Math.max(1, this.gasFactor * 0.9);
      if (batch.items.length > 0) this.gasPerItem = receipt.gasUsed / BigInt(batch.items.length) + 5_000n;
      for (const item of batch.items) if (outcomes.get(item.id)?.kind === "settled") this.quarantine.trust(item);
      if (lane !== undefined && close.settled === batch.items.length && this.quarantine.lift(lane)) {
        this.log.info({ lane }, "quarantine lifted: every acceptance of its batch settled");
      }
    }
    this.afterClose(batch, close);
    this.metrics.batches.inc({ result: receipt.status === 1 ? "mined" : "reverted" });
    this.metrics.gasUsed.inc(Number(receipt.gasUsed));
    this.log.info(
      {
        batch: batch.id,
        tx: receipt.hash,
        block: receipt.blockNumber,
        gasUsed: receipt.gasUsed.toString(),
        settled: close.settled,
        failed: close.failed,
        retried: close.retried,
        requeued: close.requeued,
        superseded: close.superseded,
      },
      receipt.status === 1 ? "settleBatch mined" : "settleBatch reverted",
    );
  }

  private async minedOutcomes(batch: OpenBatch, receipt: TransactionReceipt): Promise<Map<string, ItemOutcome>> {
    const outcomes = new Map<string, ItemOutcome>();
    const byAgreement = new Map<string, StoredAcceptance>();
    for (const item of batch.items) byAgreement.set(agreementKey(item.poolId, item.agreementId), item);
    const now = this.chain.nowMs();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.chain.address.toLowerCase()) continue;
      const topic = log.topics[0];
      if (topic !== SETTLED_TOPIC && topic !== FAILED_TOPIC) continue;
      const item = byAgreement.get(agreementKey(log.topics[1], log.topics[2]));
      if (!item || log.topics[3] !== item.debitNoteId) continue;
      if (topic === SETTLED_TOPIC) {
        // data = (uint256 totalAccepted, uint256 paid, address signer): read the word instead of a full ABI decode.
        const paid = BigInt(`0x${log.data.slice(2 + 64, 2 + 128)}`);
        outcomes.set(item.id, { kind: "settled", txHash: receipt.hash, paid });
      } else {
        outcomes.set(item.id, await this.failureOutcome(batch, item, log, receipt.hash, now));
      }
    }
    for (const item of batch.items) {
      if (!outcomes.has(item.id))
        outcomes.set(item.id, { kind: "retry", reason: `no event for the item in ${receipt.hash}` });
    }
    return outcomes;
  }

  /**
   * A reverted batch: with InsufficientGasForItem (or all its gas used) it is resent with more gas; otherwise each
   * item is simulated alone, and only those that fail are charged. Nobody is charged for the revert itself.
   */
  private async revertedOutcomes(batch: OpenBatch, receipt: TransactionReceipt): Promise<Map<string, ItemOutcome>> {
    const outcomes = new Map<string, ItemOutcome>();
    const gasLimit = this.gasLimits.get(batch.id);
    let selector: string | undefined;
    try {
      await this.chain.provider.call({
        from: this.address,
        to: this.chain.address,
        data: encodeSettleBatch(batch.items),
        gasLimit: gasLimit ?? undefined,
      });
    } catch (error) {
      if (!isRevert(error)) throw error;
      selector = revertData(error)?.slice(0, 10).toLowerCase();
    }
    const outOfGas =
      selector === SELECTORS.InsufficientGasForItem ||
      (gasLimit !== undefined && receipt.gasUsed * 100n >= gasLimit * 97n);
    if (outOfGas) {
      this.gasFactor = Math.min(4, this.gasFactor * 1.5);
      this.log.warn(
        { batch: batch.id, tx: receipt.hash, gasFactor: this.gasFactor },
        "settleBatch ran short of gas for an item (InsufficientGasForItem): resending with more gas, no attempt used",
      );
      for (const item of batch.items)
        outcomes.set(item.id, {
          kind: "requeue",
          reason: `InsufficientGasForItem in ${receipt.hash}: resent with more gas`,
        });
      return outcomes;
    }
    const now = this.chain.nowMs();
    for (const item of batch.items) {
      const verdict = await this.simulate(item);
      outcomes.set(
        item.id,
        verdict
          ? this.blame(item, verdict, now, `after ${receipt.hash} reverted`)
          : { kind: "requeue", reason: `settleBatch ${receipt.hash} reverted; it simulates fine alone` },
      );
    }
    return outcomes;
  }

  private async failureOutcome(
    batch: OpenBatch,
    item: StoredAcceptance,
    log: Log,
    txHash: string,
    now: number,
  ): Promise<ItemOutcome> {
    // data = (bytes4 reason), left-aligned in one word.
    const verdict = verdictOf(log.data.slice(0, 10), item);
    if (verdict.kind === "final") return { kind: "failed", txHash, reason: verdict.reason };
    if (verdict.kind === "culprit") return this.blame(item, verdict, now, `in ${txHash}`);
    // NothingToSettle: the chain already holds this total or more: find where this acceptance itself was settled.
    const earlier = await this.findSettlement(item, batch.fromBlock - 10_000).catch(() => undefined);
    if (earlier)
      return {
        kind: "settled",
        txHash: earlier.txHash,
        paid: earlier.paid,
        reason: "settled by an earlier transaction",
      };
    return { kind: "superseded", reason: "the chain already had an equal or higher accepted total" };
  }

  /** Where this very acceptance was settled (its DebitNoteSettled at or after `fromBlock`), if it was. */
  private async findSettlement(
    item: StoredAcceptance,
    fromBlock: number,
  ): Promise<{ txHash: string; paid: bigint } | undefined> {
    const logs = await this.chain.rpc("read settlement logs", () =>
      this.chain.provider.getLogs({
        address: this.chain.address,
        topics: [SETTLED_TOPIC, item.poolId, item.agreementId, item.debitNoteId],
        fromBlock: Math.max(0, fromBlock),
        toBlock: "latest",
      }),
    );
    for (const log of logs) {
      const parsed = iface.parseLog(log);
      if (parsed && (parsed.args.totalAccepted as bigint) === item.totalAccepted) {
        return { txHash: log.transactionHash, paid: parsed.args.paid as bigint };
      }
    }
    return undefined;
  }
}
