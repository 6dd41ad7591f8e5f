import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import { GasGriefToken__factory, HostileERC1271Wallet__factory } from "../../typechain-types";
import {
  type Fixture,
  type Node,
  type RelayProcess,
  acceptance,
  health,
  kill,
  metric,
  post,
  setupPool,
  signJson,
  startNodeAndDeploy,
  startRelay,
  stopAll,
  tempDir,
  waitFor,
  waitSettled,
} from "./helpers";

/**
 * One pool's hostile token or wallet never fails (or charges, or delays) anyone else's acceptances, and an
 * acceptance is set aside only once a higher total is settled: against a real node, the relay started from its CLI.
 */
describe("relay: isolation of hostile pools and signers", function () {
  this.timeout(180_000);

  const dir = tempDir("dripfeed-relay-isolation-");
  let node: Node;
  let honest: Fixture;
  let relay: RelayProcess;

  before(async function () {
    node = await startNodeAndDeploy(dir);
    honest = await setupPool(node, 40);
    relay = await startRelay(node, {
      db: path.join(dir, "relay.sqlite"),
      batchSize: 50,
      // Long enough that what a test posts at once lands in one batch even on a busy machine.
      maxWait: 3_000,
      logFile: path.join(dir, "relay.log"),
    });
  });

  after(async function () {
    await stopAll(dir);
  });

  async function settlementFailures(fx: Fixture): Promise<number> {
    return (await fx.dripFeed.queryFilter(fx.dripFeed.filters.SettlementFailed(fx.poolId))).length;
  }

  describe("when a gas-burning pool's acceptance is posted before 30 honest ones", function () {
    it("settles the honest ones at once, charges nobody else, and never sends the poisoned one on chain", async function () {
      const victim = Wallet.createRandom().address;
      const poison = await setupPool(node, 1, 3, { token: "grief", provider: victim });
      await (
        await GasGriefToken__factory.connect(await poison.token.getAddress(), poison.owner).setVictim(victim)
      ).wait();

      const bad = await post(relay.url, await signJson(poison, poison.owner, poison.agreements[0].id, 1_000n));
      expect(bad.status).to.equal(202);
      const good = await Promise.all(
        honest.agreements
          .slice(0, 30)
          .map(async (a, i) => post(relay.url, await signJson(honest, honest.owner, a.id, 100n + BigInt(i)))),
      );
      const ids = good.map((r) => r.body.id!);
      const views = await waitSettled(relay.url, ids, 30_000);
      for (const [i, a] of honest.agreements.slice(0, 30).entries()) {
        expect(views.get(ids[i])).to.include({ status: "settled", attempts: 0 });
        expect(await honest.token.balanceOf(a.provider)).to.equal(100n + BigInt(i));
      }

      // The poisoned acceptance was simulated alone, found out, and its pool quarantined: not one item on chain.
      const poisoned = await acceptance(relay.url, bad.body.id!);
      expect(poisoned.reason).to.match(/TOKEN_TRANSFER_FAILED/);
      expect((await health(relay.url)).quarantined.map((q) => q.lane)).to.include(`pool:${poison.poolId}`);
      expect(await settlementFailures(poison)).to.equal(0);
      expect(await metric(relay.url, "dripfeed_relay_simulations_total", 'result="failed"')).to.be.greaterThan(0);

      // It uses up its own attempts only (in its lane, never in a shared batch), then fails with the reason.
      const final = await waitFor(
        "the poisoned acceptance to give up",
        async () => {
          const view = await acceptance(relay.url, bad.body.id!);
          return view.status === "failed" ? view : undefined;
        },
        60_000,
        250,
      );
      expect(final.attempts).to.equal(5);
      expect(final.reason).to.match(/^gave up after 5 attempts: TOKEN_TRANSFER_FAILED/);
      expect(await settlementFailures(poison)).to.equal(0);
      expect(await poison.token.balanceOf(victim)).to.equal(0n);
    });
  });

  describe("when hostile items no longer fit in one block with the honest ones", function () {
    it("bisects the batch, sends what fits, and charges only the items that fail on their own", async function () {
      // A pool trusted by the relay (its first acceptance settled) whose token then turns hostile.
      const victim = Wallet.createRandom().address;
      const turned = await setupPool(node, 10, 4, { token: "grief", provider: victim });
      const first = await post(relay.url, await signJson(turned, turned.owner, turned.agreements[0].id, 1n));
      await waitSettled(relay.url, [first.body.id!]);
      await (
        await GasGriefToken__factory.connect(await turned.token.getAddress(), turned.owner).setVictim(victim)
      ).wait();
      // Ten items burning ITEM_CALL_GAS each and twenty honest ones need more than a 2 M gas block.
      const blockGasLimit = (await node.provider.getBlock("latest"))!.gasLimit;
      await node.provider.send("evm_setBlockGasLimit", ["0x" + (2_000_000).toString(16)]);
      await node.provider.send("evm_mine", []);
      try {
        const agreements = honest.agreements.slice(30, 40);
        const hostileBodies = await Promise.all(
          turned.agreements.map((a) => signJson(turned, turned.owner, a.id, 5_000n)),
        );
        const goodBodies = await Promise.all(agreements.map((a) => signJson(honest, honest.owner, a.id, 7_000n)));
        const posted = await Promise.all([...hostileBodies, ...goodBodies].map((body) => post(relay.url, body)));
        const hostile = posted.slice(0, hostileBodies.length);
        const good = posted.slice(hostileBodies.length);
        const views = await waitSettled(
          relay.url,
          good.map((r) => r.body.id!),
          60_000,
        );
        for (const view of views.values()) expect(view).to.include({ status: "settled", attempts: 0 });
        for (const a of agreements) expect(await honest.token.balanceOf(a.provider)).to.equal(7_000n);
        const bad = await waitSettled(
          relay.url,
          hostile.map((r) => r.body.id!),
          90_000,
        );
        for (const view of bad.values()) {
          expect(view.status).to.equal("failed");
          expect(view.reason).to.match(/TOKEN_TRANSFER_FAILED/);
        }
        expect(await turned.token.balanceOf(victim)).to.equal(1n);
        expect(await metric(relay.url, "dripfeed_relay_batch_splits_total")).to.be.greaterThan(0);
      } finally {
        await node.provider.send("evm_setBlockGasLimit", ["0x" + blockGasLimit.toString(16)]);
        await node.provider.send("evm_mine", []);
      }
    });
  });

  describe("when a higher acceptance fails at settlement (a contract wallet changes its answer)", function () {
    it("sends the best lower one instead, and settles the higher one when it is posted again and can settle", async function () {
      const wallet = await new HostileERC1271Wallet__factory(honest.owner).deploy(0); // Lie: accepts anything
      await wallet.waitForDeployment();
      const walletAddress = await wallet.getAddress();
      const { timestamp } = (await node.provider.getBlock("latest"))!;
      await (await honest.dripFeed.setGrant(honest.poolId, walletAddress, 1, timestamp + 86_400, 0, 0)).wait();
      const a = honest.agreements[0];

      const low = await post(relay.url, await signJson(honest, honest.owner, a.id, 5_000n));
      const forged = await signJson(honest, Wallet.createRandom(), a.id, 9_000n);
      const high = await post(relay.url, { ...forged, signer: walletAddress });
      expect([low.status, high.status]).to.deep.equal([202, 202]);
      await (await wallet.setMode(1)).wait(); // Revert: the wallet now refuses

      const lowView = (await waitSettled(relay.url, [low.body.id!])).get(low.body.id!)!;
      expect(lowView.status).to.equal("settled");
      expect(await honest.token.balanceOf(a.provider)).to.equal(5_000n);
      const failed = (await waitSettled(relay.url, [high.body.id!], 60_000)).get(high.body.id!)!;
      expect(failed.status).to.equal("failed");
      expect(failed.reason).to.match(/NOT_AUTHORIZED/);

      // The wallet answers again: the same acceptance posted again is queued again and settles.
      await (await wallet.setMode(0)).wait();
      const again = await post(relay.url, { ...forged, signer: walletAddress });
      expect(again.status, JSON.stringify(again.body)).to.equal(202);
      expect(again.body).to.include({ id: high.body.id, status: "queued", requeued: true });
      const settled = (await waitSettled(relay.url, [high.body.id!])).get(high.body.id!)!;
      expect(settled.status).to.equal("settled");
      expect(await honest.token.balanceOf(a.provider)).to.equal(9_000n);
    });
  });

  describe("when it receives SIGTERM", function () {
    it("drains and exits 0", async function () {
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
    });
  });
});
