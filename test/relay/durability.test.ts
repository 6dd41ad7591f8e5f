import path from "node:path";

import { expect } from "chai";

import type { SignedAcceptanceJson } from "../../scripts/sdk/acceptance";
import {
  type AcceptanceStatusView,
  type Fixture,
  type Node,
  type PostResult,
  type RelayProcess,
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
  waitSettled,
} from "./helpers";

/**
 * kill -9 at every phase of an acceptance's life, then a restart on the same --db: everything answered 202 ends
 * settled or superseded, nothing is paid twice (provider balance == on-chain acceptedTotal == highest total sent ==
 * the sum of what the relay reports paid), and failures that retrying cannot fix are final.
 */
describe("relay: durability and failure handling", function () {
  this.timeout(150_000);

  const dir = tempDir("dripfeed-relay-durability-");
  let node: Node;
  let fx: Fixture;
  let next = 0;

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 64, 2);
  });

  after(async function () {
    await stopAll(dir);
  });

  /** Agreements nobody used yet, so each case checks balances from zero. */
  function takeAgreements(n: number): Fixture["agreements"] {
    const slice = fx.agreements.slice(next, next + n);
    next += n;
    return slice;
  }

  async function postSafely(url: string, body: SignedAcceptanceJson): Promise<PostResult | undefined> {
    try {
      return await post(url, body);
    } catch {
      return undefined; // connection refused or reset: the relay died before answering
    }
  }

  /** Sends `rounds` rising acceptances per agreement (each round after the previous one was answered). */
  async function send(
    url: string,
    agreements: Fixture["agreements"],
    rounds: number,
    firstRound = 1,
  ): Promise<{ bodies: SignedAcceptanceJson[]; accepted: string[] }> {
    const bodies: SignedAcceptanceJson[] = [];
    const accepted: string[] = [];
    for (let round = firstRound; round < firstRound + rounds; round++) {
      const batch = await Promise.all(
        agreements.map((a, i) => signJson(fx, i % 2 ? fx.grantee : fx.owner, a.id, BigInt(round) * 1_000n + BigInt(i))),
      );
      bodies.push(...batch);
      const results = await Promise.all(batch.map((b) => postSafely(url, b)));
      for (const r of results) {
        if (r?.status === 202 && r.body.id) accepted.push(r.body.id);
        else if (r !== undefined && r.status !== 200)
          expect.fail(`unexpected answer ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
    return { bodies, accepted };
  }

  /** After the restart: resubmit everything (as clients retry), wait for final states, and check the money. */
  async function checkAfterRestart(
    relay: RelayProcess,
    agreements: Fixture["agreements"],
    bodies: SignedAcceptanceJson[],
    accepted: string[],
  ): Promise<void> {
    const ids = new Set(accepted);
    for (const body of bodies) {
      const r = await post(relay.url, body);
      // Persisted before the crash: 200 with the id; never answered and not persisted: 202 now; a lower total than
      // one persisted meanwhile: STALE_TOTAL (the client's newer acceptance covers it).
      if (r.status === 200 || r.status === 202) ids.add(r.body.id!);
      else expect(r.body.error?.code, JSON.stringify(r.body)).to.equal("STALE_TOTAL");
    }
    for (const id of accepted) {
      const { status } = await getJson<AcceptanceStatusView>(`${relay.url}/v1/acceptances/${id}`);
      expect(status, `202'd acceptance ${id} lost`).to.equal(200);
    }
    const views = await waitSettled(relay.url, [...ids], 60_000);
    const paidByAgreement = new Map<string, bigint>();
    for (const view of views.values()) {
      expect(["settled", "superseded"], `${view.id}: ${view.status} ${view.reason}`).to.include(view.status);
      if (view.status === "settled") {
        paidByAgreement.set(view.agreementId, (paidByAgreement.get(view.agreementId) ?? 0n) + BigInt(view.paid ?? "0"));
      }
    }
    for (const a of agreements) {
      const highest = bodies
        .filter((b) => b.agreementId === a.id)
        .reduce((m, b) => (BigInt(b.totalAccepted) > m ? BigInt(b.totalAccepted) : m), 0n);
      const onChain = await fx.dripFeed.getAgreement(fx.poolId, a.id);
      expect(onChain.acceptedTotal, "accepted total").to.equal(highest);
      expect(await fx.token.balanceOf(a.provider), "provider balance").to.equal(highest);
      expect(paidByAgreement.get(a.id) ?? 0n, "paid as reported by the relay").to.equal(highest);
    }
  }

  // One database through a chain of runs: each run is killed with SIGKILL at one phase while handling new work, and
  // the next run resumes it (one relay start per phase keeps the suite fast); a final run checks everything.
  const db = path.join(dir, "relay.sqlite");
  const logFile = path.join(dir, "relay.log");
  const all = {
    agreements: [] as Fixture["agreements"],
    bodies: [] as SignedAcceptanceJson[],
    accepted: [] as string[],
  };
  let relay: RelayProcess;

  const phases: [string, string][] = [
    ["after-persist", "between persisting an acceptance and answering 202"],
    ["batch-created", "mid-batch: items marked submitted, no transaction yet"],
    ["signed", "with the transaction hash recorded but not broadcast"],
    ["broadcast", "after broadcast, before the receipt is read"],
    ["receipt", "after the receipt is read, before outcomes are recorded"],
  ];
  describe("when killed with SIGKILL", function () {
    for (const [point, when] of phases) {
      it(`dies ${when} (crash point ${point})`, async function () {
        const agreements = takeAgreements(6);
        const run = await startRelay(node, {
          db,
          batchSize: 6,
          maxWait: 100,
          logFile,
          env: { DRIPFEED_RELAY_CRASH_AT: point },
        });
        const sent = await send(run.url, agreements, 2);
        await run.exited;
        expect(run.process.signalCode, `relay should have been killed at ${point}`).to.equal("SIGKILL");
        all.agreements.push(...agreements);
        all.bodies.push(...sent.bodies);
        all.accepted.push(...sent.accepted);
      });
    }

    it("dies at a random moment under load", async function () {
      const agreements = takeAgreements(12);
      const run = await startRelay(node, { db, batchSize: 5, maxWait: 20, logFile });
      const sending = send(run.url, agreements, 4);
      await sleep(100 + Math.floor(Math.random() * 400));
      await kill(run.process, "SIGKILL");
      const sent = await sending;
      all.agreements.push(...agreements);
      all.bodies.push(...sent.bodies);
      all.accepted.push(...sent.accepted);
    });

    it("after a restart on the same --db, settles everything answered 202 and pays each total exactly once", async function () {
      relay = await startRelay(node, { db, batchSize: 50, maxWait: 1_500, logFile });
      expect(all.accepted.length).to.be.greaterThan(20);
      await checkAfterRestart(relay, all.agreements, all.bodies, all.accepted);
    });
  });

  describe("when an acceptance can no longer be settled", function () {
    it("marks an acceptance whose deadline passed in the queue failed (EXPIRED), and one whose agreement was released failed (AGREEMENT_RELEASED), without retries", async function () {
      const [a, b] = takeAgreements(2);
      // A relay that waits 8 s to fill a batch, so both are still queued when the chain changes under them.
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
      relay = await startRelay(node, { db, batchSize: 50, maxWait: 8_000, logFile });
      // The provider terminates b (a provider's termination may be released at once); its key is the node's.
      await node.provider.send("hardhat_impersonateAccount", [b.provider]);
      await node.provider.send("hardhat_setBalance", [b.provider, "0xde0b6b3a7640000"]);
      const { timestamp } = (await node.provider.getBlock("latest"))!;
      // 20 minutes: beyond the relay's 10-minute settle margin, so nothing makes it urgent before the batch is due.
      const soon = await post(relay.url, await signJson(fx, fx.owner, a.id, 1_000n, { deadline: timestamp + 1_200 }));
      expect(soon.status).to.equal(202);
      const later = await post(relay.url, await signJson(fx, fx.owner, b.id, 2_000n, { deadline: timestamp + 90_000 }));
      expect(later.status).to.equal(202);
      // While they wait for the batch, one block: time passes beyond the first deadline, and the second agreement is
      // terminated by its provider and released. In one block, so the relay cannot settle b between the two (a
      // termination makes it settle the agreement at once).
      await node.provider.send("evm_setAutomine", [false]);
      try {
        await node.provider.send("eth_sendTransaction", [
          {
            from: b.provider,
            to: node.dripFeed,
            data: fx.dripFeed.interface.encodeFunctionData("terminate", [fx.poolId, b.id]),
            gas: "0x40000",
          },
        ]);
        await fx.dripFeed.release(fx.poolId, b.id, { gasLimit: 400_000 });
        await node.provider.send("evm_increaseTime", [3_700]);
        await node.provider.send("evm_mine", []);
      } finally {
        await node.provider.send("evm_setAutomine", [true]);
      }
      expect((await fx.dripFeed.getAgreement(fx.poolId, b.id)).status).to.equal(3n); // Released
      const views = await waitSettled(relay.url, [soon.body.id!, later.body.id!], 30_000);
      const expired = views.get(soon.body.id!)!;
      const released = views.get(later.body.id!)!;
      expect(expired.status).to.equal("failed");
      expect(expired.reason).to.match(/^EXPIRED/);
      expect(released.status).to.equal("failed");
      expect(released.reason).to.match(/^AGREEMENT_RELEASED/);
      const attempts = await getJson<{ attempts: number }>(`${relay.url}/v1/acceptances/${later.body.id}`);
      expect(attempts.body.attempts).to.equal(0);
      expect(await fx.token.balanceOf(a.provider)).to.equal(0n);
      expect(await fx.token.balanceOf(b.provider)).to.equal(0n);
    });
  });

  describe("when it receives SIGTERM", function () {
    it("drains and exits 0", async function () {
      expect(await kill(relay.process, "SIGTERM")).to.equal(0);
    });
  });
});
