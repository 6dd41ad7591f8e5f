import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../helpers/net";

export { freePort };

/** The repository root and its Hardhat binary (what `npx hardhat` runs, without npm's own warnings on stderr). */
export const ROOT = path.resolve(__dirname, "../..");
const HARDHAT = path.join(ROOT, "node_modules", ".bin", "hardhat");

/**
 * A private hardhat-deploy folder for this test run: a wrapper config (in a temp dir) imports the project's config
 * and changes only `paths.deployments` (and, when asked, the in-process chain's id, for a node that pretends to be
 * another chain), so concurrent runs on other nodes never overwrite `deployments/localhost`. Every child gets
 * `--config <wrapper>`; everything else is the project's own configuration.
 */
export function isolatedConfig(options: { chainId?: number } = {}): {
  dir: string;
  config: string;
  deployments: string;
} {
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-hh-"));
  const config = path.join(dir, "hardhat.config.ts");
  const deployments = path.join(dir, "deployments");
  const networks =
    options.chainId === undefined
      ? ""
      : `, networks: { ...config.networks, hardhat: { ...config.networks?.hardhat, chainId: ${options.chainId} } }`;
  writeFileSync(
    config,
    [
      `import config from ${JSON.stringify(path.join(ROOT, "hardhat.config"))};`,
      `export default { ...config${networks}, paths: { ...config.paths, root: ${JSON.stringify(ROOT)}, deployments: ${JSON.stringify(deployments)} } };`,
      "",
    ].join("\n"),
  );
  return { dir, config, deployments };
}

export const ISOLATED = isolatedConfig();

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The variables a person's shell may hold that would change what a child does: every child starts without them. */
const ROLE_VARIABLES = ["HARDHAT_NETWORK", "DRIPFEED_PRIVATE_KEY", "DEPLOYER_PRIVATE_KEY", "SEPOLIA_RPC_URL"];

export interface RunOptions {
  timeoutMs?: number;
  /** Variables to set for this child (after the role variables are removed). */
  env?: NodeJS.ProcessEnv;
  /** The wrapper config to run with (default: ISOLATED). */
  config?: string;
}

/** Runs `hardhat <args>` as a child process against the test node. */
/** A running `hardhat` child: its output so far, and its end. */
export interface RunningHardhat {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  done: Promise<RunResult>;
}

/** Starts `hardhat <args>` as a child process against the test node (for long-running tasks such as `watch`). */
export function spawnHardhat(args: string[], rpcUrl: string, options: RunOptions = {}): RunningHardhat {
  const env: NodeJS.ProcessEnv = { ...process.env, LOCALHOST_RPC_URL: rpcUrl, FORCE_COLOR: "0" };
  for (const name of ROLE_VARIABLES) delete env[name];
  Object.assign(env, options.env);
  const child = spawn(HARDHAT, ["--config", options.config ?? ISOLATED.config, ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

/** Runs `hardhat <args>` as a child process against the test node, killing it after the timeout. */
export async function hardhat(
  args: string[],
  rpcUrl: string,
  timeoutMs = 240_000,
  options: RunOptions = {},
): Promise<RunResult> {
  const running = spawnHardhat(args, rpcUrl, options);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      running.child.kill("SIGKILL");
      reject(new Error(`hardhat ${args.join(" ")} timed out`));
    }, options.timeoutMs ?? timeoutMs);
  });
  try {
    return await Promise.race([running.done, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `hardhat --network localhost dripfeed <task> ...` */
export function dripfeed(rpcUrl: string, task: string, ...flags: string[]): Promise<RunResult> {
  return hardhat(["--network", "localhost", "dripfeed", task, ...flags], rpcUrl);
}

async function chainIdAnswers(rpcUrl: string): Promise<boolean> {
  try {
    const response = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    return response.ok && typeof ((await response.json()) as { result?: unknown }).result === "string";
  } catch {
    return false;
  }
}

/** A `hardhat node` on a free port, ready (eth_chainId answers), to be stopped with `stop()`. */
export interface TestNode {
  rpcUrl: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `hardhat node` on a free port; `config` (a wrapper from `isolatedConfig`) can give it another chain id. */
export async function startNode(timeoutMs = 120_000, config?: string): Promise<TestNode> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const configArgs = config ? ["--config", config] : [];
  const child: ChildProcess = spawn(HARDHAT, [...configArgs, "node", "--port", String(port), "--no-deploy"], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: "0" },
    stdio: "ignore",
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start hardhat node");
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(pid, "SIGTERM");
    const killer = setTimeout(() => child.exitCode === null && process.kill(pid, "SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await chainIdAnswers(rpcUrl))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`hardhat node on port ${port} did not become ready`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { rpcUrl, pid, stop };
}

/** Runs `fn` over `items` with at most `limit` at once (hardhat processes are CPU-heavy). */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
