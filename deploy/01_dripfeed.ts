import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

/**
 * DripFeed through the deterministic CREATE2 factory: no constructor arguments and no admin, so the same bytecode
 * lands at the same address on every chain and users can check one address everywhere.
 */
const deployDripFeed: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  await hre.deployments.deploy("DripFeed", {
    from: deployer,
    args: [],
    deterministicDeployment: true,
    log: hre.network.name !== "hardhat",
  });
};

deployDripFeed.tags = ["DripFeed", "local"];

export default deployDripFeed;
