import type { HardhatRuntimeEnvironment } from "hardhat/types";

import type { TxProgress } from "../sdk/client";
import { type DripFeedErrorCode, isDripFeedError } from "../sdk/errors";

/**
 * The one place the CLI maps errors to what a person sees: every failure is ONE line on stderr naming what is
 * wrong, and an exit status (1 for everything today; the table exists so a code can get its own status without
 * touching the tasks). Never a stack trace.
 */
const EXIT_STATUS: Partial<Record<DripFeedErrorCode, number>> = {};
const DEFAULT_EXIT_STATUS = 1;

export function exitStatusOf(code: DripFeedErrorCode): number {
  return EXIT_STATUS[code] ?? DEFAULT_EXIT_STATUS;
}

/** The single line printed for an error. */
export function errorLine(error: unknown): string {
  if (isDripFeedError(error)) return `error: ${error.message} [${error.code}]`;
  const message =
    error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : String(error);
  return `error: ${message.split("\n")[0]}`;
}

/** Codes that, on the in-process network, most likely mean `--network` was forgotten. */
const NOT_FOUND: readonly DripFeedErrorCode[] = ["UNKNOWN_POOL", "UNKNOWN_AGREEMENT", "NOT_DEPLOYED"];

/**
 * The hint added when something is not found on the in-process `hardhat` network: that chain is created for this
 * one command and thrown away, so nothing made by an earlier command is on it.
 */
export function inProcessHint(error: unknown, network: string): string {
  if (network !== "hardhat" || !isDripFeedError(error) || !NOT_FOUND.includes(error.code)) return "";
  return " (this ran on Hardhat's throw-away in-process chain: add --network <name>, e.g. --network localhost)";
}

/** Prints the error's one line to stderr and exits (stderr writes to a pipe or file are synchronous on Linux). */
export function fail(error: unknown, hint = ""): never {
  const line = errorLine(error).replace(/\s*\n\s*/g, " ");
  process.stderr.write(`${hint ? line.replace(/( \[[A-Z_]+\])?$/, `${hint}$1`) : line}\n`);
  process.exit(isDripFeedError(error) ? exitStatusOf(error.code) : DEFAULT_EXIT_STATUS);
}

/** Wraps a task action so that any error ends the process through `fail`. */
export function guarded<A>(action: (args: A, hre: HardhatRuntimeEnvironment) => Promise<void>) {
  return async (args: A, hre: HardhatRuntimeEnvironment): Promise<void> => {
    try {
      return await action(args, hre);
    } catch (error) {
      return fail(error, inProcessHint(error, hre.network.name));
    }
  };
}

/** A line telling a person what a sent transaction is doing ("waiting for confirmation … 20 s"). */
export function progressLine(progress: TxProgress): string {
  const seconds = Math.round(progress.elapsedMs / 1000);
  switch (progress.stage) {
    case "sent":
      return `sent ${progress.action}: tx ${progress.hash}, waiting for confirmation…`;
    case "waiting":
      return `still waiting for tx ${progress.hash} to be mined (${seconds} s)…`;
    case "confirmed":
      return `confirmed tx ${progress.hash}${seconds >= 2 ? ` after ${seconds} s` : ""}`;
  }
}

/** Standard output of a task: one line per call. */
export function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}
