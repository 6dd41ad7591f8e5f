import { mkdirSync } from "node:fs";
import path from "node:path";

import pino from "pino";

import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { Reporter } from "../watcher/events";
import { Watcher, type StepSummary } from "../watcher";
import { runUntilSignal } from "../watcher/lifecycle";
import { type CommonArgs, readContext, taskContext } from "./context";
import { parseDuration, required } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";
import { textTable } from "./table";
import { formatAmountShort, shortHex } from "../sdk/describe";
import { isoTime } from "../sdk/time";

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
  .addFlag("once", "one step, then exit (for cron)")
  .addFlag("noClaim", "only watch and warn: send nothing (no key needed)")
  .addFlag("json", "one JSON event per line on stdout")
  .setAction(
    guarded(async (args: WatchArgs, hre) => {
      const provider = requireAddress(required(args.provider, "provider"), "--provider");
      const gasFactor = BigInt(args.gasFactor);
      const marginSeconds = parseDuration(args.margin, "margin");
      const pollMs = Number(parseDuration(args.poll, "poll")) * 1000;
      const client = args.noClaim ? await readContext(hre, args) : (await taskContext(hre, args)).client;
      const state =
        args.state ?? path.resolve(`dripfeed-watch-${client.chainId}-${provider.slice(2, 10).toLowerCase()}.sqlite`);
      mkdirSync(path.dirname(path.resolve(state)), { recursive: true });
      const log = pino(
        { name: "dripfeed-watch", level: process.env.LOG_LEVEL ?? "info" },
        pino.destination({ dest: 2, sync: true }),
      );
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
          budgetWarnPerMille: perMille(args.budgetWarn),
          readOnly: args.noClaim,
        },
        reporter,
      );
      log.info({ provider, contract: client.address, chainId: client.chainId.toString(), state }, "watching");
      try {
        if (args.once) {
          const summary = await watcher.step();
          if (!args.json) print(summaryTable(summary));
          return;
        }
        process.exitCode = await runUntilSignal(() => watcher.step().then(() => undefined), pollMs, log);
      } finally {
        watcher.close();
      }
    }),
  );
