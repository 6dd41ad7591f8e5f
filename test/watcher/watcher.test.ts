import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { deployments, ethers, network } from "hardhat";
import pino from "pino";

import { MockGLM__factory } from "../../typechain-types";
import { startRelay } from "../../scripts/relay";
import {
  ACCEPT,
  DripFeedClient,
  type SignedAcceptance,
  type Terms,
  debitNoteIdHash,
  parseAmount,
  parseRate,
  signAcceptance,
  toAcceptanceJson,
} from "../../scripts/sdk";
import { Reporter, type WatchEvent } from "../../scripts/watcher/events";
import { Watcher, type WatcherOptions } from "../../scripts/watcher";

const GLM = { decimals: 18, symbol: "GLM" };
const units = (text: string): bigint => parseAmount(text, GLM);
const A = "a1".repeat(32);
const B = "b2".repeat(32);
const OTHER = "c3".repeat(32);

async function advance(seconds: number): Promise<void> {
  await network.provider.send("evm_increaseTime", [seconds]);
  await network.provider.send("evm_mine", []);
}

describe("watcher: follows a provider's agreements, collects in time, warns once (in-process network)", function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-watch-"));
    dirs.push(dir);
    return dir;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const setup = deployments.createFixture(async () => {
    await deployments.fixture(["local"]);
    const [owner, supervisor, provider, otherProvider, keeper] = await ethers.getSigners();
    const address = (await deployments.get("DripFeed")).address;
    const glm = MockGLM__factory.connect((await deployments.get("MockGLM")).address, owner);
    await (await glm.mint(owner.address, units("1000"))).wait();
    const client = await DripFeedClient.connect(address, owner);
    const terms: Terms = {
      budget: units("10"),
      upfront: units("1"),
      maxRate: parseRate("36 GLM/h", GLM),
      streamRate: 0n,
      debitNoteInterval: 120,
      paymentTimeout: 3600,
    };
    const pools: string[] = [];
    for (const salt of ["watch-1", "watch-2"]) {
      const { poolId } = await client.createPool(await glm.getAddress(), salt);
      await client.fund(poolId, units("50"), { permit: true });
      await client.setGrant(poolId, supervisor.address, {
        permissions: ACCEPT,
        validUntil: (await client.now()) + 86_400n,
      });
      pools.push(poolId);
    }
    await client.openAgreement(pools[0], A, provider.address, terms);
    await client.openAgreement(pools[1], B, provider.address, { ...terms, streamRate: parseRate("36 GLM/h", GLM) });
    await client.openAgreement(pools[0], OTHER, otherProvider.address, terms);
    return { client, glm, pools, owner, supervisor, provider, keeper };
  });

  type Fixture = Awaited<ReturnType<typeof setup>>;

  function watcher(fx: Fixture, state: string, overrides: Partial<WatcherOptions> = {}) {
    const events: WatchEvent[] = [];
    const reporter = new Reporter(true, pino({ level: "silent" }), (line) =>
      events.push(JSON.parse(line) as WatchEvent),
    );
    const w = new Watcher(
      fx.client.withSigner(fx.keeper),
      {
        provider: fx.provider.address,
        state,
        minClaim: "1",
        gasFactor: 3n,
        marginSeconds: 1800n,
        budgetWarnPerMille: 900n,
        readOnly: false,
        ...overrides,
      },
      reporter,
    );
    return { w, events, of: (kind: string) => events.filter((e) => e.event === kind) };
  }

  const sign = async (
    fx: Fixture,
    poolId: string,
    agreementId: string,
    total: string,
    ttl = 86_400n,
  ): Promise<SignedAcceptance> =>
    signAcceptance(fx.supervisor, fx.client.domain, {
      poolId,
      agreementId: `0x${agreementId}`,
      debitNoteId: debitNoteIdHash(`${agreementId}-${total}`),
      totalAccepted: units(total),
      deadline: (await fx.client.now()) + ttl,
    });

  const paidOf = async (fx: Fixture): Promise<{ a: bigint; b: bigint }> => ({
    a: (await fx.client.getAgreement(fx.pools[0], A)).paid,
    b: (await fx.client.getAgreement(fx.pools[1], B)).paid,
  });

  it("follows every agreement paying the address across pools, and only those", async () => {
    const fx = await setup();
    const { w, of } = watcher(fx, path.join(tempDir(), "state.sqlite"));
    const summary = await w.step();
    w.close();
    expect(of("following").map((e) => (e as { agreementId: string }).agreementId)).to.deep.equal([`0x${A}`, `0x${B}`]);
    expect(summary.agreements.map((a) => a.report.agreementId)).to.deep.equal([`0x${A}`, `0x${B}`]);
    const figures = of("agreement")[0] as Extract<WatchEvent, { event: "agreement" }>;
    expect(figures).to.include({ status: "Active", accepted: "0 GLM", budgetLeft: "10 GLM" });
  });

  it("settles an acceptance dropped in its directory once worth the threshold (balances checked), never twice", async () => {
    const fx = await setup();
    const dir = tempDir();
    const inbox = path.join(dir, "inbox");
    mkdirSync(inbox);
    const state = path.join(dir, "state.sqlite");
    await advance(600); // cap 1 + 0.01 GLM/s x 600 s = 7 GLM
    writeFileSync(
      path.join(inbox, "small.json"),
      JSON.stringify(toAcceptanceJson(await sign(fx, fx.pools[0], A, "0.5"))),
    );
    let run = watcher(fx, state, { inbox });
    await run.w.step();
    run.w.close();
    expect(run.of("received")).to.have.length(1);
    expect(run.of("settled")).to.have.length(0); // 0.5 GLM < the 1 GLM threshold

    writeFileSync(path.join(inbox, "big.json"), JSON.stringify(toAcceptanceJson(await sign(fx, fx.pools[0], A, "3"))));
    const [p0, d0] = await Promise.all([fx.glm.balanceOf(fx.provider.address), fx.glm.balanceOf(fx.client.address)]);
    const keeperTokens = await fx.glm.balanceOf(fx.keeper.address);
    run = watcher(fx, state, { inbox }); // a restart: the state file carries what was held
    await run.w.step();
    const settled = run.of("settled") as Extract<WatchEvent, { event: "settled" }>[];
    expect(settled).to.have.length(1);
    expect(settled[0]).to.include({ totalAccepted: "3 GLM", paid: "3 GLM" });
    expect((await fx.glm.balanceOf(fx.provider.address)) - p0).to.equal(units("3"));
    expect(d0 - (await fx.glm.balanceOf(fx.client.address))).to.equal(units("3"));
    expect(await fx.glm.balanceOf(fx.keeper.address)).to.equal(keeperTokens); // the submitter is never paid
    await run.w.step();
    run.w.close();
    expect(run.of("settled")).to.have.length(1);
    expect(run.of("received")).to.have.length(1); // the files were not read again
  });

  it("refuses an acceptance for someone else's agreement, once", async () => {
    const fx = await setup();
    const dir = tempDir();
    writeFileSync(
      path.join(dir, "other.json"),
      JSON.stringify(toAcceptanceJson(await sign(fx, fx.pools[0], OTHER, "1"))),
    );
    const run = watcher(fx, path.join(dir, "state.sqlite"), { inbox: dir });
    await run.w.step();
    await run.w.step();
    run.w.close();
    const refused = run.of("warning").filter((e) => (e as { kind: string }).kind === "acceptance-refused");
    expect(refused).to.have.length(1);
    expect((refused[0] as { message: string }).message).to.match(/pays .*, not /);
  });

  it("on a revocation notice, warns and settles the revoked signer's held acceptance before the notice ends", async () => {
    const fx = await setup();
    const dir = tempDir();
    const state = path.join(dir, "state.sqlite");
    await advance(600);
    writeFileSync(path.join(dir, "a.json"), JSON.stringify(toAcceptanceJson(await sign(fx, fx.pools[0], A, "0.2"))));
    let run = watcher(fx, state, { inbox: dir, marginSeconds: 600n });
    await run.w.step();
    run.w.close();
    expect(run.of("settled")).to.have.length(0); // small, nothing urgent yet

    await fx.client.setGrant(fx.pools[0], fx.supervisor.address, { permissions: 0, validUntil: 0n });
    await advance(3000); // the one-hour notice now ends in ~10 minutes
    const p0 = await fx.glm.balanceOf(fx.provider.address);
    const paid0 = await paidOf(fx);
    run = watcher(fx, state, { inbox: dir, marginSeconds: 900n });
    await run.w.step();
    run.w.close();
    const kinds = run.of("warning").map((e) => (e as { kind: string }).kind);
    expect(kinds).to.include("revocation-notice");
    const settled = run.of("settled") as Extract<WatchEvent, { event: "settled" }>[];
    expect(settled).to.have.length(1);
    expect(settled[0].reason).to.match(/ACCEPT right ends/);
    const paid1 = await paidOf(fx);
    expect(paid1.a - paid0.a).to.equal(units("0.2"));
    // The stream agreement B was worth claiming too: the provider got exactly what both recorded.
    expect((await fx.glm.balanceOf(fx.provider.address)) - p0).to.equal(paid1.a - paid0.a + paid1.b - paid0.b);
  });

  it("warns on termination and silence, claims before the window ends; --no-claim sends nothing", async () => {
    const fx = await setup();
    const dir = tempDir();
    const state = path.join(dir, "state.sqlite");
    await advance(300);
    await fx.client.terminate(fx.pools[1], B); // owner terminates the stream agreement: 3 GLM floor accrued
    const readOnly = watcher(fx, path.join(dir, "ro.sqlite"), { readOnly: true, minClaim: "100" });
    const before = await fx.client.getAgreement(fx.pools[1], B);
    await readOnly.w.step();
    readOnly.w.close();
    expect((await fx.client.getAgreement(fx.pools[1], B)).paid).to.equal(before.paid);
    const kinds = readOnly.of("warning").map((e) => (e as { kind: string }).kind);
    expect(kinds).to.include.members(["terminated", "missing-acceptance"]);

    await advance(3000); // the window (1 h) ends within the 30-minute margin
    const p0 = await fx.glm.balanceOf(fx.provider.address);
    const run = watcher(fx, state, { minClaim: "100" }); // far above what is claimable: only urgency claims
    await run.w.step();
    run.w.close();
    const claimed = run.of("claimed") as Extract<WatchEvent, { event: "claimed" }>[];
    expect(claimed.map((c) => c.agreementId)).to.deep.equal([`0x${B}`]);
    expect(claimed[0].reason).to.match(/the claim window ends/);
    const after = await fx.client.getAgreement(fx.pools[1], B);
    expect((await fx.glm.balanceOf(fx.provider.address)) - p0).to.equal(after.paid - before.paid);
    expect(after.paid).to.equal(units("0.01") * (after.terminatedAt - after.startedAt));
  });

  it("takes held acceptances from a relay and settles them itself when they are worth it", async () => {
    const fx = await setup();
    const dir = tempDir();
    const relay = await startRelay({
      provider: ethers.provider,
      signer: fx.owner,
      contract: fx.client.address,
      port: 0,
      db: path.join(dir, "relay.sqlite"),
      maxWaitMs: 3_600_000, // the relay holds it: the watcher must act
      batchSize: 500,
      logger: pino({ level: "silent" }),
    });
    try {
      await advance(600);
      const signed = await sign(fx, fx.pools[0], A, "2");
      const posted = await fetch(`${relay.url}/v1/acceptances`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(toAcceptanceJson(signed)),
      });
      expect(posted.status).to.equal(202);
      // The relay takes ids with or without 0x in its URLs, as the CLI does.
      const bare = await fetch(`${relay.url}/v1/agreements/${fx.pools[0].slice(2)}/${A}`);
      expect(bare.status).to.equal(200);
      expect(((await bare.json()) as { agreementId: string }).agreementId).to.equal(`0x${A}`);
      const p0 = await fx.glm.balanceOf(fx.provider.address);
      const paid0 = await paidOf(fx);
      const run = watcher(fx, path.join(dir, "state.sqlite"), { relays: [relay.url] });
      await run.w.step();
      run.w.close();
      expect(run.of("received").map((e) => (e as { source: string }).source)).to.deep.equal([`relay:${relay.url}`]);
      expect(run.of("settled")).to.have.length(1);
      const paid1 = await paidOf(fx);
      expect(paid1.a - paid0.a).to.equal(units("2"));
      expect((await fx.glm.balanceOf(fx.provider.address)) - p0).to.equal(paid1.a - paid0.a + paid1.b - paid0.b);
    } finally {
      await relay.close();
    }
  });
});
