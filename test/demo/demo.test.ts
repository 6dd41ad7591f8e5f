import { spawn } from "node:child_process";
import path from "node:path";

import { expect } from "chai";

const ROOT = path.resolve(__dirname, "../..");

describe("npm start (scripts/demo/index.ts)", function () {
  this.timeout(120_000);

  it("runs green: the reconciliation adds up against on-chain balances", async () => {
    // `hardhat test` has compiled already; the demo runs on its own embedded Hardhat network.
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" };
    delete env.HARDHAT_NETWORK;
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const child = spawn(
          path.join(ROOT, "node_modules/.bin/hardhat"),
          ["run", "--no-compile", "scripts/demo/index.ts"],
          { cwd: ROOT, env },
        );
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        child.on("error", reject);
        child.on("close", (exit) => resolve({ code: exit, stdout: out, stderr: err }));
      },
    );
    expect(code, stderr + stdout).to.equal(0);
    expect(stdout).to.match(/reconciliation OK/);
    expect(stdout).to.match(/relay +listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).to.match(/relay +settleBatch via HTTP: provider-\d total [\d.]+ GLM -> paid [\d.]+ GLM/);
    expect(stdout).to.match(/provider-3 +claims .* with nobody online/);
    expect(stdout).to.match(/dripping out at the cap/);
    expect(stdout).to.match(/paid \+ withdrawn \+ in pool +│ 40 GLM +│ = funded/);
  });
});
