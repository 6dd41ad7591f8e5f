import { HDNodeWallet, JsonRpcProvider, type Provider, type Signer, Wallet } from "ethers";
import { types } from "hardhat/config";
import type { HardhatNetworkAccountsConfig, HardhatRuntimeEnvironment, HttpNetworkAccountsConfig } from "hardhat/types";
import pino from "pino";

import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_DB,
  DEFAULT_MAX_WAIT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PORT,
  runRelayUntilSignal,
} from "../relay";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { exitOnStartFailure } from "../service/lifecycle";
import { parseDuration } from "./flags";
import { dripfeed } from "./scope";

/**
 * `npx hardhat dripfeed relay`: a thin wrapper that resolves the network's RPC URL, its first account and the
 * hardhat-deploy address of DripFeed, then runs `scripts/relay` until SIGTERM.
 */

interface RelayArgs {
  port: number;
  db: string;
  batchSize: number;
  maxWait: number;
  maxHold: string;
  settleMargin: string;
  minValue?: string;
  pollInterval: number;
  txTimeout: string;
  retain: string;
  host: string;
  contract?: string;
}

/** The private key of an account list's first account, when the config holds keys (not for "remote"). */
function firstKey(
  accounts: HttpNetworkAccountsConfig | HardhatNetworkAccountsConfig,
  provider: Provider,
): Wallet | HDNodeWallet | undefined {
  if (accounts === "remote") return undefined;
  if (Array.isArray(accounts)) {
    const first = accounts[0] as string | { privateKey: string } | undefined;
    if (first === undefined) return undefined;
    return new Wallet(typeof first === "string" ? first : first.privateKey, provider);
  }
  const path = `${accounts.path}/${accounts.initialIndex}`;
  return HDNodeWallet.fromPhrase(accounts.mnemonic, accounts.passphrase, path).connect(provider);
}

/**
 * The submitting account: DRIPFEED_RELAY_KEY when set (a key kept for the relay alone), else the network's first
 * account as a signer that can sign locally (so the relay records a transaction's hash before broadcasting it). For
 * `localhost` (accounts "remote") the node's first account is matched against the Hardhat network's configured
 * keys; if it is not one of them, the node signs (eth_sendTransaction).
 */
async function relaySigner(hre: HardhatRuntimeEnvironment, provider: JsonRpcProvider): Promise<Signer> {
  const key = process.env.DRIPFEED_RELAY_KEY;
  if (key) return new Wallet(key, provider);
  const config = hre.network.config;
  const local = firstKey(config.accounts, provider);
  if (local) return local;
  const remote = (await provider.send("eth_accounts", [])) as string[];
  if (remote.length === 0) {
    throw new DripFeedError("INVALID_ARGUMENT", `network ${hre.network.name} has no accounts to submit from`);
  }
  const known = firstKey(hre.config.networks.hardhat.accounts, provider);
  if (known && known.address.toLowerCase() === remote[0].toLowerCase()) return known;
  return provider.getSigner(remote[0]);
}

dripfeed
  .task("relay", "Run the acceptance relay: HTTP in, verified, queued in SQLite, settled in batches (SIGTERM drains)")
  .addOptionalParam("port", "HTTP port", DEFAULT_PORT, types.int)
  .addOptionalParam("host", "interface to listen on", "127.0.0.1")
  .addOptionalParam("db", "SQLite database file (created if missing)", DEFAULT_DB)
  .addOptionalParam("batchSize", "most agreements per settleBatch transaction", DEFAULT_BATCH_SIZE, types.int)
  .addOptionalParam(
    "maxWait",
    "longest wait (ms) for a batch to fill before it is sent",
    DEFAULT_MAX_WAIT_MS,
    types.int,
  )
  .addOptionalParam(
    "maxHold",
    "longest an accepted total is held before it is settled (e.g. 1h, 24h; 0 settles within --max-wait)",
    "1h",
  )
  .addOptionalParam("settleMargin", "settle this long before an acceptance's deadline or acceptValidUntil", "10m")
  .addOptionalParam("minValue", "settle an agreement once its unpaid accepted value reaches this (token units)")
  .addOptionalParam(
    "pollInterval",
    "chain polling interval (ms): new blocks, GrantSet, AgreementTerminated",
    DEFAULT_POLL_INTERVAL_MS,
    types.int,
  )
  .addOptionalParam("txTimeout", "replace a settleBatch not mined within this (with a higher fee), e.g. 90s", "90s")
  .addOptionalParam(
    "retain",
    "forget finished (settled, superseded, failed) acceptances this long after they arrived, e.g. 30d (0: keep all)",
    "0",
  )
  .addOptionalParam("contract", "DripFeed address (default: the hardhat-deploy deployment of this network)")
  .setAction(async (args: RelayArgs, hre) => {
    const logger = pino({ name: "dripfeed-relay", level: process.env.LOG_LEVEL ?? "info" });
    try {
      const config = hre.network.config;
      if (!("url" in config)) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          `the relay needs a JSON-RPC network (e.g. --network localhost), not the in-process "${hre.network.name}" network`,
        );
      }
      const deployment = args.contract
        ? { address: requireAddress(args.contract, "--contract") }
        : await hre.deployments.getOrNull("DripFeed");
      if (!deployment) {
        throw new DripFeedError(
          "NOT_DEPLOYED",
          `DripFeed is not deployed on network ${hre.network.name}: run npx hardhat deploy --network ${hre.network.name}`,
        );
      }
      const chainId = config.chainId ?? Number(await hre.network.provider.send("eth_chainId", []));
      const provider = new JsonRpcProvider(config.url, Number(chainId), {
        staticNetwork: true,
        batchStallTime: 2,
        cacheTimeout: -1,
      });
      const signer = await relaySigner(hre, provider);
      await runRelayUntilSignal({
        provider,
        signer,
        contract: deployment.address,
        port: args.port,
        host: args.host,
        db: args.db,
        batchSize: args.batchSize,
        maxWaitMs: args.maxWait,
        maxHoldMs: Number(parseDuration(args.maxHold, "max-hold")) * 1000,
        settleMarginMs: Number(parseDuration(args.settleMargin, "settle-margin")) * 1000,
        minValue: args.minValue,
        pollIntervalMs: args.pollInterval,
        txTimeoutMs: Number(parseDuration(args.txTimeout, "tx-timeout")) * 1000,
        retainMs: Number(parseDuration(args.retain, "retain")) * 1000,
        logger,
      });
    } catch (error) {
      // One line and the shared exit statuses (2: the operator's input, e.g. a --db another relay holds).
      exitOnStartFailure(logger, error);
    }
  });
