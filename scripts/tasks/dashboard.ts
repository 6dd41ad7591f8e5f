import { types } from "hardhat/config";

import { DEFAULT_PORT, rpcProvider, runDashboardUntilSignal } from "../dashboard";
import { DripFeedError } from "../sdk/errors";
import { createLogger } from "../service/logger";
import { type CommonArgs, readContext } from "./context";
import { parseDuration } from "./flags";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";

/**
 * `npx hardhat dripfeed dashboard`: finds DripFeed the way every task does (`--contract`, the deployment record, the
 * published address) and its first block, then serves the read-only dashboard (`scripts/dashboard`) until SIGTERM
 * or Ctrl+C. No key is used.
 */

interface DashboardArgs extends CommonArgs {
  port: number;
  host: string;
  relay?: string;
  refresh: string;
}

dripfeedTask("dashboard", "Serve a read-only web dashboard of pools, agreements and providers (no key needed)", {
  signs: false,
})
  .addOptionalParam("port", "HTTP port", DEFAULT_PORT, types.int)
  .addOptionalParam("host", "interface to listen on (127.0.0.1: this machine only)", "127.0.0.1")
  .addOptionalParam("relay", "a relay's URL, to show what it holds, e.g. http://127.0.0.1:8787")
  .addOptionalParam("refresh", "how often the page updates (e.g. 5s, 1s)", "5s")
  .setAction(
    guarded(async (args: DashboardArgs, hre) => {
      const config = hre.network.config;
      if (!("url" in config)) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          `the dashboard reads a running chain: pass --network localhost (after npx hardhat node) or a remote network, not the in-process "${hre.network.name}" network`,
        );
      }
      let chainId: number;
      try {
        chainId = config.chainId ?? Number(await hre.network.provider.send("eth_chainId", []));
      } catch (error) {
        throw new DripFeedError(
          "RPC_ERROR",
          `cannot reach network ${hre.network.name} at ${config.url}: ${(error as Error).message.split("\n")[0]}`,
        );
      }
      const located = await readContext(hre, args);
      // The URL line below is for people; the JSON log only says more when LOG_LEVEL asks for it.
      const logger = createLogger("dripfeed-dashboard", { level: process.env.LOG_LEVEL ?? "warn" });
      await runDashboardUntilSignal({
        provider: rpcProvider(config.url, chainId),
        contract: located.address,
        fromBlock: await located.firstBlock(),
        port: args.port,
        host: args.host,
        relay: args.relay,
        refreshMs: Number(parseDuration(args.refresh, "refresh")) * 1000,
        logger,
        onListening: (url) =>
          print(
            `dashboard: ${url} (chain ${chainId}, DripFeed ${located.address}${args.relay ? `, relay ${args.relay}` : ""}; read-only, Ctrl+C stops)`,
          ),
      });
    }),
  );
