import { scope } from "hardhat/config";

/** Every DripFeed task lives under `npx hardhat dripfeed <task>` (names binding, see SPEC). */
export const dripfeed = scope("dripfeed", "DripFeed pools, agreements, acceptances and the relay");

const CONTRACT_HELP = "DripFeed address (default: this network's deployment record, else the published address)";

/**
 * Declares a task with the flags every task has: `--contract`, and `--from` for tasks that sign (on a remote network
 * the one account is DRIPFEED_PRIVATE_KEY's; locally an index or address among the node's accounts).
 */
export function dripfeedTask(name: string, description: string, options: { signs: boolean }) {
  const task = dripfeed
    .task(name, description)
    .addOptionalParam("contract", CONTRACT_HELP)
    .addOptionalParam("fromBlock", "first block to read events from (default: DripFeed's deployment block)");
  if (options.signs) task.addOptionalParam("from", "signing account: index or address (default: the first)");
  return task;
}
