import { DEPLOY_TASKS, DEPLOYER_KEY_ENV, DRIPFEED_KEY_ENV, NETWORKS } from "./networks";

/** Hardhat's global options that take a value (so the value is not mistaken for the task name). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--network", "--config", "--tsconfig", "--max-memory"]);

/** The network named on the command line (`--network x`, `--network=x`) or in HARDHAT_NETWORK. */
export function selectedNetwork(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--network") return argv[i + 1];
    if (arg.startsWith("--network=")) return arg.slice("--network=".length);
  }
  return env.HARDHAT_NETWORK;
}

/**
 * The Hardhat task on the command line: the first word after the hardhat binary that is neither a global option nor
 * its value (`hardhat --network sepolia deploy` -> "deploy"; `hardhat dripfeed status` -> "dripfeed").
 */
export function selectedTask(argv: readonly string[]): string | undefined {
  const start = argv.findIndex((arg) => /(^|[/\\])hardhat(\.js|\.cmd)?$|hardhat[/\\]internal[/\\]cli[/\\]/.test(arg));
  for (let i = start < 0 ? 2 : start + 1; i < argv.length; i++) {
    const arg = argv[i];
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith("-")) continue;
    return arg;
  }
  return undefined;
}

/** The variable holding the signing key for a task on a remote network: the deployer's for `deploy` only. */
export function keyEnvFor(task: string | undefined): string {
  return task !== undefined && DEPLOY_TASKS.includes(task) ? DEPLOYER_KEY_ENV : DRIPFEED_KEY_ENV;
}

/**
 * The variables a remote network needs before Hardhat starts: its RPC URL always, and the deployer's key for
 * `deploy` (other tasks check DRIPFEED_PRIVATE_KEY themselves when, and only when, they sign).
 */
export function missingNetworkEnv(network: string | undefined, env: NodeJS.ProcessEnv, task?: string): string[] {
  const facts = network ? NETWORKS[network] : undefined;
  if (!facts?.rpcUrlEnv) return [];
  const needed = [facts.rpcUrlEnv];
  if (keyEnvFor(task) === DEPLOYER_KEY_ENV) needed.push(DEPLOYER_KEY_ENV);
  return needed.filter((name) => !env[name]);
}

/** Edit distance, for "did you mean" on a mistyped network name. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The one line for a network name Hardhat does not know (instead of its HH100 stack trace), or undefined. */
export function unknownNetworkLine(network: string | undefined, known: readonly string[]): string | undefined {
  if (network === undefined || known.includes(network)) return undefined;
  const closest = [...known].sort((x, y) => distance(network, x) - distance(network, y))[0];
  const hint = closest !== undefined && distance(network, closest) <= 2 ? `did you mean "${closest}"? ` : "";
  return `error: unknown network "${network}": ${hint}known networks: ${known.join(", ")}`;
}

/**
 * Exits with one line before Hardhat starts when the network is unknown, or a remote network lacks its RPC URL
 * (or, for `deploy`, the deployer's key), instead of letting Hardhat fail later with a stack trace.
 */
export function checkNetworkSelection(argv: readonly string[], env: NodeJS.ProcessEnv, known: readonly string[]): void {
  const network = selectedNetwork(argv, env);
  const unknown = unknownNetworkLine(network, known);
  if (unknown) {
    process.stderr.write(`${unknown}\n`);
    process.exit(1);
  }
  const missing = missingNetworkEnv(network, env, selectedTask(argv));
  if (missing.length === 0) return;
  process.stderr.write(
    `error: network "${network}" needs ${missing.join(" and ")} in the environment (see README, "From the local demo to a testnet")\n`,
  );
  process.exit(1);
}
