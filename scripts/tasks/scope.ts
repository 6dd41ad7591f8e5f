import { scope } from "hardhat/config";

/** Every DripFeed task lives under `npx hardhat dripfeed <task>` (names binding, see SPEC). */
export const dripfeed = scope("dripfeed", "DripFeed pools, agreements, acceptances and the relay");
