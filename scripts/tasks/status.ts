import { formatAmount } from "../sdk/amounts";
import { formatAmountShort, humanTerms, shortHex } from "../sdk/describe";
import { type AgreementReport, type PoolReport, poolReport } from "../sdk/report";
import type { TokenInfo } from "../sdk/token";
import { isoTime } from "../sdk/time";
import { type CommonArgs, readContext } from "./context";
import { parsePoolId } from "./flags";
import { guarded, print, toJson } from "./output";
import { dripfeedTask } from "./scope";
import { keyValues, textTable } from "./table";

interface StatusArgs extends CommonArgs {
  pool?: string;
  json: boolean;
}

/**
 * The "window end" column: the claim window's end while Terminated; none for a released agreement (nothing is left
 * to wait for) nor for one the provider terminated (`release` may run at once: "releasable now").
 */
export function windowEndText(r: AgreementReport): string {
  if (r.status === "Released") return "released";
  if (r.status === "Active" || r.claimWindowEnd === undefined) return "-";
  if (r.releasableAt === r.terminatedAt) return "releasable now";
  return isoTime(r.claimWindowEnd);
}

/** The human view: the pool as key/value lines, then the money per agreement, then the terms (each <= 120 columns). */
export function renderStatus(report: PoolReport): string {
  const { pool, token, agreements } = report;
  const amount = (value: bigint): string => formatAmountShort(value, token);
  const header = keyValues([
    ["pool", pool.poolId],
    ["owner", pool.owner],
    ["token", `${token.symbol} ${token.address}`],
    [
      "balance",
      `${formatAmount(pool.balance, token)}  (locked ${formatAmount(pool.locked, token)}, free ${formatAmount(pool.free, token)})`,
    ],
    ["chain time", isoTime(report.chainTime)],
  ]);
  if (agreements.length === 0) return `${header}\n\nno agreements`;
  const id = (r: AgreementReport): string => shortHex(r.agreementId.slice(2), 8, 4);
  const money = textTable(
    ["agreement", "provider", "status", "budget", "accepted", "paid", "claimable", "window end"],
    agreements.map((r) => [
      id(r),
      shortHex(r.provider),
      r.status,
      amount(r.terms.budget),
      amount(r.acceptedTotal),
      amount(r.paid),
      amount(r.claimableNow),
      windowEndText(r),
    ]),
    [3, 4, 5, 6],
  );
  const terms = textTable(
    ["agreement", "max rate", "upfront", "stream floor", "interval", "pay timeout", "started"],
    agreements.map((r) => {
      const t = humanTerms(r.terms, token);
      return [
        id(r),
        t.maxRate,
        amount(r.terms.upfront),
        t.streamRate,
        t.debitNoteInterval,
        t.paymentTimeout,
        isoTime(r.startedAt),
      ];
    }),
    [2],
  );
  return `${header}\n\namounts in ${token.symbol}\n${money}\n\nterms\n${terms}`;
}

/** The JSON view: every raw figure (base units, 1e18-scaled rates) plus the same in words ("36 GLM/h"). */
export function statusJson(report: PoolReport, token: TokenInfo): unknown {
  return {
    chainTime: report.chainTime,
    chainTimeIso: isoTime(report.chainTime),
    token,
    pool: report.pool,
    agreements: report.agreements.map((r) => ({
      ...r,
      human: {
        ...humanTerms(r.terms, token),
        acceptedTotal: formatAmount(r.acceptedTotal, token),
        paid: formatAmount(r.paid, token),
        claimableNow: formatAmount(r.claimableNow, token),
        capNow: formatAmount(r.capNow, token),
        budgetLeft: formatAmount(r.budgetLeft, token),
        startedAt: isoTime(r.startedAt),
        terminatedAt: r.status === "Active" ? null : isoTime(r.terminatedAt),
        claimWindowEnd: r.claimWindowEnd === undefined ? null : isoTime(r.claimWindowEnd),
        releasableAt: r.releasableAt === undefined ? null : isoTime(r.releasableAt),
      },
    })),
  };
}

dripfeedTask("status", "Show a pool, its agreements and their terms (reads only: no key needed)", { signs: false })
  .addOptionalParam("pool", "pool id")
  .addFlag("json", "print JSON (every raw figure, and rates also as x GLM/h)")
  .setAction(
    guarded(async (args: StatusArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const client = await readContext(hre, args);
      const report = await poolReport(client, poolId);
      print(args.json ? toJson(statusJson(report, report.token)) : renderStatus(report));
    }),
  );
