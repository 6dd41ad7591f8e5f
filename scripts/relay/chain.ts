import { Interface, type Provider, ZeroAddress } from "ethers";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
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

const ERC1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);
/** `decimals()` calldata. */
const ERC20_DECIMALS = "0x313ce567";
/** DripFeed's ITEM_CALL_GAS: what a batch gives each item's token transfer and ERC-1271 call. */
export const ITEM_CALL_GAS = 200_000n;

export class ChainReader {
  readonly contract: DripFeed;
  private readonly pools = new TtlCache<{ owner: string; token: string } | null>();
  private readonly decimals = new TtlCache<number>();
  private readonly authorities = new TtlCache<number>();
  private readonly agreements = new TtlCache<AgreementView>();
  private readonly codes = new TtlCache<string>();
  private agreementQueue: QueuedAgreementRead[] = [];
  private clockOffsetMs = 0;
  private lastNowMs = 0;
  /** The latest block seen (its number, time and gas limit). */
  latestBlock: { number: number; timestamp: number; gasLimit: bigint } | undefined;
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

  /**
   * Takes the latest block's time and gas limit (the follower calls this for every new head). The clock follows
   * the chain's: block timestamps run ahead of the wall clock on test chains whose time is advanced.
   */
  observeBlock(block: { number: number; timestamp: number; gasLimit: bigint }): void {
    // The offset is taken when a head is first seen: the same head read again later says nothing new about the
    // time (taking it again would freeze the clock at that block's timestamp until the next block).
    if (this.latestBlock?.number === block.number) return;
    this.latestBlock = { number: block.number, timestamp: block.timestamp, gasLimit: block.gasLimit };
    this.clockOffsetMs = Math.max(0, block.timestamp * 1000 - Date.now());
  }

  /** Reads the latest block now (at start, before the follower runs). */
  async syncClock(): Promise<void> {
    const block = await this.rpc("read the latest block", () => this.provider.getBlock("latest"));
    if (block) this.observeBlock(block);
  }

  /** Chain time estimate in unix seconds: the wall clock, or the latest block's time when that runs ahead. */
  now(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  /**
   * Chain time estimate in milliseconds; never goes back (a head read late would otherwise pull it back, and due
   * times computed against it would slip).
   */
  nowMs(): number {
    const now = Date.now() + this.clockOffsetMs;
    if (now > this.lastNowMs) this.lastNowMs = now;
    return this.lastNowMs;
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
  async poolOwner(poolId: string): Promise<string | null> {
    return (await this.pool(poolId))?.owner ?? null;
  }

  /** The pool's owner and token, or null when the pool does not exist (kept: neither ever changes). */
  pool(poolId: string): Promise<{ owner: string; token: string } | null> {
    return this.pools.get(
      poolId,
      (pool) => (pool === null ? 1_000 : 24 * 3600_000),
      () =>
        this.rpc(`read pool ${poolId}`, async () => {
          const pool = await this.contract.getPool(poolId);
          return pool.owner === ZeroAddress ? null : { owner: pool.owner, token: pool.token };
        }),
    );
  }

  /** An ERC-20's decimals (18 when it does not say). */
  tokenDecimals(token: string): Promise<number> {
    return this.decimals.get(
      token,
      () => 24 * 3600_000,
      async () => {
        try {
          const result = await this.provider.call({ to: token, data: ERC20_DECIMALS });
          return result.length >= 66 ? Number(BigInt(result.slice(0, 66))) : 18;
        } catch (error) {
          if (isCallException(error)) return 18;
          throw error;
        }
      },
    );
  }

  /**
   * A grantee's `acceptValidUntil` (unix seconds; 0: it cannot sign): its acceptances settle while the block time is
   * at most this. It covers the notice a revocation leaves, which `grantOf` does not show.
   */
  acceptValidUntil(poolId: string, account: string): Promise<number> {
    return this.authorities.get(
      `${poolId}:${account.toLowerCase()}`,
      (until) => (until === 0 ? 1_000 : this.grantTtlMs),
      () =>
        this.rpc(`read acceptValidUntil of ${account} on pool ${poolId}`, async () =>
          Number(await this.contract.acceptValidUntil(poolId, account)),
        ),
    );
  }

  /** Drops a cached acceptValidUntil (a GrantSet changed it). */
  forgetAuthority(poolId: string, account: string): void {
    this.authorities.delete(`${poolId}:${account.toLowerCase()}`);
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

  /** Several agreements as of the latest block, read in as few multicalls as possible. */
  freshAgreements(pairs: readonly [string, string][]): Promise<AgreementView[]> {
    for (const [poolId, agreementId] of pairs) this.forgetAgreement(poolId, agreementId);
    return Promise.all(pairs.map(([poolId, agreementId]) => this.agreement(poolId, agreementId)));
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

  /**
   * ERC-1271 check of a contract wallet's signature, as `settleBatch` makes it: the wallet gets ITEM_CALL_GAS, and
   * the answer counts only when its first word is exactly the magic value (`0x1626ba7e` and 28 zero bytes).
   */
  async isValidErc1271(signer: string, digest: string, signature: string): Promise<boolean> {
    const data = ERC1271.encodeFunctionData("isValidSignature", [digest, signature]);
    let result: string;
    try {
      result = await this.provider.call({ to: signer, data, gasLimit: erc1271CallGas(data) });
    } catch (error) {
      // A revert (or running out of the capped gas) is a "no"; a transport failure is not an answer.
      if (isCallException(error)) return false;
      this.metrics.rpcErrors.inc();
      throw new DripFeedError(
        "RPC_ERROR",
        `could not ask ${signer} (ERC-1271) about the signature: ${shortMessage(error)}`,
      );
    }
    // The raw answer, not the decoded bytes4: only the exact 32-byte magic word counts, as on chain.
    return isErc1271MagicWord(result);
  }
}

/**
 * Gas for an eth_call of isValidSignature that gives the wallet what a batch does: ITEM_CALL_GAS, plus the call's
 * intrinsic and calldata cost (which an eth_call charges first).
 */
function erc1271CallGas(data: string): bigint {
  const bytes = Buffer.from(data.slice(2), "hex");
  let calldata = 0n;
  for (const byte of bytes) calldata += byte === 0 ? 4n : 16n;
  return ITEM_CALL_GAS + 21_000n + calldata;
}

export { isCallException, shortMessage };
