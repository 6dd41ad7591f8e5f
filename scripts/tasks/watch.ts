import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import pino, { type Logger } from "pino";

import { formatAmountShort, shortHex } from "../sdk/describe";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { isoTime } from "../sdk/time";
import { exitOnStartFailure, serveUntilSignal } from "../service/lifecycle";
import { createLogger } from "../service/logger";
import { Reporter } from "../watcher/events";
import { Watcher, type StepSummary } from "../watcher";
import { DEFAULT_WATCHER_PORT, WatcherService } from "../watcher/service";
import { type CommonArgs, readContext, taskContext } from "./context";
import { parseDuration, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";
import { textTable } from "./table";

/** Longest SIGTERM drain: the step in hand finishes (a settle waits for its receipt), else exit 1 and resume later. */
const DRAIN_TIMEOUT_MS = 60_000;

interface WatchArgs extends CommonArgs {
  provider?: string;
  state?: string;
  acceptances?: string;
  relay?: string;
  minClaim: string;
  nativePrice?: string;
  gasFactor: string;
  margin: string;
  budgetWarn: string;
  poll: string;
  port?: number;
  host?: string;
  once: boolean;
  noClaim: boolean;
  json: boolean;
}

/** The one-shot summary for a person: one row per followed agreement, amounts in token units. */
function summaryTable(summary: StepSummary): string {
  if (summary.agreements.length === 0) return "no agreement pays this address yet";
  return textTable(
    ["agreement", "status", "accepted", "paid", "claimable", "cap", "budget left", "token", "window end / next"],
    summary.agreements.map(({ report: r, token, plan }) => [
      shortHex(r.agreementId.slice(2), 8, 4),
      r.status,
      formatAmountShort(r.acceptedTotal, token),
      formatAmountShort(r.paid, token),
      formatAmountShort(r.claimableNow, token),
      formatAmountShort(r.capNow, token),
      formatAmountShort(r.budgetLeft, token),
      token.symbol,
      r.status === "Terminated" && r.releasableAt !== undefined
        ? r.releasableAt === r.terminatedAt
          ? "releasable now"
          : isoTime(r.releasableAt)
        : plan.action === "wait"
          ? plan.reason
          : `${plan.action}: ${plan.reason}`,
    ]),
    [2, 3, 4, 5, 6],
  );
}

function perMille(text: string): bigint {
  const match = /^\s*(\d{1,3}(?:\.\d)?)\s*%\s*$/.exec(text);
  const value = match ? Math.round(Number(match[1]) * 10) : NaN;
  if (!match || value <= 0 || value > 1000) {
    throw new DripFeedError("INVALID_ARGUMENT", `--budget-warn "${text}" is not a percentage like 90%`, "budget-warn");
  }
  return BigInt(value);
}

/**
 * Parses the flags, connects (with the key unless --no-claim), opens the state file and its /metrics and /healthz (on
 * `port`, none when undefined), and says so in one log line.
 */
async function startWatch(
  args: WatchArgs,
  hre: HardhatRuntimeEnvironment,
  log: Logger,
  port: number | undefined,
): Promise<WatcherService> {
  const provider = requireAddress(required(args.provider, "provider"), "--provider");
  const gasFactor = BigInt(args.gasFactor);
  const marginSeconds = parseDuration(args.margin, "margin");
  const budgetWarnPerMille = perMille(args.budgetWarn);
  const intervalMs = Number(parseDuration(args.poll, "poll")) * 1000;
  const client = args.noClaim ? await readContext(hre, args) : (await taskContext(hre, args)).client;
  const state = args.state ?? `dripfeed-watch-${client.chainId}-${provider.slice(2, 10).toLowerCase()}.sqlite`;
  const reporter = new Reporter(args.json, log, undefined, !args.once);
  const watcher = new Watcher(
    client,
    {
      provider,
      state,
      inbox: args.acceptances,
      relays: args.relay
        ? args.relay
            .split(",")
            .map((r) => r.trim())
            .filter(Boolean)
        : undefined,
      minClaim: args.minClaim,
      nativePrice: args.nativePrice,
      gasFactor,
      marginSeconds,
      budgetWarnPerMille,
      readOnly: args.noClaim,
    },
    reporter,
  );
  const service = await WatcherService.start(watcher, { intervalMs, log, port, host: args.host });
  log.info(
    {
      provider,
      contract: client.address,
      chainId: client.chainId.toString(),
      state: watcher.stateFile,
      ops: service.opsUrl,
    },
    args.once ? "watching once" : "watching",
  );
  return service;
}

dripfeedTask(
  "watch",
  "Follow every agreement paying an address: show it, settle and claim in time, warn (needs a key unless --no-claim)",
  { signs: true },
)
  .addOptionalParam("provider", "the payee address to follow")
  .addOptionalParam(
    "state",
    "state file (SQLite), kept between runs (default: dripfeed-watch-<chain>-<provider>.sqlite)",
  )
  .addOptionalParam("acceptances", "directory of signed acceptance JSON files to settle (read every step)")
  .addOptionalParam("relay", "relay URL(s) to fetch held acceptances from, comma-separated")
  .addOptionalParam("minClaim", "collect once worth at least this, in token units", "1")
  .addOptionalParam(
    "nativePrice",
    "worth of 1 ETH/POL in the pool's token units: also require value >= gas x --gas-factor",
  )
  .addOptionalParam("gasFactor", "with --native-price: collect only when worth this many times the gas", "3")
  .addOptionalParam(
    "margin",
    "act on anything (deadline, ACCEPT notice, claim window) ending within this; >= your cron interval",
    "30m",
  )
  .addOptionalParam("budgetWarn", "warn when an agreement has used this share of its budget", "90%")
  .addOptionalParam("poll", "time between steps", "60s")
  .addOptionalParam(
    "port",
    `port for /metrics and /healthz (daemon default ${DEFAULT_WATCHER_PORT}; 0: any free port; --once: none unless given)`,
    undefined,
    types.int,
  )
  .addOptionalParam("host", "address /metrics and /healthz listen on (default 127.0.0.1)")
  .addFlag("once", "one step, then exit (for cron)")
  .addFlag("noClaim", "only watch and warn: send nothing (no key needed)")
  .addFlag("json", "one JSON event per line on stdout")
  .setAction(async (args: WatchArgs, hre) => {
    // Logs go to stderr: stdout carries the events (--json) or the one-shot table.
    const log = createLogger("dripfeed-watch", { destination: pino.destination({ dest: 2, sync: true }) });
    if (args.once) {
      // A command like every other: one line and exit 1 on any failure.
      return guarded(async () => {
        const service = await startWatch(args, hre, log, args.port);
        try {
          const summary = await service.step();
          if (!args.json) print(summaryTable(summary));
        } finally {
          await service.close();
        }
      })(args, hre);
    }
    // A daemon like every other (scripts/service): a start failure is one fatal log line, exit 2 when it is the
    // operator's to fix (a flag, a locked or foreign state file, a port in use), 1 otherwise; SIGTERM drains.
    let service: WatcherService;
    try {
      service = await startWatch(args, hre, log, args.port ?? DEFAULT_WATCHER_PORT);
    } catch (error) {
      return exitOnStartFailure(log, error);
    }
    service.run();
    await serveUntilSignal(service, { log, drainTimeoutMs: DRAIN_TIMEOUT_MS });
  });
