import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { expect } from "chai";
import pino from "pino";

import { formatAmount, toAcceptanceJson } from "../../scripts/sdk";
import type { DripFeedError } from "../../scripts/sdk/errors";
import { WatcherService } from "../../scripts/watcher/service";
import { A, B, advance, setup, sign, tempDirs, units, watcher } from "./fixture";

const silent = pino({ level: "silent" });

/** The error a call throws (or a failure of the test when it throws none). */
function thrown(call: () => unknown): DripFeedError {
  try {
    call();
  } catch (error) {
    return error as DripFeedError;
  }
  return expect.fail("expected an error") as never;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe("watcher service: the watcher on the service skeleton (in-process network)", function () {
  this.timeout(120_000);
  const dirs = tempDirs();
  after(dirs.cleanup);

  describe("/metrics and /healthz", () => {
    it("counts what the watcher followed, sent, paid and warned, and answers healthy after a good step", async () => {
      const fx = await setup();
      const dir = dirs.make();
      const inbox = path.join(dir, "inbox");
      mkdirSync(inbox);
      await advance(600);
      writeFileSync(path.join(inbox, "a.json"), JSON.stringify(toAcceptanceJson(await sign(fx, fx.pools[0], A, "3"))));
      writeFileSync(path.join(inbox, "broken.json"), "{");
      const run = watcher(fx, path.join(dir, "state.sqlite"), { inbox });
      const service = await WatcherService.start(run.w, { intervalMs: 60_000, log: silent, port: 0 });
      try {
        expect(service.opsUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
        const before = await get(`${service.opsUrl}/healthz`);
        expect(before.status).to.equal(200);
        expect(JSON.parse(before.body)).to.deep.equal({ ok: true, followed: 0, lastStepAt: null, failedAgreements: 0 });

        const p0 = await fx.glm.balanceOf(fx.provider.address);
        const b0 = (await fx.client.getAgreement(fx.pools[1], B)).paid;
        await service.step();
        // A: the 3 GLM acceptance settled; B: its stream floor (36 GLM/h for ~600 s) claimed.
        const claimed = (await fx.client.getAgreement(fx.pools[1], B)).paid - b0;
        expect(claimed).to.be.greaterThan(units("6"));
        expect((await fx.glm.balanceOf(fx.provider.address)) - p0).to.equal(units("3") + claimed);

        const metrics = await get(`${service.opsUrl}/metrics`);
        expect(metrics.status).to.equal(200);
        expect(metrics.body).to.match(/^dripfeed_watcher_agreements_followed 2$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_transactions_total\{action="settle"\} 1$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_transactions_total\{action="claim"\} 1$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_paid_total\{action="settle",token="GLM"\} 3$/m);
        expect(metrics.body).to.include(
          `dripfeed_watcher_paid_total{action="claim",token="GLM"} ${formatAmount(claimed, { decimals: 18 })}\n`,
        );
        expect(metrics.body).to.match(/^dripfeed_watcher_acceptances_received_total 1$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_warnings_total\{kind="acceptance-refused"\} 1$/m); // broken.json
        expect(metrics.body).to.match(/^dripfeed_watcher_warnings_total\{kind="terminated"\} 0$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_errors_total\{stage="step"\} 0$/m);
        expect(metrics.body).to.match(/^dripfeed_watcher_last_step_timestamp_seconds \d{10}$/m);

        const health = await get(`${service.opsUrl}/healthz`);
        expect(health.status).to.equal(200);
        const body = JSON.parse(health.body) as Record<string, unknown>;
        expect(body).to.include({ ok: true, followed: 2, failedAgreements: 0 });
        expect(body.lastStepAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      } finally {
        await service.close();
      }
    });

    it("answers 503 with the reason when a step fails (counted) or the last good step is too old", async () => {
      const fx = await setup();
      const run = watcher(fx, path.join(dirs.make(), "state.sqlite"));
      const service = await WatcherService.start(run.w, { intervalMs: 60_000, log: silent, port: 0 });
      try {
        await service.step();
        const stepOf = run.w.step.bind(run.w);
        // The chain's RPC going away mid-run, as the step sees it.
        run.w.step = () => Promise.reject(new Error("could not reach the RPC"));
        await service.step().then(
          () => expect.fail("the step should fail"),
          (error: Error) => expect(error.message).to.equal("could not reach the RPC"),
        );
        const failing = await get(`${service.opsUrl}/healthz`);
        expect(failing.status).to.equal(503);
        expect(JSON.parse(failing.body)).to.include({ ok: false, stepError: "could not reach the RPC" });
        expect((await get(`${service.opsUrl}/metrics`)).body).to.match(
          /^dripfeed_watcher_errors_total\{stage="step"\} 1$/m,
        );

        run.w.step = stepOf;
        await service.step();
        expect((await get(`${service.opsUrl}/healthz`)).status).to.equal(200);
        // No good step for 3 polls (at least 5 minutes): stale.
        const later = service.health(Date.now() + 301_000);
        expect(later).to.include({ ok: false, stale: "no good step for more than 300 s" });
      } finally {
        await service.close();
      }
    });

    it("refuses a port in use with a line to act on, and leaves the state file free", async () => {
      const fx = await setup();
      const dir = dirs.make();
      const first = await WatcherService.start(watcher(fx, path.join(dir, "one.sqlite")).w, {
        intervalMs: 60_000,
        log: silent,
        port: 0,
      });
      try {
        const port = Number(new URL(first.opsUrl as string).port);
        const state = path.join(dir, "two.sqlite");
        let refused: DripFeedError | undefined;
        await WatcherService.start(watcher(fx, state).w, { intervalMs: 60_000, log: silent, port }).then(
          (s) => s.close(),
          (error: DripFeedError) => void (refused = error),
        );
        expect(refused?.code).to.equal("INVALID_ARGUMENT");
        expect(refused?.message).to.equal(
          `cannot serve /metrics and /healthz on 127.0.0.1:${port} (EADDRINUSE): give another --port (0: any free port) or --host`,
        );
        watcher(fx, state).w.close(); // not held by the refused start
      } finally {
        await first.close();
      }
    });
  });

  describe("drain", () => {
    it("stops at once between steps (no wait for the interval) and frees the state file", async () => {
      const fx = await setup();
      const state = path.join(dirs.make(), "state.sqlite");
      const run = watcher(fx, state);
      const service = await WatcherService.start(run.w, { intervalMs: 3_600_000, log: silent });
      service.run();
      while (run.of("agreement").length < 2) await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      await service.close();
      expect(Date.now() - started).to.be.lessThan(5_000);
      expect(existsSync(`${state}.pid`)).to.equal(false);
      const again = watcher(fx, state);
      expect((await again.w.step()).agreements).to.have.length(2);
      again.w.close();
    });
  });

  describe("the state file, through the skeleton's store", () => {
    it("is refused to a second watcher while one holds it, naming the holder and the --state flag", async () => {
      const fx = await setup();
      const state = path.join(dirs.make(), "state.sqlite");
      const first = watcher(fx, state);
      try {
        expect(readFileSync(`${state}.pid`, "utf8").trim()).to.equal(String(process.pid));
        const refused = thrown(() => watcher(fx, state));
        expect(refused.code).to.equal("STORE_LOCKED");
        expect(refused.message).to.equal(
          `state file ${state} is in use by another watcher (pid ${process.pid}): stop it first, or give this one another --state file`,
        );
      } finally {
        first.w.close();
      }
      watcher(fx, state).w.close(); // free once the holder closed it
    });

    it("is bound to its chain, contract and provider: another provider is refused, naming the fact", async () => {
      const fx = await setup();
      const state = path.join(dirs.make(), "state.sqlite");
      watcher(fx, state).w.close();
      const refused = thrown(() => watcher(fx, state, { provider: fx.keeper.address }));
      expect(refused.code).to.equal("STORE_MISMATCH");
      expect(refused.message).to.equal(
        `state file ${state} was written for provider ${fx.provider.address.toLowerCase()}, not ${fx.keeper.address.toLowerCase()}: run with the same provider, or give this run another --state file`,
      );
      watcher(fx, state).w.close(); // the refused open left the file free
    });

    it("keeps a state file written before the skeleton (one binding value): its history and its binding", async () => {
      const fx = await setup();
      const state = path.join(dirs.make(), "state.sqlite");
      const run = watcher(fx, state);
      await run.w.step();
      run.w.close();
      // Rewrite the binding the way the earlier watcher kept it.
      const db = new Database(state);
      db.prepare("DELETE FROM meta WHERE key IN ('chainId', 'contract', 'provider')").run();
      db.prepare("INSERT INTO meta (key, value) VALUES ('binding', ?)").run(
        `${fx.client.chainId}:${fx.client.address.toLowerCase()}:${fx.provider.address.toLowerCase()}`,
      );
      db.close();
      expect(thrown(() => watcher(fx, state, { provider: fx.keeper.address })).code).to.equal("STORE_MISMATCH");
      const again = watcher(fx, state);
      await again.w.step();
      again.w.close();
      expect(again.of("following")).to.have.length(0); // the followed agreements were kept
    });
  });
});
