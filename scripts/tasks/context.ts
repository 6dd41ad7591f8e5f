import type { Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

import { NETWORKS } from "../config/networks";
import { DripFeedClient } from "../sdk/client";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";

/** What every task needs: the client bound to the chosen account. */
export interface TaskContext {
  client: DripFeedClient;
  signer: Signer;
  account: string;
}

/** `--from <index|address>` among the network's accounts (default: the first). */
export async function selectSigner(hre: HardhatRuntimeEnvironment, from?: string): Promise<Signer> {
  const signers = await hre.ethers.getSigners();
  if (signers.length === 0) {
    throw new DripFeedError("INVALID_ARGUMENT", `network ${hre.network.name} has no accounts configured`);
  }
  if (from === undefined || from === "") return signers[0];
  if (/^\d+$/.test(from)) {
    const signer = signers[Number(from)];
    if (!signer) {
      throw new DripFeedError(
        "INVALID_ARGUMENT",
        `--from ${from}: network ${hre.network.name} has ${signers.length} accounts (0..${signers.length - 1})`,
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
      `--from ${address} is not one of network ${hre.network.name}'s accounts`,
      "from",
    );
  }
  return signer;
}

/** The hardhat-deploy address of DripFeed (on the in-process network, deployed on the fly). */
export async function dripFeedDeployment(
  hre: HardhatRuntimeEnvironment,
): Promise<{ address: string; blockNumber: number }> {
  if (hre.network.name === "hardhat") await hre.deployments.fixture(["local"]);
  const deployment = await hre.deployments.getOrNull("DripFeed");
  if (!deployment) {
    throw new DripFeedError(
      "NOT_DEPLOYED",
      `DripFeed is not deployed on network ${hre.network.name}: run npx hardhat deploy --network ${hre.network.name}`,
    );
  }
  return { address: deployment.address, blockNumber: deployment.receipt?.blockNumber ?? 0 };
}

export async function taskContext(hre: HardhatRuntimeEnvironment, from?: string): Promise<TaskContext> {
  const signer = await selectSigner(hre, from);
  const { address, blockNumber } = await dripFeedDeployment(hre);
  const client = await DripFeedClient.connect(address, signer, { fromBlock: blockNumber });
  return { client, signer, account: await signer.getAddress() };
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
