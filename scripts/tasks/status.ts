import Table from "cli-table3";

import { formatAmount } from "../sdk/amounts";
import type { AgreementView, PoolView } from "../sdk/client";
import { claimWindowEnd } from "../sdk/payout";
import type { TokenInfo } from "../sdk/token";
import { taskContext } from "./context";
import { parsePoolId } from "./flags";
import { guarded, print, toJson } from "./output";
import { dripfeed } from "./scope";

interface StatusArgs {
  pool?: string;
  json: boolean;
  from?: string;
}

interface AgreementRow extends AgreementView {
  claimableNow: bigint;
  claimWindowEnd?: bigint;
}

function time(seconds: bigint | undefined): string {
  return seconds === undefined ? "-" : new Date(Number(seconds) * 1000).toISOString().replace(".000Z", "Z");
}

/** Plain borders and no colours unless printing to a terminal (so logs and pipes stay readable). */
const STYLE = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };

function render(pool: PoolView, token: TokenInfo, rows: AgreementRow[], now: bigint): string {
  const amount = (value: bigint): string => formatAmount(value, token);
  const head = new Table({ ...STYLE, head: ["pool", "owner", "token", "balance", "locked", "free"] });
  head.push([
    pool.poolId,
    pool.owner,
    `${token.symbol} ${token.address}`,
    amount(pool.balance),
    amount(pool.locked),
    amount(pool.free),
  ]);
  const table = new Table({
    ...STYLE,
    head: ["agreement", "provider", "budget", "accepted", "paid", "claimable now", "status", "claim window end"],
  });
  for (const r of rows) {
    table.push([
      `${r.agreementId.slice(2, 10)}…${r.agreementId.slice(-6)}`,
      r.provider,
      amount(r.terms.budget),
      amount(r.acceptedTotal),
      amount(r.paid),
      amount(r.claimableNow),
      r.status,
      time(r.claimWindowEnd),
    ]);
  }
  const agreements = rows.length === 0 ? "no agreements" : table.toString();
  return `${head.toString()}\n${agreements}\nchain time ${time(now)}`;
}

dripfeed
  .task("status", "Show a pool and its agreements")
  .addOptionalParam("pool", "pool id")
  .addFlag("json", "print JSON instead of a table")
  .addOptionalParam("from", "account index or address (default 0)")
  .setAction(
    guarded(async (args: StatusArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const { client } = await taskContext(hre, args.from);
      const pool = await client.getPool(poolId);
      const token = await client.token(pool.token);
      const now = await client.now();
      const rows: AgreementRow[] = [];
      for (const id of await client.listAgreements(poolId)) {
        const a = await client.getAgreement(poolId, id);
        rows.push({ ...a, claimableNow: await client.claimable(poolId, id), claimWindowEnd: claimWindowEnd(a) });
      }
      if (args.json) {
        print(toJson({ chainTime: now, token, pool, agreements: rows }));
      } else {
        print(render(pool, token, rows, now));
      }
    }),
  );
