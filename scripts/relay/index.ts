import type { Provider, Signer } from "ethers";
import pino, { type Logger } from "pino";

import { parseAmount } from "../sdk/amounts";
import { DripFeedError } from "../sdk/errors";
import { serveUntilSignal } from "../service/lifecycle";
import { ChainReader, shortMessage } from "./chain";
import { ChainFollower } from "./follower";
import { Health } from "./health";
import { buildHttp } from "./http";
import { RelayMetrics } from "./metrics";
import { Quarantine } from "./quarantine";
import { startRetention } from "./retention";
import { Scheduler } from "./schedule";
import { RelayStore } from "./store";
import { Submitter } from "./submitter";
import { SIGNATURE_BACKEND, Verifier } from "./verifier";

/**
 * The relay, wired: HTTP (verify, then persist, then answer) in front of a SQLite queue drained by one submitter.
 * Usable from the Hardhat task or standalone (`scripts/relay/main.ts`): it only needs an ethers provider, a signer
 * and the DripFeed address.
 */

export const DEFAULT_PORT = 8787;
export const DEFAULT_DB = "relay.sqlite";
export const DEFAULT_BATCH_SIZE = 50;
export const DEFAULT_MAX_WAIT_MS = 2_000;
/** Longest an accepted total waits unsettled by default: Golem pays about once a day, gas is paid per settlement. */
export const DEFAULT_MAX_HOLD_MS = 3_600_000;
/** Settle this long before an acceptance's deadline or its signer's acceptValidUntil (ACCEPT_NOTICE is an hour). */
export const DEFAULT_SETTLE_MARGIN_MS = 600_000;
/** How often the chain is polled for new blocks, GrantSet and AgreementTerminated. */
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** How long a settleBatch may stay unmined before it is replaced with a higher fee (twice, then given back). */
export const DEFAULT_TX_TIMEOUT_MS = 90_000;
/**
 * The longest a drain may take before the process exits 1 anyway (the batch in flight waits for its receipt only
 * DRAIN_RECEIPT_WAIT_MS; this bounds the rest, e.g. an RPC call that hangs). Everything is on disk: it resumes.
 */
export const DRAIN_TIMEOUT_MS = 60_000;

export interface RelayOptions {
  provider: Provider;
  /** Pays for and sends the settleBatch transactions (a Wallet signs locally, so hashes are recorded first). */
  signer: Signer;
  /** The DripFeed contract this relay submits to. */
  contract: string;
  port?: number;
  host?: string;
  db?: string;
  batchSize?: number;
  maxWaitMs?: number;
  /** Longest an accepted total is held before it is settled (ms); 0: settle within maxWaitMs of arrival. */
  maxHoldMs?: number;
  /** Settle this long before a deadline or an acceptValidUntil (ms). */
  settleMarginMs?: number;
  /** Settle an agreement as soon as its unpaid accepted value reaches this (token units, e.g. "5"). */
  minValue?: string;
  /** Chain polling interval (ms): new blocks (the clock), GrantSet, AgreementTerminated. */
  pollIntervalMs?: number;
  /** Receipt poll interval and the wait before replacing an unmined transaction (ms). */
  pollMs?: number;
  txTimeoutMs?: number;
  /** Forget finished acceptances this long after they arrived (ms); 0 or undefined: keep them all. */
  retainMs?: number;
  logger?: Logger;
}

export interface Relay {
  /** The base URL it listens on. */
  url: string;
  chainId: bigint;
  store: RelayStore;
  /** Stops taking acceptances, finishes the batch in flight, closes the database. */
  close(): Promise<void>;
}

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const log = options.logger ?? pino({ name: "dripfeed-relay" });
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
  const settleMarginMs = options.settleMarginMs ?? DEFAULT_SETTLE_MARGIN_MS;
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const txTimeoutMs = options.txTimeoutMs ?? DEFAULT_TX_TIMEOUT_MS;
  const retainMs = options.retainMs ?? 0;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 500) {
    throw new DripFeedError("INVALID_ARGUMENT", `--batch-size must be an integer from 1 to 500, got ${batchSize}`);
  }
  if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--max-wait must be a non-negative number of milliseconds, got ${maxWaitMs}`,
    );
  }
  for (const [flag, value] of [
    ["--max-hold", maxHoldMs],
    ["--settle-margin", settleMarginMs],
    ["--poll-interval", pollIntervalMs],
    ["--retain", retainMs],
  ] as const) {
    if (!Number.isFinite(value) || value < 0) {
      throw new DripFeedError("INVALID_ARGUMENT", `${flag} must be a non-negative duration, got ${value}`);
    }
  }
  if (!Number.isFinite(txTimeoutMs) || txTimeoutMs < 1_000) {
    throw new DripFeedError("INVALID_ARGUMENT", `--tx-timeout must be at least 1s, got ${txTimeoutMs} ms`);
  }
  if (options.minValue !== undefined) parseAmount(options.minValue, { decimals: 18, symbol: "" }, "--min-value");

  const metrics = new RelayMetrics();
  let chainId: bigint;
  try {
    chainId = (await options.provider.getNetwork()).chainId;
  } catch (error) {
    throw new DripFeedError("RPC_ERROR", `cannot reach the chain RPC: ${shortMessage(error)}`);
  }
  const code = await options.provider.getCode(options.contract);
  if (code === "0x") {
    throw new DripFeedError(
      "NOT_DEPLOYED",
      `no DripFeed contract at ${options.contract} on chain ${chainId}; deploy first`,
    );
  }

  const submitterAddress = await options.signer.getAddress();
  const store = new RelayStore(options.db ?? DEFAULT_DB);
  try {
    store.bindDeployment(chainId, options.contract, submitterAddress);
  } catch (error) {
    store.close();
    throw error;
  }
  const chain = new ChainReader(options.provider, options.contract, chainId, metrics);
  await chain.syncClock();
  const health = new Health(log);
  const quarantine = new Quarantine(store);

  // --min-value is in token units: each pool's threshold in base units, once its token's decimals are known.
  const minValues = new Map<string, bigint>();
  const scheduler = new Scheduler(
    {
      maxHoldMs,
      marginMs: settleMarginMs,
      maxWaitMs,
      batchSize,
      minValue: options.minValue === undefined ? undefined : (poolId) => minValues.get(poolId),
    },
    (item) => quarantine.laneOf(item),
  );
  const learnMinValue = (poolId: string): void => {
    if (options.minValue === undefined || minValues.has(poolId)) return;
    void (async () => {
      const pool = await chain.pool(poolId);
      if (!pool) return;
      const decimals = await chain.tokenDecimals(pool.token);
      minValues.set(poolId, parseAmount(options.minValue as string, { decimals, symbol: "" }, "--min-value"));
      scheduler.reschedulePool(poolId, chain.nowMs());
      submitter.wake();
    })().catch((error: unknown) => log.warn({ poolId, err: shortMessage(error) }, "could not read the pool's token"));
  };
  store.onCommitted((items) => {
    scheduler.add(items, chain.nowMs());
    for (const item of items) learnMinValue(item.poolId);
  });
  const verifier = new Verifier(chain, store, (poolId, signer, until) =>
    scheduler.setSignerValidity(poolId, signer, until, chain.nowMs()),
  );
  const submitter = new Submitter(chain, options.signer, store, scheduler, quarantine, health, metrics, log, {
    pollMs: options.pollMs,
    txTimeoutMs,
  });

  // What was queued before a restart: its plans, and what the chain says now about their signers and agreements
  // (a revocation or termination while the relay was down pulls them forward as the events would have).
  const resumed = store.allQueued();
  scheduler.add(resumed, chain.nowMs());
  await refreshWaiting(chain, scheduler);
  for (const poolId of new Set(resumed.map((item) => item.poolId))) learnMinValue(poolId);

  const follower = new ChainFollower(
    chain,
    {
      onBlock: () => submitter.wake(),
      onGrantSet: (poolId, grantee) => {
        chain.forgetAuthority(poolId, grantee);
        if (!scheduler.hasSigner(poolId, grantee)) return;
        void chain
          .acceptValidUntil(poolId, grantee)
          .then((until) => {
            scheduler.setSignerValidity(poolId, grantee, until, chain.nowMs());
            log.info(
              { poolId, grantee, acceptValidUntil: until },
              "GrantSet for a signer of held acceptances: settling them before its acceptValidUntil",
            );
            submitter.wake();
          })
          .catch((error: unknown) =>
            log.warn({ poolId, grantee, err: shortMessage(error) }, "could not re-read a grant"),
          );
      },
      onTerminated: (poolId, agreementId) => {
        chain.forgetAgreement(poolId, agreementId);
        if (!scheduler.plan(poolId, agreementId)) return;
        scheduler.markTerminated(poolId, agreementId, chain.nowMs());
        log.info({ poolId, agreementId }, "agreement terminated: settling its held acceptances now");
        submitter.wake();
      },
    },
    log,
    pollIntervalMs,
  );
  await follower.start();

  let draining = false;
  const app = buildHttp({
    verifier,
    store,
    chain,
    scheduler,
    quarantine,
    health,
    submitter: () => submitter.submitter,
    wake: () => submitter.wake(),
    metrics,
    log,
    draining: () => draining,
  });
  await submitter.start();
  const url = await app.listen({ port: options.port ?? DEFAULT_PORT, host: options.host ?? "127.0.0.1" });
  const counts = store.countByStatus();
  log.info(
    {
      url,
      chainId: chainId.toString(),
      contract: options.contract,
      submitter: submitter.submitter,
      db: store.file,
      batchSize,
      maxWaitMs,
      maxHoldMs,
      settleMarginMs,
      txTimeoutMs,
      retainMs,
      minValue: options.minValue,
      signatures: SIGNATURE_BACKEND,
      queued: counts.queued,
      submitted: counts.submitted,
      quarantined: quarantine.list().length,
    },
    "relay listening",
  );

  const retention = retainMs > 0 ? startRetention(store, retainMs, log) : undefined;

  let closing: Promise<void> | undefined;
  return {
    url,
    chainId,
    store,
    close: () =>
      (closing ??= (async () => {
        draining = true;
        log.info("draining: finishing requests and the batch in flight");
        await app.close();
        retention?.stop();
        store.flush();
        await submitter.stop();
        await follower.stop();
        store.close();
        log.info("relay stopped");
      })()),
  };
}

/** Runs the relay until SIGTERM or SIGINT, then drains and exits 0 (1 if draining failed or took too long). */
export async function runRelayUntilSignal(options: RelayOptions): Promise<void> {
  const log = options.logger ?? pino({ name: "dripfeed-relay" });
  const relay = await startRelay({ ...options, logger: log });
  await serveUntilSignal(relay, { log, drainTimeoutMs: DRAIN_TIMEOUT_MS });
}

/** Re-reads the signers and agreements of queued acceptances (at start: nothing was followed while down). */
async function refreshWaiting(chain: ChainReader, scheduler: Scheduler): Promise<void> {
  const { signers, agreements } = scheduler.waiting();
  const now = chain.nowMs();
  await Promise.all(
    signers.map(async ([poolId, signer]) => {
      const owner = await chain.poolOwner(poolId);
      const until =
        owner !== null && owner.toLowerCase() === signer.toLowerCase()
          ? Infinity
          : await chain.acceptValidUntil(poolId, signer);
      scheduler.setSignerValidity(poolId, signer, until, now);
    }),
  );
  const views = await chain.freshAgreements(agreements);
  agreements.forEach(([poolId, agreementId], i) => {
    scheduler.setOnChainAccepted(poolId, agreementId, views[i].acceptedTotal, now);
    if (views[i].status === "Terminated") scheduler.markTerminated(poolId, agreementId, now);
  });
}
