import { expect } from "chai";
import { getCreate2Address, keccak256, ZeroHash } from "ethers";
import { deployments, ethers } from "hardhat";

import { deployFixture } from "../helpers";

/** hardhat-deploy's deterministic deployment proxy (Arachnid's CREATE2 factory). */
const CREATE2_FACTORY = "0x4e59b44847b379578588920cA78FbF26c0B4956C";

describe("deployment (deploy/*.ts through the fixture)", () => {
  it("deploys DripFeed through the deterministic CREATE2 factory at the address deployments.get returns", async () => {
    const fx = await deployFixture();
    const record = await deployments.get("DripFeed");
    expect(fx.dripFeedAddress).to.equal(record.address);
    expect(await ethers.provider.getCode(CREATE2_FACTORY)).to.not.equal("0x");
    // CREATE2(factory, salt 0, keccak(init code)): the same address on every chain.
    // The init code hardhat-deploy sent: the compiled artifact's (no constructor arguments).
    const initCode = (await deployments.getArtifact("DripFeed")).bytecode;
    expect(record.bytecode).to.equal(initCode);
    expect(getCreate2Address(CREATE2_FACTORY, ZeroHash, keccak256(initCode))).to.equal(record.address);
    expect(await ethers.provider.getCode(record.address)).to.not.equal("0x");
  });

  it("deploys MockGLM on the local network and wires the fixture to both", async () => {
    const fx = await deployFixture();
    expect(fx.tokenAddress).to.equal((await deployments.get("MockGLM")).address);
    expect(await fx.token.symbol()).to.equal("GLM");
    expect(await fx.token.decimals()).to.equal(18n);
    expect((await fx.dripFeed.eip712Domain()).verifyingContract).to.equal(fx.dripFeedAddress);
  });
});
