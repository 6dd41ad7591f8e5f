/**
 * Where forge is and how to run it. `@foundry-rs/forge` (a devDependency) installs the binary for this platform as
 * an optional dependency; calling it directly skips the npm wrapper's start-up. Everything else forge needs is in
 * foundry.toml (the solc wrapper, offline mode, its own output folders).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "linux-amd64",
  "linux-arm64": "linux-arm64",
  "darwin-x64": "darwin-amd64",
  "darwin-arm64": "darwin-arm64",
  "win32-x64": "win32-amd64",
};

/** The forge binary of this platform, else the npm wrapper (which finds it itself or explains why not). */
export function forgeBinary(root: string): string {
  const suffix = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (suffix !== undefined) {
    try {
      const packageJson = require.resolve(`@foundry-rs/forge-${suffix}/package.json`, { paths: [root] });
      const binary = path.join(path.dirname(packageJson), "bin", process.platform === "win32" ? "forge.exe" : "forge");
      if (existsSync(binary)) return binary;
    } catch {
      // Not installed for this platform: fall through to the wrapper.
    }
  }
  return path.join(root, "node_modules", ".bin", "forge");
}

export interface ForgeRun {
  code: number;
  output: string;
  seconds: number;
}

/** Runs forge in `cwd`, echoing its output when `echo` is set, and returns the exit code and the whole output. */
export function runForge(
  root: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; echo?: boolean } = {},
): Promise<ForgeRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(forgeBinary(root), args, {
      cwd: options.cwd ?? root,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (chunk: Buffer): void => {
      output += chunk.toString();
      if (options.echo) process.stdout.write(chunk);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, output, seconds: (Date.now() - started) / 1000 }));
  });
}
