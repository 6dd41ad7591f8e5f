import { readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { Wallet, ZeroAddress, hexlify, randomBytes } from "ethers";

import { RelayStore } from "../../scripts/relay/store";
import type { SignedAcceptanceJson } from "../../scripts/sdk/acceptance";
import { MockERC1271Wallet__factory } from "../../typechain-types";
import {
  type AcceptanceStatusView,
  type Fixture,
  type Node,
  type RelayProcess,
  getJson,
  kill,
  metric as relayMetric,
  post,
  setupPool,
  signJson,
  startNodeAndDeploy,
  startRelay,
  stopAll,
  tempDir,
  waitSettled,
} from "./helpers";

/**
 * The relay's HTTP API against a real `hardhat node` and the relay as a child process
 * (`hardhat --network localhost dripfeed relay`).
 */
describe("relay: HTTP API", function () {
  this.timeout(120_000);

  const dir = tempDir("dripfeed-relay-api-");
  let node: Node;
  let relay: RelayProcess;
  let fx: Fixture;

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 30);
    relay = await startRelay(node, {
      db: path.join(dir, "relay.sqlite"),
      batchSize: 20,
      maxWait: 300,
      logFile: path.join(dir, "relay.log"),
    });
  });

  after(async function () {
    await stopAll(dir);
  });

  async function queueCounts(): Promise<{ queued: number; submitted: number }> {
    const { body } = await getJson<{ queued: number; submitted: number }>(`${relay.url}/healthz`);
    return { queued: body.queued, submitted: body.submitted };
  }

  const metric = (name: string) => relayMetric(relay.url, name);

  describe("when the acceptances are valid", function () {
    it("settles many agreements, only the highest total of each on-chain, and pays exactly the accepted totals", async function () {
      const ids: { id: string; agreement: number; total: bigint }[] = [];
      // Three rising acceptances per agreement, owner- and grantee-signed alternately.
      for (let round = 1; round <= 3; round++) {
        const bodies = await Promise.all(
          fx.agreements.map((a, i) =>
            signJson(fx, (i + round) % 2 ? fx.owner : fx.grantee, a.id, BigInt(round) * 1000n + BigInt(i)),
          ),
        );
        const results = await Promise.all(bodies.map((b) => post(relay.url, b)));
        results.forEach((r, i) => {
          expect(r.status, JSON.stringify(r.body)).to.equal(202);
          expect(r.body.id).to.match(/^0x[0-9a-f]{64}$/);
          ids.push({ id: r.body.id!, agreement: i, total: BigInt(round) * 1000n + BigInt(i) });
        });
      }
      const views = await waitSettled(
        relay.url,
        ids.map((x) => x.id),
      );
      const statuses = [...views.values()].map((v) => v.status);
      expect(
        statuses.every((s) => s === "settled" || s === "superseded"),
        statuses.join(","),
      ).to.equal(true);
      for (const [i, agreement] of fx.agreements.entries()) {
        const expected = 3000n + BigInt(i);
        expect(await fx.token.balanceOf(agreement.provider)).to.equal(expected);
        const onChain = await fx.dripFeed.getAgreement(fx.poolId, agreement.id);
        expect(onChain.acceptedTotal).to.equal(expected);
        const paidByRelay = ids
          .filter((x) => x.agreement === i)
          .map((x) => views.get(x.id)!)
          .filter((v) => v.status === "settled")
          .reduce((sum, v) => sum + BigInt(v.paid ?? "0"), 0n);
        expect(paidByRelay).to.equal(expected);
      }
      const last = views.get(ids[ids.length - 1].id)!;
      expect(last.status).to.equal("settled");
      expect(last.txHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(await metric("dripfeed_relay_batches_total")).to.be.greaterThan(0);
      expect(await metric("dripfeed_relay_gas_used_total")).to.be.greaterThan(0);
    });

    it("answers 200 with the same id for an exact duplicate", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[0].id, 10_000n);
      const first = await post(relay.url, body);
      expect(first.status).to.equal(202);
      const again = await post(relay.url, body);
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
      await waitSettled(relay.url, [first.body.id!]);
      const later = await post(relay.url, body);
      expect(later.status).to.equal(200);
      expect(later.body.id).to.equal(first.body.id);
      expect(later.body.status).to.equal("settled");
    });

    it("accepts a contract wallet (ERC-1271) holding an ACCEPT grant, checked on-chain, and settles it", async function () {
      const walletKey = Wallet.createRandom();
      const wallet = await new MockERC1271Wallet__factory(fx.owner).deploy(walletKey.address);
      await wallet.waitForDeployment();
      const walletAddress = await wallet.getAddress();
      const { timestamp } = (await node.provider.getBlock("latest"))!;
      await (await fx.dripFeed.setGrant(fx.poolId, walletAddress, 1, timestamp + 86_400, 0, 0)).wait();
      const a = fx.agreements[10];

      const forged = await signJson(fx, Wallet.createRandom(), a.id, 123_456n);
      const refused = await post(relay.url, { ...forged, signer: walletAddress });
      expect(refused.status).to.equal(422);
      expect(refused.body.error?.code).to.equal("BAD_SIGNATURE");

      const body = await signJson(fx, walletKey, a.id, 123_456n);
      const response = await post(relay.url, { ...body, signer: walletAddress });
      expect(response.status, JSON.stringify(response.body)).to.equal(202);
      const views = await waitSettled(relay.url, [response.body.id!]);
      expect(views.get(response.body.id!)!.status).to.equal("settled");
      expect(await fx.token.balanceOf(a.provider)).to.equal(123_456n);
    });

    it("shows an agreement's on-chain state and pending acceptances", async function () {
      const a = fx.agreements[1];
      const { status, body } = await getJson<{ onChain: { acceptedTotal: string; status: string }; pending: unknown }>(
        `${relay.url}/v1/agreements/${fx.poolId}/${a.id}`,
      );
      expect(status).to.equal(200);
      expect(body.onChain.status).to.equal("Active");
      expect(body.onChain.acceptedTotal).to.equal("3001");
      const unknown = await getJson<{ error: { code: string } }>(
        `${relay.url}/v1/agreements/${fx.poolId}/${hexlify(randomBytes(32))}`,
      );
      expect(unknown.status).to.equal(404);
      expect(unknown.body.error.code).to.equal("UNKNOWN_AGREEMENT");
      const missing = await getJson<{ error: { code: string } }>(
        `${relay.url}/v1/acceptances/${hexlify(randomBytes(32))}`,
      );
      expect(missing.status).to.equal(404);
      const bad = await getJson<{ error: { code: string } }>(`${relay.url}/v1/acceptances/nope`);
      expect(bad.status).to.equal(400);
      // A malformed agreement id: 400 naming the field, for the view and for a settle request alike.
      const badView = await getJson<{ error: { code: string; field: string } }>(
        `${relay.url}/v1/agreements/${fx.poolId}/nope`,
      );
      expect(badView.status).to.equal(400);
      expect(badView.body.error).to.include({ code: "INVALID_FIELD", field: "agreementId" });
      const badSettle = await fetch(`${relay.url}/v1/agreements/zz/${a.id}/settle`, { method: "POST" });
      expect(badSettle.status).to.equal(400);
      expect(((await badSettle.json()) as { error: { field: string } }).error.field).to.equal("poolId");
    });
  });

  describe("when the request is malformed (400)", function () {
    let valid: SignedAcceptanceJson;
    before(async function () {
      valid = await signJson(fx, fx.owner, fx.agreements[2].id, 50_000n);
    });

    const cases: [string, (v: SignedAcceptanceJson) => unknown, string, string?][] = [
      ["not JSON", () => "{not json", "INVALID_JSON"],
      ["a JSON array", () => "[]", "INVALID_JSON"],
      ["a missing field", (v) => ({ ...v, signature: undefined }), "INVALID_FIELD", "signature"],
      ["an unknown field", (v) => ({ ...v, extra: 1 }), "INVALID_FIELD", "extra"],
      ["totalAccepted as a number", (v) => ({ ...v, totalAccepted: 5 }), "INVALID_FIELD", "totalAccepted"],
      ["a negative totalAccepted", (v) => ({ ...v, totalAccepted: "-1" }), "INVALID_FIELD", "totalAccepted"],
      [
        "a totalAccepted above uint256",
        (v) => ({ ...v, totalAccepted: (1n << 256n).toString() }),
        "INVALID_FIELD",
        "totalAccepted",
      ],
      ["a decimal totalAccepted", (v) => ({ ...v, totalAccepted: "1.5" }), "INVALID_FIELD", "totalAccepted"],
      ["a deadline as a string", (v) => ({ ...v, deadline: "123" }), "INVALID_FIELD", "deadline"],
      ["a huge deadline", (v) => ({ ...v, deadline: 1e300 }), "INVALID_FIELD", "deadline"],
      ["a chainId as a string", (v) => ({ ...v, chainId: "31337" }), "INVALID_FIELD", "chainId"],
      ["a short poolId", (v) => ({ ...v, poolId: "0x1234" }), "INVALID_FIELD", "poolId"],
      ["a non-hex agreementId", (v) => ({ ...v, agreementId: `0x${"zz".repeat(32)}` }), "INVALID_FIELD", "agreementId"],
      ["a bad signer address", (v) => ({ ...v, signer: "0x123" }), "INVALID_FIELD", "signer"],
      ["a bad signature hex", (v) => ({ ...v, signature: "0xnothex" }), "INVALID_FIELD", "signature"],
      ["a null body", () => "null", "INVALID_JSON"],
    ];
    for (const [what, mutate, code, field] of cases) {
      it(`rejects ${what} with ${code}`, async function () {
        const body = mutate(valid);
        const response = await post(relay.url, body, typeof body === "string");
        expect(response.status, JSON.stringify(response.body)).to.equal(400);
        expect(response.body.error?.code).to.equal(code);
        expect(response.body.error?.message).to.be.a("string").and.not.equal("");
        if (field) expect(response.body.error?.field).to.equal(field);
      });
    }

    it("rejects a body over 16 KiB with 413 BODY_TOO_LARGE", async function () {
      const response = await post(relay.url, { ...valid, padding: "x".repeat(17 * 1024) });
      expect(response.status).to.equal(413);
      expect(response.body.error?.code).to.equal("BODY_TOO_LARGE");
    });

    it("rejects an empty body", async function () {
      const response = await post(relay.url, "", true);
      expect(response.status).to.equal(400);
      expect(response.body.error?.code).to.equal("INVALID_JSON");
    });
  });

  describe("when the acceptance is well-formed but unacceptable (422)", function () {
    it("rejects another chain with WRONG_CHAIN", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, { ...body, chainId: 1 });
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("WRONG_CHAIN");
    });

    it("rejects another contract with WRONG_CONTRACT", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, { ...body, verifyingContract: Wallet.createRandom().address });
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("WRONG_CONTRACT");
    });

    it("rejects a passed deadline with EXPIRED", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[3].id, 60_000n, {
        deadline: Math.floor(Date.now() / 1000) - 10,
      });
      const response = await post(relay.url, body);
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("EXPIRED");
    });

    it("rejects a signature by someone else with BAD_SIGNATURE", async function () {
      const body = await signJson(fx, Wallet.createRandom(), fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, { ...body, signer: fx.owner.address });
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("BAD_SIGNATURE");
    });

    it("rejects a replayed signature over a changed total with BAD_SIGNATURE", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, { ...body, totalAccepted: "999999999" });
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("BAD_SIGNATURE");
    });

    it("rejects a high-s or v=0 signature with BAD_SIGNATURE (the contract would)", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[3].id, 60_000n);
      const v = parseInt(body.signature.slice(-2), 16);
      const response = await post(relay.url, { ...body, signature: `${body.signature.slice(0, -2)}0${v - 27}` });
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("BAD_SIGNATURE");
    });

    it("rejects an unknown pool with UNKNOWN_POOL", async function () {
      const body = await signJson({ ...fx, poolId: hexlify(randomBytes(32)) }, fx.owner, fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, body);
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("UNKNOWN_POOL");
    });

    it("rejects a signer without an ACCEPT grant with NOT_AUTHORIZED", async function () {
      const body = await signJson(fx, Wallet.createRandom(), fx.agreements[3].id, 60_000n);
      const response = await post(relay.url, body);
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("NOT_AUTHORIZED");
    });

    it("rejects an unknown agreement with UNKNOWN_AGREEMENT", async function () {
      const body = await signJson(fx, fx.owner, hexlify(randomBytes(32)), 60_000n);
      const response = await post(relay.url, body);
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("UNKNOWN_AGREEMENT");
    });

    it("rejects a total that does not raise the accepted total with STALE_TOTAL", async function () {
      const body = await signJson(fx, fx.owner, fx.agreements[4].id, 3004n, { debitNote: "again" });
      const response = await post(relay.url, body);
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("STALE_TOTAL");
      const lower = await signJson(fx, fx.grantee, fx.agreements[4].id, 1n);
      expect((await post(relay.url, lower)).body.error?.code).to.equal("STALE_TOTAL");
    });

    it("keeps a total below one still pending (it goes on if the higher fails) and sets it aside once the higher settles", async function () {
      const high = await post(relay.url, await signJson(fx, fx.owner, fx.agreements[5].id, 90_000n));
      expect(high.status).to.equal(202);
      const low = await post(relay.url, await signJson(fx, fx.owner, fx.agreements[5].id, 80_000n));
      expect(low.status, JSON.stringify(low.body)).to.equal(202);
      const views = await waitSettled(relay.url, [high.body.id!, low.body.id!]);
      expect(views.get(high.body.id!)!.status).to.equal("settled");
      expect(views.get(low.body.id!)).to.include({ status: "superseded" });
      expect(await fx.token.balanceOf(fx.agreements[5].provider)).to.equal(90_000n);
      // Now below the settled total: refused.
      const stale = await post(relay.url, await signJson(fx, fx.owner, fx.agreements[5].id, 85_000n));
      expect(stale.body.error?.code).to.equal("STALE_TOTAL");
    });

    it("rejects a released agreement with AGREEMENT_RELEASED", async function () {
      const a = fx.agreements[6];
      await (await fx.dripFeed.terminate(fx.poolId, a.id)).wait();
      await node.provider.send("evm_increaseTime", [3601]);
      await node.provider.send("evm_mine", []);
      await (await fx.dripFeed.release(fx.poolId, a.id)).wait();
      // The relay caches agreements for up to 2 s.
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const response = await post(
        relay.url,
        await signJson(fx, fx.owner, a.id, 70_000n, { deadline: Math.floor(Date.now() / 1000) + 7200 }),
      );
      expect(response.status).to.equal(422);
      expect(response.body.error?.code).to.equal("AGREEMENT_RELEASED");
    });
  });

  describe("when flooded with malformed and hostile bodies", function () {
    it("stays up and leaves the queue unchanged", async function () {
      const receivedBefore = await metric("dripfeed_relay_acceptances_received_total");
      const valid = await signJson(fx, fx.owner, fx.agreements[7].id, 5_000n, {
        deadline: Math.floor(Date.now() / 1000) + 7200,
      });
      const settledBody = await signJson(fx, fx.owner, fx.agreements[9].id, 20_000n);
      const first = await post(relay.url, settledBody);
      expect(first.status).to.equal(202);
      await waitSettled(relay.url, [first.body.id!]);
      const hostile: unknown[] = [
        "",
        "{",
        "[1,2,3]",
        '{"__proto__":{"polluted":true}}',
        '"string"',
        "1e999999",
        "null",
        JSON.stringify({ ...valid, totalAccepted: "-5" }),
        JSON.stringify({ ...valid, totalAccepted: "9".repeat(100) }),
        JSON.stringify({ ...valid, totalAccepted: { $gt: 0 } }),
        JSON.stringify({ ...valid, deadline: -1 }),
        JSON.stringify({ ...valid, deadline: 1.5 }),
        JSON.stringify({ ...valid, chainId: 0 }),
        JSON.stringify({ ...valid, chainId: 11155111 }),
        JSON.stringify({ ...valid, signature: "0x" + "ff".repeat(65) }),
        JSON.stringify({ ...valid, signature: "0x" + "00".repeat(65) }),
        JSON.stringify({ ...valid, signature: "0x" + "ab".repeat(3000) }),
        JSON.stringify({ ...valid, signer: ZeroAddress }),
        JSON.stringify({ ...valid, poolId: valid.agreementId }),
        JSON.stringify({ ...valid, debitNoteId: "0x" + "11".repeat(32) }),
        JSON.stringify({ ...valid, verifyingContract: ZeroAddress }),
        JSON.stringify({ ...valid, signer: valid.signer.toLowerCase().replace(/^0x/, "0X") }),
        JSON.stringify([valid, valid]),
        JSON.stringify({ acceptance: valid }),
        "x".repeat(20_000),
      ];
      const before = await queueCounts();
      let replayed = 0;
      const responses = await Promise.all(
        Array.from({ length: 400 }, async (_, i) => {
          if (i % 50 === 49) {
            replayed++;
            return post(relay.url, settledBody);
          }
          return post(relay.url, hostile[i % hostile.length], true);
        }),
      );
      for (const r of responses) {
        expect([200, 400, 413, 422], JSON.stringify(r.body)).to.include(r.status);
        if (r.status !== 200) expect(r.body.error?.code).to.be.a("string");
      }
      expect(responses.filter((r) => r.status === 200)).to.have.length(replayed);
      expect(await queueCounts()).to.deep.equal(before);
      expect(await metric("dripfeed_relay_acceptances_received_total")).to.be.greaterThan(receivedBefore);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      // Still healthy and still accepting.
      const ok = await post(relay.url, valid);
      expect(ok.status).to.equal(202);
      const views = await waitSettled(relay.url, [ok.body.id!]);
      expect((views.get(ok.body.id!) as AcceptanceStatusView).status).to.equal("settled");
    });
  });

  describe("when it receives SIGTERM", function () {
    it("drains and exits 0", async function () {
      const response = await post(relay.url, await signJson(fx, fx.owner, fx.agreements[8].id, 77_000n));
      expect(response.status).to.equal(202);
      const code = await kill(relay.process, "SIGTERM");
      expect(code).to.equal(0);
    });
  });

  describe("with --retain", function () {
    it("forgets finished acceptances older than the window when it starts, and keeps every other one", async function () {
      // The stopped relay's file, with one acceptance settled 40 days ago written into it.
      const db = path.join(dir, "relay.sqlite");
      const store = new RelayStore(db);
      const old = {
        id: hexlify(randomBytes(32)),
        poolId: fx.poolId,
        agreementId: fx.agreements[9].id,
        debitNoteId: hexlify(randomBytes(32)),
        totalAccepted: 1n,
        deadline: 1_900_000_000,
        signer: fx.owner.address,
        signature: hexlify(randomBytes(65)),
        contractSigner: false,
      };
      const fortyDaysAgo = Date.now() - 40 * 86_400_000;
      await store.enqueue(old, 0, fortyDaysAgo);
      const batch = store.createBatch([store.get(old.id)!], 1, fortyDaysAgo);
      const retry = { maxAttempts: 5, notBefore: () => 0 };
      const outcome = { kind: "settled" as const, txHash: hexlify(randomBytes(32)), paid: 1n };
      store.closeBatch(batch, new Map([[old.id, outcome]]), "mined", 1n, retry, fortyDaysAgo);
      const before = store.countByStatus();
      store.close();

      relay = await startRelay(node, { db, retain: "30d", logFile: path.join(dir, "relay-retain.log") });
      expect((await getJson(`${relay.url}/v1/acceptances/${old.id}`)).status, "forgotten").to.equal(404);
      expect(await metric('dripfeed_relay_acceptances{status="settled"}')).to.equal(before.settled - 1);
      expect(await metric('dripfeed_relay_acceptances{status="superseded"}')).to.equal(before.superseded);
      expect(await metric('dripfeed_relay_acceptances{status="queued"}')).to.equal(before.queued);
      expect(readFileSync(path.join(dir, "relay-retain.log"), "utf8")).to.match(/forgot finished acceptances/);
      // What it settled in this run is still there to look up.
      const last = fx.agreements[fx.agreements.length - 1];
      const paidBefore = await fx.token.balanceOf(last.provider);
      const response = await post(relay.url, await signJson(fx, fx.owner, last.id, 50_000n));
      expect(response.status).to.equal(202);
      const settled = (await waitSettled(relay.url, [response.body.id!])).get(response.body.id!)!;
      expect(settled.status).to.equal("settled");
      expect(await fx.token.balanceOf(last.provider)).to.equal(50_000n);
      expect(BigInt(settled.paid!)).to.equal(50_000n - paidBefore);
    });
  });
});
