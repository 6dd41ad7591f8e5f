import { type Provider, ZeroHash, getCreate2Address, keccak256 } from "ethers";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { DripFeedError } from "./errors";
import { requireAddress } from "./ids";
import { toDripFeedError } from "./revert";

/**
 * Where DripFeed lives on a chain. It is deployed through the deterministic CREATE2 factory (the one hardhat-deploy
 * uses, itself at the same address on every EVM chain) with a zero salt and no constructor arguments, so its address
 * is a pure function of the committed bytecode: the same on every chain, computable without a deployment record.
 */
export const CREATE2_FACTORY = "0x4e59b44847b379578588920cA78FbF26c0B4956C";
export const CREATE2_SALT = ZeroHash;

/** The address DripFeed's committed bytecode lands at through the CREATE2 factory (on any chain). */
export function dripFeedCreate2Address(initCode: string = DripFeed__factory.bytecode): string {
  return getCreate2Address(CREATE2_FACTORY, CREATE2_SALT, keccak256(initCode));
}

/** Where the address in use came from: a flag, a deployment record, or the CREATE2 computation. */
export type AddressSource = "flag" | "deployment" | "create2";

export interface ResolvedDripFeed {
  address: string;
  source: AddressSource;
  /** The first block worth searching for events (the deployment block when known, else 0). */
  fromBlock: number;
}

export interface ResolveOptions {
  /** `--contract <address>`: used as given (its code is checked when the client connects). */
  contract?: string;
  /** The local deployment record (hardhat-deploy's `deployments/<network>/DripFeed.json`), if any. */
  record?: { address: string; blockNumber?: number };
  /** Names the network in error messages ("sepolia"). */
  network: string;
}

/**
 * Picks the DripFeed address the way every task does: `--contract`, else the deployment record, else the CREATE2
 * address once it is checked to hold code. Refuses with NOT_DEPLOYED, naming what to do, when none applies.
 */
export async function resolveDripFeed(provider: Provider, options: ResolveOptions): Promise<ResolvedDripFeed> {
  if (options.contract !== undefined && options.contract.trim() !== "") {
    return { address: requireAddress(options.contract.trim(), "--contract"), source: "flag", fromBlock: 0 };
  }
  if (options.record) {
    return {
      address: requireAddress(options.record.address, "deployment record"),
      source: "deployment",
      fromBlock: options.record.blockNumber ?? 0,
    };
  }
  const address = dripFeedCreate2Address();
  let code: string;
  try {
    code = await provider.getCode(address);
  } catch (error) {
    throw toDripFeedError(error, `reading the code at ${address}`);
  }
  if (code === "0x") {
    throw new DripFeedError(
      "NOT_DEPLOYED",
      `DripFeed is not at its published address ${address} on network ${options.network} and there is no deployment record: pass --contract <address>, or deploy it (npx hardhat deploy --network ${options.network})`,
    );
  }
  return { address, source: "create2", fromBlock: 0 };
}
