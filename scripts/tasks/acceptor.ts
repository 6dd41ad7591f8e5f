import { types } from "hardhat/config";

import { runAcceptorUntilSignal } from "../acceptor";
import { type AcceptorFlags, FLAG_HELP, parseAcceptorFlags } from "../acceptor/config";
import { DripFeedError } from "../sdk/errors";
import { exitOnStartFailure } from "../service/lifecycle";
import { createLogger } from "../service/logger";
import { taskContext } from "./context";
import { dripfeed } from "./scope";

/**
 * `npx hardhat dripfeed acceptor`: the supervisor acceptor daemon (scripts/acceptor) with the network's account
 * (`--from`) as the signing key and the hardhat-deploy address of DripFeed. Runs until SIGTERM.
 */
dripfeed
  .task(
    "acceptor",
    "Follow a requestor's yagna and accept its debit notes through DripFeed, unattended (SIGTERM drains)",
  )
  .addOptionalParam("yagnaUrl", FLAG_HELP.yagnaUrl)
  .addOptionalParam("pool", FLAG_HELP.pool)
  .addOptionalParam("db", FLAG_HELP.db)
  .addOptionalParam("relay", FLAG_HELP.relay)
  .addFlag("yagnaAccept", FLAG_HELP.yagnaAccept)
  .addOptionalParam("allocation", FLAG_HELP.allocation)
  .addOptionalParam("port", FLAG_HELP.port, undefined, types.int)
  .addOptionalParam("host", FLAG_HELP.host)
  .addOptionalParam("payer", FLAG_HELP.payer)
  .addOptionalParam("platform", FLAG_HELP.platform)
  .addOptionalParam("deadline", FLAG_HELP.deadline)
  .addFlag("leaveRateToContract", FLAG_HELP.leaveRateToContract)
  .addOptionalParam("intervalGrace", FLAG_HELP.intervalGrace)
  .addOptionalParam("from", "signing account: the pool's owner or an ACCEPT grantee (index or address, default 0)")
  .setAction(async (args: AcceptorFlags & { from?: string }, hre) => {
    const log = createLogger("dripfeed-acceptor");
    try {
      if (!("url" in hre.network.config)) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          `the acceptor needs a JSON-RPC network (e.g. --network localhost), not the in-process "${hre.network.name}" network`,
        );
      }
      const flags = parseAcceptorFlags(args);
      const { client } = await taskContext(hre, args.from);
      await runAcceptorUntilSignal({ ...flags, client, logger: log });
    } catch (error) {
      exitOnStartFailure(log, error);
    }
  });
