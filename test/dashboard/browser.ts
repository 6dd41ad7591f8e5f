import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { type BrowserContext, chromium } from "playwright-core";

import { ROOT } from "../tasks/harness";

/**
 * The real browser for the dashboard tests: Debian's headless `chromium` driven by playwright-core (no browser
 * download), with a fresh profile each run, and the dashboard task itself as a child process.
 */

export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where each page's screenshot goes for people to look at (gitignored). */
export const OUTPUT_DIR = path.join(ROOT, "test-results", "dashboard");

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Chromium, or why not: without it the test fails with the command that installs it. Only outside CI, and only
 * when DRIPFEED_SKIP_BROWSER=1 says so, is it skipped (with a warning) instead.
 */
export async function launchChromium(
  test: Pick<Mocha.Context, "skip">,
  { executable = CHROMIUM, env = process.env, warn = console.warn } = {},
): Promise<Browser> {
  if (!existsSync(executable)) {
    const how = `${executable} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`;
    if (env.DRIPFEED_SKIP_BROWSER === "1" && !env.CI) {
      warn(`    WARNING: dashboard browser test skipped (DRIPFEED_SKIP_BROWSER=1): ${how}`);
      test.skip();
    }
    throw new Error(`the dashboard browser test needs headless Chromium: ${how}`);
  }
  const profile = mkdtempSync(path.join(tmpdir(), "dripfeed-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1500, height: 1000 },
  });
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli", { paths: [ROOT] });

export interface DashboardProcess {
  url: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `hardhat --network localhost dripfeed dashboard <flags>` against `rpcUrl`; resolves once it prints its URL. */
export async function startDashboardTask(rpcUrl: string, flags: string[]): Promise<DashboardProcess> {
  const child = spawn(process.execPath, [HARDHAT_CLI, "--network", "localhost", "dripfeed", "dashboard", ...flags], {
    cwd: ROOT,
    env: { ...process.env, LOCALHOST_RPC_URL: rpcUrl, TS_NODE_TRANSPILE_ONLY: "true", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dashboard did not start in time:\n${output}`)), 90_000);
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /dashboard: (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the dashboard exited (${code}) before listening:\n${output}`));
    });
  }).catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  return { url, process: child, output: () => output, stop };
}
