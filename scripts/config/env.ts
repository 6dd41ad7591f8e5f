import { DEPLOYER_KEY_ENV, NETWORKS } from "./networks";

/** The network named on the command line (`--network x`, `--network=x`) or in HARDHAT_NETWORK. */
export function selectedNetwork(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--network") return argv[i + 1];
    if (arg.startsWith("--network=")) return arg.slice("--network=".length);
  }
  return env.HARDHAT_NETWORK;
}

/** The variables a remote network needs that are not set (empty for local networks). */
export function missingNetworkEnv(network: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const facts = network ? NETWORKS[network] : undefined;
  if (!facts?.rpcUrlEnv) return [];
  return [facts.rpcUrlEnv, DEPLOYER_KEY_ENV].filter((name) => !env[name]);
}

/**
 * Exits with one line naming the missing variables when a remote network is selected without its RPC URL or
 * deployer key, instead of letting Hardhat fail later with a stack trace.
 */
export function requireRemoteNetworkEnv(argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const network = selectedNetwork(argv, env);
  const missing = missingNetworkEnv(network, env);
  if (missing.length === 0) return;
  process.stderr.write(
    `error: network "${network}" needs ${missing.join(" and ")} in the environment (see README, "Deploying to a testnet")\n`,
  );
  process.exit(1);
}
