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
    // the supervisor is the acceptor daemon following the requestor's yagna (a stand-in), handing to the relay
    expect(stdout).to.match(/relay +listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).to.match(/supervisor +acceptor daemon following yagna at http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).to.match(
      /supervisor +accepted provider-1's note [0-9a-f]{8}… \(due 0\.25 GLM\) -> signed agreement total 0\.25 GLM, accepted in yagna/,
    );
    expect(stdout).to.match(
      /relay +settleBatch 0x[0-9a-f]{8}… via HTTP: provider-\d total [\d.]+ GLM -> paid [\d.]+ GLM/,
    );
    expect(stdout).to.match(/supervisor +refused a stranger's note [0-9a-f]{8}… \[rule payee\]/);
    expect(stdout).to.match(
      /supervisor +left another job's note [0-9a-f]{8}… alone: its agreement is not in this pool/,
    );
    expect(stdout).to.match(/accepted 15 notes in yagna too, each for exactly its totalAmountDue/);
    expect(stdout).not.to.match(/failed \(/);
    expect(stdout).to.match(/provider-3 +claims .* with nobody online/);
    expect(stdout).to.match(/dripping out at the cap/);
    expect(stdout).to.match(/paid \+ withdrawn \+ in pool +│ 40 GLM +│ = funded/);
  });
});
