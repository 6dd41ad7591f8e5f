import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";

import Database from "better-sqlite3";
import { expect } from "chai";

import { SimulatedProvider } from "../../scripts/demo/provider";
import { type StandInNote, YagnaStandIn } from "../../scripts/demo/yagnaStandIn";
import { parseAmount } from "../../scripts/sdk/amounts";
import {
  type Fixture,
  type Node,
  ROOT,
  type RelayProcess,
  freePort,
  kill,
  setupPool,
  startNodeAndDeploy,
  startRelay,
  stopAll,
  tempDir,
  waitFor,
} from "../relay/helpers";

/**
 * The acceptor as real processes (scripts/acceptor/main.ts, and the Hardhat task once) against a `hardhat node`, a
 * relay process and the yagna stand-in, killed with SIGKILL at every step of a note's life and once from outside
 * mid-stream, then restarted on the same database. Afterwards no note is lost (each decided exactly once), none is
 * answered twice with different totals (the relay and yagna only ever saw one total per note), and every accepted
 * total ends paid on chain to its provider.
 */
describe("acceptor: kill -9 mid-stream and restarts (processes)", function () {
  this.timeout(600_000);

  const dir = tempDir("dripfeed-acceptor-crash-");
  const APP_KEY = "crash-test-app-key";
  const ALLOCATION = "crash-allocation";
  const started = new Set<ChildProcess>();
  let node: Node;
  let fx: Fixture;
  let yagna: YagnaStandIn;
  let relay: RelayProcess;
  let relayUrl: string;
  let relayDb: string;
  const db = path.join(dir, "acceptor.sqlite");

  before(async function () {
    node = await startNodeAndDeploy(dir);
    fx = await setupPool(node, 3, 3);
    yagna = await YagnaStandIn.start({ appKey: APP_KEY, allocations: [ALLOCATION] });
    relayDb = path.join(dir, "relay.sqlite");
    await startTheRelay();
  });

  async function startTheRelay(): Promise<void> {
    relay = await startRelay(node, {
      db: relayDb,
      standalone: true,
      maxWait: 50,
      logFile: path.join(dir, "relay.log"),
    });
    relayUrl = relay.url;
  }

  after(async function () {
    await Promise.all([...started].map((child) => kill(child)));
    await yagna?.close();
    await stopAll(dir);
  });

  interface Daemon {
    child: ChildProcess;
    port: number;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  }

  /** `scripts/acceptor/main.ts` as a child process with the grantee's key; `crashAt` arms a crash point. */
  async function startDaemon(crashAt?: string): Promise<Daemon> {
    const port = await freePort();
    const args = [
      "-r",
      "ts-node/register/transpile-only",
      path.join(ROOT, "scripts", "acceptor", "main.ts"),
      ...["--rpc-url", node.url, "--contract", node.dripFeed, "--pool", fx.poolId, "--db", db],
      ...["--yagna-url", yagna.url, "--relay", relayUrl, "--yagna-accept", "--allocation", ALLOCATION],
      ...["--port", String(port)],
    ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: {
        ...process.env,
        DRIPFEED_PRIVATE_KEY: (fx.grantee as { privateKey: string }).privateKey,
        YAGNA_APPKEY: APP_KEY,
        ...(crashAt ? { DRIPFEED_ACCEPTOR_CRASH_AT: crashAt } : {}),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(path.join(dir, "acceptor.log"), { flags: "a" });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    started.add(child);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => {
        started.delete(child);
        resolve({ code, signal });
      }),
    );
    return { child, port, exited };
  }

  /** A counter from the daemon's /metrics (undefined while it is not up). */
  async function metric(daemon: Daemon, name: string): Promise<number | undefined> {
    try {
      const text = await (await fetch(`http://127.0.0.1:${daemon.port}/metrics`)).text();
      const match = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  }

  // The plan: agreement 0 has two activities, 1 and 2 one each; a note every 120 s of the requestor's clock per
  // activity; plus a resend, a note cancelled before it is read and another agreement's notes along the way.
  const streams = () => [provider(0, "0.05"), provider(0, "0.02"), provider(1, "0.1"), provider(2, "0.03")];
  function provider(i: number, per: string): SimulatedProvider {
    const perInterval = BigInt(Math.round(Number(per) * 1e6)) * 10n ** 12n;
    const owner = fx.owner.address;
    return new SimulatedProvider(
      `p${i}`,
      fx.agreements[i].provider,
      owner,
      fx.agreements[i].id.slice(2),
      {
        startPrice: 0n,
        perInterval,
      },
      18,
    );
  }
  let start = 0n;
  let round = 0;
  let plan: SimulatedProvider[] = [];
  const issued: StandInNote[] = [];
  const cancelled = new Set<string>();
  const foreign = new Set<string>();

  /** One round of notes into the stand-in (with something unusual in some rounds). */
  function feedRound(): void {
    round++;
    const at = (offset: number) => start + BigInt(round * 120) * 1_000_000n + BigInt(offset);
    plan.forEach((p, i) => {
      const note = p.issueDebitNote(at(i));
      yagna.receive(note, at(i));
      issued.push(note);
      if (round % 3 === 0 && i === 0) yagna.event(note.debitNoteId, "DebitNoteReceivedEvent", at(10)); // resent
    });
    if (round % 4 === 2) {
      const other = { ...provider(2, "1").issueDebitNote(at(20)), agreementId: "d".repeat(64) };
      yagna.receive(other, at(20));
      foreign.add(other.debitNoteId);
    }
    if (round === 5) {
      // issued, received and cancelled before the acceptor reads it (the provider's next note still counts)
      const extra = { ...plan[2].issueDebitNote(at(30)) };
      yagna.receive(extra, at(30));
      yagna.cancel(extra.debitNoteId, at(31));
      cancelled.add(extra.debitNoteId);
    }
  }

  it("loses no note and never answers one twice with different totals, whatever step it is killed at", async () => {
    start = (BigInt((await node.provider.getBlock("latest"))!.timestamp) + 60n) * 1_000_000n;
    plan = streams();
    // a crash at each step of a note's life, then a kill -9 from outside mid-stream
    for (const crashAt of ["signed:3", "decided:4", "handed:2", "yagna-accepted:3"]) {
      const daemon = await startDaemon(crashAt);
      feedRound();
      feedRound();
      const { signal } = await Promise.race([
        daemon.exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no crash at ${crashAt}`)), 120_000)),
      ]);
      expect(signal, crashAt).to.equal("SIGKILL");
    }
    const victim = await startDaemon();
    feedRound();
    feedRound();
    await waitFor(
      "some decisions of this run",
      async () => (((await metric(victim, "dripfeed_acceptor_notes_seen_total")) ?? 0) >= 3 ? true : undefined),
      120_000,
      50,
    );
    await kill(victim.child, "SIGKILL");

    // the last run sees it through and stops cleanly on SIGTERM
    const last = await startDaemon();
    feedRound();
    const receivedNotes = issued.length + cancelled.size;
    await waitFor(
      "every note answered and handed on",
      async () => {
        const seen = await metric(last, "dripfeed_acceptor_notes_seen_total");
        const health = await fetch(`http://127.0.0.1:${last.port}/healthz`).then(
          (r) => r.json() as Promise<{ pendingDeliveries: number; cursor: string }>,
          () => undefined,
        );
        const lastEvent = yagna.events[yagna.events.length - 1].eventDate;
        return seen !== undefined &&
          health?.pendingDeliveries === 0 &&
          health.cursor === lastEvent &&
          yagna.accepted().length >= issued.length
          ? true
          : undefined;
      },
      180_000,
      200,
    );
    await kill(last.child, "SIGTERM");
    expect((await last.exited).code, "exit status after SIGTERM").to.equal(0);

    // the acceptor's database: every note of the pool decided exactly once, the others left alone
    const store = new Database(db, { readonly: true });
    const rows = store.prepare("SELECT * FROM notes").all() as {
      debit_note_id: string;
      decision: string;
      rule: string | null;
      delivery: string;
      yagna: string;
      agreement_total: string | null;
      total_amount_due: string;
    }[];
    store.close();
    const byId = new Map(rows.map((r) => [r.debit_note_id, r]));
    expect(rows).to.have.length(issued.length + cancelled.size + foreign.size);
    for (const note of issued) {
      expect(byId.get(note.debitNoteId), note.debitNoteId).to.include({ decision: "accept", yagna: "accepted" });
      expect(["handed", "covered"]).to.include(byId.get(note.debitNoteId)?.delivery);
    }
    for (const id of cancelled) expect(byId.get(id)).to.include({ decision: "reject", rule: "status" });
    for (const id of foreign) expect(byId.get(id)).to.include({ decision: "ignored" });
    expect(receivedNotes).to.be.greaterThan(0);

    // yagna: each accepted note accepted for exactly its totalAmountDue, however many times it was asked
    const due = new Map(issued.map((n) => [n.debitNoteId, n.totalAmountDue]));
    for (const call of yagna.accepts) {
      expect(due.has(call.debitNoteId), `yagna asked to accept ${call.debitNoteId}`).to.equal(true);
      expect(call.totalAmountAccepted).to.equal(due.get(call.debitNoteId));
    }

    // the chain: each agreement's accepted total is the sum of its activities' last totals, paid to its provider
    const expected = [0, 1, 2].map((i) =>
      plan
        .filter((p) => p.golemAgreementId === fx.agreements[i].id.slice(2))
        .reduce((sum, p) => {
          const last = [...issued].reverse().find((n) => n.activityId === p.activityId);
          return sum + (last ? parseAmount(last.totalAmountDue, { decimals: 18 }) : 0n);
        }, 0n),
    );
    await waitFor(
      "the relay to settle every last total",
      async () => {
        const states = await Promise.all(fx.agreements.map((a) => fx.dripFeed.getAgreement(fx.poolId, a.id)));
        return states.every((s, i) => s.acceptedTotal === expected[i]) ? true : undefined;
      },
      120_000,
      500,
    );
    for (const [i, a] of fx.agreements.entries()) {
      expect(await fx.token.balanceOf(a.provider), `provider ${i}`).to.equal(expected[i]);
    }

    // the relay: one total per debit note, whatever was resent after a crash. Its store is locked while it runs
    // (one relay per database), so it is stopped to be read, then started again on the same file.
    expect(await kill(relay.process, "SIGTERM")).to.equal(0);
    const relayStore = new Database(relayDb, { readonly: true });
    const twice = relayStore
      .prepare(
        "SELECT debit_note_id, count(DISTINCT total_accepted) AS n FROM acceptances GROUP BY debit_note_id HAVING n > 1",
      )
      .all();
    relayStore.close();
    expect(twice, "debit notes the relay got with different totals").to.deep.equal([]);
    await startTheRelay();
  });

  /** Runs a command to its end; its exit status and output. */
  function run(argv: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, argv, { cwd: ROOT, env: { ...process.env, ...env } });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    return new Promise((resolve) => child.once("exit", (code) => resolve({ code, output })));
  }

  it("refuses bad flags with exit 2 and one line", async () => {
    const { code, output } = await run(
      [
        ...["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts", "acceptor", "main.ts")],
        ...["--rpc-url", node.url, "--contract", node.dripFeed, "--pool", fx.poolId],
        ...["--db", path.join(dir, "flags.sqlite"), "--yagna-url", yagna.url, "--yagna-accept"],
      ],
      { DRIPFEED_PRIVATE_KEY: (fx.grantee as { privateKey: string }).privateKey, YAGNA_APPKEY: APP_KEY },
    );
    expect(code).to.equal(2);
    expect(output).to.match(/--yagna-accept needs --allocation <id>/);
    expect(output.trim().split("\n")).to.have.length(1);
  });

  it("runs as npx hardhat dripfeed acceptor (the network's account signs) and drains on SIGTERM", async () => {
    const ownYagna = await YagnaStandIn.start({ appKey: APP_KEY, allocations: [ALLOCATION] });
    try {
      const port = await freePort();
      const task = spawn(
        process.execPath,
        [
          require.resolve("hardhat/internal/cli/cli", { paths: [ROOT] }),
          ...["--network", "localhost", "dripfeed", "acceptor", "--from", "3", "--port", String(port)],
          ...["--yagna-url", ownYagna.url, "--pool", fx.poolId, "--db", path.join(dir, "task.sqlite")],
          ...["--relay", relayUrl],
        ],
        {
          cwd: ROOT,
          env: { ...process.env, LOCALHOST_RPC_URL: node.url, YAGNA_APPKEY: APP_KEY, TS_NODE_TRANSPILE_ONLY: "true" },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      started.add(task);
      const log = createWriteStream(path.join(dir, "task.log"));
      task.stdout?.pipe(log);
      task.stderr?.pipe(log);
      const exited = new Promise<number | null>((resolve) => task.once("exit", (code) => resolve(code)));
      // a new activity of agreement 2, billed above what the chain holds: this acceptor (a new database) knows only
      // this activity, so it signs 5 GLM, more than the chain's total (its floor)
      const note = provider(2, "5").issueDebitNote(start + BigInt((round + 1) * 120) * 1_000_000n);
      ownYagna.receive(note, start + BigInt((round + 1) * 120) * 1_000_000n);
      const daemon = { child: task, port, exited: exited.then((code) => ({ code, signal: null })) };
      await waitFor(
        "the task to accept the note",
        async () => ((await metric(daemon, "dripfeed_acceptor_notes_accepted_total")) === 1 ? true : undefined),
        180_000,
        200,
      );
      await waitFor(
        "the relay to settle it",
        async () =>
          (await fx.dripFeed.getAgreement(fx.poolId, fx.agreements[2].id)).acceptedTotal ===
          parseAmount("5", { decimals: 18 })
            ? true
            : undefined,
        60_000,
        200,
      );
      await kill(task, "SIGTERM");
      expect(await exited, "exit status after SIGTERM").to.equal(0);
    } finally {
      await ownYagna.close();
    }
  });
});
