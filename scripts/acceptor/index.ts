import type { Logger } from "pino";

import type { DripFeedClient } from "../sdk/client";
import { defaultPaymentPlatform } from "../sdk/debitNote";
import { DripFeedError } from "../sdk/errors";
import { requireAddress, requireBytes32 } from "../sdk/ids";
import { exitOnStartFailure, serveUntilSignal } from "../service/lifecycle";
import { createLogger } from "../service/logger";
import { type OpsServer, startOpsServer } from "../service/ops";
import { bindIdentity } from "../service/store";
import { AcceptorChain } from "./chain";
import { Deliverer } from "./delivery";
import { Follower, type PolicySettings } from "./follower";
import { AcceptorMetrics } from "./metrics";
import { AcceptorStore, type NoteRecord } from "./store";
import { YagnaClient } from "./yagna";

/**
 * The supervisor acceptor, wired: it follows a requestor's yagna (debit-note events from a cursor kept on disk),
 * decides each note with the SDK policy, signs acceptances of the agreement totals with its key, and hands them to
 * a relay (or settles them itself). Usable from the Hardhat task, standalone (`scripts/acceptor/main.ts`) or
 * in-process (the demo): it needs a DripFeedClient connected with the signing key, the pool and yagna.
 */

export const DEFAULT_ACCEPTOR_PORT = 8789;
export const DEFAULT_ACCEPTOR_DB = "acceptor.sqlite";

export interface AcceptorOptions {
  /** Connected with the signing key (the pool's owner or an ACCEPT grantee; it pays gas when there is no relay). */
  client: DripFeedClient;
  poolId: string;
  /** yagna's REST URL (e.g. http://127.0.0.1:7465) and the requestor's app key. */
  yagnaUrl: string;
  appKey: string;
  db: string;
  /** The relay to hand acceptances to; without one the acceptor settles them itself. */
  relayUrl?: string;
  /** Accept the notes in yagna too, against this allocation (`--yagna-accept --allocation <id>`). */
  yagnaAllocation?: string;
  /** Policy settings; payer defaults to the pool's owner, the platform to the chain's Golem platform. */
  policy?: Partial<PolicySettings>;
  /** /metrics and /healthz port (0: any free port; null: none). */
  port?: number | null;
  host?: string;
  pollTimeoutSeconds?: number;
  logger?: Logger;
  /** Longest drain (ms) before the process exits anyway (the task and main.ts use it). */
  drainTimeoutMs?: number;
  /** Delay before the first retry of a hand-off (ms, default 1000); it doubles with each attempt. */
  retryBaseMs?: number;
}

export interface Acceptor {
  store: AcceptorStore;
  signer: string;
  /** The /metrics and /healthz base URL, when served. */
  opsUrl?: string;
  metrics: AcceptorMetrics;
  /** Called with each decision once it is on disk (the demo tells its story from these). */
  onDecided(listener: (note: NoteRecord) => void): void;
  /** Stops following yagna, finishes the hand-offs in flight, closes the database. */
  close(): Promise<void>;
}

function checkUrl(text: string, flag: string): string {
  try {
    const url = new URL(text);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
    return text.replace(/\/+$/, "");
  } catch {
    throw new DripFeedError("INVALID_ARGUMENT", `--${flag} "${text}" is not an http(s) URL`, flag);
  }
}

export async function startAcceptor(options: AcceptorOptions): Promise<Acceptor> {
  const log = options.logger ?? createLogger("dripfeed-acceptor");
  const poolId = requireBytes32(options.poolId, "--pool");
  const yagnaUrl = checkUrl(options.yagnaUrl, "yagna-url");
  const relayUrl = options.relayUrl ? checkUrl(options.relayUrl, "relay") : undefined;
  if (!options.appKey) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      "set YAGNA_APPKEY to the requestor's yagna app key (yagna app-key list)",
    );
  }
  const { client } = options;
  if (!client.signer) throw new DripFeedError("INVALID_ARGUMENT", "the acceptor needs a signing key");
  const signer = client.signer;
  const signerAddress = await signer.getAddress();

  const metrics = new AcceptorMetrics();
  const chain = await AcceptorChain.open(client, poolId, () => metrics.rpcErrors.inc());
  const [now, authority] = await Promise.all([chain.now(), chain.authority(signerAddress)]);
  const isOwner = signerAddress.toLowerCase() === authority.owner.toLowerCase();
  if (!isOwner && authority.acceptValidUntil < now) {
    throw new DripFeedError(
      "NOT_AUTHORIZED",
      `${signerAddress} cannot sign acceptances for pool ${poolId}: it is not the owner (${authority.owner}) and holds no ACCEPT grant that counts now; ask the owner for one (npx hardhat dripfeed grant --permissions accept)`,
    );
  }
  if (!isOwner && authority.acceptValidUntil < now + 86_400n) {
    log.warn(
      { acceptValidUntil: authority.acceptValidUntil.toString() },
      "the ACCEPT grant ends within a day; notes whose acceptance would outlive it are refused (rule signer): renew it",
    );
  }

  const policy: PolicySettings = {
    payer: options.policy?.payer === undefined ? chain.pool.owner : options.policy.payer,
    paymentPlatform:
      options.policy?.paymentPlatform === undefined
        ? (defaultPaymentPlatform(client.chainId) ?? null)
        : options.policy.paymentPlatform,
    acceptanceTtl: options.policy?.acceptanceTtl,
    leaveRateToContract: options.policy?.leaveRateToContract,
    intervalGrace: options.policy?.intervalGrace,
  };
  if (policy.payer !== null) requireAddress(policy.payer, "--payer");
  if (policy.paymentPlatform === null) {
    log.warn(`chain ${client.chainId} has no Golem payment platform: notes' platform is not checked (set --platform)`);
  }

  if (options.yagnaAllocation !== undefined) {
    log.warn(
      { allocation: options.yagnaAllocation },
      "--yagna-accept: yagna also pays payable notes (those with a paymentDueDate) from this allocation with its own driver, on top of DripFeed",
    );
  }
  const store = new AcceptorStore(options.db);
  let ops: OpsServer | undefined;
  try {
    bindIdentity(store.db, options.db, [
      { key: "chainId", value: client.chainId.toString(), label: "chain id" },
      { key: "contract", value: client.address.toLowerCase(), label: "DripFeed contract" },
      { key: "pool", value: poolId, label: "pool" },
      { key: "signer", value: signerAddress.toLowerCase(), label: "signing key" },
    ]);
    const yagna = new YagnaClient({ url: yagnaUrl, appKey: options.appKey });
    const deliverer = new Deliverer({
      store,
      chain,
      metrics,
      log,
      relayUrl,
      retryBaseMs: options.retryBaseMs,
      yagna: options.yagnaAllocation ? { client: yagna, allocationId: options.yagnaAllocation } : undefined,
    });
    const listeners: ((note: NoteRecord) => void)[] = [];
    const follower = new Follower({
      yagna,
      store,
      chain,
      signer,
      signerAddress,
      domain: client.domain,
      policy,
      yagnaAccept: options.yagnaAllocation !== undefined,
      metrics,
      log,
      pollTimeoutSeconds: options.pollTimeoutSeconds,
      onDecided: (note) => {
        deliverer.wake();
        for (const listener of listeners) listener(note);
      },
    });
    if (options.port !== null) {
      ops = await startOpsServer({
        registry: metrics.registry,
        port: options.port ?? DEFAULT_ACCEPTOR_PORT,
        host: options.host,
        health: () => {
          const counts = store.countByDelivery();
          const stale = follower.lastPollAt !== 0 && Date.now() - follower.lastPollAt > 120_000;
          return {
            ok: follower.lastError === undefined && !stale,
            cursor: store.cursor()?.eventDate ?? null,
            pendingDeliveries: counts.pending ?? 0,
            ...(follower.lastError ? { yagnaError: follower.lastError } : {}),
            ...(deliverer.lastError ? { deliveryError: deliverer.lastError } : {}),
          };
        },
      });
    }
    deliverer.start();
    follower.start();
    const decided = store.countByDecision();
    log.info(
      {
        pool: poolId,
        chainId: client.chainId.toString(),
        contract: client.address,
        signer: signerAddress,
        role: isOwner ? "owner" : "grantee",
        yagna: yagnaUrl,
        relay: relayUrl ?? "none: settles itself",
        yagnaAccept: options.yagnaAllocation !== undefined,
        payer: policy.payer,
        platform: policy.paymentPlatform,
        db: store.file,
        cursor: store.cursor()?.eventDate ?? "start of yagna's history",
        decided,
        ops: ops?.url,
      },
      "acceptor following yagna",
    );

    let closing: Promise<void> | undefined;
    return {
      store,
      signer: signerAddress,
      opsUrl: ops?.url,
      metrics,
      onDecided: (listener) => listeners.push(listener),
      close: () =>
        (closing ??= (async () => {
          log.info("draining: finishing the event in hand and the hand-offs in flight");
          await follower.stop();
          await deliverer.stop();
          await ops?.close();
          store.close();
          log.info("acceptor stopped");
        })()),
    };
  } catch (error) {
    await ops?.close();
    store.close();
    throw error;
  }
}

/** Runs the acceptor until SIGTERM or SIGINT, drains (30 s at most by default) and exits; a start failure exits 1 or 2. */
export async function runAcceptorUntilSignal(options: AcceptorOptions): Promise<never> {
  const log = options.logger ?? createLogger("dripfeed-acceptor");
  let acceptor: Acceptor;
  try {
    acceptor = await startAcceptor({ ...options, logger: log });
  } catch (error) {
    return exitOnStartFailure(log, error);
  }
  return serveUntilSignal(acceptor, { log, drainTimeoutMs: options.drainTimeoutMs ?? 30_000 });
}
