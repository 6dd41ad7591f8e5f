import type { DeployFunction } from "hardhat-deploy/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

import { NETWORKS } from "../scripts/config/networks";

/** The open-faucet GLM stand-in, on local and test networks only (never where real GLM exists). */
const deployMockGlm: DeployFunction = async (hre: HardhatRuntimeEnvironment) => {
  const { deployer } = await hre.getNamedAccounts();
  await hre.deployments.deploy("MockGLM", { from: deployer, log: hre.network.name !== "hardhat" });
};

deployMockGlm.tags = ["MockGLM", "local"];
deployMockGlm.skip = async (hre: HardhatRuntimeEnvironment) => !(NETWORKS[hre.network.name]?.mockToken ?? true);

export default deployMockGlm;
