/**
 * `npm run bench:relay`: the relay under load, end to end. Starts a `hardhat node` (automine) and the relay
 * (`hardhat --network localhost dripfeed relay`), opens 200 agreements, pushes 5,000 signed acceptances over HTTP
 * (25 rising totals per agreement, each agreement's in order, 50 concurrent connections), and reports:
 *
 * - acceptances verified + queued per second (first request sent to last 202 received);
 * - time from the last 202 until every acceptance is settled or superseded;
 * - transactions and gas per settled acceptance;
 *
 * then checks on-chain that every provider holds exactly its highest accepted total. Exits 1 when a target is
 * missed (>= 1,500 acceptances/s accepted; all settled within 60 s of the last one accepted).
 * Environment: BENCH_AGREEMENTS, BENCH_ACCEPTANCES, BENCH_CONCURRENCY, BENCH_BATCH_SIZE, BENCH_MAX_WAIT,
 * BENCH_STANDALONE=1 (run scripts/relay/main.ts instead of the Hardhat task), BENCH_RELAY_NODE_ARGS.
 */
import { execSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { cpus, loadavg } from "node:os";
import path from "node:path";

import type { SignedAcceptanceJson } from "../scripts/sdk/acceptance";
import {
  ROOT,
  getJson,
  kill,
  setupPool,
  signJson,
  sleep,
  startNodeAndDeploy,
  startRelay,
  stopAll,
} from "../test/relay/helpers";

const AGREEMENTS = Number(process.env.BENCH_AGREEMENTS ?? 200);
const ACCEPTANCES = Number(process.env.BENCH_ACCEPTANCES ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 100);
const MAX_WAIT = Number(process.env.BENCH_MAX_WAIT ?? 500);
const TARGET_RATE = 1_500;
const TARGET_SETTLE_S = 60;

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function postRaw(url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: "/v1/acceptances",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux); undefined elsewhere. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(execSync("getconf CLK_TCK").toString().trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / ticks;
  } catch {
    return undefined;
  }
}

function metricValue(text: string, name: string, labels = ""): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}${labels} `) || (labels === "" && line.startsWith(`${name}{`))) {
      sum += Number(line.split(" ").pop());
    }
  }
  return sum;
}

async function main(): Promise<void> {
  const dir = path.join(ROOT, "bench", ".tmp", `relay-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  console.log(
    `relay bench: ${ACCEPTANCES} acceptances over ${AGREEMENTS} agreements, ${CONCURRENCY} connections, relay ${
      process.env.BENCH_STANDALONE === "1" ? "standalone (scripts/relay/main.ts)" : "as the Hardhat task"
    } (logs in ${dir})`,
  );

  const node = await startNodeAndDeploy(dir);
  const fx = await setupPool(node, AGREEMENTS);
  const relay = await startRelay(node, {
    db: path.join(dir, "relay.sqlite"),
    batchSize: BATCH_SIZE,
    maxWait: MAX_WAIT,
    logFile: path.join(dir, "relay.log"),
    // e.g. BENCH_RELAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the relay process.
    nodeArgs: process.env.BENCH_RELAY_NODE_ARGS?.split(" ").filter(Boolean),
    // BENCH_STANDALONE=1: scripts/relay/main.ts instead of the Hardhat task (same relay code, no Hardhat runtime).
    standalone: process.env.BENCH_STANDALONE === "1",
  });

  // Sign everything first: the bench measures the relay, not the acceptor.
  const perAgreement = Math.ceil(ACCEPTANCES / AGREEMENTS);
  const queues: SignedAcceptanceJson[][] = fx.agreements.map(() => []);
  let signed = 0;
  for (let round = 1; round <= perAgreement && signed < ACCEPTANCES; round++) {
    for (const [i, a] of fx.agreements.entries()) {
      if (signed++ >= ACCEPTANCES) break;
      queues[i].push(await signJson(fx, i % 2 ? fx.grantee : fx.owner, a.id, BigInt(round) * 1_000_000n + BigInt(i)));
    }
  }
  const bodies = queues.map((q) => q.map((b) => JSON.stringify(b)));

  // Each worker owns some agreements and sends their acceptances in order (totals only rise).
  const url = new URL(relay.url);
  let accepted = 0;
  const rejected = new Map<string, number>();
  const loadBefore = loadavg()[0];
  const cpuBefore = cpuSeconds(relay.process.pid);
  const started = performance.now();
  let lastAccepted = started;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      const mine = bodies.filter((_, i) => i % CONCURRENCY === worker);
      for (let round = 0; round < perAgreement; round++) {
        for (const list of mine) {
          const body = list[round];
          if (body === undefined) continue;
          const response = await postRaw(url, body);
          if (response.status === 202) {
            accepted++;
            lastAccepted = performance.now();
          } else {
            const code =
              (JSON.parse(response.text) as { error?: { code?: string } }).error?.code ?? String(response.status);
            rejected.set(code, (rejected.get(code) ?? 0) + 1);
          }
        }
      }
    }),
  );
  const acceptSeconds = (lastAccepted - started) / 1000;
  const cpuAfter = cpuSeconds(relay.process.pid);
  const relayCpuUs =
    cpuBefore !== undefined && cpuAfter !== undefined ? ((cpuAfter - cpuBefore) * 1e6) / accepted : undefined;

  // Until nothing is queued or submitted.
  for (;;) {
    const { body } = await getJson<{ queued: number; submitted: number }>(`${relay.url}/healthz`);
    if (body.queued === 0 && body.submitted === 0) break;
    await sleep(50);
  }
  const settledSeconds = (performance.now() - lastAccepted) / 1000;

  const metrics = await (await fetch(`${relay.url}/metrics`)).text();
  const batches = metricValue(metrics, "dripfeed_relay_batches_total", '{result="mined"}');
  const gas = metricValue(metrics, "dripfeed_relay_gas_used_total");
  const settled = metricValue(metrics, "dripfeed_relay_acceptances_settled_total");
  const superseded = metricValue(metrics, "dripfeed_relay_acceptances_superseded_total");
  const failed = metricValue(metrics, "dripfeed_relay_acceptances_failed_total");

  // Every provider holds exactly its highest accepted total.
  let mismatches = 0;
  for (const [i, a] of fx.agreements.entries()) {
    const last = queues[i][queues[i].length - 1];
    if (!last) continue;
    const [balance, agreement] = await Promise.all([
      fx.token.balanceOf(a.provider),
      fx.dripFeed.getAgreement(fx.poolId, a.id),
    ]);
    if (balance !== BigInt(last.totalAccepted) || agreement.acceptedTotal !== BigInt(last.totalAccepted)) mismatches++;
  }
  await kill(relay.process, "SIGTERM");
  await stopAll();

  const rate = accepted / acceptSeconds;
  const rows: [string, string, string][] = [
    ["acceptances accepted (202)", `${accepted} / ${ACCEPTANCES}`, accepted === ACCEPTANCES ? "ok" : "MISSED"],
    [
      "verified + queued per second",
      rate.toFixed(0),
      rate >= TARGET_RATE ? `ok (>= ${TARGET_RATE})` : `MISSED (< ${TARGET_RATE})`,
    ],
    ["time to accept all (s)", acceptSeconds.toFixed(2), ""],
    ["relay CPU per accepted acceptance (us)", relayCpuUs === undefined ? "-" : relayCpuUs.toFixed(0), ""],
    ["=> acceptances/s per fully used core", relayCpuUs === undefined ? "-" : (1e6 / relayCpuUs).toFixed(0), ""],
    ["machine: cores / load average at start", `${cpus().length} / ${loadBefore.toFixed(1)}`, ""],
    [
      "settled after the last 202 (s)",
      settledSeconds.toFixed(2),
      settledSeconds <= TARGET_SETTLE_S ? `ok (<= ${TARGET_SETTLE_S})` : `MISSED (> ${TARGET_SETTLE_S})`,
    ],
    ["settled / superseded / failed", `${settled} / ${superseded} / ${failed}`, failed === 0 ? "ok" : "MISSED"],
    ["settleBatch transactions", String(batches), ""],
    ["gas used (total)", gas.toLocaleString("en-US"), ""],
    ["gas per settled acceptance", settled ? (gas / settled).toFixed(0) : "-", ""],
    ["gas per accepted acceptance (incl. superseded)", accepted ? (gas / accepted).toFixed(0) : "-", ""],
    [
      "providers paid exactly their highest total",
      `${AGREEMENTS - mismatches} / ${AGREEMENTS}`,
      mismatches === 0 ? "ok" : "MISSED",
    ],
  ];
  if (rejected.size > 0) rows.push(["rejections", JSON.stringify(Object.fromEntries(rejected)), "MISSED"]);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log("");
  for (const [name, value, verdict] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(14)}  ${verdict}`);
  agent.destroy();
  process.exit(rows.some((r) => r[2].startsWith("MISSED")) ? 1 : 0);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
