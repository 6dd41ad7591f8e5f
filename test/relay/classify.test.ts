import { expect } from "chai";
import { type Provider, Wallet, hexlify, randomBytes } from "ethers";

import { ChainReader, ITEM_CALL_GAS } from "../../scripts/relay/chain";
import { isErc1271MagicWord } from "../../scripts/sdk/erc1271";
import { relayProblemOf } from "../../scripts/relay/health";
import { RelayMetrics } from "../../scripts/relay/metrics";
import { isRevert, revertData, verdictOf } from "../../scripts/relay/submitter";
import { DripFeed__factory } from "../../typechain-types";

const iface = DripFeed__factory.createInterface();
const MAGIC = "0x1626ba7e";

/** A provider whose eth_call answers `returned` (or throws it), recording the request. */
function fakeProvider(returned: string | Error): { provider: Provider; calls: { gasLimit?: bigint | null }[] } {
  const calls: { gasLimit?: bigint | null }[] = [];
  const provider = {
    call: async (tx: { gasLimit?: bigint | null }) => {
      calls.push(tx);
      if (returned instanceof Error) throw returned;
      return returned;
    },
  } as unknown as Provider;
  return { provider, calls };
}

/** How the relay tells its own trouble from an acceptance's, and reads what the contract said. */
describe("relay: failure classification", function () {
  describe("the relay's own trouble", function () {
    const cases: [string, unknown, string | undefined][] = [
      [
        "Hardhat's unfunded sender",
        new Error("Sender doesn't have enough funds to send tx. The max upfront cost is: 1"),
        "NO_FUNDS",
      ],
      [
        "geth's insufficient funds",
        { code: "INSUFFICIENT_FUNDS", message: "insufficient funds for gas * price + value" },
        "NO_FUNDS",
      ],
      ["a nonce too low", { code: "NONCE_EXPIRED", message: "nonce too low" }, "NONCE"],
      ["an underpriced replacement", new Error("replacement transaction underpriced"), "NONCE"],
      ["a refused connection", new Error("connect ECONNREFUSED 127.0.0.1:8545"), "RPC_ERROR"],
      ["a timeout", { code: "TIMEOUT", message: "request timeout" }, "RPC_ERROR"],
      [
        "a revert (whatever its message says)",
        { code: "CALL_EXCEPTION", message: "insufficient funds in the pool" },
        undefined,
      ],
      ["an unknown failure", new Error("something else"), undefined],
    ];
    for (const [what, error, code] of cases) {
      it(`classifies ${what} as ${code ?? "not the relay's"}`, function () {
        expect(relayProblemOf(error)).to.equal(code);
      });
    }
  });

  describe("reverts", function () {
    it("tells a revert (with or without data) from a node refusing the request", function () {
      const data = iface.encodeErrorResult("InsufficientGasForItem", []);
      expect(isRevert({ code: "CALL_EXCEPTION", data })).to.equal(true);
      expect(revertData({ info: { error: { data: { data } } } })).to.equal(data);
      expect(isRevert({ code: "CALL_EXCEPTION", info: { error: { message: "Transaction ran out of gas" } } })).to.equal(
        true,
      );
      // ethers calls this "missing revert data" too; it is the node refusing, not the contract answering.
      const refused = {
        code: "CALL_EXCEPTION",
        shortMessage: "missing revert data",
        info: { error: { message: "transaction gas limit (30107633) is greater than the cap (16777216)" } },
      };
      expect(isRevert(refused)).to.equal(false);
      expect(isRevert(new Error("connect ECONNREFUSED"))).to.equal(false);
    });

    it("reads a failure selector into what it means for the item", function () {
      const eoa = { contractSigner: false, signer: Wallet.createRandom().address };
      const wallet = { contractSigner: true, signer: Wallet.createRandom().address };
      const selector = (name: string) => iface.getError(name)!.selector;
      expect(verdictOf(selector("SignatureExpired"), eoa)).to.include({ kind: "final" });
      expect(verdictOf(selector("NothingToSettle"), eoa)).to.deep.equal({ kind: "covered" });
      expect(verdictOf(selector("InvalidSignature"), eoa)).to.include({ kind: "final" });
      expect(verdictOf(selector("InvalidSignature"), wallet)).to.include({ kind: "culprit", culprit: "signature" });
      expect(verdictOf("0x5274afe7", eoa)).to.include({ kind: "culprit", culprit: "transfer" }); // SafeERC20FailedOperation
      expect(verdictOf(undefined, eoa)).to.include({ kind: "culprit", culprit: "transfer" });
      expect(verdictOf("0xdeadbeef", eoa)).to.include({ kind: "culprit", culprit: "other" });
    });
  });

  describe("the off-chain ERC-1271 check", function () {
    const word = (tail: string) => `${MAGIC}${tail.padStart(56, "0")}`;

    it("accepts only the exact magic word, as the contract does", function () {
      expect(isErc1271MagicWord(word(""))).to.equal(true);
      expect(isErc1271MagicWord(`${word("")}${"ff".repeat(32)}`)).to.equal(true); // more words after it: still one word read
      expect(isErc1271MagicWord(word("1"))).to.equal(false); // selector, then a non-zero byte
      expect(isErc1271MagicWord(MAGIC)).to.equal(false); // four bytes, not a word
      expect(isErc1271MagicWord("0x")).to.equal(false);
    });

    for (const [what, returned, expected] of [
      ["the exact word", word(""), true],
      ["the selector followed by garbage", `${MAGIC}${"ab".repeat(28)}`, false],
      ["the selector alone (4 bytes)", MAGIC, false],
    ] as const) {
      it(`answers ${expected} when the wallet returns ${what}, giving the wallet ITEM_CALL_GAS`, async function () {
        const { provider, calls } = fakeProvider(returned);
        const chain = new ChainReader(provider, Wallet.createRandom().address, 31337n, new RelayMetrics());
        const valid = await chain.isValidErc1271(
          Wallet.createRandom().address,
          hexlify(randomBytes(32)),
          hexlify(randomBytes(65)),
        );
        expect(valid).to.equal(expected);
        expect(calls[0].gasLimit! > ITEM_CALL_GAS && calls[0].gasLimit! < ITEM_CALL_GAS + 30_000n).to.equal(true);
      });
    }

    it("counts a revert as no, and an unreachable node as an error", async function () {
      const reverted = Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
      const chain = new ChainReader(
        fakeProvider(reverted).provider,
        Wallet.createRandom().address,
        31337n,
        new RelayMetrics(),
      );
      expect(await chain.isValidErc1271(Wallet.createRandom().address, hexlify(randomBytes(32)), "0x")).to.equal(false);
      const down = new ChainReader(
        fakeProvider(new Error("connect ECONNREFUSED")).provider,
        Wallet.createRandom().address,
        31337n,
        new RelayMetrics(),
      );
      await down.isValidErc1271(Wallet.createRandom().address, hexlify(randomBytes(32)), "0x").then(
        () => expect.fail("should have thrown"),
        (error: { code?: string }) => expect(error.code).to.equal("RPC_ERROR"),
      );
    });

    it("uses the contract's ITEM_CALL_GAS", async function () {
      // One place per fact: the relay's copy of the constant is the contract's.
      const { ethers } = await import("hardhat");
      const factory = await ethers.getContractFactory("DripFeed");
      const deployed = await factory.deploy();
      expect(await deployed.ITEM_CALL_GAS()).to.equal(ITEM_CALL_GAS);
    });
  });

  describe("the chain clock", function () {
    it("follows a head that runs ahead of the wall clock, and keeps running between blocks", async function () {
      const chain = new ChainReader(
        fakeProvider("0x").provider,
        Wallet.createRandom().address,
        31337n,
        new RelayMetrics(),
      );
      const ahead = Math.floor(Date.now() / 1000) + 3_600;
      chain.observeBlock({ number: 7, timestamp: ahead, gasLimit: 30_000_000n });
      const first = chain.nowMs();
      expect(first).to.be.at.least(ahead * 1000 - 1_000);
      await new Promise((resolve) => setTimeout(resolve, 60));
      // The same head read again by the next poll: time has still moved on.
      chain.observeBlock({ number: 7, timestamp: ahead, gasLimit: 30_000_000n });
      expect(chain.nowMs() - first).to.be.at.least(50);
    });
  });
});
