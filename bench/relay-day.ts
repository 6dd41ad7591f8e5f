/**
 * `npm run bench:relay-day`: a simulated day of Golem debit notes through the relay, for several settlement
 * schedules. Starts a `hardhat node`, and for each `--max-hold` (0, the default 1h, 24h) a fresh pool of 200
 * agreements and a relay (the Hardhat task). Every 120 s of chain time each agreement's acceptor signs its next
 * cumulative total (deadline: the agreement's payment timeout, as the SDK's acceptor does) and posts it over HTTP;
 * the bench then moves the chain's clock 120 s on (`evm_setNextBlockTimestamp`) and waits until the relay has seen
 * the block and sent whatever was due. After 24 h of notes the clock keeps moving, with no new notes, until nothing
 * is left unsettled. Reported per schedule:
 *
 * - settleBatch items and gas per agreement-day (DebitNoteSettled events and the relay's gasUsed, / agreements);
 * - the longest an accepted total waited unsettled (chain time from its POST to the first settlement covering it);
 * - that every provider ended paid exactly its highest accepted total;
 * - ingestion: acceptances answered 202 per second of posting (bursts of one note per agreement).
 *
 * Targets (exit 1 when missed): default <= 24 items per agreement-day, 24h <= 2, nothing lost, ingestion >= 1,500/s.
 * Environment: BENCH_DAY_AGREEMENTS (200), BENCH_DAY_HOURS (24), BENCH_DAY_HOLDS ("0,1h,24h"), BENCH_CONNECTIONS (50).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import { type Interface, type Log } from "ethers";

import { DripFeed__factory } from "../typechain-types";
import {
  type Fixture,
  type HealthView,
  ROOT,
  health,
  kill,
  metric,
  setupPool,
  signJson,
  startNodeAndDeploy,
  startRelay,
  stopAll,
} from "../test/relay/helpers";
import { type Answer, PipelinedConnection, serialise } from "./lib/http";

const AGREEMENTS = Number(process.env.BENCH_DAY_AGREEMENTS ?? 200);
const HOURS = Number(process.env.BENCH_DAY_HOURS ?? 24);
const HOLDS = (process.env.BENCH_DAY_HOLDS ?? "0,1h,24h").split(",");
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const INTERVAL = 120;
const NOTE = 1_000_000_000_000_000n; // 0.001 GLM per note
const TARGET_RATE = 1_500;
const TARGETS: Record<string, number> = { "1h": 24, "24h": 2 };
/** Blocks per eth_getLogs call when reading the settlements back (a --max-hold 0 day is ~1,500 blocks). */
const LOG_CHUNK_BLOCKS = 100;

const iface: Interface = DripFeed__factory.createInterface();
const SETTLED = iface.getEvent("DebitNoteSettled")!.topicHash;

interface Row {
  hold: string;
  items: number;
  gas: number;
  batches: number;
  longestWait: number;
  paidExactly: number;
  rate: number;
  failed: number;
}

/** Posts every request over the connections (one in flight on each) and resolves with the answers in order. */
function postAll(connections: PipelinedConnection[], requests: Buffer[]): Promise<Answer[]> {
  const answers: Answer[] = new Array<Answer>(requests.length);
  let nextIndex = 0;
  let done = 0;
  return new Promise((resolve) => {
    const pump = (conn: PipelinedConnection) => {
      if (nextIndex >= requests.length) return;
      const i = nextIndex++;
      conn.send(requests[i], (answer) => {
        answers[i] = answer;
        if (++done === requests.length) resolve(answers);
        else pump(conn);
      });
    };
    for (const conn of connections) pump(conn);
  });
}

async function waitUntil(what: string, probe: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A read of the results, tried again when the connection to the node drops: a --max-hold 0 day ended once with
 * "socket hang up" from Hardhat's node after 14 minutes of run, in the middle of reading the results back.
 */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      const text = String((error as { code?: string }).code ?? "") + String(error);
      if (attempt >= 5 || !/ECONNRESET|socket hang up|ECONNREFUSED/.test(text)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/**
 * The pool's DebitNoteSettled events, read a range of blocks at a time: a day settled at once is 144,000 events,
 * and one eth_getLogs over all of them never answered within the node's timeout.
 */
async function settledLogs(node: Node, poolId: string, fromBlock: number): Promise<Log[]> {
  const latest = await node.provider.getBlockNumber();
  const logs: Log[] = [];
  for (let from = fromBlock; from <= latest; from += LOG_CHUNK_BLOCKS) {
    const toBlock = Math.min(latest, from + LOG_CHUNK_BLOCKS - 1);
    logs.push(
      ...(await reading(() =>
        node.provider.getLogs({ address: node.dripFeed, topics: [SETTLED, poolId], fromBlock: from, toBlock }),
      )),
    );
  }
  return logs;
}

function duration(text: string): string {
  return text === "0" ? "`--max-hold 0`" : `\`--max-hold ${text}\`${text === "1h" ? " (default)" : ""}`;
}

type Node = Awaited<ReturnType<typeof startNodeAndDeploy>>;

async function runDay(node: Node, hold: string, index: number, dir: string) {
  const firstBlock = (await node.provider.getBlockNumber()) + 1;
  const fx: Fixture = await setupPool(node, AGREEMENTS, 5 + index);
  // A supervisor's grant lasts longer than the day (a 24 h grant would pull every agreement forward at its end).
  const start = (await node.provider.getBlock("latest"))!.timestamp;
  await (await fx.dripFeed.setGrant(fx.poolId, fx.grantee.address, 1, start + 30 * 86_400, 0, 0)).wait();
  const relay = await startRelay(node, {
    db: path.join(dir, `relay-${index}.sqlite`),
    maxHold: hold,
    batchSize: 100,
    maxWait: 200,
    pollInterval: 100,
    logFile: path.join(dir, `relay-${index}.log`),
  });
  const steps = (HOURS * 3600) / INTERVAL;
  const posted = fx.agreements.map(() => [] as { at: number; total: bigint }[]);
  let postSeconds = 0;
  let accepted = 0;
  let t = (await node.provider.getBlock("latest"))!.timestamp + 10;

  /** Until the relay has seen the latest block and sent (and recorded) everything that was due. */
  const idle = async () => {
    const block = await node.provider.getBlockNumber();
    await waitUntil("the relay to catch up", async () => {
      const h: HealthView = await health(relay.url);
      return (h.block ?? 0) >= block && h.agreements.due === 0 && h.submitted === 0;
    });
  };
  const advance = async () => {
    t += INTERVAL;
    await node.provider.send("evm_setNextBlockTimestamp", [t]);
    await node.provider.send("evm_mine", []);
    await idle();
  };

  await node.provider.send("evm_setNextBlockTimestamp", [t]);
  await node.provider.send("evm_mine", []);
  for (let step = 0; step < steps; step++) {
    const requests: Buffer[] = [];
    for (const [i, a] of fx.agreements.entries()) {
      const total = BigInt(step + 1) * NOTE + BigInt(i);
      const body = await signJson(fx, fx.grantee, a.id, total, { deadline: t + 3600, debitNote: `${a.id}-${step}` });
      requests.push(serialise(relay.port, JSON.stringify(body)));
      posted[i].push({ at: t, total });
    }
    // Fresh connections per burst (an idle keep-alive connection is closed by the server between bursts).
    const connections = Array.from(
      { length: Math.min(CONNECTIONS, requests.length) },
      () =>
        new PipelinedConnection(relay.port, (error) => {
          throw error;
        }),
    );
    const began = performance.now();
    const answers = await postAll(connections, requests);
    postSeconds += (performance.now() - began) / 1000;
    for (const conn of connections) conn.close();
    for (const answer of answers) {
      if (answer.status === 202) accepted++;
      else throw new Error(`relay answered ${answer.status}: ${answer.body}`);
    }
    await idle(); // what is due now (everything, with --max-hold 0) goes before the clock moves on
    await advance();
    if (step % 60 === 59) console.log(`  ${hold}: ${((step + 1) * INTERVAL) / 3600} h of notes`);
  }
  // No more notes: the clock moves on until nothing is left unsettled (at most another day and an hour).
  for (let extra = 0; extra < (25 * 3600) / INTERVAL; extra++) {
    const h = await health(relay.url);
    if (h.queued === 0 && h.submitted === 0) break;
    await advance();
  }
  const gas = await metric(relay.url, "dripfeed_relay_gas_used_total");
  const batches = await metric(relay.url, "dripfeed_relay_batches_total", 'result="mined"');
  const failed = await metric(relay.url, "dripfeed_relay_acceptances_failed_total");
  const logs = await settledLogs(node, fx.poolId, firstBlock);
  const settlements = new Map<string, { at: number; total: bigint }[]>();
  const times = new Map<number, number>();
  for (const log of logs) {
    if (!times.has(log.blockNumber))
      times.set(log.blockNumber, (await reading(() => node.provider.getBlock(log.blockNumber)))!.timestamp);
    const total = BigInt(`0x${log.data.slice(2, 66)}`);
    const list = settlements.get(log.topics[2]) ?? [];
    list.push({ at: times.get(log.blockNumber)!, total });
    settlements.set(log.topics[2], list);
  }
  let longestWait = 0;
  let paidExactly = 0;
  for (const [i, a] of fx.agreements.entries()) {
    const settled = settlements.get(a.id.toLowerCase()) ?? [];
    for (const note of posted[i]) {
      const covering = settled.find((s) => s.total >= note.total);
      longestWait = Math.max(longestWait, covering ? covering.at - note.at : Infinity);
    }
    const highest = posted[i][posted[i].length - 1].total;
    if ((await reading(() => fx.token.balanceOf(a.provider))) === highest) paidExactly++;
  }
  await kill(relay.process, "SIGTERM");
  const agreementDays = (AGREEMENTS * HOURS) / 24;
  return {
    hold,
    items: logs.length / agreementDays,
    gas: gas / agreementDays,
    batches,
    longestWait,
    paidExactly,
    rate: accepted / postSeconds,
    failed,
  } satisfies Row;
}

function formatWait(seconds: number): string {
  if (!Number.isFinite(seconds)) return "never";
  if (seconds < 120) return `${seconds} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min`;
}

async function main(): Promise<void> {
  const dir = path.join(ROOT, "bench", ".tmp", `relay-day-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  console.log(
    `relay day bench: ${AGREEMENTS} agreements, a note every ${INTERVAL} s each for ${HOURS} h of chain time, schedules ${HOLDS.join(", ")} (logs in ${dir})`,
  );
  const node = await startNodeAndDeploy(dir);
  const rows: Row[] = [];
  for (const [index, hold] of HOLDS.entries()) {
    const started = Date.now();
    rows.push(await runDay(node, hold, index, dir));
    console.log(`  ${hold}: done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  await stopAll();

  const misses: string[] = [];
  const lines = [
    "| schedule | items / agreement-day | gas / agreement-day | settleBatch txs | longest unsettled wait | paid exactly | failed | ingestion (202/s) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of rows) {
    const target = TARGETS[row.hold];
    if (target !== undefined && row.items > target)
      misses.push(`${row.hold}: ${row.items.toFixed(1)} items > ${target}`);
    if (row.paidExactly !== AGREEMENTS || row.failed > 0) misses.push(`${row.hold}: not every provider paid exactly`);
    if (row.rate < TARGET_RATE) misses.push(`${row.hold}: ingestion ${row.rate.toFixed(0)}/s < ${TARGET_RATE}`);
    lines.push(
      `| ${duration(row.hold)} | ${row.items.toFixed(1)}${target !== undefined ? ` (≤ ${target})` : ""} | ${Math.round(row.gas).toLocaleString("en-US")} | ${row.batches} | ${formatWait(row.longestWait)} | ${row.paidExactly} / ${AGREEMENTS} | ${row.failed} | ${row.rate.toFixed(0)} |`,
    );
  }
  console.log(`\n${lines.join("\n")}\n`);
  for (const miss of misses) console.log(`MISSED ${miss}`);
  process.exit(misses.length > 0 ? 1 : 0);
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
