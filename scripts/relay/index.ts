import type { Provider, Signer } from "ethers";
import pino, { type Logger } from "pino";

import { DripFeedError } from "../sdk/errors";
import { serveUntilSignal } from "../service/lifecycle";
import { ChainReader, shortMessage } from "./chain";
import { buildHttp } from "./http";
import { RelayMetrics } from "./metrics";
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
  /** Receipt poll interval and the wait before replacing an unmined transaction (ms). */
  pollMs?: number;
  txTimeoutMs?: number;
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
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 500) {
    throw new DripFeedError("INVALID_ARGUMENT", `--batch-size must be an integer from 1 to 500, got ${batchSize}`);
  }
  if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--max-wait must be a non-negative number of milliseconds, got ${maxWaitMs}`,
    );
  }

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

  const store = new RelayStore(options.db ?? DEFAULT_DB);
  store.bindDeployment(chainId, options.contract);
  store.onSuperseded((count) => metrics.superseded.inc(count));
  const chain = new ChainReader(options.provider, options.contract, chainId, metrics);
  await chain.startClock();
  const verifier = new Verifier(chain, store);
  const submitter = new Submitter(chain, options.signer, store, metrics, log, {
    batchSize,
    maxWaitMs,
    pollMs: options.pollMs,
    txTimeoutMs: options.txTimeoutMs,
  });

  let draining = false;
  const app = buildHttp({ verifier, store, chain, metrics, log, draining: () => draining });
  await submitter.start();
  const url = await app.listen({ port: options.port ?? DEFAULT_PORT, host: options.host ?? "127.0.0.1" });
  const counts = store.countByStatus();
  log.info(
    {
      url,
      chainId: chainId.toString(),
      contract: options.contract,
      submitter: await options.signer.getAddress(),
      db: store.file,
      batchSize,
      maxWaitMs,
      signatures: SIGNATURE_BACKEND,
      queued: counts.queued,
      submitted: counts.submitted,
    },
    "relay listening",
  );

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
        store.flush();
        await submitter.stop();
        chain.stopClock();
        store.close();
        log.info("relay stopped");
      })()),
  };
}

/** Runs the relay until SIGTERM or SIGINT, then drains and exits 0 (1 if draining failed). */
export async function runRelayUntilSignal(options: RelayOptions): Promise<void> {
  const log = options.logger ?? pino({ name: "dripfeed-relay" });
  const relay = await startRelay({ ...options, logger: log });
  await serveUntilSignal(relay, { log });
}
