import type { Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

import { DRIPFEED_KEY_ENV, NETWORKS } from "../config/networks";
import { DripFeedClient, type TxProgress } from "../sdk/client";
import { resolveDripFeed } from "../sdk/deployment";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { progressLine } from "./output";

/** What every task needs: the client bound to the chosen account. */
export interface TaskContext {
  client: DripFeedClient;
  signer: Signer;
  account: string;
}

/** The flags every task has: which DripFeed, and (for tasks that sign) which account. */
export interface CommonArgs {
  contract?: string;
  from?: string;
  fromBlock?: string;
}

/** `--from-block`: a block number, or undefined (then the deployment block, from the record or the chain). */
function firstBlockOf(args: CommonArgs, recorded?: number): number | undefined {
  if (args.fromBlock === undefined || args.fromBlock === "") return recorded;
  if (!/^\d+$/.test(args.fromBlock.trim())) {
    throw new DripFeedError("INVALID_ARGUMENT", `--from-block "${args.fromBlock}" is not a block number`, "from-block");
  }
  return Number(args.fromBlock.trim());
}

/** Whether the network is one of the remote ones (keys from the environment). */
function isRemote(hre: HardhatRuntimeEnvironment): boolean {
  return NETWORKS[hre.network.name]?.rpcUrlEnv !== undefined;
}

/** `--from <index|address>` among the network's accounts (default: the first). */
export async function selectSigner(hre: HardhatRuntimeEnvironment, from?: string): Promise<Signer> {
  const signers = await hre.ethers.getSigners();
  if (signers.length === 0) {
    if (isRemote(hre)) {
      throw new DripFeedError(
        "MISSING_KEY",
        `this task signs a transaction: set ${DRIPFEED_KEY_ENV} to your account's private key (network ${hre.network.name} has no key configured)`,
      );
    }
    throw new DripFeedError("INVALID_ARGUMENT", `network ${hre.network.name} has no accounts configured`);
  }
  if (from === undefined || from === "") return signers[0];
  if (/^\d+$/.test(from)) {
    const signer = signers[Number(from)];
    if (!signer) {
      throw new DripFeedError(
        "INVALID_ARGUMENT",
        `--from ${from}: network ${hre.network.name} has ${signers.length} accounts (0..${signers.length - 1})${isRemote(hre) ? `: on a remote network the one account is ${DRIPFEED_KEY_ENV}'s, so drop --from` : ""}`,
        "from",
      );
    }
    return signer;
  }
  const address = requireAddress(from, "--from");
  const signer = signers.find((s) => s.address.toLowerCase() === address.toLowerCase());
  if (!signer) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--from ${address} is not one of network ${hre.network.name}'s accounts${isRemote(hre) ? ` (set ${DRIPFEED_KEY_ENV} to its key)` : ""}`,
      "from",
    );
  }
  return signer;
}

/**
 * The DripFeed this task talks to: `--contract`, else this network's deployment record, else the published CREATE2
 * address once there is code there (on the in-process network, deployed on the fly).
 */
export async function dripFeedDeployment(
  hre: HardhatRuntimeEnvironment,
  contract?: string,
): Promise<{ address: string; blockNumber?: number }> {
  if (hre.network.name === "hardhat" && !contract) await hre.deployments.fixture(["local"]);
  const record = contract ? null : await hre.deployments.getOrNull("DripFeed");
  const resolved = await resolveDripFeed(hre.ethers.provider, {
    contract,
    record: record ? { address: record.address, blockNumber: record.receipt?.blockNumber } : undefined,
    network: hre.network.name,
  });
  return { address: resolved.address, blockNumber: resolved.source === "deployment" ? resolved.fromBlock : undefined };
}

/** Progress of a sent transaction, on stderr (stdout stays the task's result). */
function reportProgress(progress: TxProgress): void {
  process.stderr.write(`${progressLine(progress)}\n`);
}

/** A client for a task that signs: needs a key on remote networks (DRIPFEED_PRIVATE_KEY). */
export async function taskContext(
  hre: HardhatRuntimeEnvironment,
  args: CommonArgs | string = {},
): Promise<TaskContext> {
  const common: CommonArgs = typeof args === "string" ? { from: args } : args;
  const signer = await selectSigner(hre, common.from);
  const { address, blockNumber } = await dripFeedDeployment(hre, common.contract);
  const client = await DripFeedClient.connect(address, signer, {
    fromBlock: firstBlockOf(common, blockNumber),
    onProgress: reportProgress,
  });
  return { client, signer, account: await signer.getAddress() };
}

/** A client for a task that only reads: no key needed anywhere. */
export async function readContext(hre: HardhatRuntimeEnvironment, args: CommonArgs = {}): Promise<DripFeedClient> {
  const { address, blockNumber } = await dripFeedDeployment(hre, args.contract);
  return DripFeedClient.connect(address, hre.ethers.provider, { fromBlock: firstBlockOf(args, blockNumber) });
}

/** `--token glm` is MockGLM on local and test networks, the real GLM where it exists; anything else is an address. */
export async function resolveToken(hre: HardhatRuntimeEnvironment, token: string): Promise<string> {
  if (token.trim().toLowerCase() !== "glm") return requireAddress(token, "--token");
  const facts = NETWORKS[hre.network.name];
  if (facts?.glm) return facts.glm;
  const mock = await hre.deployments.getOrNull("MockGLM");
  if (!mock) {
    throw new DripFeedError(
      "NOT_DEPLOYED",
      `no GLM on network ${hre.network.name}: deploy MockGLM or pass --token <address>`,
      "token",
    );
  }
  return mock.address;
}
