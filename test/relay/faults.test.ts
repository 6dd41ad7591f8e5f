import { readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import {
  type Fixture,
  type Node,
  acceptance,
  freePort,
  health,
  kill,
  metric,
  post,
  setupPool,
  signJson,
  sleep,
  startNodeAndDeploy,
  startRelay,
  stopAll,
  tempDir,
  waitFor,
  waitSettled,
} from "./helpers";

/** A TCP proxy in front of the node that can be cut (connections refused and dropped) and restored. */
class CuttableProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", resolve);
    });
    this.server = server;
  }

  async down(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }
}

/**
 * The relay's own trouble (no gas money, an unreachable RPC) never uses up an acceptance's attempts: it says so on
 * /healthz and in one log line, keeps queueing, and resumes by itself.
 */
describe("relay: its own failures (funds, RPC)", function () {
  this.timeout(180_000);

  const dir = tempDir("dripfeed-relay-faults-");
  let node: Node;
  let fx: Fixture;
  let next = 0;
  const take = (n: number) => fx.agreements.slice(next, (next += n));

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 20);
  });

  after(async function () {
    await stopAll(dir);
  });

  describe("when the submitting account has no funds", function () {
    it("queues, reports NO_FUNDS (healthz, gauge, one log line), charges no attempt, and settles once funded", async function () {
      const key = Wallet.createRandom();
      const logFile = path.join(dir, "unfunded.log");
      const relay = await startRelay(node, {
        db: path.join(dir, "unfunded.sqlite"),
        key: key.privateKey,
        maxWait: 200,
        logFile,
      });
      const before = await health(relay.url);
      expect(before.status).to.equal("degraded");
      expect(before.problems.map((p) => p.code)).to.deep.equal(["NO_FUNDS"]);
      expect(before.problems[0].message).to.contain(key.address);
      expect(await metric(relay.url, "dripfeed_relay_submitter_balance")).to.equal(0);

      const agreements = take(5);
      const posted = await Promise.all(
        agreements.map(async (a) => post(relay.url, await signJson(fx, fx.owner, a.id, 500n))),
      );
      for (const r of posted) expect(r.status).to.equal(202);
      await sleep(5_000);
      for (const r of posted)
        expect(await acceptance(relay.url, r.body.id!)).to.include({ status: "queued", attempts: 0 });
      expect((await health(relay.url)).status).to.equal("degraded");

      await node.provider.send("hardhat_setBalance", [key.address, "0xde0b6b3a7640000"]); // 1 ETH
      const views = await waitSettled(
        relay.url,
        posted.map((r) => r.body.id!),
        30_000,
      );
      for (const view of views.values()) expect(view).to.include({ status: "settled", attempts: 0 });
      for (const a of agreements) expect(await fx.token.balanceOf(a.provider)).to.equal(500n);
      expect((await health(relay.url)).status).to.equal("ok");
      expect(await metric(relay.url, "dripfeed_relay_submitter_balance")).to.be.within(0.5, 1);
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);

      const lines = readFileSync(logFile, "utf8")
        .split("\n")
        .filter((l) => l.includes('"code":"NO_FUNDS"'));
      expect(lines, lines.join("\n")).to.have.length(2); // the problem once, its end once
      expect(lines[0]).to.contain("fund it");
      expect(lines[1]).to.contain("resumed");
    });
  });

  describe("when the chain RPC is unreachable", function () {
    it("keeps acceptances queued with no attempt used, reports RPC_ERROR, and settles once it is back", async function () {
      const proxy = new CuttableProxy(await freePort(), Number(new URL(node.url).port));
      await proxy.up();
      const relay = await startRelay(node, {
        db: path.join(dir, "rpc.sqlite"),
        rpcUrl: proxy.url,
        maxWait: 1_500,
        logFile: path.join(dir, "rpc.log"),
      });
      try {
        const agreements = take(5);
        const posted = await Promise.all(
          agreements.map(async (a) => post(relay.url, await signJson(fx, fx.owner, a.id, 700n))),
        );
        for (const r of posted) expect(r.status).to.equal(202);
        await proxy.down();
        const degraded = await waitFor(
          "RPC_ERROR on /healthz",
          async () => {
            const h = await health(relay.url);
            return h.problems.some((p) => p.code === "RPC_ERROR") ? h : undefined;
          },
          30_000,
          250,
        );
        expect(degraded.status).to.equal("degraded");
        await sleep(4_000);
        for (const r of posted)
          expect(await acceptance(relay.url, r.body.id!)).to.include({ status: "queued", attempts: 0 });

        await proxy.up();
        const views = await waitSettled(
          relay.url,
          posted.map((r) => r.body.id!),
          60_000,
        );
        for (const view of views.values()) expect(view).to.include({ status: "settled", attempts: 0 });
        for (const a of agreements) expect(await fx.token.balanceOf(a.provider)).to.equal(700n);
        await waitFor("healthz ok", async () => ((await health(relay.url)).status === "ok" ? true : undefined), 30_000);
      } finally {
        await proxy.up();
        await kill(relay.process, "SIGTERM");
        await proxy.down();
      }
    });
  });
});
