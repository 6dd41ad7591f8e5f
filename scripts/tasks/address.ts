import { dripFeedCreate2Address } from "../sdk/deployment";
import { type CommonArgs, dripFeedDeployment } from "./context";
import { guarded, print } from "./output";
import { dripfeedTask } from "./scope";

dripfeedTask(
  "address",
  "Print DripFeed's published (CREATE2) address for this build, and which address this network's tasks use",
  { signs: false },
).setAction(
  guarded(async (args: CommonArgs, hre) => {
    const published = dripFeedCreate2Address();
    print(`published address of this build: ${published} (the same on every chain)`);
    const used = await dripFeedDeployment(hre, args.contract);
    const code = await hre.ethers.provider.getCode(used.address);
    print(
      `network ${hre.network.name}: tasks use ${used.address}${code === "0x" ? " (no code there)" : ""}${used.address === published ? "" : " (not the published address)"}`,
    );
  }),
);
