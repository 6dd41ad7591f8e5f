import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import { HDNodeWallet } from "ethers";
import { createLogger } from "../../scripts/service/logger";
import type { Locator, Page } from "playwright-core";

import { type DripFeed, DripFeed__factory } from "../../typechain-types";
import { startRelay, type Relay } from "../../scripts/relay";
import { formatAmount, formatAmountFixed, parseAmount, payableAt, toAcceptanceJson } from "../../scripts/sdk";
import { capAt, floorAt, RATE_SCALE } from "../helpers/payoutModel";
import { freePort } from "../helpers/net";
import { ROOT, startNode, type TestNode } from "../tasks/harness";
import { type Browser, type DashboardProcess, launchChromium, OUTPUT_DIR, startDashboardTask } from "./browser";
import { deploy, runScenario, type Scenario } from "./scenario";

/**
 * The dashboard as people use it: `npx hardhat --network localhost dripfeed dashboard --relay <url>` against a
 * `hardhat node` with a scripted scenario and a relay holding an acceptance, opened in headless Chromium. Every
 * number checked on a page is compared with the chain's own views (getPool, getAgreement, claimable, grantOf,
 * acceptValidUntil), each page is saved as a screenshot under test-results/dashboard/, and the page is watched
 * updating without a reload and reporting a relay and a chain that stopped answering.
 */

const GLM = { decimals: 18, symbol: "GLM" };
const MNEMONIC = "test test test test test test test test test test test junk";

/** An amount on a page: its base units, every digit with the symbol (tooltip) and the figure at a glance. */
async function expectAmount(locator: Locator, expected: bigint, what: string): Promise<void> {
  const [raw, title, text] = await Promise.all([
    locator.getAttribute("data-raw"),
    locator.getAttribute("title"),
    locator.textContent(),
  ]);
  expect(raw, what).to.equal(expected.toString());
  expect(title, what).to.equal(formatAmount(expected, GLM));
  // At a glance: six decimals at most, cut down (never more than the chain's), "~" exactly when cut.
  const glance = text!.trim();
  const value = parseAmount(glance.replace(/^~/, "").replace(/ GLM$/, ""), GLM);
  expect(value <= expected && expected - value < 10n ** 12n, `${what}: shows ${glance} for ${title}`).to.equal(true);
  expect(glance.startsWith("~"), `${what}: ${glance} is marked ~ exactly when cut`).to.equal(value !== expected);
}

async function unixOf(locator: Locator): Promise<bigint> {
  return BigInt((await locator.getAttribute("data-unix"))!);
}

describe("dashboard in headless Chromium (hardhat node, relay, dashboard task)", function () {
  this.timeout(240_000);
  let browser: Browser | undefined;
  let page: Page;
  let node: TestNode | undefined;
  let relay: Relay | undefined;
  let dashboard: DashboardProcess | undefined;
  let starting: Promise<DashboardProcess> | undefined;
  let s: Scenario;
  let dripFeed: DripFeed;
  const dbDir = mkdtempSync(path.join(tmpdir(), "dripfeed-dashboard-relay-"));

  const open = async (route: string): Promise<void> => {
    await page.goto(`${dashboard!.url}${route}`);
    await page.locator("#chain [data-field=block]").waitFor();
  };
  const shot = (name: string) => page.screenshot({ path: path.join(OUTPUT_DIR, `${name}.png`), fullPage: true });

  before(async function () {
    // In parallel where nothing depends: the browser with the node; the dashboard task's start-up (Hardhat loading,
    // ten seconds and more) with the scenario, once the contracts exist.
    const chromium = launchChromium(this);
    node = await startNode();
    browser = await chromium;
    page = await browser.context.newPage();
    const deployment = await deploy(node.rpcUrl);
    const relayPort = await freePort();
    starting = startDashboardTask(node.rpcUrl, [
      "--contract",
      deployment.dripFeed,
      "--port",
      "0",
      "--relay",
      `http://127.0.0.1:${relayPort}`,
      "--refresh",
      "1s",
    ]);
    starting.catch(() => undefined); // awaited below; a failure before then is reported there
    s = await runScenario(deployment);
    dripFeed = DripFeed__factory.connect(s.dripFeed, s.provider);
    // A relay that holds what it receives (batches wait an hour to fill), submitting from account 0.
    const submitter = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/0").connect(s.provider);
    relay = await startRelay({
      provider: s.provider,
      signer: submitter,
      contract: s.dripFeed,
      port: relayPort,
      db: path.join(dbDir, "relay.sqlite"),
      maxWaitMs: 3_600_000,
      logger: createLogger("dripfeed-relay", { level: "silent" }),
    });
    const posted = await fetch(`${relay.url}/v1/acceptances`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(toAcceptanceJson(s.heldAcceptance)),
    });
    expect(posted.status, await posted.clone().text()).to.equal(202);
    dashboard = await starting;
  });

  after(async () => {
    await browser?.close();
    await (dashboard ?? (await starting?.catch(() => undefined)))?.stop();
    await relay?.close();
    await node?.stop();
    s?.provider.destroy();
    rmSync(dbDir, { recursive: true, force: true });
  });

  it("serves only on 127.0.0.1 and names itself, the chain and the relay", () => {
    expect(dashboard!.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(dashboard!.output()).to.contain(`chain 31337, DripFeed ${s.dripFeed}, relay ${relay!.url}`);
  });

  it("index: both pools with the chain's balance, locked and free, and the relay's queue", async () => {
    await open("/");
    for (const poolId of [s.poolId, s.otherPoolId]) {
      const row = page.locator(`tr[data-pool="${poolId}"]`);
      const pool = await dripFeed.getPool(poolId);
      await expectAmount(row.locator("[data-field=balance]"), pool.balance, "balance");
      await expectAmount(row.locator("[data-field=locked]"), pool.locked, "locked");
      await expectAmount(row.locator("[data-field=free]"), pool.balance - pool.locked, "free");
    }
    expect(await page.locator(`tr[data-pool="${s.poolId}"] [data-field=agreements]`).textContent()).to.equal(
      "2 active / 4",
    );
    expect(await page.locator("#relay-panel [data-field=relay-queued]").textContent()).to.equal("1");
    const held = page.locator(`#relay-panel tr[data-agreement="${s.agreements.a}"]`);
    expect(await held.locator("[data-field=relayPending]").textContent()).to.equal("1");
    await expectAmount(held.locator("[data-field=relayTotal]"), s.heldAcceptance.totalAccepted, "held total");
    await shot("index");
  });

  it("pool page: the pool, every grant (a revoked one in its ACCEPT notice) and every agreement as on chain", async () => {
    await open(`/pool/${s.poolId}`);
    const pool = await dripFeed.getPool(s.poolId);
    const facts = page.locator("#page-top .facts").first();
    await expectAmount(facts.locator("[data-field=balance]"), pool.balance, "balance");
    await expectAmount(facts.locator("[data-field=locked]"), pool.locked, "locked");
    await expectAmount(facts.locator("[data-field=free]"), pool.balance - pool.locked, "free");
    expect(await facts.locator("[data-address]").first().getAttribute("data-address")).to.equal(pool.owner);

    const grant = (who: string) => page.locator(`#grants tr[data-grantee="${who}"]`);
    const supervisor = await dripFeed.grantOf(s.poolId, s.supervisor.address);
    expect(await grant(s.supervisor.address).locator("[data-field=permissions]").textContent()).to.equal(
      "accept, terminate",
    );
    expect(await unixOf(grant(s.supervisor.address).locator("[data-field=validUntil]"))).to.equal(
      supervisor.validUntil,
    );
    expect(await grant(s.supervisor.address).locator("[data-field=notice]").textContent()).to.equal("");

    const revokedUntil = await dripFeed.acceptValidUntil(s.poolId, s.revoked.address);
    expect(revokedUntil > (await s.now()), "the scenario leaves the notice running").to.equal(true);
    expect((await dripFeed.grantOf(s.poolId, s.revoked.address)).permissions).to.equal(0n);
    const revoked = grant(s.revoked.address);
    expect(await revoked.locator(".badge").first().textContent()).to.equal("revoked");
    expect(await revoked.locator("[data-field=notice]").textContent()).to.contain("ACCEPT was taken away");
    expect(await unixOf(revoked.locator("[data-field=noticeUntil]"))).to.equal(revokedUntil);

    const opener = await dripFeed.grantOf(s.poolId, s.opener.address);
    expect(await grant(s.opener.address).locator("[data-field=permissions]").textContent()).to.equal("open");
    await expectAmount(
      grant(s.opener.address).locator("[data-field=openAllowanceNow]"),
      opener.openAllowanceNow,
      "OPEN allowance",
    );

    const now = await s.now();
    for (const id of [s.agreements.a, s.agreements.b, s.agreements.c, s.agreements.e]) {
      const row = page.locator(`#agreements tr[data-agreement="${id}"]`);
      const a = await dripFeed.getAgreement(s.poolId, id);
      await expectAmount(row.locator("[data-field=budget]"), a.terms.budget, `${id} budget`);
      await expectAmount(row.locator("[data-field=acceptedTotal]"), a.acceptedTotal, `${id} accepted`);
      await expectAmount(row.locator("[data-field=paid]"), a.paid, `${id} paid`);
      await expectAmount(
        row.locator("[data-field=claimable]"),
        await dripFeed.claimable(s.poolId, id),
        `${id} claimable`,
      );
      const locked = a.status === 3n ? 0n : a.terms.budget - a.paid; // a released budget went back to the pool
      await expectAmount(row.locator("[data-field=budgetLeft]"), locked, `${id} budget left`);
      expect(await row.locator("[data-address]").nth(1).getAttribute("data-address")).to.equal(a.provider);
    }
    const a = page.locator(`#agreements tr[data-agreement="${s.agreements.a}"]`);
    expect(await a.locator("[data-field=maxRate]").textContent()).to.equal("12 GLM/h");
    expect(await a.locator("[data-field=streamRate]").textContent()).to.equal("6 GLM/h");
    // Accepted beyond the cap: the budget runs out when the cap has let the rest through.
    const onChain = await s.ownerClient.getAgreement(s.poolId, s.agreements.a);
    const left = onChain.terms.budget - payableAt(onChain, now);
    const runsOut = now + (left * RATE_SCALE + onChain.terms.maxRate - 1n) / onChain.terms.maxRate;
    expect(await unixOf(a.locator("[data-field=runsOutAt]"))).to.equal(runsOut);
    const b = await dripFeed.getAgreement(s.poolId, s.agreements.b);
    const bRow = page.locator(`#agreements tr[data-agreement="${s.agreements.b}"]`);
    expect(await bRow.locator(".badge").textContent()).to.equal("Terminated");
    expect(await unixOf(bRow.locator("[data-field=claimWindowEnd]"))).to.equal(b.terminatedAt + b.terms.paymentTimeout);
    expect(await a.locator("[data-field=relayPending]").getAttribute("data-count")).to.equal("1");
    const eRow = page.locator(`#agreements tr[data-agreement="${s.agreements.e}"]`);
    expect(await eRow.locator(".badge").textContent()).to.equal("Released");
    expect(await eRow.locator("[data-field=runsOutAt]").textContent()).to.equal("stopped (Released)");
    await shot("pool");
  });

  it("agreement page: its numbers, a chart with every series of the payout rule and now, its events' transactions", async () => {
    await open(`/agreement/${s.poolId}/${s.agreements.a}`);
    const a = await dripFeed.getAgreement(s.poolId, s.agreements.a);
    const claimable = await dripFeed.claimable(s.poolId, s.agreements.a);
    const now = await s.now();
    const facts = page.locator("#agreement");
    await expectAmount(facts.locator("[data-field=budget]"), a.terms.budget, "budget");
    await expectAmount(facts.locator("[data-field=upfront]"), a.terms.upfront, "upfront");
    await expectAmount(facts.locator("[data-field=acceptedTotal]"), a.acceptedTotal, "accepted");
    await expectAmount(facts.locator("[data-field=paid]"), a.paid, "paid");
    await expectAmount(facts.locator("[data-field=claimable]"), claimable, "claimable");
    expect(await unixOf(facts.locator("[data-field=startedAt]"))).to.equal(a.startedAt);
    expect(await facts.locator("[data-field=status]").textContent()).to.equal("Active");
    await expectAmount(facts.locator("[data-field=relayTotal]"), s.heldAcceptance.totalAccepted, "held on the relay");

    // The chart: every series, drawn (uPlot's legend), with the chain's values at "now".
    const chart = page.locator("#chart");
    expect(await chart.getAttribute("data-series")).to.equal("budget cap floor payable accepted paid");
    expect(await chart.getAttribute("data-now")).to.equal(now.toString());
    expect(await page.locator("#chart .u-legend .u-series").count()).to.equal(7);
    expect(await page.locator("#chart canvas").count()).to.be.greaterThan(0);
    const atNow = await page.evaluate((t) => {
      const u = (globalThis as unknown as { dripfeed: { chart: { data: (number | null)[][] } } }).dripfeed.chart;
      const i = u.data[0].indexOf(t);
      return u.data.map((series) => series[i]);
    }, Number(now));
    const units = (v: bigint): number => Number(formatAmountFixed(v, 18));
    const elapsed = now - a.startedAt;
    const [, budget, cap, floor, payable, accepted, paid] = atNow;
    expect(budget).to.equal(units(a.terms.budget));
    expect(cap).to.equal(units(capAt(a.terms, elapsed)));
    expect(floor).to.equal(units(floorAt(a.terms, elapsed)));
    expect(payable).to.equal(units(a.paid + claimable));
    expect(accepted).to.equal(units(a.acceptedTotal));
    expect(paid).to.equal(units(a.paid));

    // The timeline: one row per event of the agreement, each with its transaction.
    const filters = [
      dripFeed.filters.AgreementOpened(s.poolId, s.agreements.a),
      dripFeed.filters.BudgetIncreased(s.poolId, s.agreements.a),
      dripFeed.filters.DebitNoteSettled(s.poolId, s.agreements.a),
      dripFeed.filters.Claimed(s.poolId, s.agreements.a),
    ];
    const events = (await Promise.all(filters.map((f) => dripFeed.queryFilter(f)))).flat();
    const shown = await page.locator("#timeline [data-field=txHash]").allTextContents();
    expect(shown.sort()).to.deep.equal(events.map((e) => e.transactionHash).sort());
    expect(await page.locator('#timeline tr[data-event="DebitNoteSettled"]').count()).to.equal(3);
    await shot("agreement");
    if (process.env.DRIPFEED_DOCS_SCREENSHOT === "1") {
      copyFileSync(path.join(OUTPUT_DIR, "agreement.png"), path.join(ROOT, "docs", "dashboard-agreement.png"));
    }
  });

  it("a released agreement: frozen at its termination, its release paying the provider, then refunding the rest", async () => {
    await open(`/agreement/${s.poolId}/${s.agreements.e}`);
    const e = await dripFeed.getAgreement(s.poolId, s.agreements.e);
    expect(e.status).to.equal(3n);
    expect(await page.locator("#agreement [data-field=status]").textContent()).to.equal("Released");
    await expectAmount(page.locator("#agreement [data-field=paid]"), e.paid, "paid");
    await expectAmount(page.locator("#agreement [data-field=claimable]"), 0n, "claimable");
    expect(await unixOf(page.locator("#agreement [data-field=terminatedAt]"))).to.equal(e.terminatedAt);
    expect(await page.locator("#chart").getAttribute("data-terminated-at")).to.equal(e.terminatedAt.toString());
    expect(await page.locator("#chart").getAttribute("data-series")).to.equal("budget floor payable accepted paid");
    const [released] = await dripFeed.queryFilter(dripFeed.filters.AgreementReleased(s.poolId, s.agreements.e));
    const [claimed] = await dripFeed.queryFilter(dripFeed.filters.Claimed(s.poolId, s.agreements.e));
    expect(claimed.args.paid).to.equal(e.paid);
    expect(released.args.refunded).to.equal(e.terms.budget - e.paid);
    const events = await page
      .locator("#timeline tr")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-event")).filter((name) => name !== null));
    // Newest first; release pays the provider (Claimed) before it refunds (AgreementReleased), in one transaction.
    expect(events).to.deep.equal(["AgreementReleased", "Claimed", "AgreementTerminated", "AgreementOpened"]);
    const text = await page.locator('#timeline tr[data-event="AgreementReleased"]').textContent();
    expect(text).to.contain(`released: ${formatAmount(released.args.refunded, GLM)} back to the pool's free balance`);
    expect(
      await page.locator('#timeline tr[data-event="AgreementReleased"] [data-field=txHash]').textContent(),
    ).to.equal(released.transactionHash);
  });

  it("provider page: every agreement paying the address across pools, claimable now and claim-window ends", async () => {
    // Reached the way a provider would: its address typed into the header's lookup.
    await open("/");
    await page.locator("#provider-lookup input").fill(s.providerA.address);
    await page.locator("#provider-lookup button").click();
    await page.waitForURL(`${dashboard!.url}/provider/${s.providerA.address}`);
    await page.locator("#chain [data-field=block]").waitFor();
    let total = 0n;
    for (const [poolId, id] of [
      [s.poolId, s.agreements.a],
      [s.otherPoolId, s.agreements.d],
    ]) {
      const row = page.locator(`#agreements tr[data-agreement="${id}"][data-pool="${poolId}"]`);
      const a = await dripFeed.getAgreement(poolId, id);
      const claimable = await dripFeed.claimable(poolId, id);
      total += claimable;
      await expectAmount(row.locator("[data-field=claimable]"), claimable, `${id} claimable`);
      await expectAmount(row.locator("[data-field=paid]"), a.paid, `${id} paid`);
      expect(await row.locator("[data-field=claimWindowEnd]").textContent()).to.equal("after termination");
    }
    expect(await page.locator("#agreements tbody tr").count()).to.equal(2);
    await expectAmount(page.locator("[data-field=totalClaimable]"), total, "claimable in total");
    await shot("provider");

    await open(`/provider/${s.providerB.address}`);
    const b = await dripFeed.getAgreement(s.poolId, s.agreements.b);
    const row = page.locator(`#agreements tr[data-agreement="${s.agreements.b}"]`);
    expect(await unixOf(row.locator("[data-field=claimWindowEnd]"))).to.equal(b.terminatedAt + b.terms.paymentTimeout);
    expect(await page.locator("#agreements tbody tr").count()).to.equal(3);
  });

  it("says what is wrong with an unknown pool or agreement and a malformed address", async () => {
    const unknown = `0x${"ee".repeat(32)}`;
    await page.goto(`${dashboard!.url}/pool/${unknown}`);
    await page.locator("[data-field=notFound]").waitFor();
    expect(await page.locator("[data-field=notFound]").textContent()).to.equal(
      `pool ${unknown} does not exist on chain 31337`,
    );
    await page.goto(`${dashboard!.url}/agreement/${s.poolId}/${unknown}`);
    await page.locator("[data-field=notFound]").waitFor();
    expect(await page.locator("[data-field=notFound]").textContent()).to.equal(
      `agreement ${unknown.slice(2)} does not exist in pool ${s.poolId}`,
    );
    await page.goto(`${dashboard!.url}/provider/0x1234`);
    await page.locator("[data-field=notFound]").waitFor();
    expect(await page.locator("[data-field=notFound]").textContent()).to.match(/provider address must be/);
  });

  it("updates without a reload when the chain moves", async () => {
    await open(`/agreement/${s.poolId}/${s.agreements.a}`);
    // A mark on the document: still there after the update means the page was not reloaded.
    await page.evaluate(() => ((globalThis as unknown as { sameDocument: boolean }).sameDocument = true));
    const before = await dripFeed.getAgreement(s.poolId, s.agreements.a);
    await s.providerClient.claim(s.poolId, s.agreements.a);
    const after = await dripFeed.getAgreement(s.poolId, s.agreements.a);
    expect(after.paid > before.paid).to.equal(true);
    const paid = page.locator("#agreement [data-field=paid]");
    for (const deadline = Date.now() + 15_000; (await paid.getAttribute("data-raw")) !== after.paid.toString();) {
      expect(Date.now() < deadline, "the page shows the new paid amount within 15 s").to.equal(true);
      await page.waitForTimeout(200);
    }
    expect(await page.evaluate(() => (globalThis as unknown as { sameDocument?: boolean }).sameDocument)).to.equal(
      true,
    );
    await expectAmount(page.locator("#agreement [data-field=paid]"), after.paid, "paid after the claim");
    expect(await page.locator('#timeline tr[data-event="Claimed"]').count()).to.equal(2);
  });

  it("says so when the relay, then the chain, stops answering, keeping the last data", async () => {
    await open(`/pool/${s.poolId}`);
    await relay!.close();
    relay = undefined;
    await page.locator("#relay-panel [data-field=relayError]").waitFor({ timeout: 15_000 });
    expect(await page.locator("#relay-panel [data-field=relayError]").textContent()).to.match(/is unreachable/);
    await node!.stop();
    node = undefined;
    await page.locator("#banner").waitFor({ state: "visible", timeout: 30_000 });
    expect(await page.locator("#banner").textContent()).to.match(/^The chain is unreachable: .+retrying every 1 s\.$/);
    expect(await page.locator(`#agreements tr[data-agreement="${s.agreements.a}"]`).count()).to.equal(1);
    await shot("unreachable");
  });
});
