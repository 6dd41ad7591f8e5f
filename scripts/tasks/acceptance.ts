import { existsSync, writeFileSync } from "node:fs";

import { parseAcceptanceJson, toAcceptanceJson } from "../sdk/acceptance";
import { type AcceptorStateJson, DebitNoteAcceptor, readAcceptContext } from "../sdk/acceptor";
import { formatAmount } from "../sdk/amounts";
import { parseDebitNote, rfc3339Micros } from "../sdk/debitNote";
import { DripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { quoteNumberFields } from "../sdk/jsonText";
import { isoTime } from "../sdk/time";
import type { TokenInfo } from "../sdk/token";
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
  receivedAt?: string;
  payer?: string;
  platform?: string;
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
  .addOptionalParam(
    "receivedAt",
    "when your yagna received the note (RFC 3339, the event's eventDate; default: now on the chain's clock)",
  )
  .addOptionalParam("payer", "the requestor's payment address the note must be billed to (default: the pool owner)")
  .addOptionalParam("platform", "the payment platform the note must name (default: the chain's Golem platform)")
  .setAction(
    guarded(async (args: AcceptArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const agreementId = parseAgreementId(args.agreement);
      // A hand-written note may give totalAmountDue as a JSON number: quoted first, so it is read digit for digit.
      const noteText = readTextFile(required(args.debitNote, "debit-note"), "debit note");
      const note = parseDebitNote(quoteNumberFields(noteText, ["totalAmountDue"]));
      const out = required(args.out, "out");
      const receivedAt = args.receivedAt ? rfc3339Micros(args.receivedAt, "--received-at") / 1_000_000n : undefined;
      const { client, signer, account } = await taskContext(hre, args);
      let ttl: bigint | undefined;
      if (args.deadline) {
        const now = await client.now();
        ttl = parseTime(args.deadline, "deadline", now) - now;
        if (ttl <= 0n) {
          throw new DripFeedError("INVALID_ARGUMENT", `--deadline ${args.deadline} is not in the future`, "deadline");
        }
      }
      const acceptor = await DebitNoteAcceptor.fromChain(client, poolId, agreementId, {
        acceptanceTtl: ttl,
        ...(args.payer ? { payer: requireAddress(args.payer, "--payer") } : {}),
        ...(args.platform ? { paymentPlatform: args.platform } : {}),
      });
      if (args.state && existsSync(args.state)) {
        acceptor.importState(JSON.parse(readTextFile(args.state, "acceptor state")) as AcceptorStateJson);
      }
      const context = await readAcceptContext(client, poolId, agreementId, account);
      const signed = await acceptor.acceptOrThrow(note, signer, client.domain, { ...context, receivedAt });
      writeFileSync(out, `${JSON.stringify(toAcceptanceJson(signed), null, 2)}\n`);
      if (args.state) writeFileSync(args.state, `${toJson(acceptor.exportState())}\n`);
      const token = acceptor.config.token as TokenInfo;
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
