import { JsonRpcProvider } from "ethers";

import { DripFeedError } from "../sdk/errors";

/**
 * Chain plumbing every DripFeed service shares: the JSON-RPC provider they open, a TTL cache for reads whose
 * staleness is safe, and how RPC failures are told apart and shortened for a log line.
 */

/**
 * A JSON-RPC provider pinned to the chain the URL answers for (asked once), so ethers never re-detects the network
 * per call; `batchStallTime` 2 ms groups concurrent reads into one HTTP request, `cacheTimeout` -1 turns off ethers'
 * own response cache (services keep their own, with TTLs chosen per value).
 */
export async function connectRpc(url: string): Promise<JsonRpcProvider> {
  const probe = new JsonRpcProvider(url, undefined, { batchStallTime: 2 });
  let chainId: bigint;
  try {
    chainId = (await probe.getNetwork()).chainId;
  } catch (error) {
    throw new DripFeedError("RPC_ERROR", `cannot reach the chain RPC at ${url}: ${shortMessage(error)}`);
  } finally {
    probe.destroy();
  }
  return new JsonRpcProvider(url, chainId, { staticNetwork: true, batchStallTime: 2, cacheTimeout: -1 });
}

/**
 * A small TTL cache whose misses share one in-flight load per key. A value is never served older than its TTL; one
 * that is used in the last quarter of its TTL is reloaded in the background, so keys in steady use do not all
 * expire together and stall their requests on the RPC (which, on a busy node, waits behind whole batches).
 */
export class TtlCache<V> {
  private readonly values = new Map<string, { value: V; expires: number; refreshAt: number }>();
  private readonly loading = new Map<string, Promise<V>>();

  constructor(private readonly maxEntries = 50_000) {}

  async get(key: string, ttlMs: (value: V) => number, load: () => Promise<V>): Promise<V> {
    const hit = this.values.get(key);
    const now = Date.now();
    if (hit && hit.expires > now) {
      if (now >= hit.refreshAt && !this.loading.has(key)) this.load(key, ttlMs, load).catch(() => undefined);
      return hit.value;
    }
    return this.loading.get(key) ?? this.load(key, ttlMs, load);
  }

  private load(key: string, ttlMs: (value: V) => number, load: () => Promise<V>): Promise<V> {
    const promise = load().then(
      (value) => {
        this.loading.delete(key);
        const ttl = ttlMs(value);
        if (ttl > 0) {
          if (this.values.size >= this.maxEntries) this.values.clear();
          const now = Date.now();
          this.values.set(key, { value, expires: now + ttl, refreshAt: now + (ttl * 3) / 4 });
        }
        return value;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  delete(key: string): void {
    this.values.delete(key);
  }
}

/** Whether an ethers error is the contract's answer (a revert, undecodable data) rather than a transport failure. */
export function isCallException(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === "CALL_EXCEPTION" || code === "BAD_DATA";
}

/** An error's first useful words for one log line (ethers' `shortMessage` when there is one), at most 300 chars. */
export function shortMessage(error: unknown): string {
  const e = error as { shortMessage?: string; message?: string } | null;
  const text = e?.shortMessage ?? e?.message ?? String(error);
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}
