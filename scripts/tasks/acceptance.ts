import { existsSync, writeFileSync } from "node:fs";

import { parseAcceptanceJson, toAcceptanceJson } from "../sdk/acceptance";
import { type AcceptorStateJson, DebitNoteAcceptor } from "../sdk/acceptor";
import { formatAmount } from "../sdk/amounts";
import { parseDebitNote } from "../sdk/debitNote";
import { DripFeedError } from "../sdk/errors";
import { quoteNumberFields } from "../sdk/jsonText";
import { isoTime } from "../sdk/time";
import { verifyAcceptance } from "../sdk/verify";
import { type CommonArgs, taskContext } from "./context";
import { parseAgreementId, parsePoolId, parseTime, readTextFile, required } from "./flags";
import { guarded, print, toJson } from "./output";
import { dripfeedTask } from "./scope";

interface AcceptArgs extends CommonArgs {
  pool?: string;
  agreement?: string;
  debitNote?: string;
  out?: string;
  deadline?: string;
  state?: string;
}

dripfeedTask("accept", "Sign a Golem debit note (yagna JSON) into a signed-acceptance JSON, offline: nothing is sent", {
  signs: true,
})
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("agreement", "Golem agreement id (64 hex characters)")
  .addOptionalParam("debitNote", "debit-note JSON file (as yagna's payment API returns it)")
  .addOptionalParam("out", "where to write the signed acceptance JSON")
  .addOptionalParam(
    "deadline",
    "acceptance lifetime (1h) or end (ISO time, e.g. 2026-12-01T12:00:00Z); default: the agreement's payment timeout",
  )
  .addOptionalParam(
    "state",
    "acceptor state file (per-activity totals), read and updated; needed for agreements with several activities",
  )
  .setAction(
    guarded(async (args: AcceptArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const agreementId = parseAgreementId(args.agreement);
      const noteText = readTextFile(required(args.debitNote, "debit-note"), "debit note");
      const note = parseDebitNote(quoteNumberFields(noteText, ["totalAmountDue"]));
      const out = required(args.out, "out");
      const { client, signer } = await taskContext(hre, args);
      const now = await client.now();
      let ttl: bigint | undefined;
      if (args.deadline) {
        ttl = parseTime(args.deadline, "deadline", now) - now;
        if (ttl <= 0n) {
          throw new DripFeedError("INVALID_ARGUMENT", `--deadline ${args.deadline} is not in the future`, "deadline");
        }
      }
      const agreement = await client.getAgreement(poolId, agreementId);
      const token = await client.token((await client.getPool(poolId)).token);
      const acceptor = new DebitNoteAcceptor({
        poolId,
        agreementId,
        terms: agreement.terms,
        startedAt: agreement.startedAt,
        token,
        acceptanceTtl: ttl,
      });
      if (args.state && existsSync(args.state)) {
        acceptor.importState(JSON.parse(readTextFile(args.state, "acceptor state")) as AcceptorStateJson);
      }
      const signed = await acceptor.acceptOrThrow(note, signer, client.domain, now);
      writeFileSync(out, `${JSON.stringify(toAcceptanceJson(signed), null, 2)}\n`);
      if (args.state) writeFileSync(args.state, `${toJson(acceptor.exportState())}\n`);
      print(
        `accepted debit note ${note.debitNoteId}: agreement total ${formatAmount(signed.totalAccepted, token)}, valid until ${isoTime(signed.deadline)}; wrote ${out}`,
      );
    }),
  );

interface SettleArgs extends CommonArgs {
  acceptance?: string;
  provider?: string;
}

dripfeedTask("settle", "Submit a signed acceptance JSON (anyone may; the money goes to the provider)", {
  signs: true,
})
  .addOptionalParam("acceptance", "signed acceptance JSON file")
  .addOptionalParam("provider", "refuse unless the agreement pays this address (a provider checks it is paid)")
  .setAction(
    guarded(async (args: SettleArgs, hre) => {
      const signed = parseAcceptanceJson(readTextFile(required(args.acceptance, "acceptance"), "acceptance"));
      const { client } = await taskContext(hre, args);
      const check = await verifyAcceptance(client, signed, { expectedProvider: args.provider });
      if (check.stale) {
        throw new DripFeedError(
          "NOTHING_TO_SETTLE",
          "the acceptance neither raises the accepted total nor pays anything (already settled)",
        );
      }
      const token = await client.token((await client.getPool(signed.poolId)).token);
      const { paid, hash } = await client.settle(signed);
      print(
        `settled debit note ${signed.debitNoteId} signed by ${check.role} ${signed.signer}: paid ${formatAmount(paid, token)} to the provider ${check.provider}; tx ${hash}`,
      );
    }),
  );
