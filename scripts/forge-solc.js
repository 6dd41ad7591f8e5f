#!/usr/bin/env node
// The `solc` forge runs (foundry.toml: `solc = "scripts/forge-solc.js"`): the Solidity compiler from the npm `solc`
// package behind solc's command-line interface, because these machines cannot download a native solc. Forge asks
// `--version`, then sends `--standard-json` on stdin with every source's content inside the JSON, so the path flags
// it adds (`--base-path`, `--allow-paths`, `--include-path`) are accepted and ignored: nothing is read from disk.
"use strict";

const args = process.argv.slice(2);

// Loaded lazily: `--version` should not pay for compiling the WebAssembly compiler twice.
function compiler() {
  return require("solc");
}

if (args.includes("--version")) {
  // Forge reads the semver after "Version: ".
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${compiler().version()}\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write("forge-solc.js: only --version and --standard-json (input on stdin) are supported\n");
  process.exit(2);
}

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const input = Buffer.concat(chunks).toString("utf8");
  // A missing import means forge did not send a source: report it as solc would, as an error in the output JSON.
  const findImports = (path) => ({ error: `File not found: ${path} (forge sends every source in the input)` });
  process.stdout.write(compiler().compile(input, { import: findImports }));
});
