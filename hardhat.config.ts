// The plugins of @nomicfoundation/hardhat-toolbox this project uses, imported one by one: the toolbox also loads
// Ignition and the gas reporter, which cost every \`npx hardhat dripfeed …\` start-up about 0.6 s.
import "@nomicfoundation/hardhat-chai-matchers";
import "@nomicfoundation/hardhat-ethers";
import "@nomicfoundation/hardhat-verify";
import "@typechain/hardhat";
import "solidity-coverage";
import "hardhat-deploy";
import { subtask } from "hardhat/config";
import type { HardhatUserConfig } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { NetworkUserConfig } from "hardhat/types";

import { NETWORKS } from "./scripts/config/networks";
import { checkNetworkSelection, keyEnvFor, selectedTask } from "./scripts/config/env";
import "./scripts/tasks";

// Compile with the solc that ships inside the npm `solc` package: these machines cannot download compilers.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solc = require("solc") as { version(): string };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const shipped = (require("solc/package.json") as { version: string }).version;
  if (args.solcVersion !== shipped) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version(),
  };
});

// One key per role on remote networks: `deploy` signs with DEPLOYER_PRIVATE_KEY, every other command with
// DRIPFEED_PRIVATE_KEY (the requestor's, a supervisor's or a provider's own key). A network without a key has no
// accounts: read-only tasks work, and a task that must sign says which variable to set.
const signingKey = process.env[keyEnvFor(selectedTask(process.argv))];
const remoteNetworks: Record<string, NetworkUserConfig> = {};
for (const [name, facts] of Object.entries(NETWORKS)) {
  if (!facts.rpcUrlEnv) continue;
  const key = signingKey;
  remoteNetworks[name] = {
    url: process.env[facts.rpcUrlEnv] ?? "http://127.0.0.1:0",
    chainId: facts.chainId,
    accounts: key ? [key] : [],
  };
}

const SOLC_VERSION = "0.8.30";
const SOLC_SETTINGS = { evmVersion: "cancun", optimizer: { enabled: true, runs: 10_000 } };

// DripFeed itself goes through the IR pipeline: it inlines the internal calls of settle/claim/open (about 2,000 gas
// per settle, see bench/README.md). Only that file, so the tokens and test contracts, and with them the bench's
// baseline transfer, keep the ordinary pipeline. It is optimized for 1,000,000 runs: a singleton deployed once per
// chain pays for its bytecode once and for its code on every settlement (-60 to -110 gas on the hot paths; 17.6 kB).

const networks = {
  // The block gas limit at the EIP-7825 per-transaction cap (2^24): above it Hardhat's gas estimator gives up on a
  // transaction that needs far more gas than it uses, such as a one-item settleBatch (ITEM_CALL_GAS in reserve),
  // and a relay's estimate fails. No transaction may use more than the cap anyway. Applies to `hardhat node` too.
  hardhat: { blockGasLimit: 16_777_216 },
  localhost: { url: process.env.LOCALHOST_RPC_URL ?? "http://127.0.0.1:8545" },
  ...remoteNetworks,
};

// Fail with one clear line (an unknown network name, or a missing variable, named) before Hardhat starts.
checkNetworkSelection(process.argv, process.env, Object.keys(networks));

const config: HardhatUserConfig = {
  solidity: {
    compilers: [{ version: SOLC_VERSION, settings: SOLC_SETTINGS }],
    overrides: {
      "contracts/DripFeed.sol": {
        version: SOLC_VERSION,
        settings: { ...SOLC_SETTINGS, optimizer: { enabled: true, runs: 1_000_000 }, viaIR: true },
      },
    },
  },
  networks,
  namedAccounts: {
    deployer: { default: 0 },
  },
  etherscan: {
    apiKey: process.env.ETHERSCAN_API_KEY ?? "",
  },
  sourcify: { enabled: false },
  typechain: {
    outDir: "typechain-types",
    target: "ethers-v6",
  },
  mocha: {
    timeout: 120_000,
    // \`npm test\` runs test files two at a time (hardhat test --parallel): most of the suite's wall time is spent
    // waiting on child processes (hardhat node, the relay, CLI tasks), and each file deploys to a node of its own.
    jobs: 2,
  },
};

export default config;
