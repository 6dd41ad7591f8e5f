import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { HDNodeWallet, JsonRpcProvider, type Wallet } from "ethers";

import { DripFeed__factory, MockGLM__factory } from "../../typechain-types";
import {
  dripFeedCreate2Address,
  dripFeedDemandProperties,
  formatAmount,
  parseAmount,
  poolIdOf,
  toRfc3339,
} from "../../scripts/sdk";
import { hardhat, isolatedConfig, type RunResult, spawnHardhat, startNode, type TestNode } from "./harness";

/**
 * The testnet rehearsal of issue 13, as each role would do it: a separate `hardhat node` pretending to be Sepolia
 * (chain id 11155111) reached through SEPOLIA_RPC_URL, one key per role in DRIPFEED_PRIVATE_KEY and the deployer's in
 * DEPLOYER_PRIVATE_KEY. The deployer deploys; the requestor (on another machine: no deployment record, so the
 * published CREATE2 address is used) creates and funds a pool, opens an agreement and grants a supervisor; the
 * supervisor accepts debit notes; the provider finds, verifies and reads the status with no key, settles, runs the
 * watcher once and claims. Every money movement is checked on every party's balance.
 */

const SEPOLIA = 11_155_111;
const GLM = { decimals: 18, symbol: "GLM" };
const units = (text: string): bigint => parseAmount(text, GLM);
const AGREEMENT = "5e".repeat(31) + "01";
const MNEMONIC = "test test test test test test test test test test test junk";
const key = (i: number): Wallet | HDNodeWallet => HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${i}`);

function expectOk(result: RunResult): void {
  expect(result.code, `stderr: ${result.stderr}\nstdout: ${result.stdout}`).to.equal(0);
}

describe("testnet rehearsal: a node pretending to be Sepolia, one key per role", function () {
  this.timeout(1_800_000);
  const deployer = key(0);
  const requestor = key(1);
  const supervisor = key(2);
  const provider = key(3);
  const nodeConfig = isolatedConfig({ chainId: SEPOLIA });
  const deployerMachine = isolatedConfig();
  const userMachine = isolatedConfig(); // requestor, supervisor and provider: no deployment record here
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-rehearsal-"));
  const file = (name: string): string => path.join(dir, name);
  let node: TestNode;
  let rpc: JsonRpcProvider;
  let poolId: string;

  /** `hardhat --network sepolia dripfeed <task>` as a role: its key (or none) and nothing else in the environment. */
  function as(role: Wallet | HDNodeWallet | undefined, args: string[]): Promise<RunResult> {
    const env: NodeJS.ProcessEnv = { SEPOLIA_RPC_URL: node.rpcUrl };
    if (role) env.DRIPFEED_PRIVATE_KEY = role.privateKey;
    return hardhat(["--network", "sepolia", "dripfeed", ...args], node.rpcUrl, 600_000, {
      env,
      config: userMachine.config,
    });
  }

  async function increaseTime(seconds: number): Promise<void> {
    await rpc.send("evm_increaseTime", [seconds]);
    await rpc.send("evm_mine", []);
  }

  function debitNote(name: string, total: string | number, at: bigint): string {
    const target = file(`${name}.json`);
    // totalAmountDue as a JSON number on purpose: a hand-written note must be read exactly, not refused.
    const note = {
      debitNoteId: name,
      issuerId: provider.address.toLowerCase(),
      recipientId: requestor.address.toLowerCase(),
      payeeAddr: provider.address.toLowerCase(),
      payerAddr: requestor.address.toLowerCase(),
      paymentPlatform: "erc20-sepolia-tglm",
      timestamp: toRfc3339(at),
      agreementId: AGREEMENT,
      activityId: "a".repeat(32),
      totalAmountDue: "TOTAL",
      status: "RECEIVED",
    };
    writeFileSync(target, JSON.stringify(note).replace('"TOTAL"', String(total)));
    return target;
  }

  before(async () => {
    node = await startNode(300_000, nodeConfig.config);
    rpc = new JsonRpcProvider(node.rpcUrl, undefined, { cacheTimeout: -1 });
    expect((await rpc.getNetwork()).chainId).to.equal(BigInt(SEPOLIA));
  });

  after(async () => {
    rpc?.destroy();
    await node?.stop();
    for (const d of [dir, nodeConfig.dir, deployerMachine.dir, userMachine.dir])
      rmSync(d, { recursive: true, force: true });
  });

  async function glm() {
    const record = path.join(deployerMachine.deployments, "sepolia", "MockGLM.json");
    const address = (JSON.parse(readFileSync(record, "utf8")) as { address: string }).address;
    return MockGLM__factory.connect(address, requestor.connect(rpc));
  }

  it("deploy needs DEPLOYER_PRIVATE_KEY (one line naming it), then lands at the published address", async () => {
    const run = (env: NodeJS.ProcessEnv) =>
      hardhat(["--network", "sepolia", "deploy", "--no-compile"], node.rpcUrl, 600_000, {
        env: { SEPOLIA_RPC_URL: node.rpcUrl, ...env },
        config: deployerMachine.config,
      });
    const missing = await run({ DRIPFEED_PRIVATE_KEY: requestor.privateKey });
    expect(missing.code).to.equal(1);
    expect(missing.stderr.trim().split("\n")).to.have.length(1);
    expect(missing.stderr).to.match(/^error: network "sepolia" needs DEPLOYER_PRIVATE_KEY/);

    expectOk(await run({ DEPLOYER_PRIVATE_KEY: deployer.privateKey }));
    const record = JSON.parse(
      readFileSync(path.join(deployerMachine.deployments, "sepolia", "DripFeed.json"), "utf8"),
    ) as { address: string };
    expect(record.address).to.equal(dripFeedCreate2Address());
    const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
    expect(readme, "README publishes the CREATE2 address").to.include(dripFeedCreate2Address());
  });

  it("a task that signs without DRIPFEED_PRIVATE_KEY says which variable to set, and sends nothing", async () => {
    const result = await as(undefined, ["pool-create", "--token", (await glm()).target as string, "--salt", "x"]);
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split("\n")).to.have.length(1);
    expect(result.stderr).to.match(/set DRIPFEED_PRIVATE_KEY .* \[MISSING_KEY\]/);
  });

  it("requestor: create and fund a pool, open an agreement, grant a supervisor (published address, own key)", async () => {
    const token = await glm();
    await (await token.mint(requestor.address, units("100"))).wait();
    poolId = poolIdOf(requestor.address, "rehearsal");
    const created = await as(requestor, ["pool-create", "--token", token.target as string, "--salt", "rehearsal"]);
    expectOk(created);
    expect(created.stdout.trim().split("\n").pop()).to.equal(poolId);
    expect(created.stderr).to.match(/waiting for confirmation/);

    const before = await token.balanceOf(requestor.address);
    expectOk(await as(requestor, ["fund", "--pool", poolId.slice(2), "--amount", "20", "--permit"]));
    expect(before - (await token.balanceOf(requestor.address))).to.equal(units("20"));
    expect(await token.balanceOf(dripFeedCreate2Address())).to.equal(units("20"));

    expectOk(
      await as(requestor, [
        "open",
        "--pool",
        poolId,
        "--agreement",
        AGREEMENT,
        "--provider",
        provider.address,
        "--budget",
        "10",
        "--max-rate",
        "3.6 GLM/h",
        "--upfront",
        "1",
        "--stream-rate",
        "3.6 GLM/h",
        "--interval",
        "120",
        "--payment-timeout",
        "1h",
      ]),
    );
    const granted = await as(requestor, [
      "grant",
      "--pool",
      poolId,
      "--grantee",
      supervisor.address,
      "--permissions",
      "accept",
      "--valid-for",
      "7d",
    ]);
    expectOk(granted);
    expect(granted.stdout).to.match(/until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  });

  it("supervisor: accepts a debit note offline with its own key (ISO deadline printed)", async () => {
    await increaseTime(300);
    const started = (
      await DripFeed__factory.connect(dripFeedCreate2Address(), rpc).getAgreement(poolId, `0x${AGREEMENT}`)
    ).startedAt;
    const block = await rpc.getBlockNumber();
    const accepted = await as(supervisor, [
      "accept",
      "--pool",
      poolId,
      "--agreement",
      `0x${AGREEMENT}`,
      "--debit-note",
      debitNote("note-1", 1.2, started + 240n),
      "--out",
      file("acceptance-1.json"),
    ]);
    expectOk(accepted);
    expect(accepted.stdout).to.match(/agreement total 1.2 GLM, valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
    expect(await rpc.getBlockNumber()).to.equal(block);
  });

  it("provider, with no key: find, verify (flags and a Golem agreement JSON) and status", async () => {
    const found = await as(undefined, ["find", "--agreement", AGREEMENT]);
    expectOk(found);
    expect(found.stdout)
      .to.include(poolId)
      .and.include(provider.address)
      .and.match(/max rate 3.6 GLM\/h/);

    const verified = await as(undefined, [
      "verify",
      "--agreement",
      AGREEMENT,
      "--provider",
      provider.address,
      "--interval",
      "2m",
      "--payment-timeout",
      "1h",
      "--min-price",
      "3 GLM/h",
      "--upfront",
      "1",
    ]);
    expectOk(verified);
    expect(verified.stdout)
      .to.match(/^ok +contract code .*byte for byte/m)
      .and.match(/^ok +eip712Domain .*chain 11155111/m)
      .and.match(/^ok +provider /m)
      .and.match(/^ok +budget locked /m)
      .and.match(new RegExp(`acceptance signers .*${supervisor.address} until`))
      .and.match(/all checks passed/);

    // What the requestor announced in the market, read back from the agreement JSON.
    const token = await glm();
    const golem = {
      agreementId: AGREEMENT,
      state: "Pending",
      demand: {
        properties: {
          "golem.com.scheme.payu.debit-note.interval-sec?": 120,
          "golem.com.scheme.payu.payment-timeout-sec?": 3600,
          "golem.com.payment.debit-notes.accept-timeout?": 240,
          "golem.com.payment.chosen-platform": "erc20-sepolia-tglm",
          ...dripFeedDemandProperties({
            contract: dripFeedCreate2Address(),
            chainId: BigInt(SEPOLIA),
            poolId,
            token: token.target as string,
          }),
        },
        constraints: "",
        demandId: "d",
        requestorId: requestor.address.toLowerCase(),
      },
      offer: {
        properties: {
          "golem.com.payment.platform.erc20-sepolia-tglm.address": provider.address.toLowerCase(),
          "golem.com.pricing.model": "linear",
          "golem.com.pricing.model.linear.coeffs": [0.0005, 0.0002, 0.5],
          "golem.com.usage.vector": ["golem.usage.cpu_sec", "golem.usage.duration_sec"],
          "golem.inf.cpu.threads": 4,
        },
        constraints: "",
        offerId: "o",
        providerId: provider.address.toLowerCase(),
      },
      validTo: "2026-12-01T00:00:00Z",
    };
    writeFileSync(file("golem-agreement.json"), JSON.stringify(golem));
    const fromJson = await as(undefined, ["verify", "--golem-agreement", file("golem-agreement.json"), "--json"]);
    // One check fails (the cap is below the offer's full-use price), so the exit status is 1 and "ok" false.
    expect(fromJson.code, fromJson.stderr).to.equal(1);
    const parsed = JSON.parse(fromJson.stdout) as { ok: boolean; checks: { name: string; status: string }[] };
    expect(parsed.ok).to.equal(false);
    const status = Object.fromEntries(parsed.checks.map((c) => [c.name, c.status]));
    // full use: (0.0002 + 0.0005 x 4) GLM/s = 7.92 GLM/h > the 3.6 GLM/h cap; start price 0.5 <= upfront 1
    expect(status).to.include({
      "contract code": "pass",
      "market properties": "pass",
      status: "pass",
      provider: "pass",
      "debit-note interval": "pass",
      "payment timeout": "pass",
      "accept timeout": "pass",
      upfront: "pass",
      "budget locked": "pass",
    });
    expect(status["rate cap"]).to.equal("fail");

    const wrong = await as(undefined, ["verify", "--agreement", AGREEMENT, "--provider", supervisor.address]);
    expect(wrong.code).to.equal(1);
    expect(wrong.stdout)
      .to.match(/^FAIL +provider .* not /m)
      .and.match(/check\(s\) FAILED/);

    const shown = await as(undefined, ["status", "--pool", poolId]);
    expectOk(shown);
    expect(shown.stdout)
      .to.match(/3.6 GLM\/h/)
      .and.match(/Active/);
    for (const line of shown.stdout.split("\n")) expect(line.length).to.be.at.most(120);
  });

  it("provider: settle with its own key pays the provider (every balance checked)", async () => {
    const token = await glm();
    const dripFeed = dripFeedCreate2Address();
    const [p0, d0] = await Promise.all([token.balanceOf(provider.address), token.balanceOf(dripFeed)]);
    const settled = await as(provider, [
      "settle",
      "--acceptance",
      file("acceptance-1.json"),
      "--provider",
      provider.address,
    ]);
    expectOk(settled);
    expect(settled.stdout).to.match(/paid 1.2 GLM to the provider/);
    expect((await token.balanceOf(provider.address)) - p0).to.equal(units("1.2"));
    expect(d0 - (await token.balanceOf(dripFeed))).to.equal(units("1.2"));
  });

  it("provider: watch --once settles a dropped acceptance worth the threshold; a second run repeats nothing", async () => {
    const token = await glm();
    const dripFeed = DripFeed__factory.connect(dripFeedCreate2Address(), rpc);
    await increaseTime(600);
    const started = (await dripFeed.getAgreement(poolId, `0x${AGREEMENT}`)).startedAt;
    const inbox = file("inbox");
    mkdirSync(inbox);
    expectOk(
      await as(supervisor, [
        "accept",
        "--pool",
        poolId,
        "--agreement",
        AGREEMENT,
        "--debit-note",
        debitNote("note-2", "1.8", started + 840n),
        "--out",
        path.join(inbox, "acceptance-2.json"),
      ]),
    );
    const watch = ["watch", "--provider", provider.address, "--state", file("watch.sqlite"), "--acceptances", inbox];
    const [p0, a0] = await Promise.all([
      token.balanceOf(provider.address),
      dripFeed.getAgreement(poolId, `0x${AGREEMENT}`),
    ]);
    const once = await as(provider, [...watch, "--once", "--min-claim", "0.5", "--json"]);
    expectOk(once);
    const events = once.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; paid?: string });
    const settled = events.find((e) => e.event === "settled");
    expect(settled, once.stdout).to.not.equal(undefined);
    const a1 = await dripFeed.getAgreement(poolId, `0x${AGREEMENT}`);
    expect(a1.acceptedTotal).to.equal(units("1.8"));
    const paid = (await token.balanceOf(provider.address)) - p0;
    expect(paid).to.equal(a1.paid - a0.paid);
    expect(paid).to.equal(units("0.6")); // 1.8 accepted, 1.2 paid before; the cap (1 + 0.001 GLM/s x ~900 s) allows it
    expect(settled?.paid).to.equal(formatAmount(paid, GLM));

    const again = await as(provider, [...watch, "--once"]);
    expectOk(again);
    expect(again.stdout)
      .to.match(/aaaa|5e5e5e5e/)
      .and.match(/Active/);
    expect((await dripFeed.getAgreement(poolId, `0x${AGREEMENT}`)).paid).to.equal(a1.paid);
  });

  it("provider: watch as a daemon holds its state file alone and stops cleanly on SIGTERM", async () => {
    const state = file("watch.sqlite");
    const daemon = spawnHardhat(
      [
        "--network",
        "sepolia",
        "dripfeed",
        "watch",
        "--provider",
        provider.address,
        "--state",
        state,
        "--poll",
        "2s",
      ].concat(["--no-claim", "--json"]),
      node.rpcUrl,
      { env: { SEPOLIA_RPC_URL: node.rpcUrl }, config: userMachine.config },
    );
    try {
      const deadline = Date.now() + 300_000;
      while (!/"event":"agreement"/.test(daemon.output().stdout)) {
        if (Date.now() > deadline || daemon.child.exitCode !== null) {
          expect.fail(`the daemon showed no agreement: ${JSON.stringify(daemon.output())}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      const second = await as(provider, ["watch", "--provider", provider.address, "--state", state, "--once"]);
      expect(second.code).to.equal(1);
      expect(second.stderr).to.match(/state file .* is in use by another watcher/);
      daemon.child.kill("SIGTERM");
      const ended = await daemon.done;
      expect(ended.code, ended.stderr).to.equal(0);
      expect(ended.stderr).to.match(/stopping after the current step/);
    } finally {
      if (daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
    }
  });

  it("provider: claim pays what the stream floor added since (every balance checked)", async () => {
    const token = await glm();
    const dripFeed = DripFeed__factory.connect(dripFeedCreate2Address(), rpc);
    await increaseTime(1800); // the 3.6 GLM/h floor passes the 1.8 accepted after 1,800 s
    const [p0, d0, a0] = await Promise.all([
      token.balanceOf(provider.address),
      token.balanceOf(dripFeedCreate2Address()),
      dripFeed.getAgreement(poolId, `0x${AGREEMENT}`),
    ]);
    const claimed = await as(provider, ["claim", "--pool", poolId, "--agreement", AGREEMENT]);
    expectOk(claimed);
    const a1 = await dripFeed.getAgreement(poolId, `0x${AGREEMENT}`);
    const paid = a1.paid - a0.paid;
    expect(paid).to.be.greaterThan(units("0.5")); // floor ~2.7 GLM after ~2,700 s, 1.8 paid before
    expect((await token.balanceOf(provider.address)) - p0).to.equal(paid);
    expect(d0 - (await token.balanceOf(dripFeedCreate2Address()))).to.equal(paid);
    expect((await dripFeed.getPool(poolId)).balance).to.equal(units("20") - a1.paid);
  });
});
