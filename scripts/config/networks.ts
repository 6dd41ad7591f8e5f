/**
 * Per-network facts the deploy scripts and tasks need: where the real GLM lives, and which networks may get the
 * mock token. One place per fact: the deploy scripts, the tasks and the demo all read this file.
 */
export interface NetworkFacts {
  /** Chain id, to check that an RPC URL points where its name says. */
  chainId: number;
  /** The real GLM token, or undefined where the mock GLM is deployed instead. */
  glm?: string;
  /** Whether the open-faucet MockGLM may be deployed (never on a mainnet). */
  mockToken: boolean;
  /** Environment variable holding the RPC URL (undefined for local networks). */
  rpcUrlEnv?: string;
}

export const NETWORKS: Record<string, NetworkFacts> = {
  hardhat: { chainId: 31337, mockToken: true },
  localhost: { chainId: 31337, mockToken: true },
  sepolia: { chainId: 11155111, mockToken: true, rpcUrlEnv: "SEPOLIA_RPC_URL" },
  hoodi: { chainId: 560048, mockToken: true, rpcUrlEnv: "HOODI_RPC_URL" },
  amoy: { chainId: 80002, mockToken: true, rpcUrlEnv: "AMOY_RPC_URL" },
  polygon: {
    chainId: 137,
    glm: "0x0B220b82F3eA3B7F6d9A1D8ab58930C064A2b5Bf",
    mockToken: false,
    rpcUrlEnv: "POLYGON_RPC_URL",
  },
  mainnet: {
    chainId: 1,
    glm: "0x7DD9c5Cba05E151C895FDe1CF355C9A1D5DA6429",
    mockToken: false,
    rpcUrlEnv: "MAINNET_RPC_URL",
  },
};

/** The environment variable holding the deployer's private key on remote networks: read by `deploy` alone. */
export const DEPLOYER_KEY_ENV = "DEPLOYER_PRIVATE_KEY";

/**
 * The environment variable holding the key every other command signs with on a remote network: the requestor's,
 * a supervisor's or a provider's own key, one per role. Read-only tasks need none.
 */
export const DRIPFEED_KEY_ENV = "DRIPFEED_PRIVATE_KEY";

/** Hardhat tasks that deploy, and so sign with the deployer's key. */
export const DEPLOY_TASKS: readonly string[] = ["deploy"];
