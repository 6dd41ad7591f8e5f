import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import {
  HDNodeWallet,
  JsonRpcProvider,
  Wallet,
  encodeBytes32String,
  hexlify,
  keccak256,
  randomBytes,
  toUtf8Bytes,
} from "ethers";

import { DripFeed__factory, GasGriefToken__factory, MockGLM__factory } from "../../typechain-types";
import type { DripFeed, MockGLM } from "../../typechain-types";
import { AcceptanceHasher } from "../../scripts/relay/verifier";
import type { SignedAcceptanceJson } from "../../scripts/sdk/acceptance";
import { signAcceptance, toAcceptanceJson } from "../../scripts/sdk/acceptance";
import { freePort } from "../helpers/net";
import { isolatedConfig } from "../tasks/harness";

export { freePort };

/**
 * Real processes for the relay tests: a `hardhat node` on a free port, `hardhat deploy` against it, and the relay
 * started as `hardhat --network localhost dripfeed relay` (the local Hardhat CLI run by node directly, which is what
 * `npx hardhat` runs, so each child is one PID we can SIGKILL). Everything started is registered and stopped by
 * `stopAll()` in an after hook.
 */

export const ROOT = path.resolve(__dirname, "..", "..");
const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli", { paths: [ROOT] });
const MNEMONIC = "test test test test test test test test test test test junk";
const started = new Set<ChildProcess>();

export function hardhatAccount(index: number, provider: JsonRpcProvider): HDNodeWallet {
  return HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider);
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(everyMs);
  }
}

/** Starts `node argv...` from the project root, appends its output to `logFile` and registers it for `stopAll`. */
function spawnTracked(argv: string[], env: NodeJS.ProcessEnv, logFile?: string): ChildProcess {
  const child = spawn(process.execPath, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const sink = logFile ? createWriteStream(logFile, { flags: "a" }) : undefined;
  child.stdout?.on("data", (chunk: Buffer) => sink?.write(chunk));
  child.stderr?.on("data", (chunk: Buffer) => sink?.write(chunk));
  child.on("exit", () => {
    started.delete(child);
    sink?.end();
  });
  started.add(child);
  return child;
}

function hardhat(args: string[], env: NodeJS.ProcessEnv, logFile?: string, nodeArgs: string[] = []): ChildProcess {
  return spawnTracked([...nodeArgs, HARDHAT_CLI, ...args], { TS_NODE_TRANSPILE_ONLY: "true", ...env }, logFile);
}

/** Kills one child we started (by its PID) and waits for it to be gone. */
export async function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  if (child.pid !== undefined) process.kill(child.pid, signal);
  return exited;
}

/** Stops everything this test process started; removes `dir` (logs, databases) unless KEEP_RELAY_LOGS=1. */
export async function stopAll(dir?: string): Promise<void> {
  await Promise.all([...started].map((child) => kill(child, "SIGKILL")));
  if (dir && process.env.KEEP_RELAY_LOGS !== "1") rmSync(dir, { recursive: true, force: true });
}

export interface Node {
  process: ChildProcess;
  url: string;
  provider: JsonRpcProvider;
  dripFeed: string;
}

/** Starts `hardhat node` on a free port, waits for eth_chainId, and deploys with `hardhat deploy --network localhost`. */
export async function startNodeAndDeploy(logDir: string): Promise<Node> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = hardhat(["node", "--no-deploy", "--port", String(port)], {}, path.join(logDir, "node.log"));
  const provider = new JsonRpcProvider(url, 31337, { staticNetwork: true, batchStallTime: 0, cacheTimeout: -1 });
  await waitFor("hardhat node", async () => ((await provider.send("eth_chainId", [])) ? true : undefined), 60_000, 200);
  // A deployments folder of its own (test/tasks/harness.ts): test files running side by side deploy to other nodes.
  const isolated = isolatedConfig();
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [HARDHAT_CLI, "--config", isolated.config, "deploy", "--network", "localhost", "--no-compile"],
    {
      cwd: ROOT,
      env: { ...process.env, LOCALHOST_RPC_URL: url, TS_NODE_TRANSPILE_ONLY: "true" },
    },
  );
  const match =
    /deploying "DripFeed"[^\n]*deployed at (0x[0-9a-fA-F]{40})|reusing "DripFeed" at (0x[0-9a-fA-F]{40})/.exec(stdout);
  const dripFeed =
    match?.[1] ??
    match?.[2] ??
    (
      JSON.parse(readFileSync(path.join(isolated.deployments, "localhost", "DripFeed.json"), "utf8")) as {
        address: string;
      }
    ).address;
  if ((await provider.getCode(dripFeed)) === "0x") throw new Error(`DripFeed not deployed at ${dripFeed}: ${stdout}`);
  return { process: child, url, provider, dripFeed };
}

export interface RelayProcess {
  process: ChildProcess;
  url: string;
  port: number;
  exited: Promise<number | null>;
}

export interface RelayStartOptions {
  db: string;
  port?: number;
  batchSize?: number;
  maxWait?: number;
  /** --max-hold; "0" unless given (the tests of immediate settlement), e.g. "1h" for the schedule's default. */
  maxHold?: string;
  settleMargin?: string;
  minValue?: string;
  /** --poll-interval in ms (200 unless given, so chain events are seen quickly). */
  pollInterval?: number;
  /** --tx-timeout, e.g. "2s" (the relay's 90s unless given). */
  txTimeout?: string;
  /** --retain, e.g. "30d" (the relay keeps everything unless given). */
  retain?: string;
  /** The submitting key (DRIPFEED_RELAY_KEY); Hardhat account 0 unless given. */
  key?: string;
  /** The JSON-RPC URL the relay uses (default: the node's; e.g. a proxy that can be cut). */
  rpcUrl?: string;
  env?: NodeJS.ProcessEnv;
  logFile?: string;
  /** Do not wait for /healthz (e.g. when the relay is expected to crash early). */
  noWait?: boolean;
  /** Extra node flags for the relay process (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Run scripts/relay/main.ts (no Hardhat in the process) instead of the Hardhat task. */
  standalone?: boolean;
}

/** `hardhat --network localhost dripfeed relay ...` as a child process; resolves once /healthz answers. */
export async function startRelay(node: Node, options: RelayStartOptions): Promise<RelayProcess> {
  const port = options.port ?? (await freePort());
  // --contract: the address this node got; the shared deployments/localhost folder may be rewritten meanwhile.
  const args = [
    "--network",
    "localhost",
    "dripfeed",
    "relay",
    "--port",
    String(port),
    "--db",
    options.db,
    "--contract",
    node.dripFeed,
  ];
  args.push(...scheduleArgs(options));
  const keyEnv = options.key ? { DRIPFEED_RELAY_KEY: options.key } : {};
  const child = options.standalone
    ? standaloneRelay(node, port, options)
    : hardhat(
        args,
        { LOCALHOST_RPC_URL: options.rpcUrl ?? node.url, ...keyEnv, ...options.env },
        options.logFile,
        options.nodeArgs,
      );
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  if (!options.noWait) {
    await waitFor(
      "relay /healthz",
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`relay exited (${child.exitCode ?? child.signalCode})`);
        const response = await fetch(`${url}/healthz`);
        return response.ok ? true : undefined;
      },
      60_000,
      100,
    );
  }
  return { process: child, url, port, exited };
}

/** The flags both launchers share: batching and the settlement schedule. */
function scheduleArgs(options: RelayStartOptions): string[] {
  const args = ["--max-hold", options.maxHold ?? "0", "--poll-interval", String(options.pollInterval ?? 200)];
  if (options.batchSize !== undefined) args.push("--batch-size", String(options.batchSize));
  if (options.maxWait !== undefined) args.push("--max-wait", String(options.maxWait));
  if (options.settleMargin !== undefined) args.push("--settle-margin", options.settleMargin);
  if (options.minValue !== undefined) args.push("--min-value", options.minValue);
  if (options.txTimeout !== undefined) args.push("--tx-timeout", options.txTimeout);
  if (options.retain !== undefined) args.push("--retain", options.retain);
  return args;
}

/** The relay without Hardhat: `ts-node scripts/relay/main.ts`, submitting from Hardhat account 0 (or `key`). */
function standaloneRelay(node: Node, port: number, options: RelayStartOptions): ChildProcess {
  const args = [
    "--rpc-url",
    options.rpcUrl ?? node.url,
    "--contract",
    node.dripFeed,
    "--port",
    String(port),
    "--db",
    options.db,
  ];
  args.push(...scheduleArgs(options));
  const key = options.key ?? HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/0").privateKey;
  return spawnTracked(
    [
      ...(options.nodeArgs ?? []),
      "-r",
      "ts-node/register/transpile-only",
      path.join(ROOT, "scripts", "relay", "main.ts"),
      ...args,
    ],
    { DRIPFEED_RELAY_KEY: key, ...options.env },
    options.logFile,
  );
}

export interface Fixture {
  dripFeed: DripFeed;
  token: MockGLM;
  owner: HDNodeWallet;
  grantee: Wallet | HDNodeWallet;
  poolId: string;
  agreements: { id: string; provider: string }[];
  chainId: bigint;
}

const TERMS = {
  budget: 10n ** 30n,
  upfront: 0n,
  maxRate: 0n,
  streamRate: 0n,
  debitNoteInterval: 120,
  paymentTimeout: 3600,
};

export interface PoolOptions {
  /** "grief": the pool's token is a GasGriefToken (burns all gas on transfers to its victim, once one is set). */
  token?: "mock" | "grief";
  /** The provider of every agreement (default: a new random address each). */
  provider?: string;
}

/**
 * A funded pool owned by Hardhat account `ownerIndex` (never account 0: that one is the relay's), an ACCEPT
 * grantee, and `count` agreements with no rate cap, so a provider's balance equals the accepted total.
 */
export async function setupPool(
  node: Node,
  count: number,
  ownerIndex = 1,
  options: PoolOptions = {},
): Promise<Fixture> {
  const owner = hardhatAccount(ownerIndex, node.provider);
  const deployed =
    options.token === "grief"
      ? await new GasGriefToken__factory(owner).deploy()
      : await new MockGLM__factory(owner).deploy();
  await deployed.waitForDeployment();
  // A GasGriefToken has MockGLM's mint, approve and balanceOf.
  const token = MockGLM__factory.connect(await deployed.getAddress(), owner);
  const dripFeed = DripFeed__factory.connect(node.dripFeed, owner);
  const salt = encodeBytes32String(`relay-test-${Date.now()}-${Math.random()}`.slice(0, 31));
  await (await dripFeed.createPool(await token.getAddress(), salt)).wait();
  const poolId = await dripFeed.poolIdOf(owner.address, salt);
  const funding = TERMS.budget * BigInt(count);
  await (await token.mint(owner.address, funding)).wait();
  await (await token.approve(node.dripFeed, funding)).wait();
  await (await dripFeed.fund(poolId, funding)).wait();
  const grantee = Wallet.createRandom().connect(node.provider);
  const { timestamp } = (await node.provider.getBlock("latest"))!;
  await (await dripFeed.setGrant(poolId, grantee.address, 1, timestamp + 24 * 3600, 0, 0)).wait();

  const agreements: { id: string; provider: string }[] = [];
  const calls: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = hexlify(randomBytes(32));
    const provider = options.provider ?? Wallet.createRandom().address;
    agreements.push({ id, provider });
    calls.push(dripFeed.interface.encodeFunctionData("openAgreement", [poolId, id, provider, TERMS]));
  }
  for (let i = 0; i < calls.length; i += 40) {
    await (await dripFeed.multicall(calls.slice(i, i + 40))).wait();
  }
  const chainId = (await node.provider.getNetwork()).chainId;
  return { dripFeed, token, owner, grantee, poolId, agreements, chainId };
}

interface NativeSigner {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}
let nativeSigner: NativeSigner | undefined;
try {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  nativeSigner = require("secp256k1/bindings") as NativeSigner;
} catch {
  nativeSigner = undefined;
}

/** One EIP-712 hasher per domain (its domain separator is computed once). */
const hashers = new Map<string, AcceptanceHasher>();

/** Signs an acceptance JSON; with libsecp256k1 when present (ethers' JS signer takes ~3 ms, too slow for floods). */
export async function signJson(
  fixture: Fixture,
  signer: Wallet | HDNodeWallet,
  agreementId: string,
  total: bigint,
  options: { deadline?: number; debitNote?: string } = {},
): Promise<SignedAcceptanceJson> {
  const domain = { chainId: fixture.chainId, verifyingContract: await fixture.dripFeed.getAddress() };
  const acceptance = {
    poolId: fixture.poolId,
    agreementId,
    debitNoteId: keccak256(toUtf8Bytes(options.debitNote ?? `dn-${agreementId.slice(2, 10)}-${total}`)),
    totalAccepted: total,
    deadline: BigInt(options.deadline ?? Math.floor(Date.now() / 1000) + 2 * 86_400),
  };
  if (!nativeSigner) return toAcceptanceJson(await signAcceptance(signer, domain, acceptance));
  const hasherKey = `${domain.chainId}:${domain.verifyingContract}`;
  let hasher = hashers.get(hasherKey);
  if (!hasher) hashers.set(hasherKey, (hasher = new AcceptanceHasher(domain.chainId, domain.verifyingContract)));
  const digest = hasher.digest({
    ...acceptance,
    ...domain,
    signer: signer.address,
    signature: "0x",
  });
  const out = nativeSigner.ecdsaSign(digest, Buffer.from(signer.privateKey.slice(2), "hex"));
  const signature = `0x${Buffer.from(out.signature).toString("hex")}${(out.recid + 27).toString(16)}`;
  return toAcceptanceJson({ ...acceptance, ...domain, signer: signer.address, signature });
}

export interface PostResult {
  status: number;
  body: { id?: string; status?: string; error?: { code: string; message: string; field?: string } };
}

export async function post(relayUrl: string, body: unknown, raw = false): Promise<PostResult> {
  const response = await fetch(`${relayUrl}/v1/acceptances`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: PostResult["body"] = {};
  try {
    parsed = JSON.parse(text) as PostResult["body"];
  } catch {
    parsed = { error: { code: "NOT_JSON", message: text } };
  }
  return { status: response.status, body: parsed };
}

export async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await fetch(url);
  return { status: response.status, body: (await response.json()) as T };
}

export interface AcceptanceStatusView {
  id: string;
  status: string;
  txHash: string | null;
  paid: string | null;
  reason: string | null;
  totalAccepted: string;
  agreementId: string;
  attempts: number;
  dueAt: string | null;
  dueReason: string | null;
  quarantine: string | null;
}

export async function acceptance(relayUrl: string, id: string): Promise<AcceptanceStatusView> {
  const { status, body } = await getJson<AcceptanceStatusView>(`${relayUrl}/v1/acceptances/${id}`);
  if (status !== 200) throw new Error(`GET /v1/acceptances/${id}: ${status}`);
  return body;
}

/** Waits until none of the ids is queued or submitted; returns their final views. */
export async function waitSettled(
  relayUrl: string,
  ids: string[],
  timeoutMs = 60_000,
): Promise<Map<string, AcceptanceStatusView>> {
  const views = new Map<string, AcceptanceStatusView>();
  await waitFor(
    "all acceptances to reach a final status",
    async () => {
      for (const id of ids) {
        const prior = views.get(id);
        if (prior && !["queued", "submitted"].includes(prior.status)) continue;
        const { status, body } = await getJson<AcceptanceStatusView>(`${relayUrl}/v1/acceptances/${id}`);
        if (status !== 200) throw new Error(`GET ${id}: ${status}`);
        views.set(id, body);
        if (["queued", "submitted"].includes(body.status)) return undefined;
      }
      return true;
    },
    timeoutMs,
    200,
  );
  return views;
}

/** The sum of a Prometheus metric's samples on the relay's /metrics (those with `labels`, when given). */
export async function metric(relayUrl: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${relayUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const matches = labels
      ? line.startsWith(`${name}{${labels}} `)
      : line.startsWith(`${name} `) || line.startsWith(`${name}{`);
    if (matches) sum += Number(line.split(" ").pop());
  }
  return sum;
}

export interface HealthView {
  status: "ok" | "degraded" | "draining";
  problems: { code: string; message: string }[];
  queued: number;
  submitted: number;
  block: number | null;
  agreements: { due: number; held: number };
  quarantined: { lane: string; reason: string; strikes: number }[];
}

export async function health(relayUrl: string): Promise<HealthView> {
  return (await getJson<HealthView>(`${relayUrl}/healthz`)).body;
}

/** Waits until the relay has seen the node's latest block (its clock follows block time on a test chain). */
export async function waitSynced(relayUrl: string, provider: JsonRpcProvider): Promise<void> {
  const latest = await provider.getBlockNumber();
  await waitFor("the relay to see the latest block", async () =>
    ((await health(relayUrl)).block ?? -1) >= latest ? true : undefined,
  );
}
