/**
 * The relay without Hardhat:
 *
 *   DRIPFEED_RELAY_KEY=0x... npx ts-node scripts/relay/main.ts --rpc-url https://... --contract 0x... \
 *     [--port 8787] [--db relay.sqlite] [--batch-size 50] [--max-wait 2000] [--max-hold 1h] [--settle-margin 10m] \
 *     [--min-value 5] [--poll-interval 2000] [--tx-timeout 90s] [--retain 30d]
 *
 * The submitting key comes from the environment, never the command line (it would show in `ps`).
 */
import { Command } from "commander";
import { Wallet } from "ethers";
import pino from "pino";

import { requireAddress } from "../sdk/ids";
import { connectRpc } from "../service/chain";
import { exitOnStartFailure } from "../service/lifecycle";
import { parseDuration } from "../tasks/flags";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_DB,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PORT,
  runRelayUntilSignal,
} from ".";

async function main(): Promise<void> {
  const program = new Command()
    .name("dripfeed-relay")
    .requiredOption("--rpc-url <url>", "JSON-RPC endpoint")
    .requiredOption("--contract <address>", "DripFeed address")
    .option("--port <n>", "HTTP port", String(DEFAULT_PORT))
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--db <file>", "SQLite database file", DEFAULT_DB)
    .option("--batch-size <n>", "most agreements per settleBatch", String(DEFAULT_BATCH_SIZE))
    .option("--max-wait <ms>", "longest wait for a batch to fill", String(DEFAULT_MAX_WAIT_MS))
    .option("--max-hold <duration>", "longest an accepted total is held unsettled (0: settle at once)", "1h")
    .option("--settle-margin <duration>", "settle this long before a deadline or acceptValidUntil", "10m")
    .option("--min-value <amount>", "settle once an agreement's unpaid accepted value reaches this (token units)")
    .option("--poll-interval <ms>", "chain polling interval", String(DEFAULT_POLL_INTERVAL_MS))
    .option("--tx-timeout <duration>", "replace a settleBatch not mined within this (with a higher fee)", "90s")
    .option("--retain <duration>", "forget finished acceptances this long after they arrived (0: keep all)", "0")
    .parse();
  const opts = program.opts<{
    rpcUrl: string;
    contract: string;
    port: string;
    host: string;
    db: string;
    batchSize: string;
    maxWait: string;
    maxHold: string;
    settleMargin: string;
    minValue?: string;
    pollInterval: string;
    txTimeout: string;
    retain: string;
  }>();
  const key = process.env.DRIPFEED_RELAY_KEY;
  if (!key) {
    process.stderr.write("error: set DRIPFEED_RELAY_KEY to the private key of the submitting account\n");
    process.exit(2);
  }
  const logger = pino({ name: "dripfeed-relay", level: process.env.LOG_LEVEL ?? "info" });
  const fixed = await connectRpc(opts.rpcUrl);
  await runRelayUntilSignal({
    provider: fixed,
    signer: new Wallet(key, fixed),
    contract: requireAddress(opts.contract, "--contract"),
    port: Number(opts.port),
    host: opts.host,
    db: opts.db,
    batchSize: Number(opts.batchSize),
    maxWaitMs: Number(opts.maxWait),
    maxHoldMs: Number(parseDuration(opts.maxHold, "max-hold")) * 1000,
    settleMarginMs: Number(parseDuration(opts.settleMargin, "settle-margin")) * 1000,
    minValue: opts.minValue,
    pollIntervalMs: Number(opts.pollInterval),
    txTimeoutMs: Number(parseDuration(opts.txTimeout, "tx-timeout")) * 1000,
    retainMs: Number(parseDuration(opts.retain, "retain")) * 1000,
    logger,
  });
}

main().catch((error: unknown) => {
  exitOnStartFailure(pino({ name: "dripfeed-relay" }), error);
});
