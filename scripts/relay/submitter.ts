import {
  BaseWallet,
  type ErrorFragment,
  JsonRpcApiProvider,
  type Log,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
} from "ethers";
import type { Logger } from "pino";

import { DripFeed__factory } from "../../typechain-types";
import { type ChainReader, shortMessage } from "./chain";
import { crashPoint } from "./faults";
import type { RelayMetrics } from "./metrics";
import type { ItemOutcome, OpenBatch, RelayStore, StoredAcceptance } from "./store";
import { keccak, signDigestNative } from "./verifier";

/**
 * Batching, submission and reconciliation. One batch is in flight at a time (nonces never race); a batch's
 * transaction hash is on disk before it is broadcast; outcomes are read back per item from the receipt's
 * DebitNoteSettled / SettlementFailed events. Cumulative totals make any resubmission safe: the contract never
 * pays an accepted total twice, so when in doubt the relay resends and reads what happened.
 */

export interface SubmitterOptions {
  /** Most agreements per settleBatch transaction. */
  batchSize: number;
  /** Longest time a queued acceptance waits for a batch to fill (ms). */
  maxWaitMs: number;
  /** Attempts per acceptance before it is marked failed (RPC errors, dropped or reverted transactions). */
  maxAttempts?: number;
  /** How long a broadcast transaction may stay unmined before it is replaced with a higher fee (ms). */
  txTimeoutMs?: number;
  /** Receipt polling interval (ms). */
  pollMs?: number;
}

const DEFAULT_MAX_ATTEMPTS = 5;
const MAX_REPLACEMENTS = 2;
const iface = DripFeed__factory.createInterface();
const SETTLED_TOPIC = iface.getEvent("DebitNoteSettled").topicHash;
const FAILED_TOPIC = iface.getEvent("SettlementFailed").topicHash;

/** Settlement failure selectors the relay knows, with whether retrying can help. */
const FAILURES: Record<string, { name: string; final: boolean; reason: string }> = {};
for (const [name, final, reason] of [
  ["SignatureExpired", true, "EXPIRED: the deadline passed before the batch was mined"],
  ["AgreementNotActive", true, "AGREEMENT_RELEASED: the agreement was released before settlement"],
  ["AgreementNotFound", true, "UNKNOWN_AGREEMENT: the agreement does not exist"],
  [
    "InvalidSignature",
    true,
    "NOT_AUTHORIZED: signature or ACCEPT grant no longer valid at settlement (grant revoked or expired?)",
  ],
  ["NothingToSettle", true, "already settled"],
] as const) {
  FAILURES[(iface.getError(name) as ErrorFragment).selector.toLowerCase()] = { name, final, reason };
}

const SETTLE_BATCH_SELECTOR = Buffer.from(iface.getFunction("settleBatch")!.selector.slice(2), "hex");

/** Writes a 0x-hex value right-aligned into the 32-byte word at `offset` (hex of at most 64 digits). */
function writeWord(out: Buffer, offset: number, hex: string): void {
  const digits = hex.length % 2 ? `0${hex.slice(2)}` : hex.slice(2);
  out.write(digits, offset + 32 - digits.length / 2, "hex");
}

/**
 * `settleBatch(SignedAcceptance[])` calldata, ABI-encoded directly into one buffer (ethers' generic coder spent
 * tens of milliseconds per 100-item batch). Layout: selector, offset of the array (0x20), its length, one offset
 * per item (from the start of the offsets), then per item the inline acceptance (5 words), the signer, the offset
 * of the signature within the item (7 words), its length and its bytes padded to a word. Equal byte for byte to
 * `iface.encodeFunctionData("settleBatch", ...)` (test/relay/verifier.test.ts checks it).
 */
export function encodeSettleBatch(
  items: readonly Pick<
    StoredAcceptance,
    "poolId" | "agreementId" | "debitNoteId" | "totalAccepted" | "deadline" | "signer" | "signature"
  >[],
): string {
  const signatures = items.map((item) => Buffer.from(item.signature.slice(2), "hex"));
  const sizes = signatures.map((sig) => 32 * 8 + Math.ceil(sig.length / 32) * 32);
  const total = 4 + 64 + 32 * items.length + sizes.reduce((a, b) => a + b, 0);
  const out = Buffer.alloc(total);
  SETTLE_BATCH_SELECTOR.copy(out, 0);
  out.writeUInt32BE(0x20, 4 + 28);
  out.writeUInt32BE(items.length, 4 + 32 + 28);
  const base = 4 + 64; // the offsets count from here
  let at = base + 32 * items.length;
  items.forEach((item, i) => {
    out.writeUInt32BE(at - base, base + 32 * i + 28);
    writeWord(out, at, item.poolId);
    writeWord(out, at + 32, item.agreementId);
    writeWord(out, at + 64, item.debitNoteId);
    writeWord(out, at + 96, `0x${item.totalAccepted.toString(16)}`);
    writeWord(out, at + 128, `0x${item.deadline.toString(16)}`);
    writeWord(out, at + 160, item.signer);
    out.writeUInt32BE(32 * 7, at + 192 + 28);
    out.writeUInt32BE(signatures[i].length, at + 224 + 28);
    signatures[i].copy(out, at + 256);
    at += sizes[i];
  });
  return `0x${out.toString("hex")}`;
}

/** RLP of a byte string. */
function rlpBytes(bytes: Buffer): Buffer {
  if (bytes.length === 1 && bytes[0] < 0x80) return bytes;
  return Buffer.concat([rlpLength(bytes.length, 0x80), bytes]);
}

function rlpLength(length: number, offset: number): Buffer {
  if (length < 56) return Buffer.from([offset + length]);
  const be = uintBytes(BigInt(length));
  return Buffer.concat([Buffer.from([offset + 55 + be.length]), be]);
}

function rlpList(items: Buffer[]): Buffer {
  const body = Buffer.concat(items);
  return Buffer.concat([rlpLength(body.length, 0xc0), body]);
}

/** An unsigned integer as minimal big-endian bytes (0: empty), as RLP wants it. */
function uintBytes(value: bigint): Buffer {
  if (value < 0n) throw new RangeError(`negative value ${value} in a transaction`);
  if (value === 0n) return Buffer.alloc(0);
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

function stripZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

export interface Eip1559Fields {
  chainId: bigint;
  nonce: number;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  to: string;
  data: string;
}

/**
 * A signed EIP-1559 transaction (no value, empty access list) and its hash, built with Buffers and signed with
 * libsecp256k1: ethers' signTransaction converts the ~30 KB of calldata between hex and bytes several times in
 * JavaScript. Byte for byte what ethers' Wallet.signTransaction produces (test/relay/verifier.test.ts); undefined
 * when libsecp256k1 is not available.
 */
export function signEip1559(tx: Eip1559Fields, privateKey: string): { raw: string; hash: string } | undefined {
  const fields = [
    uintBytes(tx.chainId),
    uintBytes(BigInt(tx.nonce)),
    uintBytes(tx.maxPriorityFeePerGas),
    uintBytes(tx.maxFeePerGas),
    uintBytes(tx.gasLimit),
    Buffer.from(tx.to.slice(2), "hex"),
    uintBytes(0n),
    Buffer.from(tx.data.slice(2), "hex"),
  ].map(rlpBytes);
  const accessList = rlpList([]);
  const type = Buffer.from([0x02]);
  const unsignedHash = keccak(Buffer.concat([type, rlpList([...fields, accessList])]));
  const signature = signDigestNative(unsignedHash, Buffer.from(privateKey.slice(2), "hex"));
  if (!signature) return undefined;
  const signed = Buffer.concat([
    type,
    rlpList([
      ...fields,
      accessList,
      rlpBytes(uintBytes(BigInt(signature.yParity))),
      rlpBytes(stripZeros(signature.r)),
      rlpBytes(stripZeros(signature.s)),
    ]),
  ]);
  return { raw: `0x${signed.toString("hex")}`, hash: `0x${keccak(signed).toString("hex")}` };
}

function key(poolId: string, agreementId: string): string {
  return `${poolId}:${agreementId}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Submitter {
  private readonly maxAttempts: number;
  private readonly txTimeoutMs: number;
  private readonly pollMs: number;
  private stopping = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private address = "";

  constructor(
    private readonly chain: ChainReader,
    private readonly signer: Signer,
    private readonly store: RelayStore,
    private readonly metrics: RelayMetrics,
    private readonly log: Logger,
    private readonly options: SubmitterOptions,
  ) {
    this.maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.txTimeoutMs = options.txTimeoutMs ?? 90_000;
    this.pollMs = options.pollMs ?? 100;
    store.onQueued(() => this.wake());
  }

  /** Reconciles batches left open by a previous run, then starts the batching loop. */
  async start(): Promise<void> {
    this.address = await this.signer.getAddress();
    this.running = this.loop();
  }

  /** Stops starting batches and waits for the one in flight (its outcome is recorded before this resolves). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.running;
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
        if (delay > 0 && !this.stopping) await this.sleepUntil(delay);
      } catch (error) {
        failures++;
        const backoff = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        this.log.warn({ err: shortMessage(error), backoffMs: backoff }, "submitter step failed; retrying");
        if (!this.stopping) await this.sleepUntil(backoff);
      }
    }
  }

  /** Sends one batch when it is due; returns how long to sleep otherwise (0: look again at once). */
  private async tick(): Promise<number> {
    const now = Date.now();
    const { count, oldest } = this.store.queuedStats(now);
    if (count === 0 || oldest === null) {
      const next = this.store.nextReadyAt();
      return next === null ? 60_000 : Math.max(1, next - now);
    }
    if (count < this.options.batchSize && oldest + this.options.maxWaitMs > now)
      return oldest + this.options.maxWaitMs - now;

    const chainNow = this.chain.now();
    const live: StoredAcceptance[] = [];
    for (const item of this.store.nextQueued(now, this.options.batchSize)) {
      if (item.deadline < chainNow) {
        this.store.failQueued(item.id, `EXPIRED: deadline ${item.deadline} passed before it could be submitted`);
        this.metrics.failed.inc();
        this.log.warn({ id: item.id, deadline: item.deadline }, "acceptance expired in the queue");
      } else {
        live.push(item);
      }
    }
    if (live.length === 0) return 0;
    const fromBlock = await this.chain.rpc("read the block number", () => this.chain.provider.getBlockNumber());
    const batchId = this.store.createBatch(live, fromBlock);
    crashPoint("batch-created");
    const batch = this.store.openBatches().find((b) => b.id === batchId);
    if (batch) await this.runBatch(batch, false);
    return 0;
  }

  /**
   * Drives one batch to a recorded outcome: finds a receipt for any of its transactions, or waits for a pending
   * one, or sends (again); a batch with no receipt in the end goes back to the queue with one attempt used.
   */
  private async runBatch(batch: OpenBatch, resumed: boolean): Promise<void> {
    let receipt: TransactionReceipt | null = null;
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
      this.log.warn({ batch: batch.id, err: problem }, "batch submission failed");
    }
    if (receipt) {
      crashPoint("receipt");
      await this.finish(batch, receipt);
      return;
    }
    this.metrics.batches.inc({ result: "retry" });
    const outcomes = new Map<string, ItemOutcome>();
    for (const item of batch.items) outcomes.set(item.id, { kind: "retry", reason: problem || "no receipt" });
    const counts = this.store.closeBatch(batch.id, outcomes, `retry: ${problem}`, null, {
      maxAttempts: this.maxAttempts,
      backoffMs: (attempt) => Math.min(60_000, 500 * 2 ** attempt),
    });
    this.metrics.failed.inc(counts.failed);
    this.metrics.superseded.inc(counts.superseded);
    this.log.info({ batch: batch.id, reason: problem, ...counts }, "batch closed without receipt; items requeued");
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
    const [estimate, fees] = await Promise.all([
      this.chain.rpc("estimate gas", () => provider.estimateGas({ from: this.address, to: this.chain.address, data })),
      this.chain.rpc("read fees", () => provider.getFeeData()),
    ]);
    const bump = replace ? 13n ** BigInt(batch.txs.length) : 1n;
    const scale = replace ? 10n ** BigInt(batch.txs.length) : 1n;
    const request: TransactionRequest = {
      to: this.chain.address,
      data,
      nonce,
      chainId: this.chain.chainId,
      gasLimit: (estimate * 12n) / 10n + 25_000n,
    };
    if (fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null) {
      request.type = 2;
      request.maxFeePerGas = (fees.maxFeePerGas * bump) / scale;
      request.maxPriorityFeePerGas = (fees.maxPriorityFeePerGas * bump) / scale;
    } else if (fees.gasPrice !== null) {
      request.type = 0;
      request.gasPrice = (fees.gasPrice * bump) / scale;
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
                gasLimit: request.gasLimit as bigint,
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
      try {
        // A JSON-RPC provider gets the bytes as they are: broadcastTransaction would parse them back into a
        // transaction and hash them again (in JavaScript) only to return a response object nobody reads here.
        if (provider instanceof JsonRpcApiProvider) await provider.send("eth_sendRawTransaction", [raw]);
        else await provider.broadcastTransaction(raw);
      } catch (error) {
        // "already known" or "nonce too low" can mean a copy of it is in; the receipt poll decides.
        this.metrics.rpcErrors.inc();
        this.log.warn({ batch: batch.id, tx: hash, err: shortMessage(error) }, "broadcast failed");
        if (!(await this.anyPending(batch).catch(() => false)) && !(await this.findReceipt(batch).catch(() => null))) {
          throw error;
        }
      }
      this.log.info({ batch: batch.id, tx: hash, nonce, items: batch.items.length, replace }, "settleBatch sent");
    } else {
      // A node-held account (eth_sendTransaction): the hash is known at broadcast, recorded right away.
      const response = await this.chain.rpc("send the transaction", () => this.signer.sendTransaction(request));
      this.store.recordTx(batch.id, response.hash, nonce, null);
      batch.txs.push({ txHash: response.hash, batchId: batch.id, nonce, raw: null, sentAt: Date.now() });
      this.log.info({ batch: batch.id, tx: response.hash, nonce, items: batch.items.length }, "settleBatch sent");
    }
    crashPoint("broadcast");
  }

  /**
   * Polls for a receipt of any of the batch's transactions. A transaction pending too long is replaced (same
   * nonce, higher fee); one the node no longer knows is resent. Returns null when there is still no receipt.
   */
  private async wait(batch: OpenBatch): Promise<TransactionReceipt | null> {
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
      if (Date.now() > deadline) {
        const pending = await this.anyPending(batch);
        const last = batch.txs[batch.txs.length - 1];
        if (!pending && last?.raw) {
          // Dropped (e.g. a restarted node lost its mempool): the signed bytes are still valid if the nonce is free.
          const latest = await this.chain.rpc("read the nonce", () =>
            this.chain.provider.getTransactionCount(this.address, "latest"),
          );
          if (latest > last.nonce) return null;
          this.log.warn({ batch: batch.id, tx: last.txHash }, "transaction dropped; rebroadcasting");
          await this.chain.provider.broadcastTransaction(last.raw).catch(() => undefined);
        } else if (replacements < MAX_REPLACEMENTS) {
          replacements++;
          this.log.warn(
            { batch: batch.id, tx: last?.txHash },
            "transaction not mined in time; replacing with a higher fee",
          );
          await this.send(batch, true);
        } else {
          return null;
        }
        deadline = Date.now() + this.txTimeoutMs;
      }
      await sleep(interval);
      interval = Math.min(interval * 2, 2_000);
    }
  }

  /** Reads each item's outcome from the receipt and records them in one transaction. */
  private async finish(batch: OpenBatch, receipt: TransactionReceipt): Promise<void> {
    const outcomes = new Map<string, ItemOutcome>();
    const byAgreement = new Map<string, StoredAcceptance>();
    for (const item of batch.items) byAgreement.set(key(item.poolId, item.agreementId), item);

    if (receipt.status !== 1) {
      for (const item of batch.items)
        outcomes.set(item.id, { kind: "retry", reason: `settleBatch ${receipt.hash} reverted` });
    } else {
      for (const log of receipt.logs) {
        if (log.address.toLowerCase() !== this.chain.address.toLowerCase()) continue;
        const topic = log.topics[0];
        if (topic !== SETTLED_TOPIC && topic !== FAILED_TOPIC) continue;
        const item = byAgreement.get(key(log.topics[1], log.topics[2]));
        if (!item || log.topics[3] !== item.debitNoteId) continue;
        if (topic === SETTLED_TOPIC) {
          // data = (uint256 totalAccepted, uint256 paid, address signer): read the word instead of a full ABI decode.
          const paid = BigInt(`0x${log.data.slice(2 + 64, 2 + 128)}`);
          outcomes.set(item.id, { kind: "settled", txHash: receipt.hash, paid });
        } else {
          outcomes.set(item.id, await this.failureOutcome(batch, item, log, receipt.hash));
        }
      }
      for (const item of batch.items) {
        if (!outcomes.has(item.id))
          outcomes.set(item.id, { kind: "retry", reason: `no event for the item in ${receipt.hash}` });
      }
    }

    const counts = this.store.closeBatch(
      batch.id,
      outcomes,
      receipt.status === 1 ? "mined" : "reverted",
      receipt.gasUsed,
      {
        maxAttempts: this.maxAttempts,
        backoffMs: (attempt) => Math.min(60_000, 500 * 2 ** attempt),
      },
    );
    // No need to drop the cached agreements: what this batch settled is in the store's settled totals, which
    // verification takes with the cached on-chain total (the higher of the two counts).
    this.metrics.batches.inc({ result: receipt.status === 1 ? "mined" : "reverted" });
    this.metrics.gasUsed.inc(Number(receipt.gasUsed));
    this.metrics.settled.inc(counts.settled);
    this.metrics.failed.inc(counts.failed);
    this.metrics.superseded.inc(counts.superseded);
    this.log.info(
      { batch: batch.id, tx: receipt.hash, block: receipt.blockNumber, gasUsed: receipt.gasUsed.toString(), ...counts },
      "settleBatch mined",
    );
  }

  private async failureOutcome(
    batch: OpenBatch,
    item: StoredAcceptance,
    log: Log,
    txHash: string,
  ): Promise<ItemOutcome> {
    // data = (bytes4 reason), left-aligned in one word.
    const selector = log.data.slice(0, 10).toLowerCase();
    const known = FAILURES[selector];
    if (!known) return { kind: "retry", reason: `settlement failed with ${selector} in ${txHash}` };
    if (known.name !== "NothingToSettle") return { kind: "failed", txHash, reason: known.reason };
    // The chain already holds this total or more: find where this acceptance itself was settled, if it was.
    const earlier = await this.findSettlement(batch, item).catch(() => undefined);
    if (earlier)
      return {
        kind: "settled",
        txHash: earlier.txHash,
        paid: earlier.paid,
        reason: "settled by an earlier transaction",
      };
    return { kind: "settled", txHash, paid: 0n, reason: "the chain already had an equal or higher accepted total" };
  }

  private async findSettlement(
    batch: OpenBatch,
    item: StoredAcceptance,
  ): Promise<{ txHash: string; paid: bigint } | undefined> {
    const logs = await this.chain.rpc("read settlement logs", () =>
      this.chain.provider.getLogs({
        address: this.chain.address,
        topics: [SETTLED_TOPIC, item.poolId, item.agreementId, item.debitNoteId],
        fromBlock: Math.max(0, batch.fromBlock - 10_000),
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
