/**
 * The supervisor acceptor without Hardhat:
 *
 *   DRIPFEED_PRIVATE_KEY=0x... YAGNA_APPKEY=... npx ts-node scripts/acceptor/main.ts --rpc-url https://... \
 *     --contract 0x... --yagna-url http://127.0.0.1:7465 --pool 0x... --db acceptor.sqlite \
 *     [--relay http://relay:8787] [--yagna-accept --allocation <id>] [--port 8789]
 *
 * The signing key and the app key come from the environment, never the command line (it would show in `ps`).
 */
import { Command } from "commander";
import { Wallet } from "ethers";

import { DripFeedClient } from "../sdk/client";
import { requireAddress } from "../sdk/ids";
import { connectRpc } from "../service/chain";
import { exitOnStartFailure } from "../service/lifecycle";
import { createLogger } from "../service/logger";
import { type AcceptorFlags, FLAG_HELP, parseAcceptorFlags } from "./config";
import { runAcceptorUntilSignal } from ".";

async function main(): Promise<void> {
  const program = new Command()
    .name("dripfeed-acceptor")
    .requiredOption("--rpc-url <url>", "JSON-RPC endpoint")
    .requiredOption("--contract <address>", "DripFeed address")
    .requiredOption("--yagna-url <url>", FLAG_HELP.yagnaUrl)
    .requiredOption("--pool <poolId>", FLAG_HELP.pool)
    .requiredOption("--db <file>", FLAG_HELP.db)
    .option("--relay <url>", FLAG_HELP.relay)
    .option("--yagna-accept", FLAG_HELP.yagnaAccept)
    .option("--allocation <id>", FLAG_HELP.allocation)
    .option("--port <n>", FLAG_HELP.port)
    .option("--host <host>", FLAG_HELP.host)
    .option("--payer <address|any>", FLAG_HELP.payer)
    .option("--platform <name|any>", FLAG_HELP.platform)
    .option("--deadline <duration>", FLAG_HELP.deadline)
    .option("--leave-rate-to-contract", FLAG_HELP.leaveRateToContract)
    .option("--interval-grace <share>", FLAG_HELP.intervalGrace)
    .parse();
  const opts = program.opts<AcceptorFlags & { rpcUrl: string; contract: string }>();
  const log = createLogger("dripfeed-acceptor");
  try {
    const key = process.env.DRIPFEED_PRIVATE_KEY;
    if (!key) {
      throw new Error("set DRIPFEED_PRIVATE_KEY to the private key of the pool's owner or an ACCEPT grantee");
    }
    const flags = parseAcceptorFlags(opts);
    const provider = await connectRpc(opts.rpcUrl);
    const client = await DripFeedClient.connect(requireAddress(opts.contract, "--contract"), new Wallet(key, provider));
    await runAcceptorUntilSignal({ ...flags, client, logger: log });
  } catch (error) {
    exitOnStartFailure(log, error);
  }
}

void main();
