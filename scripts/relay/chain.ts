import { Contract, type Provider, ZeroAddress } from "ethers";

import { DripFeed__factory } from "../../typechain-types";
import type { DripFeed } from "../../typechain-types";
import { isErc1271MagicWord } from "../sdk/erc1271";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import type { Terms } from "../sdk/terms";
import { TtlCache, isCallException, shortMessage } from "../service/chain";
import type { RelayMetrics } from "./metrics";

/**
 * The chain reads the relay needs, with short-lived caches where staleness is safe (the contract re-checks
 * everything at settlement, so a stale cache can only turn into a failed or no-op item, never a wrong payment),
 * and with concurrent identical reads sharing one RPC call.
 */

export const STATUS_NAMES = ["None", "Active", "Terminated", "Released"] as const;
export type AgreementStatusName = (typeof STATUS_NAMES)[number];

/** An agreement as the relay keeps it: flat (the terms beside the state), decoded by hand from `getAgreement`. */
export interface AgreementView extends Terms {
  provider: string;
  status: AgreementStatusName;
  startedAt: number;
  terminatedAt: number;
  paid: bigint;
  acceptedTotal: bigint;
}

export interface GrantView {
  permissions: number;
  validUntil: number;
}

export interface ChainReaderOptions {
  /** How long an agreement read is reused (ms). */
  agreementTtlMs?: number;
  /** How long a grant read is reused (ms). */
  grantTtlMs?: number;
}

/** How long agreement reads wait for others to share their eth_call, and the most per call. */
const AGREEMENT_BATCH_WAIT_MS = 2;
const AGREEMENT_BATCH_MAX = 100;

interface QueuedAgreementRead {
  poolId: string;
  agreementId: string;
  resolve: (value: AgreementView) => void;
  reject: (error: Error) => void;
}

/** The fields of DripFeed's getAgreement result (a typechain struct or a decoded ethers Result). */
interface AgreementResult {
  provider: string;
  status: bigint;
  startedAt: bigint;
  terminatedAt: bigint;
  terms: {
    budget: bigint;
    upfront: bigint;
    maxRate: bigint;
    streamRate: bigint;
    debitNoteInterval: bigint;
    paymentTimeout: bigint;
  };
  paid: bigint;
  acceptedTotal: bigint;
}

export function agreementView(a: AgreementResult): AgreementView {
  return {
    provider: a.provider,
    status: STATUS_NAMES[Number(a.status)] ?? "None",
    startedAt: Number(a.startedAt),
    terminatedAt: Number(a.terminatedAt),
    budget: a.terms.budget,
    upfront: a.terms.upfront,
    maxRate: a.terms.maxRate,
    streamRate: a.terms.streamRate,
    debitNoteInterval: Number(a.terms.debitNoteInterval),
    paymentTimeout: Number(a.terms.paymentTimeout),
    paid: a.paid,
    acceptedTotal: a.acceptedTotal,
  };
}

/** Bit widths of getAgreement's 12 return words (all static): provider, status, startedAt, terminatedAt, the six
 * terms, paid, acceptedTotal. */
const AGREEMENT_WORD_BITS = [160, 8, 40, 40, 128, 128, 128, 128, 32, 32, 256, 256];

/**
 * getAgreement's return data decoded directly (ethers' generic decoder took ~0.4 ms a result), masked to each
 * field's width as ethers does; undefined for anything that is not exactly 12 words (the caller falls back to
 * ethers). test/relay/verifier.test.ts compares it with ethers.
 */
export function decodeAgreement(data: string): AgreementView | undefined {
  if (data.length !== 2 + 64 * AGREEMENT_WORD_BITS.length || !/^0x[0-9a-fA-F]*$/.test(data)) return undefined;
  const w = AGREEMENT_WORD_BITS.map((bits, i) => {
    const value = BigInt(`0x${data.slice(2 + 64 * i, 66 + 64 * i)}`);
    return bits === 256 ? value : value & ((1n << BigInt(bits)) - 1n);
  });
  return agreementView({
    provider: requireAddress(`0x${w[0].toString(16).padStart(40, "0")}`, "provider"),
    status: w[1],
    startedAt: w[2],
    terminatedAt: w[3],
    terms: {
      budget: w[4],
      upfront: w[5],
      maxRate: w[6],
      streamRate: w[7],
      debitNoteInterval: w[8],
      paymentTimeout: w[9],
    },
    paid: w[10],
    acceptedTotal: w[11],
  });
}

const ERC1271_ABI = ["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"];

export class ChainReader {
  readonly contract: DripFeed;
  private readonly owners = new TtlCache<string | null>();
  private readonly grants = new TtlCache<GrantView>();
  private readonly agreements = new TtlCache<AgreementView>();
  private readonly codes = new TtlCache<string>();
  private agreementQueue: QueuedAgreementRead[] = [];
  private clockOffset = 0;
  private clockTimer: NodeJS.Timeout | undefined;
  private readonly agreementTtlMs: number;
  private readonly grantTtlMs: number;

  constructor(
    readonly provider: Provider,
    readonly address: string,
    readonly chainId: bigint,
    private readonly metrics: RelayMetrics,
    options: ChainReaderOptions = {},
  ) {
    this.contract = DripFeed__factory.connect(address, provider);
    this.agreementTtlMs = options.agreementTtlMs ?? 2_000;
    this.grantTtlMs = options.grantTtlMs ?? 5_000;
  }

  /** Starts following the chain's clock (block timestamps can run ahead of the wall clock on test chains). */
  async startClock(intervalMs = 2_000): Promise<void> {
    await this.syncClock();
    this.clockTimer = setInterval(() => void this.syncClock().catch(() => undefined), intervalMs);
    this.clockTimer.unref();
  }

  stopClock(): void {
    if (this.clockTimer) clearInterval(this.clockTimer);
  }

  private async syncClock(): Promise<void> {
    const block = await this.rpc("read the latest block", () => this.provider.getBlock("latest"));
    if (block) this.clockOffset = Math.max(0, block.timestamp - Math.floor(Date.now() / 1000));
  }

  /** Chain time estimate in unix seconds: the wall clock, or the latest block's time when that runs ahead. */
  now(): number {
    return Math.floor(Date.now() / 1000) + this.clockOffset;
  }

  /** Wraps an RPC call: counts failures and turns them into RPC_ERROR with what was being read. */
  async rpc<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.metrics.rpcErrors.inc();
      throw new DripFeedError("RPC_ERROR", `could not ${what} from the chain RPC: ${shortMessage(error)}; retry later`);
    }
  }

  /** The pool's owner, or null when the pool does not exist. Owners never change, so found ones are kept. */
  poolOwner(poolId: string): Promise<string | null> {
    return this.owners.get(
      poolId,
      (owner) => (owner === null ? 1_000 : 24 * 3600_000),
      () =>
        this.rpc(`read pool ${poolId}`, async () => {
          const pool = await this.contract.getPool(poolId);
          return pool.owner === ZeroAddress ? null : pool.owner;
        }),
    );
  }

  grant(poolId: string, account: string): Promise<GrantView> {
    return this.grants.get(
      `${poolId}:${account}`,
      (grant) => (grant.permissions === 0 ? 1_000 : this.grantTtlMs),
      () =>
        this.rpc(`read the grant of ${account} on pool ${poolId}`, async () => {
          const [permissions, validUntil] = await this.contract.grantOf(poolId, account);
          return { permissions: Number(permissions), validUntil: Number(validUntil) };
        }),
    );
  }

  /** The agreement, possibly up to `agreementTtlMs` old. */
  agreement(poolId: string, agreementId: string): Promise<AgreementView> {
    return this.agreements.get(
      `${poolId}:${agreementId}`,
      (a) => (a.status === "None" ? 1_000 : this.agreementTtlMs),
      () => this.batchedAgreement(poolId, agreementId),
    );
  }

  /** The agreement as of the latest block. */
  freshAgreement(poolId: string, agreementId: string): Promise<AgreementView> {
    return this.rpc(`read agreement ${agreementId}`, async () =>
      agreementView(await this.contract.getAgreement(poolId, agreementId)),
    );
  }

  /**
   * The agreement as of the latest block, read together with the other agreements asked for within the same
   * couple of milliseconds: one `multicall` eth_call instead of one each (a node spends about as long on the call
   * as on what it reads: on Hardhat, 200 reads cost ~0.4 s of its CPU one by one and ~0.07 s in one multicall).
   */
  private batchedAgreement(poolId: string, agreementId: string): Promise<AgreementView> {
    return new Promise<AgreementView>((resolve, reject) => {
      this.agreementQueue.push({ poolId, agreementId, resolve, reject });
      if (this.agreementQueue.length === 1) setTimeout(() => this.readQueuedAgreements(), AGREEMENT_BATCH_WAIT_MS);
    });
  }

  private readQueuedAgreements(): void {
    const queue = this.agreementQueue;
    this.agreementQueue = [];
    for (let i = 0; i < queue.length; i += AGREEMENT_BATCH_MAX) {
      const chunk = queue.slice(i, i + AGREEMENT_BATCH_MAX);
      void this.readAgreements(chunk);
    }
  }

  private async readAgreements(chunk: QueuedAgreementRead[]): Promise<void> {
    if (chunk.length > 1) {
      const iface = this.contract.interface;
      let results: string[] | undefined;
      try {
        results = await this.contract.multicall.staticCall(
          chunk.map((q) => iface.encodeFunctionData("getAgreement", [q.poolId, q.agreementId])),
        );
      } catch {
        results = undefined; // e.g. a node that refuses it: read them one by one below, as before
      }
      if (results && results.length === chunk.length) {
        chunk.forEach((q, i) => {
          try {
            const data = (results as string[])[i];
            q.resolve(
              decodeAgreement(data) ??
                agreementView(iface.decodeFunctionResult("getAgreement", data)[0] as AgreementResult),
            );
          } catch {
            this.freshAgreement(q.poolId, q.agreementId).then(q.resolve, q.reject);
          }
        });
        return;
      }
    }
    for (const q of chunk) this.freshAgreement(q.poolId, q.agreementId).then(q.resolve, q.reject);
  }

  forgetAgreement(poolId: string, agreementId: string): void {
    this.agreements.delete(`${poolId}:${agreementId}`);
  }

  /** Whether the address has code (a contract wallet); kept a minute (EIP-7702 can change it). */
  async hasCode(address: string): Promise<boolean> {
    const code = await this.codes.get(
      address,
      () => 60_000,
      () => this.rpc(`read the code at ${address}`, () => this.provider.getCode(address)),
    );
    return code !== "0x";
  }

  /** ERC-1271 check of a contract wallet's signature, as `SignatureChecker` does it on-chain. */
  async isValidErc1271(signer: string, digest: string, signature: string): Promise<boolean> {
    const wallet = new Contract(signer, ERC1271_ABI, this.provider);
    try {
      // The raw answer, not the decoded bytes4: only the exact 32-byte magic word counts, as on chain.
      const data = wallet.interface.encodeFunctionData("isValidSignature", [digest, signature]);
      return isErc1271MagicWord(await this.provider.call({ to: signer, data }));
    } catch (error) {
      // A revert is a "no"; a transport failure is not an answer.
      if (isCallException(error)) return false;
      this.metrics.rpcErrors.inc();
      throw new DripFeedError(
        "RPC_ERROR",
        `could not ask ${signer} (ERC-1271) about the signature: ${shortMessage(error)}`,
      );
    }
  }
}

export { isCallException, shortMessage };
