import path from "node:path";

import { expect } from "chai";
import { Wallet } from "ethers";

import {
  type AcceptanceStatusView,
  type Fixture,
  type Node,
  type RelayProcess,
  acceptance,
  getJson,
  kill,
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

interface AgreementStatusView {
  onChain: { acceptedTotal: string; status: string };
  pending: { highestTotal: string | null; dueAt: string | null; dueReason: string | null; acceptances: unknown[] };
}

/**
 * The settlement schedule from outside (the relay's CLI against a node): acceptances are held for --max-hold and
 * settled earlier on request, when a revocation's notice or a deadline comes near, when the agreement is
 * terminated, or once --min-value is owed; the views say when.
 */
describe("relay: settlement schedule (holding acceptances)", function () {
  this.timeout(180_000);

  const dir = tempDir("dripfeed-relay-holding-");
  const db = path.join(dir, "relay.sqlite");
  const logFile = path.join(dir, "relay.log");
  let node: Node;
  let fx: Fixture;
  let relay: RelayProcess;
  let next = 0;

  const take = () => fx.agreements[next++];
  const chainNow = async () => (await node.provider.getBlock("latest"))!.timestamp;
  const start = () => startRelay(node, { db, maxHold: "1h", batchSize: 50, maxWait: 500, logFile });

  /** Advances chain time and waits until the relay has seen it (so what is posted next is stamped after it). */
  async function advance(seconds: number, relays: RelayProcess[] = [relay]): Promise<void> {
    await node.provider.send("evm_increaseTime", [seconds]);
    await node.provider.send("evm_mine", []);
    for (const r of relays) await waitSynced(r.url, node.provider);
  }

  async function settledOnChain(agreementId: string): Promise<number> {
    return (await fx.dripFeed.queryFilter(fx.dripFeed.filters.DebitNoteSettled(fx.poolId, agreementId))).length;
  }

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 12);
    relay = await start();
  });

  after(async function () {
    await stopAll(dir);
  });

  describe("with the default --max-hold (1 h)", function () {
    it("holds acceptances, shows when they are due (ids with or without 0x), and settles them on request", async function () {
      const a = take();
      const low = await post(relay.url, await signJson(fx, fx.owner, a.id, 1_000n));
      const high = await post(relay.url, await signJson(fx, fx.grantee, a.id, 2_000n));
      expect([low.status, high.status]).to.deep.equal([202, 202]);
      const receivedAt = (await chainNow()) * 1000;
      await sleep(2_000);
      expect(await settledOnChain(a.id)).to.equal(0);

      const view = await acceptance(relay.url, high.body.id!.slice(2)); // without 0x
      expect(view).to.include({ status: "queued", dueReason: "max-hold" });
      const dueIn = Date.parse(view.dueAt!) - receivedAt;
      expect(dueIn).to.be.within(3_570_000, 3_630_000);
      const agreement = await getJson<AgreementStatusView>(
        `${relay.url}/v1/agreements/${fx.poolId.slice(2)}/${a.id.slice(2).toUpperCase()}`,
      );
      expect(agreement.status).to.equal(200);
      expect(agreement.body.pending).to.include({ highestTotal: "2000", dueReason: "max-hold", dueAt: view.dueAt });
      expect(agreement.body.pending.acceptances).to.have.length(2);

      const response = await fetch(`${relay.url}/v1/agreements/${fx.poolId.slice(2)}/${a.id}/settle`, {
        method: "POST",
      });
      expect(response.status).to.equal(202);
      expect(await response.json()).to.include({ dueReason: "requested" });
      const views = await waitSettled(relay.url, [low.body.id!, high.body.id!], 30_000);
      expect(views.get(high.body.id!)!.status).to.equal("settled");
      expect(views.get(low.body.id!)!.status).to.equal("superseded");
      expect(await fx.token.balanceOf(a.provider)).to.equal(2_000n);
      expect(await settledOnChain(a.id)).to.equal(1);

      const nothing = await fetch(`${relay.url}/v1/agreements/${fx.poolId}/${a.id}/settle`, { method: "POST" });
      expect(nothing.status).to.equal(404);
    });

    it("settles a short-lived acceptance before its deadline, and sets aside the lower long-lived one then", async function () {
      const a = take();
      const now = await chainNow();
      const low = await post(relay.url, await signJson(fx, fx.owner, a.id, 1_000n, { deadline: now + 86_400 }));
      const high = await post(relay.url, await signJson(fx, fx.owner, a.id, 3_000n, { deadline: now + 300 }));
      const views = await waitSettled(relay.url, [low.body.id!, high.body.id!], 30_000);
      expect(views.get(high.body.id!)!.status).to.equal("settled");
      expect(views.get(low.body.id!)!.status).to.equal("superseded");
      expect(await fx.token.balanceOf(a.provider)).to.equal(3_000n);
    });

    it("when the higher one expires while the relay is down, the lower long-lived one still goes on", async function () {
      const a = take();
      const now = await chainNow();
      const low = await post(relay.url, await signJson(fx, fx.owner, a.id, 1_000n, { deadline: now + 86_400 }));
      const high = await post(relay.url, await signJson(fx, fx.owner, a.id, 3_000n, { deadline: now + 1_800 }));
      expect((await acceptance(relay.url, high.body.id!)).dueReason).to.equal("deadline");
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
      await advance(1_900, []);
      relay = await start();
      const expired = (await waitSettled(relay.url, [high.body.id!], 30_000)).get(high.body.id!)!;
      expect(expired.status).to.equal("failed");
      expect(expired.reason).to.match(/^EXPIRED/);
      expect(expired.attempts).to.equal(0);
      const waiting = await acceptance(relay.url, low.body.id!);
      expect(waiting).to.include({ status: "queued", dueReason: "max-hold" });
      await advance(3_600);
      const settled = (await waitSettled(relay.url, [low.body.id!], 30_000)).get(low.body.id!)!;
      expect(settled.status).to.equal("settled");
      expect(await fx.token.balanceOf(a.provider)).to.equal(1_000n);
    });

    it("settles a revoked grantee's acceptances within the notice, and still takes new ones signed in it", async function () {
      const a = take();
      const grantee = Wallet.createRandom();
      const now = await chainNow();
      await (await fx.dripFeed.setGrant(fx.poolId, grantee.address, 1, now + 7 * 86_400, 0, 0)).wait();
      const first = await post(relay.url, await signJson(fx, grantee, a.id, 1_000n));
      expect((await acceptance(relay.url, first.body.id!)).dueReason).to.equal("max-hold");

      await (await fx.dripFeed.setGrant(fx.poolId, grantee.address, 0, 0, 0, 0)).wait();
      const validUntil = Number(await fx.dripFeed.acceptValidUntil(fx.poolId, grantee.address));
      expect(validUntil).to.be.greaterThan(await chainNow());
      const pulled = await waitFor(
        "the revocation to pull the agreement forward",
        async () => {
          const view = await acceptance(relay.url, first.body.id!);
          return view.dueReason === "accept-valid-until" ? view : undefined;
        },
        15_000,
      );
      expect(Date.parse(pulled.dueAt!)).to.equal((validUntil - 600) * 1000);
      // Within the notice the grantee's acceptances still settle on chain, so the relay takes them.
      const second = await post(relay.url, await signJson(fx, grantee, a.id, 2_000n));
      expect(second.status, JSON.stringify(second.body)).to.equal(202);

      await advance(validUntil - 600 - (await chainNow()) + 5);
      const views = await waitSettled(relay.url, [first.body.id!, second.body.id!], 30_000);
      expect(views.get(second.body.id!)!.status).to.equal("settled");
      expect(await fx.token.balanceOf(a.provider)).to.equal(2_000n);
      const settledAt = (await fx.dripFeed.queryFilter(fx.dripFeed.filters.DebitNoteSettled(fx.poolId, a.id)))[0];
      expect((await settledAt.getBlock()).timestamp).to.be.at.most(validUntil);

      // After the notice: refused.
      await advance(3_600);
      const late = await post(relay.url, await signJson(fx, grantee, a.id, 3_000n));
      expect(late.body.error?.code).to.equal("NOT_AUTHORIZED");
    });

    it("settles held acceptances at once when the agreement is terminated", async function () {
      const a = take();
      const held = await post(relay.url, await signJson(fx, fx.owner, a.id, 4_000n));
      await sleep(1_000);
      expect((await acceptance(relay.url, held.body.id!)).status).to.equal("queued");
      await (await fx.dripFeed.terminate(fx.poolId, a.id)).wait();
      const view = (await waitSettled(relay.url, [held.body.id!], 30_000)).get(held.body.id!) as AcceptanceStatusView;
      expect(view.status).to.equal("settled");
      expect(await fx.token.balanceOf(a.provider)).to.equal(4_000n);
    });
  });

  describe("with --min-value", function () {
    it("settles an agreement once its unpaid accepted value reaches it", async function () {
      const other = await startRelay(node, {
        db: path.join(dir, "min-value.sqlite"),
        maxHold: "24h",
        minValue: "0.000000000000005", // 5,000 base units of an 18-decimal token
        maxWait: 200,
        logFile,
      });
      const a = take();
      const small = await post(other.url, await signJson(fx, fx.owner, a.id, 4_000n));
      await sleep(1_500);
      expect((await acceptance(other.url, small.body.id!)).dueReason).to.equal("max-hold");
      const enough = await post(other.url, await signJson(fx, fx.owner, a.id, 6_000n));
      const views = await waitSettled(other.url, [small.body.id!, enough.body.id!], 30_000);
      expect(views.get(enough.body.id!)!.status).to.equal("settled");
      expect(await fx.token.balanceOf(a.provider)).to.equal(6_000n);
      expect(await kill(other.process, "SIGTERM")).to.equal(0);
    });
  });

  describe("when it receives SIGTERM", function () {
    it("drains and exits 0", async function () {
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
    });
  });
});
