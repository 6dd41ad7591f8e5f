import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { JsonRpcProvider, type JsonRpcSigner } from "ethers";

import { DripFeed__factory, MockGLM__factory } from "../../typechain-types";
import { parseAmount, poolIdOf, toRfc3339 } from "../../scripts/sdk";
import { ISOLATED, type RunResult, type TestNode, dripfeed, hardhat, pool, startNode } from "./harness";

const GLM = { decimals: 18, symbol: "GLM" };
const units = (text: string): bigint => parseAmount(text, GLM);
const AGREEMENT_A = "a".repeat(62) + "01";
const AGREEMENT_B = "b".repeat(62) + "02";

function expectOk(result: RunResult): void {
  expect(result.code, `stderr: ${result.stderr}\nstdout: ${result.stdout}`).to.equal(0);
}

/** Exit 1, exactly one line on stderr starting "error:", no stack trace. */
function expectOneLineError(result: RunResult, message: RegExp): void {
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "");
  expect(result.code, result.stderr).to.equal(1);
  expect(lines, result.stderr).to.have.length(1);
  expect(lines[0]).to.match(/^error: /);
  expect(lines[0]).to.match(message);
  expect(result.stderr).not.to.match(/\n\s+at /);
}

describe("dripfeed tasks as child processes (hardhat node)", function () {
  this.timeout(900_000);
  let node: TestNode;
  let provider: JsonRpcProvider;
  let accounts: JsonRpcSigner[];
  let address: (i: number) => string;
  let run: (task: string, ...flags: string[]) => Promise<RunResult>;
  let poolId: string;
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-cli-"));
  const file = (name: string): string => path.join(dir, name);

  before(async () => {
    node = await startNode();
    run = (task, ...flags) => dripfeed(node.rpcUrl, task, ...flags);
    expectOk(await hardhat(["deploy", "--network", "localhost", "--no-compile"], node.rpcUrl));
    provider = new JsonRpcProvider(node.rpcUrl, undefined, { cacheTimeout: -1 });
    accounts = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => provider.getSigner(i)));
    address = (i) => accounts[i].address;
    poolId = poolIdOf(address(0), "cli-test");
  });

  after(async () => {
    provider?.destroy();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(ISOLATED.dir, { recursive: true, force: true });
  });

  async function contracts() {
    const deployments = path.join(ISOLATED.deployments, "localhost");
    const read = (name: string): string =>
      (JSON.parse(readFileSync(path.join(deployments, `${name}.json`), "utf8")) as { address: string }).address;
    return {
      dripFeed: DripFeed__factory.connect(read("DripFeed"), provider),
      glm: MockGLM__factory.connect(read("MockGLM"), accounts[0]),
    };
  }

  async function chainNow(): Promise<bigint> {
    return BigInt((await provider.getBlock("latest"))?.timestamp ?? 0);
  }

  async function increaseTime(seconds: number): Promise<void> {
    await provider.send("evm_increaseTime", [seconds]);
    await provider.send("evm_mine", []);
  }

  function debitNote(id: string, activity: string, total: string, at: bigint): string {
    const path_ = file(`${id}.json`);
    writeFileSync(
      path_,
      JSON.stringify({
        debitNoteId: id,
        issuerId: address(2).toLowerCase(),
        recipientId: address(0).toLowerCase(),
        payeeAddr: address(2).toLowerCase(),
        payerAddr: address(0).toLowerCase(),
        paymentPlatform: "erc20-hardhat-glm",
        timestamp: toRfc3339(at),
        agreementId: AGREEMENT_A,
        activityId: activity,
        totalAmountDue: total,
        usageCounterVector: [1, 2],
        paymentDueDate: toRfc3339(at + 86_400n),
        status: "RECEIVED",
      }),
    );
    return path_;
  }

  describe("happy paths", () => {
    it("pool-create prints the pool id", async () => {
      const result = await run("pool-create", "--token", "glm", "--salt", "cli-test");
      expectOk(result);
      expect(result.stdout.trim().split("\n").pop()).to.equal(poolId);
    });

    it("fund with --permit and with --approve; withdraw --to", async () => {
      const { glm, dripFeed } = await contracts();
      await (await glm.mint(address(0), units("200"))).wait();
      expectOk(await run("fund", "--pool", poolId, "--amount", "100", "--permit"));
      const result = await run("fund", "--pool", poolId, "--amount", "5.5", "--approve");
      expectOk(result);
      expect(result.stdout).to.match(/balance 105.5 GLM, free 105.5 GLM/);
      expectOk(await run("withdraw", "--pool", poolId, "--amount", "5.5", "--to", address(5)));
      expect(await glm.balanceOf(address(5))).to.equal(units("5.5"));
      expect((await dripFeed.getPool(poolId)).balance).to.equal(units("100"));
    });

    it("grant gives a supervisor ACCEPT and TERMINATE for 7 days", async () => {
      const { dripFeed } = await contracts();
      expectOk(
        await run(
          "grant",
          "--pool",
          poolId,
          "--grantee",
          address(1),
          "--permissions",
          "accept,terminate",
          "--valid-for",
          "7d",
        ),
      );
      const grant = await dripFeed.grantOf(poolId, address(1));
      expect(grant.permissions).to.equal(3n);
      expect(grant.validUntil - (await chainNow())).to.be.within(7n * 86_400n - 120n, 7n * 86_400n);
    });

    it("open: a rate-capped agreement and a stream-floor one", async () => {
      const { dripFeed } = await contracts();
      expectOk(
        await run(
          "open",
          "--pool",
          poolId,
          "--agreement",
          AGREEMENT_A,
          "--provider",
          address(2),
          "--budget",
          "10",
          "--max-rate",
          "36 GLM/h",
          "--upfront",
          "1",
          "--interval",
          "120",
          "--payment-timeout",
          "10m",
        ),
      );
      expectOk(
        await run(
          "open",
          "--pool",
          poolId,
          "--agreement",
          AGREEMENT_B,
          "--provider",
          address(3),
          "--budget",
          "5",
          "--stream-rate",
          "18 GLM/h",
          "--payment-timeout",
          "1h",
        ),
      );
      const a = await dripFeed.getAgreement(poolId, `0x${AGREEMENT_A}`);
      expect(a.terms.maxRate).to.equal(10n ** 34n);
      expect(a.terms.paymentTimeout).to.equal(600n);
      expect((await dripFeed.getPool(poolId)).locked).to.equal(units("15"));
    });

    it("accept signs a debit note offline (nothing sent) and settle pays the provider", async () => {
      const { dripFeed, glm } = await contracts();
      const a = await dripFeed.getAgreement(poolId, `0x${AGREEMENT_A}`);
      await increaseTime(300);
      const note = debitNote("note-1", "act-1", "2.500000000000000000", a.startedAt + 240n);
      const block = await provider.getBlockNumber();
      const accepted = await run(
        "accept",
        "--pool",
        poolId,
        "--agreement",
        AGREEMENT_A,
        "--debit-note",
        note,
        "--out",
        file("acc-1.json"),
        "--state",
        file("state.json"),
        "--from",
        "1",
        "--received-at",
        toRfc3339(a.startedAt + 240n),
      );
      expectOk(accepted);
      expect(await provider.getBlockNumber()).to.equal(block);
      const json = JSON.parse(readFileSync(file("acc-1.json"), "utf8")) as Record<string, unknown>;
      expect(json).to.include({ chainId: 31337, totalAccepted: units("2.5").toString(), signer: address(1), poolId });

      const before = await glm.balanceOf(address(2));
      const settled = await run("settle", "--acceptance", file("acc-1.json"), "--from", "4");
      expectOk(settled);
      const paid = (await glm.balanceOf(address(2))) - before;
      expect(paid).to.equal((await dripFeed.getAgreement(poolId, `0x${AGREEMENT_A}`)).paid);
      expect(paid).to.equal(units("2.5")); // 1 GLM upfront + 36 GLM/h over 300+ s covers 2.5
      expect(settled.stdout).to.match(/signed by grantee .* paid 2.5 GLM/);
    });

    it("claim pays a stream floor with nobody's acceptance", async () => {
      const { glm } = await contracts();
      const before = await glm.balanceOf(address(3));
      expectOk(await run("claim", "--pool", poolId, "--agreement", AGREEMENT_B, "--from", "6"));
      expect((await glm.balanceOf(address(3))) - before).to.be.greaterThan(0n);
    });

    it("increase-budget locks more of the free balance (pool id without 0x)", async () => {
      const { dripFeed } = await contracts();
      const locked = (await dripFeed.getPool(poolId)).locked;
      const raised = await run(
        "increase-budget",
        "--pool",
        poolId.slice(2),
        "--agreement",
        AGREEMENT_B,
        "--amount",
        "1",
      );
      expectOk(raised);
      expect(raised.stdout).to.match(/raised the budget of agreement b+02 by 1 GLM to 6 GLM/);
      expect((await dripFeed.getPool(poolId)).locked - locked).to.equal(units("1"));
    });

    it("terminate by the provider, then release at once; terminate by the owner", async () => {
      const { dripFeed } = await contracts();
      const byProvider = await run("terminate", "--pool", poolId, "--agreement", AGREEMENT_A, "--from", address(2));
      expectOk(byProvider);
      // Never promises a claim window that release can cut short.
      expect(byProvider.stdout)
        .to.match(/release may now run at once/)
        .and.not.match(/until/);
      const released = await run("release", "--pool", poolId, "--agreement", AGREEMENT_A);
      expectOk(released);
      expect(released.stdout).to.match(/0 GLM to the provider 0x[0-9a-fA-F]{40}, 7.5 GLM back to the pool/);
      const byOwner = await run("terminate", "--pool", poolId, "--agreement", AGREEMENT_B);
      expectOk(byOwner);
      expect(byOwner.stdout).to.match(/the provider can settle acceptances and claim until \d{4}-\d\d-\d\dT/);
      expect((await dripFeed.getAgreement(poolId, `0x${AGREEMENT_A}`)).status).to.equal(3n);
      expect((await dripFeed.getAgreement(poolId, `0x${AGREEMENT_B}`)).status).to.equal(2n);
    });

    it("status prints a table and --json", async () => {
      const [table, json] = await pool([[], ["--json"]], 2, (extra) => run("status", "--pool", poolId, ...extra));
      expectOk(table);
      expect(table.stdout)
        .to.match(/Released/)
        .and.match(/Terminated/)
        .and.match(/claimable/)
        .and.match(/amounts in GLM/)
        .and.match(/36 GLM\/h/)
        .and.match(/18 GLM\/h/);
      // The released agreement shows no claim-window end; the owner-terminated one shows its window's end.
      const released = table.stdout.split("\n").find((line) => line.startsWith("aaaaaaaa") && /Released/.test(line));
      expect(released).to.match(/released$/);
      expect(table.stdout).to.match(/bbbbbbbb.*Terminated.*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
      for (const line of table.stdout.split("\n")) expect(line.length, line).to.be.at.most(120);
      expectOk(json);
      const parsed = JSON.parse(json.stdout) as {
        pool: { balance: string };
        agreements: {
          status: string;
          paid: string;
          terms: { maxRate: string };
          claimWindowEnd?: string;
          human: { maxRate: string; streamRate: string; paid: string };
        }[];
      };
      expect(parsed.agreements.map((a) => a.status)).to.deep.equal(["Released", "Terminated"]);
      expect(parsed.agreements[0].paid).to.equal(units("2.5").toString());
      expect(parsed.agreements[0].claimWindowEnd).to.equal(undefined);
      expect(parsed.agreements[0].terms.maxRate).to.equal((10n ** 34n).toString());
      expect(parsed.agreements[0].human).to.include({ maxRate: "36 GLM/h", paid: "2.5 GLM" });
      expect(parsed.agreements[1].human.streamRate).to.equal("18 GLM/h");
    });
  });

  describe("bad inputs: exit 1, one line, nothing sent", () => {
    it("each names what is wrong", async () => {
      const { glm } = await contracts();
      await (await glm.mint(address(4), units("10"))).wait();
      const a = await (await contracts()).dripFeed.getAgreement(poolId, `0x${AGREEMENT_A}`);
      const early = debitNote("note-early", "act-1", "2.6", a.startedAt + 300n); // 60 s after note-1
      const unknownPool = `0x${"cd".repeat(32)}`;
      const emptyPool = poolIdOf(address(6), "empty");
      expectOk(await run("pool-create", "--token", "glm", "--salt", "empty", "--from", "6"));
      const cases: [string[], RegExp][] = [
        [["fund", "--pool", poolId, "--amount", "1.0000000000000000001"], /has 19 decimals, but GLM has only 18/],
        [["fund", "--pool", unknownPool, "--amount", "1"], /pool 0xcdcd.* does not exist on chain 31337/],
        [["fund", "--pool", "0x1234", "--amount", "1"], /--pool "0x1234" is not a pool id/],
        [
          ["fund", "--pool", poolId, "--amount", "3", "--from", "4"],
          /allows DripFeed 0 GLM of GLM, less than 3 GLM: approve first/,
        ],
        [["fund", "--pool", poolId, "--amount", "3", "--from", "6"], /holds 0 GLM, less than the 3 GLM to fund/],
        [["fund", "--pool", poolId], /--amount is required/],
        [["withdraw", "--pool", emptyPool, "--amount", "all", "--from", "6"], /has nothing free to withdraw/],
        [["status", "--pool", poolId, "--contract", address(5)], /no DripFeed contract at 0x/],
        [["withdraw", "--pool", poolId, "--amount", "1000"], /GLM free .* less than 1000 GLM/],
        [
          ["open", "--pool", poolId, "--agreement", AGREEMENT_A, "--provider", address(2), "--budget", "1"],
          /already exists/,
        ],
        [
          [
            "open",
            "--pool",
            poolId,
            "--agreement",
            "c".repeat(64),
            "--provider",
            address(2),
            "--budget",
            "1",
            "--interval",
            "60",
          ],
          /--interval must be between 120 and 900/,
        ],
        [
          [
            "open",
            "--pool",
            poolId,
            "--agreement",
            "c".repeat(64),
            "--provider",
            address(2),
            "--budget",
            "1",
            "--max-rate",
            "5 GLM",
          ],
          /not a rate like/,
        ],
        [
          ["grant", "--pool", poolId, "--grantee", address(1), "--permissions", "accept,pay", "--valid-for", "1d"],
          /unknown permission "pay"/,
        ],
        [
          ["release", "--pool", poolId, "--agreement", AGREEMENT_B],
          /would revert: ClaimWindowOpen\(endsAt=\d+\).*nothing was sent/,
        ],
        [["claim", "--pool", poolId, "--agreement", "e".repeat(64)], /agreement e+ does not exist in pool/],
        [
          ["settle", "--acceptance", file("acc-1.json")],
          /agreement a+01 is released; nothing can be settled \[AGREEMENT_RELEASED\]/,
        ],
        [
          [
            "accept",
            "--pool",
            poolId,
            "--agreement",
            AGREEMENT_A,
            "--debit-note",
            early,
            "--out",
            file("x.json"),
            "--state",
            file("state.json"),
            "--from",
            "1",
            "--received-at",
            toRfc3339(a.startedAt + 300n),
          ],
          // agreement A is released by now: the policy refuses every note of it before any other rule
          /refused: agreement a+01 is released on chain; nothing can be paid on it \[rule agreement\]/,
        ],
      ];
      const senders = [0, 1, 4, 6].map((i) => address(i));
      const nonces = await Promise.all(senders.map((s) => provider.getTransactionCount(s)));
      const block = await provider.getBlockNumber();
      const results = await pool(cases, 2, ([args]) => run(args[0], ...args.slice(1)));
      results.forEach((result, i) => expectOneLineError(result, cases[i][1]));
      // A mistyped network name and a forgotten --network: one line each, with the way out.
      const [typo, inProcess] = await pool(
        [
          ["--network", "polgon", "dripfeed", "status", "--pool", poolId],
          ["dripfeed", "status", "--pool", poolId],
        ],
        2,
        (args) => hardhat(args, node.rpcUrl),
      );
      expectOneLineError(typo, /unknown network "polgon": did you mean "polygon"\?/);
      expectOneLineError(
        inProcess,
        /does not exist on chain 31337 \(this ran on Hardhat's throw-away in-process chain: add --network/,
      );
      expect(await provider.getBlockNumber()).to.equal(block);
      expect(await Promise.all(senders.map((s) => provider.getTransactionCount(s)))).to.deep.equal(nonces);
    });
  });
});
