import { readFileSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";

import {
  keyEnvFor,
  missingNetworkEnv,
  selectedNetwork,
  selectedTask,
  unknownNetworkLine,
} from "../../scripts/config/env";
import { dripFeedCreate2Address } from "../../scripts/sdk";
import { deployments } from "hardhat";

const BIN = "/repo/node_modules/.bin/hardhat";

describe("config: one key per role, network names, the published address", () => {
  it("finds the task and the network on Hardhat's command line", () => {
    const argv = ["node", BIN, "--network", "sepolia", "--config", "x.ts", "dripfeed", "status", "--pool", "0x1"];
    expect(selectedTask(argv)).to.equal("dripfeed");
    expect(selectedNetwork(argv, {})).to.equal("sepolia");
    expect(selectedTask(["node", BIN, "--network=sepolia", "deploy"])).to.equal("deploy");
    expect(selectedNetwork(["node", BIN, "deploy"], { HARDHAT_NETWORK: "amoy" })).to.equal("amoy");
  });

  it("signs deploy with DEPLOYER_PRIVATE_KEY and everything else with DRIPFEED_PRIVATE_KEY", () => {
    expect(keyEnvFor("deploy")).to.equal("DEPLOYER_PRIVATE_KEY");
    expect(keyEnvFor("dripfeed")).to.equal("DRIPFEED_PRIVATE_KEY");
    expect(keyEnvFor(undefined)).to.equal("DRIPFEED_PRIVATE_KEY");
  });

  it("needs the RPC URL for any remote task, the deployer's key only to deploy, nothing locally", () => {
    expect(missingNetworkEnv("sepolia", {}, "dripfeed")).to.deep.equal(["SEPOLIA_RPC_URL"]);
    expect(missingNetworkEnv("sepolia", { SEPOLIA_RPC_URL: "http://x" }, "dripfeed")).to.deep.equal([]);
    expect(missingNetworkEnv("sepolia", { SEPOLIA_RPC_URL: "http://x" }, "deploy")).to.deep.equal([
      "DEPLOYER_PRIVATE_KEY",
    ]);
    expect(missingNetworkEnv("localhost", {}, "deploy")).to.deep.equal([]);
  });

  it("names an unknown network in one line, with the closest known name", () => {
    const known = ["hardhat", "localhost", "sepolia", "polygon"];
    expect(unknownNetworkLine("polgon", known)).to.equal(
      'error: unknown network "polgon": did you mean "polygon"? known networks: hardhat, localhost, sepolia, polygon',
    );
    expect(unknownNetworkLine("xyz", known)).to.match(/^error: unknown network "xyz": known networks/);
    expect(unknownNetworkLine("sepolia", known)).to.equal(undefined);
    expect(unknownNetworkLine(undefined, known)).to.equal(undefined);
  });

  it("README publishes this build's address (after a contract change: npx hardhat dripfeed address)", () => {
    const readme = readFileSync(path.join(__dirname, "../../README.md"), "utf8");
    const published = [...readme.matchAll(/`(0x[0-9a-fA-F]{40})`/g)].map((m) => m[1]);
    expect(published).to.include(dripFeedCreate2Address());
    const table = readme.slice(readme.indexOf("| network          | `--network`"));
    for (const row of table.split("\n").filter((l) => l.startsWith("| ") && /RPC_URL/.test(l))) {
      expect(row).to.include(dripFeedCreate2Address());
    }
  });

  it("computes the address hardhat-deploy's deterministic deployment gives DripFeed", async () => {
    await deployments.fixture(["local"]);
    expect((await deployments.get("DripFeed")).address).to.equal(dripFeedCreate2Address());
  });
});
