import { expect } from "chai";

import {
  ACCEPT,
  GLM,
  agreementIdOf,
  deployFixture,
  expectDeltas,
  saltOf,
  settleArgs,
  setupPool,
  signTotal,
  terms,
  termsStruct,
} from "../helpers";

const FOREVER = 2n ** 40n - 1n;

describe("multicall", () => {
  describe("when the owner batches the pool set-up", () => {
    it("creates, funds, grants and opens in one transaction", async () => {
      const fx = await deployFixture();
      const { dripFeed, owner, grantee, providers, tokenAddress } = fx;
      const salt = saltOf("mc");
      const poolId = await dripFeed.poolIdOf(owner.address, salt);
      const id = agreementIdOf("mc");
      const calls = [
        dripFeed.interface.encodeFunctionData("createPool", [tokenAddress, salt]),
        dripFeed.interface.encodeFunctionData("fund", [poolId, 200n * GLM]),
        dripFeed.interface.encodeFunctionData("setGrant", [poolId, grantee.address, ACCEPT, FOREVER, 0n, 0n]),
        dripFeed.interface.encodeFunctionData("openAgreement", [
          poolId,
          id,
          providers[0].address,
          termsStruct(terms()),
        ]),
      ];
      const results = await dripFeed.multicall.staticCall(calls);
      expect(dripFeed.interface.decodeFunctionResult("createPool", results[0])[0]).to.equal(poolId);
      const tx = await expectDeltas(fx, () => dripFeed.multicall(calls), {
        tokens: { owner: -200n * GLM, dripFeed: 200n * GLM },
        pools: [{ poolId, balance: 200n * GLM, locked: 100n * GLM }],
      });
      await expect(tx).to.emit(dripFeed, "PoolCreated");
      await expect(tx).to.emit(dripFeed, "AgreementOpened");
      const [permissions] = await dripFeed.grantOf(poolId, grantee.address);
      expect(permissions).to.equal(ACCEPT);
    });
  });

  describe("when a relay batches settlements", () => {
    it("settles several agreements, paying each provider, with the relay's balance unchanged", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx, { agreements: [{}, {}] });
      const [a0, a1] = agreements.map((a) => a.agreementId);
      const calls = [
        fx.dripFeed.interface.encodeFunctionData(
          "settle",
          settleArgs(await signTotal(fx.owner, fx.domain, poolId, a0, 3n * GLM)),
        ),
        fx.dripFeed.interface.encodeFunctionData(
          "settle",
          settleArgs(await signTotal(fx.owner, fx.domain, poolId, a1, 4n * GLM)),
        ),
      ];
      await expectDeltas(fx, () => fx.dripFeed.connect(fx.relay).multicall(calls), {
        tokens: { dripFeed: -7n * GLM, provider0: 3n * GLM, provider1: 4n * GLM },
        pools: [{ poolId, balance: -7n * GLM, locked: -7n * GLM }],
        agreements: [
          { poolId, agreementId: a0, paid: 3n * GLM, acceptedTotal: 3n * GLM },
          { poolId, agreementId: a1, paid: 4n * GLM, acceptedTotal: 4n * GLM },
        ],
      });
    });
  });

  describe("when one call reverts", () => {
    it("reverts the whole batch with that call's error", async () => {
      const fx = await deployFixture();
      const { poolId, agreements } = await setupPool(fx);
      const s = settleArgs(await signTotal(fx.owner, fx.domain, poolId, agreements[0].agreementId, 3n * GLM));
      const call = fx.dripFeed.interface.encodeFunctionData("settle", s);
      await expect(fx.dripFeed.connect(fx.relay).multicall([call, call])).to.be.revertedWithCustomError(
        fx.dripFeed,
        "NothingToSettle",
      );
      expect((await fx.dripFeed.getAgreement(poolId, agreements[0].agreementId)).paid).to.equal(0n);
    });
  });

  describe("when the caller is not the owner", () => {
    it("keeps msg.sender: a stranger's batched withdraw reverts NotPoolOwner", async () => {
      const fx = await deployFixture();
      const { poolId } = await setupPool(fx);
      const call = fx.dripFeed.interface.encodeFunctionData("withdraw", [poolId, 1n, fx.stranger.address]);
      await expect(fx.dripFeed.connect(fx.stranger).multicall([call]))
        .to.be.revertedWithCustomError(fx.dripFeed, "NotPoolOwner")
        .withArgs(poolId, fx.stranger.address);
    });
  });
});
