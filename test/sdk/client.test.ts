import { expect } from "chai";
import { Wallet } from "ethers";
import { deployments, ethers, network } from "hardhat";

import { MockGLM__factory } from "../../typechain-types";
import {
  ACCEPT,
  DripFeedClient,
  acceptanceDigest,
  type DripFeedError,
  type SignedAcceptance,
  type Terms,
  debitNoteIdHash,
  parseAmount,
  parseRate,
  signAcceptance,
  verifyAcceptance,
} from "../../scripts/sdk";

const GLM = { decimals: 18, symbol: "GLM" };
const units = (text: string): bigint => parseAmount(text, GLM);
const AGREEMENT = "3b2c4e0b9f0d5c7d4c1d7a3e2f9b8a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a";

async function rejects(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as DripFeedError).code, (error as Error).message).to.equal(code);
    if (message) expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected ${code}`);
}

describe("sdk/client + verifyAcceptance (in-process Hardhat network)", () => {
  const setup = deployments.createFixture(async () => {
    await deployments.fixture(["local"]);
    const [owner, supervisor, provider, stranger] = await ethers.getSigners();
    const { address } = await deployments.get("DripFeed");
    const glm = MockGLM__factory.connect((await deployments.get("MockGLM")).address, owner);
    await (await glm.mint(owner.address, units("1000"))).wait();
    const client = await DripFeedClient.connect(address, owner);
    const { poolId } = await client.createPool(await glm.getAddress(), "client-test");
    await client.fund(poolId, units("100"), { permit: true });
    const terms: Terms = {
      budget: units("10"),
      upfront: units("1"),
      maxRate: parseRate("36 GLM/h", GLM),
      streamRate: 0n,
      debitNoteInterval: 120,
      paymentTimeout: 600,
    };
    await client.openAgreement(poolId, AGREEMENT, provider.address, terms);
    await client.setGrant(poolId, supervisor.address, {
      permissions: ACCEPT,
      validUntil: (await client.now()) + 86_400n,
    });
    return { client, poolId, owner, supervisor, provider, stranger, glm, terms };
  });

  const sign = async (
    signer: Awaited<ReturnType<typeof ethers.getSigners>>[number],
    client: DripFeedClient,
    poolId: string,
    total: string,
    deadlineIn = 3600n,
  ): Promise<SignedAcceptance> =>
    signAcceptance(signer, client.domain, {
      poolId,
      agreementId: `0x${AGREEMENT}`,
      debitNoteId: debitNoteIdHash(`note-${total}`),
      totalAccepted: units(total),
      deadline: (await client.now()) + deadlineIn,
    });

  it("writes the same EIP-712 digest as the contract", async () => {
    const { client, poolId } = await setup();
    const message = {
      poolId,
      agreementId: `0x${AGREEMENT}`,
      debitNoteId: debitNoteIdHash("note-type"),
      totalAccepted: 12_345n,
      deadline: 4_102_444_800n,
    };
    expect(await client.contract.acceptanceDigest(message)).to.equal(acceptanceDigest(client.domain, message));
  });

  it("reads pools and agreements with their free balance and terms", async () => {
    const { client, poolId, provider, terms } = await setup();
    const pool = await client.getPool(poolId);
    expect(pool).to.include({ balance: units("100"), locked: units("10"), free: units("90") });
    const a = await client.getAgreement(poolId, AGREEMENT);
    expect(a).to.include({ provider: provider.address, status: "Active", paid: 0n });
    expect(a.terms).to.deep.equal(terms);
    expect(await client.listAgreements(poolId)).to.deep.equal([`0x${AGREEMENT}`]);
  });

  it("refuses unknown pools and agreements by code", async () => {
    const { client, poolId } = await setup();
    await rejects(client.getPool(`0x${"00".repeat(32)}`), "UNKNOWN_POOL", /does not exist on chain 31337/);
    await rejects(client.getAgreement(poolId, "ab".repeat(32)), "UNKNOWN_AGREEMENT");
  });

  it("pre-checks funding and withdrawals, sending nothing when they fail", async () => {
    const { client, poolId, stranger } = await setup();
    const nonce = await ethers.provider.getTransactionCount(stranger.address);
    await rejects(client.withSigner(stranger).fund(poolId, units("1")), "INSUFFICIENT_BALANCE", /holds 0 GLM/);
    await rejects(client.withdraw(poolId, units("91")), "INSUFFICIENT_BALANCE", /has 90 GLM free \(10 GLM locked\)/);
    await rejects(client.withSigner(stranger).withdraw(poolId, units("1")), "NOT_AUTHORIZED", /is not the owner/);
    expect(await ethers.provider.getTransactionCount(stranger.address)).to.equal(nonce);
  });

  it("decodes reverts to their custom error name", async () => {
    const { client, poolId } = await setup();
    await client.terminate(poolId, AGREEMENT);
    await rejects(
      client.release(poolId, AGREEMENT),
      "CLAIM_WINDOW_OPEN",
      /would revert: ClaimWindowOpen\(endsAt=\d+\).*nothing was sent/,
    );
    await rejects(client.claim(poolId, AGREEMENT), "NOTHING_TO_SETTLE", /NothingToSettle/);
  });

  describe("verifyAcceptance", () => {
    it("accepts the owner's and an ACCEPT grantee's signatures", async () => {
      const { client, poolId, owner, supervisor } = await setup();
      expect(await verifyAcceptance(client, await sign(owner, client, poolId, "0.5"))).to.include({
        role: "owner",
        signatureKind: "eoa",
        stale: false,
      });
      const check = await verifyAcceptance(client, await sign(supervisor, client, poolId, "0.5"));
      expect(check).to.include({ role: "grantee", raisesTotal: true, wouldPay: units("0.5") });
    });

    it("refuses a stranger, a bad signature, another chain or contract, an expired one", async () => {
      const { client, poolId, stranger, supervisor } = await setup();
      await rejects(verifyAcceptance(client, await sign(stranger, client, poolId, "1")), "NOT_AUTHORIZED");
      const forged = { ...(await sign(stranger, client, poolId, "1")), signer: supervisor.address };
      await rejects(verifyAcceptance(client, forged), "BAD_SIGNATURE");
      const good = await sign(supervisor, client, poolId, "1");
      await rejects(verifyAcceptance(client, { ...good, chainId: 1n }), "WRONG_CHAIN");
      await rejects(verifyAcceptance(client, { ...good, verifyingContract: stranger.address }), "WRONG_CONTRACT");
      const short = await sign(supervisor, client, poolId, "1", 10n);
      await network.provider.send("evm_increaseTime", [60]);
      await network.provider.send("evm_mine", []);
      await rejects(verifyAcceptance(client, short), "EXPIRED");
    });

    it("says who will be paid, and refuses when that is not the expected provider", async () => {
      const { client, poolId, supervisor, provider, stranger } = await setup();
      const signed = await sign(supervisor, client, poolId, "0.5");
      expect((await verifyAcceptance(client, signed)).provider).to.equal(provider.address);
      expect(await verifyAcceptance(client, signed, { expectedProvider: provider.address })).to.include({
        provider: provider.address,
      });
      await rejects(
        verifyAcceptance(client, signed, { expectedProvider: stranger.address }),
        "WRONG_PROVIDER",
        new RegExp(`pays ${provider.address}, not ${stranger.address}`),
      );
    });

    it("judges a grantee by acceptValidUntil: a revoked one's acceptances settle during the notice, not after", async () => {
      const { client, poolId, supervisor, provider } = await setup();
      const signed = await sign(supervisor, client, poolId, "1", 3n * 3600n);
      await client.setGrant(poolId, supervisor.address, { permissions: 0, validUntil: 0n });
      const notice = await client.acceptValidUntil(poolId, supervisor.address);
      expect(notice - (await client.now())).to.be.within(3590n, 3600n);
      expect(await verifyAcceptance(client, signed)).to.include({ role: "grantee", signerValidUntil: notice });
      await network.provider.send("evm_increaseTime", [3601]);
      await network.provider.send("evm_mine", []);
      await rejects(verifyAcceptance(client, signed), "NOT_AUTHORIZED", /ACCEPT right .* ended at \d{4}-/);
      await client.withSigner(provider).terminate(poolId, AGREEMENT);
      await client.release(poolId, AGREEMENT);
      await rejects(verifyAcceptance(client, signed), "AGREEMENT_RELEASED");
    });

    it("refuses a deadline this computer's clock has passed even when the chain's latest block has not", async () => {
      const { client, poolId, supervisor } = await setup();
      const signed = await sign(supervisor, client, poolId, "1", 600n);
      const ahead = (await client.now()) + 3600n;
      await rejects(verifyAcceptance(client, signed, { wallClock: ahead }), "EXPIRED", /this computer's clock/);
      expect((await verifyAcceptance(client, signed, { wallClock: false })).wouldPay).to.equal(units("1"));
    });

    it("counts an ERC-1271 answer only when it is exactly the 32-byte magic word, as the contract does", async () => {
      const { client, poolId, provider, glm } = await setup();
      // A wallet whose isValidSignature returns 0x1626ba7e and then non-zero padding, for any input.
      const padded = Wallet.createRandom().address;
      const exact = Wallet.createRandom().address;
      const returning = (word: string): string => `0x7f${word}60005260206000f3`;
      await network.provider.send("hardhat_setCode", [padded, returning(`1626ba7e${"00".repeat(27)}01`)]);
      await network.provider.send("hardhat_setCode", [exact, returning(`1626ba7e${"00".repeat(28)}`)]);
      const signedBy = async (signer: string, total: string): Promise<SignedAcceptance> => {
        await client.setGrant(poolId, signer, { permissions: ACCEPT, validUntil: (await client.now()) + 3600n });
        return {
          poolId,
          agreementId: `0x${AGREEMENT}`,
          debitNoteId: debitNoteIdHash(`wallet-${total}`),
          totalAccepted: units(total),
          deadline: (await client.now()) + 3600n,
          ...client.domain,
          signer,
          signature: "0x01",
        };
      };
      const bad = await signedBy(padded, "0.4");
      await rejects(verifyAcceptance(client, bad), "BAD_SIGNATURE");
      await rejects(client.settle(bad), "BAD_SIGNATURE", /would revert: InvalidSignature/);
      const good = await signedBy(exact, "0.4");
      expect(await verifyAcceptance(client, good)).to.include({ signatureKind: "erc1271" });
      const before = await glm.balanceOf(provider.address);
      expect((await client.settle(good)).paid).to.equal(units("0.4"));
      expect((await glm.balanceOf(provider.address)) - before).to.equal(units("0.4"));
    });

    it("accepts an ERC-1271 contract wallet holding an ACCEPT grant, and refuses it when the wallet says no", async () => {
      const { client, poolId } = await setup();
      const key = Wallet.createRandom();
      const factory = await ethers.getContractFactory("BenchERC1271Wallet");
      const wallet = await (await factory.deploy(key.address)).waitForDeployment();
      const walletAddress = await wallet.getAddress();
      await client.setGrant(poolId, walletAddress, { permissions: ACCEPT, validUntil: (await client.now()) + 3600n });
      const message = {
        poolId,
        agreementId: `0x${AGREEMENT}`,
        debitNoteId: debitNoteIdHash("erc1271"),
        totalAccepted: units("0.3"),
        deadline: (await client.now()) + 3600n,
      };
      const digest = acceptanceDigest(client.domain, message);
      const signature = key.signingKey.sign(digest).serialized;
      const signed = { ...message, ...client.domain, signer: walletAddress, signature };
      expect(await verifyAcceptance(client, signed)).to.include({ role: "grantee", signatureKind: "erc1271" });
      const other = Wallet.createRandom().signingKey.sign(digest).serialized;
      await rejects(verifyAcceptance(client, { ...signed, signature: other }), "BAD_SIGNATURE");
      expect((await client.settle(signed)).paid).to.equal(units("0.3"));
    });

    it("reports a stale replay", async () => {
      const { client, poolId, supervisor } = await setup();
      const signed = await sign(supervisor, client, poolId, "0.5");
      expect((await client.settle(signed)).paid).to.equal(units("0.5"));
      expect(await verifyAcceptance(client, signed)).to.include({ stale: true, wouldPay: 0n });
    });
  });

  describe("terminateAndCollect and release", () => {
    const advance = async (seconds: number): Promise<void> => {
      await network.provider.send("evm_increaseTime", [seconds]);
      await network.provider.send("evm_mine", []);
    };

    it("the provider settles its acceptance and terminates in one transaction; an instant release leaves it paid", async () => {
      const { client, poolId, supervisor, provider, glm } = await setup();
      const signed = await sign(supervisor, client, poolId, "2");
      await advance(300); // cap 1 + 0.01 GLM/s x 300 s = 4 GLM: the 2 accepted are payable
      const [p0, d0] = await Promise.all([glm.balanceOf(provider.address), glm.balanceOf(client.address)]);
      const result = await client.withSigner(provider).terminateAndCollect(poolId, AGREEMENT, signed);
      expect(result).to.include({
        settled: true,
        claimed: false,
        by: "provider",
        paid: units("2"),
        claimableAfter: 0n,
      });
      expect(result.claimWindowEnd).to.equal(undefined);
      const names = result.receipt.logs.map((log) => client.contract.interface.parseLog(log)?.name);
      expect(names).to.include.members(["DebitNoteSettled", "AgreementTerminated"]);
      expect((await glm.balanceOf(provider.address)) - p0).to.equal(units("2"));
      expect(d0 - (await glm.balanceOf(client.address))).to.equal(units("2"));

      const free0 = (await client.getPool(poolId)).free;
      const released = await client.release(poolId, AGREEMENT); // anyone, at once: the provider terminated
      expect(released).to.include({ paidToProvider: 0n, refunded: units("8"), provider: provider.address });
      expect((await glm.balanceOf(provider.address)) - p0).to.equal(units("2"));
      expect((await client.getPool(poolId)).free - free0).to.equal(units("8"));
    });

    it("without an acceptance, the provider claims its stream floor and terminates in one transaction", async () => {
      const { client, poolId, provider, glm, terms } = await setup();
      const stream = "cd".repeat(32);
      await client.openAgreement(poolId, stream, provider.address, {
        ...terms,
        maxRate: 0n,
        upfront: 0n,
        streamRate: parseRate("36 GLM/h", GLM),
      });
      await advance(200);
      const p0 = await glm.balanceOf(provider.address);
      const result = await client.withSigner(provider).terminateAndCollect(poolId, stream);
      expect(result).to.include({ settled: false, claimed: true, by: "provider", claimableAfter: 0n });
      const a = await client.getAgreement(poolId, stream);
      expect(a.status).to.equal("Terminated");
      expect(result.paid).to.equal(a.paid);
      expect(result.paid).to.equal(units("0.01") * (a.terminatedAt - a.startedAt));
      expect((await glm.balanceOf(provider.address)) - p0).to.equal(result.paid);
      expect((await client.release(poolId, stream)).paidToProvider).to.equal(0n);
    });

    it("an owner's termination leaves the claim window; release after it pays the provider first, then refunds", async () => {
      const { client, poolId, supervisor, provider, glm } = await setup();
      await advance(300);
      const signed = await sign(supervisor, client, poolId, "5");
      await client.settle(signed); // pays up to the cap (about 4 GLM), records 5 accepted
      await advance(100);
      const result = await client.terminateAndCollect(poolId, AGREEMENT);
      expect(result).to.include({ by: "other", settled: false, claimed: false, paid: 0n });
      const a = await client.getAgreement(poolId, AGREEMENT);
      expect(result.claimWindowEnd).to.equal(a.terminatedAt + 600n);
      expect(result.claimableAfter).to.equal(units("5") - a.paid);
      await rejects(client.release(poolId, AGREEMENT), "CLAIM_WINDOW_OPEN");
      await advance(601);
      const [p0, free0] = await Promise.all([
        glm.balanceOf(provider.address),
        client.getPool(poolId).then((p) => p.free),
      ]);
      const released = await client.release(poolId, AGREEMENT);
      expect(released.paidToProvider).to.equal(units("5") - a.paid);
      expect(released.refunded).to.equal(units("5"));
      expect((await glm.balanceOf(provider.address)) - p0).to.equal(released.paidToProvider);
      expect((await client.getPool(poolId)).free - free0).to.equal(units("5"));
    });
  });

  it("settles a batch, reporting a failing item by its error name", async () => {
    const { client, poolId, supervisor, stranger, provider, glm } = await setup();
    const good = await sign(supervisor, client, poolId, "0.8");
    const bad = await sign(stranger, client, poolId, "0.9");
    const before = await glm.balanceOf(provider.address);
    const { items } = await client.settleBatch([good, bad]);
    expect(items.map((i) => i.failure)).to.deep.equal([undefined, "InvalidSignature"]);
    expect(items[0].paid).to.equal(units("0.8"));
    expect((await glm.balanceOf(provider.address)) - before).to.equal(units("0.8"));
  });
});
