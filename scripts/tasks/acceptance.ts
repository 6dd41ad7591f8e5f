import { existsSync, readFileSync, writeFileSync } from "node:fs";

import { parseAcceptanceJson, toAcceptanceJson } from "../sdk/acceptance";
import { type AcceptorStateJson, DebitNoteAcceptor, readAcceptContext } from "../sdk/acceptor";
import { formatAmount } from "../sdk/amounts";
import { parseDebitNote, rfc3339Micros } from "../sdk/debitNote";
import { DripFeedError } from "../sdk/errors";
import { agreementIdToBytes32, requireAddress } from "../sdk/ids";
import type { TokenInfo } from "../sdk/token";
import { verifyAcceptance } from "../sdk/verify";
import { taskContext } from "./context";
import { parseDuration, parsePoolId, required } from "./flags";
import { guarded, print, toJson } from "./output";
import { dripfeed } from "./scope";

function readJsonFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

interface AcceptArgs {
  pool?: string;
  agreement?: string;
  debitNote?: string;
  out?: string;
  deadline?: string;
  state?: string;
  from?: string;
  receivedAt?: string;
  payer?: string;
  platform?: string;
}

dripfeed
  .task("accept", "Sign a Golem debit note (yagna JSON) into a signed-acceptance JSON, offline: nothing is sent")
  .addOptionalParam("pool", "pool id")
  .addOptionalParam("agreement", "Golem agreement id (64 hex characters)")
  .addOptionalParam("debitNote", "debit-note JSON file (as yagna's payment API returns it)")
  .addOptionalParam("out", "where to write the signed acceptance JSON")
  .addOptionalParam("deadline", "acceptance lifetime, e.g. 1h (default: the agreement's payment timeout)")
  .addOptionalParam(
    "state",
    "acceptor state file (per-activity totals), read and updated; needed for agreements with several activities",
  )
  .addOptionalParam("from", "signing account: the owner or an ACCEPT grantee (index or address, default 0)")
  .addOptionalParam(
    "receivedAt",
    "when your yagna received the note (RFC 3339, the event's eventDate; default: now on the chain's clock)",
  )
  .addOptionalParam("payer", "the requestor's payment address the note must be billed to (default: the pool owner)")
  .addOptionalParam("platform", "the payment platform the note must name (default: the chain's Golem platform)")
  .setAction(
    guarded(async (args: AcceptArgs, hre) => {
      const poolId = parsePoolId(args.pool);
      const agreementId = agreementIdToBytes32(required(args.agreement, "agreement"));
      const note = parseDebitNote(readJsonFile(required(args.debitNote, "debit-note"), "debit note"));
      const out = required(args.out, "out");
      const ttl = args.deadline ? parseDuration(args.deadline, "deadline") : undefined;
      const receivedAt = args.receivedAt ? rfc3339Micros(args.receivedAt, "--received-at") / 1_000_000n : undefined;
      const { client, signer, account } = await taskContext(hre, args.from);
      const acceptor = await DebitNoteAcceptor.fromChain(client, poolId, agreementId, {
        acceptanceTtl: ttl,
        ...(args.payer ? { payer: requireAddress(args.payer, "--payer") } : {}),
        ...(args.platform ? { paymentPlatform: args.platform } : {}),
      });
      if (args.state && existsSync(args.state)) {
        acceptor.importState(JSON.parse(readJsonFile(args.state, "acceptor state")) as AcceptorStateJson);
      }
      const context = await readAcceptContext(client, poolId, agreementId, account);
      const signed = await acceptor.acceptOrThrow(note, signer, client.domain, { ...context, receivedAt });
      writeFileSync(out, `${JSON.stringify(toAcceptanceJson(signed), null, 2)}\n`);
      if (args.state) writeFileSync(args.state, `${toJson(acceptor.exportState())}\n`);
      const token = acceptor.config.token as TokenInfo;
      print(
        `accepted debit note ${note.debitNoteId}: agreement total ${formatAmount(signed.totalAccepted, token)}, valid until ${signed.deadline}; wrote ${out}`,
      );
    }),
  );

interface SettleArgs {
  acceptance?: string;
  from?: string;
}

dripfeed
  .task("settle", "Submit a signed acceptance JSON (anyone may; the money goes to the provider)")
  .addOptionalParam("acceptance", "signed acceptance JSON file")
  .addOptionalParam("from", "submitting account (index or address, default 0)")
  .setAction(
    guarded(async (args: SettleArgs, hre) => {
      const signed = parseAcceptanceJson(readJsonFile(required(args.acceptance, "acceptance"), "acceptance"));
      const { client } = await taskContext(hre, args.from);
      const check = await verifyAcceptance(client, signed);
      if (check.stale) {
        throw new DripFeedError(
          "NOTHING_TO_SETTLE",
          "the acceptance neither raises the accepted total nor pays anything (already settled)",
        );
      }
      const token = await client.token((await client.getPool(signed.poolId)).token);
      const { paid, hash } = await client.settle(signed);
      print(
        `settled debit note ${signed.debitNoteId} signed by ${check.role} ${signed.signer}: paid ${formatAmount(paid, token)} to the provider; tx ${hash}`,
      );
    }),
  );
