import path from "node:path";

import { expect } from "chai";

import {
  type AcceptanceStatusView,
  type Fixture,
  type Node,
  type RelayProcess,
  acceptance,
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
  waitSynced,
} from "./helpers";

/**
 * A settleBatch that sits in the node's mempool. With automine off, Hardhat keeps transactions pending until
 * `evm_mine`; one that arrives after the last `evm_mine` stays pending even once automine is back on (Hardhat mines
 * only transactions sent after that, and refuses a same-nonce replacement with "nonce has already been used"), where
 * a real chain would mine it in its next block. The relay must find the receipt once the block holding its
 * transaction is mined, keep a drain short while the transaction is still out (the batch stays recorded and resumes
 * on restart), and give the batch back after its replacements when the transaction never gets mined.
 */
describe("relay: a settleBatch left pending in the mempool", function () {
  this.timeout(120_000);

  const dir = tempDir("dripfeed-relay-pending-");
  const db = path.join(dir, "relay.sqlite");
  const logFile = path.join(dir, "relay.log");
  let node: Node;
  let fx: Fixture;
  let relay: RelayProcess;
  let next = 0;
  const take = (): Fixture["agreements"][number] => fx.agreements[next++];

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 4);
    relay = await startRelay(node, { db, maxWait: 50, logFile });
  });

  after(async function () {
    await node?.provider.send("evm_setAutomine", [true]).catch(() => undefined);
    await stopAll(dir);
  });

  /**
   * Posts an acceptance with automine off, waits until the relay's settleBatch is in the mempool, runs `meanwhile`,
   * and turns automine back on without mining (what is pending then stays pending: Hardhat mines only what is sent
   * from then on).
   */
  async function sendWhileAutomineOff(
    agreementId: string,
    total: bigint,
    options: { deadline?: number; meanwhile?: (txHash: string) => Promise<void> } = {},
  ): Promise<{ id: string; txHash: string }> {
    await waitSynced(relay.url, node.provider);
    await node.provider.send("evm_setAutomine", [false]);
    try {
      const body = await signJson(fx, fx.owner, agreementId, total, { deadline: options.deadline });
      const posted = await post(relay.url, body);
      expect(posted.status, JSON.stringify(posted.body)).to.equal(202);
      const id = posted.body.id!;
      const txHash = await waitFor("the relay to broadcast its settleBatch", async () => {
        const view = await acceptance(relay.url, id);
        if (view.status !== "submitted" || view.txHash === null) return undefined;
        return (await node.provider.getTransaction(view.txHash)) ? view.txHash : undefined;
      });
      expect(await node.provider.getTransactionReceipt(txHash), "mined with automine off").to.equal(null);
      await options.meanwhile?.(txHash);
      return { id, txHash };
    } finally {
      await node.provider.send("evm_setAutomine", [true]);
    }
  }

  /** The acceptance settled and paid `total` once: the relay's view, the provider, the escrow and the chain agree. */
  async function expectPaidOnce(
    view: AcceptanceStatusView,
    agreement: Fixture["agreements"][number],
    total: bigint,
    escrowBefore: bigint,
  ): Promise<void> {
    expect(view.status, `${view.status} ${view.reason}`).to.equal("settled");
    expect(view.paid).to.equal(total.toString());
    expect(view.attempts, "the relay's trouble uses no attempt").to.equal(0);
    expect((await node.provider.getTransactionReceipt(view.txHash!))?.status).to.equal(1);
    expect(await fx.token.balanceOf(agreement.provider), "provider").to.equal(total);
    expect(await fx.token.balanceOf(node.dripFeed), "escrow").to.equal(escrowBefore - total);
    expect((await fx.dripFeed.getAgreement(fx.poolId, agreement.id)).acceptedTotal).to.equal(total);
  }

  it("finds the receipt once the block holding its transaction is mined, time having passed its deadline (failed EXPIRED, nothing paid)", async function () {
    const a = take();
    const { timestamp } = (await node.provider.getBlock("latest"))!;
    // Within the 10-minute settle margin: the relay sends it at once, as in the durability test's first version.
    const sent = await sendWhileAutomineOff(a.id, 1_000n, {
      deadline: timestamp + 600,
      meanwhile: async () => {
        await node.provider.send("evm_increaseTime", [3_700]);
        await node.provider.send("evm_mine", []);
      },
    });
    const receipt = await node.provider.getTransactionReceipt(sent.txHash);
    expect(receipt?.status, "the relay's settleBatch mined").to.equal(1);
    const view = (await waitSettled(relay.url, [sent.id], 30_000)).get(sent.id)!;
    expect(view.status).to.equal("failed");
    expect(view.reason).to.match(/^EXPIRED/);
    expect(view.txHash).to.equal(sent.txHash);
    expect(view.attempts).to.equal(0);
    expect(await fx.token.balanceOf(a.provider)).to.equal(0n);
  });

  it("on SIGTERM with its settleBatch still pending, drains within seconds, keeps the batch and resumes it on restart", async function () {
    const a = take();
    const total = 5_000n;
    const escrowBefore = await fx.token.balanceOf(node.dripFeed);
    const sent = await sendWhileAutomineOff(a.id, total);
    await sleep(500);
    expect(await node.provider.getTransactionReceipt(sent.txHash), "still pending").to.equal(null);

    const started = Date.now();
    const exited = await Promise.race([kill(relay.process, "SIGTERM"), sleep(40_000).then(() => "hung" as const)]);
    const drainMs = Date.now() - started;
    if (exited === "hung") await kill(relay.process, "SIGKILL");
    expect(exited, `the drain took over ${drainMs} ms`).to.equal(0);
    expect(drainMs, "drain time (ms)").to.be.below(30_000);

    relay = await startRelay(node, { db, maxWait: 50, logFile });
    const resumed: AcceptanceStatusView = await acceptance(relay.url, sent.id);
    expect(resumed.status, "kept in its batch across the restart").to.equal("submitted");
    expect(resumed.txHash).to.equal(sent.txHash);
    // The chain's next block (a real chain mines a pending transaction by itself).
    await node.provider.send("evm_mine", []);
    const view = (await waitSettled(relay.url, [sent.id], 30_000)).get(sent.id)!;
    expect(view.txHash).to.equal(sent.txHash);
    await expectPaidOnce(view, a, total, escrowBefore);
  });

  describe("with --tx-timeout 1s", function () {
    before(async function () {
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
      relay = await startRelay(node, { db, maxWait: 50, txTimeout: "1s", logFile });
    });

    it("with its settleBatch never mined, replaces it within the timeout, gives the batch back after the replacements and pays the total once", async function () {
      const a = take();
      const total = 7_000n;
      const escrowBefore = await fx.token.balanceOf(node.dripFeed);
      const sent = await sendWhileAutomineOff(a.id, total);
      // Nothing mines it here (Hardhat refuses its same-nonce replacements while automining): after two replacements
      // the batch goes back to the queue and is sent again with the next nonce, which Hardhat mines with it.
      await expectPaidOnce((await waitSettled(relay.url, [sent.id], 30_000)).get(sent.id)!, a, total, escrowBefore);
    });

    it("with its settleBatch dropped from the mempool and its rebroadcast refused, gives the batch back (no attempt used) instead of rebroadcasting forever, and settles once fees allow", async function () {
      const a = take();
      const total = 9_000n;
      const escrowBefore = await fx.token.balanceOf(node.dripFeed);
      const retriesBefore = await metric(relay.url, "dripfeed_relay_batches_total", 'result="retry"');
      const sent = await sendWhileAutomineOff(a.id, total, {
        // The node forgets it (as a restarted node loses its mempool), and the next block's base fee rises above the
        // fee it was signed with: its rebroadcast is refused from now on.
        meanwhile: async (txHash) => {
          const tx = (await node.provider.getTransaction(txHash))!;
          expect(await node.provider.send("hardhat_dropTransaction", [txHash])).to.equal(true);
          await node.provider.send("hardhat_setNextBlockBaseFeePerGas", [`0x${(tx.maxFeePerGas! * 4n).toString(16)}`]);
        },
      });
      await waitFor(
        "the relay to give the batch back",
        async () =>
          (await metric(relay.url, "dripfeed_relay_batches_total", 'result="retry"')) > retriesBefore
            ? true
            : undefined,
        30_000,
      );
      expect((await acceptance(relay.url, sent.id)).attempts, "the relay's trouble uses no attempt").to.equal(0);
      // A block at the higher base fee: the relay's fees follow it and its next settleBatch goes through.
      await node.provider.send("evm_mine", []);
      await expectPaidOnce((await waitSettled(relay.url, [sent.id], 30_000)).get(sent.id)!, a, total, escrowBefore);
    });
  });
});
