import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { parseDuration } from "../tasks/flags";
import type { AcceptorOptions } from ".";

/**
 * The acceptor's flags as both entry points (the Hardhat task and scripts/acceptor/main.ts) take them, turned into
 * options once, so the two never disagree on what a flag means.
 */
export interface AcceptorFlags {
  yagnaUrl?: string;
  pool?: string;
  db?: string;
  relay?: string;
  yagnaAccept?: boolean;
  allocation?: string;
  port?: string | number;
  host?: string;
  payer?: string;
  platform?: string;
  deadline?: string;
  leaveRateToContract?: boolean;
  intervalGrace?: string | number;
}

export type ParsedFlags = Omit<AcceptorOptions, "client" | "logger">;

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.trim() === "") {
    throw new DripFeedError("INVALID_ARGUMENT", `--${flag} is required`, flag);
  }
  return value.trim();
}

/** Validates the flags; the yagna app key comes from YAGNA_APPKEY (never a flag: it would show in `ps`). */
export function parseAcceptorFlags(flags: AcceptorFlags, env: NodeJS.ProcessEnv = process.env): ParsedFlags {
  if (flags.yagnaAccept && !flags.allocation) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      "--yagna-accept needs --allocation <id>: the yagna allocation the notes are accepted against (yagna payment allocations)",
      "allocation",
    );
  }
  if (flags.allocation && !flags.yagnaAccept) {
    throw new DripFeedError("INVALID_ARGUMENT", "--allocation is only used with --yagna-accept", "allocation");
  }
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
    throw new DripFeedError("INVALID_ARGUMENT", `--port must be a TCP port (0 for any free one), got ${flags.port}`);
  }
  const grace = flags.intervalGrace === undefined ? undefined : Number(flags.intervalGrace);
  if (grace !== undefined && !(grace >= 0 && grace < 1)) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `--interval-grace is a share of the interval from 0 to below 1 (0.1 = 10%), got ${flags.intervalGrace}`,
    );
  }
  const any = (value: string | undefined) => value?.trim().toLowerCase() === "any";
  return {
    poolId: required(flags.pool, "pool"),
    yagnaUrl: required(flags.yagnaUrl, "yagna-url"),
    db: required(flags.db, "db"),
    appKey: env.YAGNA_APPKEY ?? "",
    relayUrl: flags.relay,
    yagnaAllocation: flags.yagnaAccept ? flags.allocation : undefined,
    port,
    host: flags.host,
    policy: {
      ...(flags.payer ? { payer: any(flags.payer) ? null : requireAddress(flags.payer, "--payer") } : {}),
      ...(flags.platform ? { paymentPlatform: any(flags.platform) ? null : flags.platform.trim() } : {}),
      acceptanceTtl: flags.deadline ? parseDuration(flags.deadline, "deadline") : undefined,
      leaveRateToContract: flags.leaveRateToContract ?? false,
      intervalGrace: grace,
    },
  };
}

/** Flag help shared by both entry points. */
export const FLAG_HELP = {
  yagnaUrl: "the requestor's yagna REST URL, e.g. http://127.0.0.1:7465 (app key from YAGNA_APPKEY)",
  pool: "the pool whose agreements' debit notes this supervisor accepts",
  db: "SQLite file: the event cursor, every decision, the hand-off outbox (created if missing; one process per file)",
  relay: "relay URL to hand acceptances to (default: settle them with this key, which then needs gas)",
  yagnaAccept: "also accept each accepted note in yagna (exactly its totalAmountDue), so the provider sees it answered",
  allocation: "the yagna allocation id notes are accepted against (with --yagna-accept)",
  port: `port for /metrics and /healthz (default 8789; 0: any free port)`,
  host: "interface for /metrics and /healthz (default 127.0.0.1)",
  payer: "the requestor's payment address notes must be billed to (default: the pool's owner; 'any' to skip)",
  platform: "the payment platform notes must name (default: the chain's Golem platform; 'any' to skip)",
  deadline: "lifetime of each signed acceptance, e.g. 6h (default: the agreement's payment timeout)",
  leaveRateToContract: "accept notes above the rate cap and let the contract pay them out at the cap",
  intervalGrace: "share of the debit-note interval a note may arrive early by (default 0.1)",
} as const;
