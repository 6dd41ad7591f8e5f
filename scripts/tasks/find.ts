import { formatAmount } from "../sdk/amounts";
import { findAgreement } from "../sdk/agreementCheck";
import { humanTerms } from "../sdk/describe";
import { DripFeedError } from "../sdk/errors";
import { type AgreementReport, agreementReport } from "../sdk/report";
import type { TokenInfo } from "../sdk/token";
import { isoTime } from "../sdk/time";
import { type CommonArgs, readContext } from "./context";
import { parseAgreementId } from "./flags";
import { guarded, print, toJson } from "./output";
import { windowEndText } from "./status";
import { keyValues } from "./table";

import { dripfeedTask } from "./scope";

interface FindArgs extends CommonArgs {
  agreement?: string;
  json: boolean;
}

function render(r: AgreementReport, owner: string, token: TokenInfo): string {
  const a = (v: bigint): string => formatAmount(v, token);
  const t = humanTerms(r.terms, token);
  return [
    `agreement ${r.agreementId.slice(2)}`,
    keyValues([
      ["pool", `${r.poolId} (owner ${owner})`],
      ["token", `${token.symbol} ${token.address}`],
      ["provider", r.provider],
      [
        "status",
        `${r.status}, started ${isoTime(r.startedAt)}${r.status === "Active" ? "" : `, terminated ${isoTime(r.terminatedAt)}${r.terminatedBy ? ` by ${r.terminatedBy}` : ""}`}`,
      ],
      ["budget", `${a(r.terms.budget)} (left ${a(r.budgetLeft)})`],
      ["accepted", a(r.acceptedTotal)],
      ["paid", a(r.paid)],
      ["claimable", `${a(r.claimableNow)} now (cap now ${a(r.capNow)})`],
      ["terms", `max rate ${t.maxRate}, upfront ${t.upfront}, stream floor ${t.streamRate}`],
      [
        "times",
        `debit notes every ${t.debitNoteInterval}, accept within ${t.acceptTimeout}, payment timeout ${t.paymentTimeout}`,
      ],
      ["window end", windowEndText(r)],
    ]),
  ].join("\n");
}

dripfeedTask("find", "Find a Golem agreement's pool and terms on chain by its id (reads only: no key needed)", {
  signs: false,
})
  .addOptionalParam("agreement", "Golem agreement id (64 hex characters, with or without 0x)")
  .addFlag("json", "print JSON")
  .setAction(
    guarded(async (args: FindArgs, hre) => {
      const agreementId = parseAgreementId(args.agreement);
      const client = await readContext(hre, args);
      const found = await findAgreement(client, agreementId);
      if (found.length === 0) {
        throw new DripFeedError(
          "UNKNOWN_AGREEMENT",
          `no pool has opened agreement ${agreementId.slice(2)} on chain ${client.chainId} (DripFeed ${client.address})`,
          "agreement",
        );
      }
      const now = await client.now();
      const results = [];
      for (const location of found) {
        const pool = await client.getPool(location.poolId);
        const token = await client.token(pool.token);
        results.push({ pool, token, report: await agreementReport(client, location.poolId, agreementId, now) });
      }
      if (args.json) {
        print(
          toJson({
            chainId: client.chainId,
            contract: client.address,
            chainTime: now,
            found: results.map(({ pool, token, report }) => ({
              pool,
              token,
              agreement: report,
              human: humanTerms(report.terms, token),
            })),
          }),
        );
        return;
      }
      print(results.map(({ pool, token, report }) => render(report, pool.owner, token)).join("\n\n"));
    }),
  );
