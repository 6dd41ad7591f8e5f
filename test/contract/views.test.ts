import { expect } from "chai";
import { ZeroAddress } from "ethers";

import {
  GLM,
  Status,
  agreementIdOf,
  atTime,
  claimableAt,
  createFundedPool,
  deployFixture,
  mineAt,
  now,
  openAgreement,
  perSecond,
  saltOf,
  settleArgs,
  setupPool,
  signTotal,
} from "../helpers";

describe("views: getPool, getAgreement, claimable", () => {
  describe("getPool", () => {
    describe("when the pool does not exist", () => {
      it("returns zero values", async () => {
        const { dripFeed } = await deployFixture();
        const pool = await dripFeed.getPool(saltOf("nope"));
        expect([pool.owner, pool.token, pool.balance, pool.locked]).to.deep.equal([ZeroAddress, ZeroAddress, 0n, 0n]);
      });
    });

    describe("when the pool exists", () => {
      it("tracks balance and locked through funding, opening, paying and releasing", async () => {
        const fx = await deployFixture();
        const poolId = await createFundedPool(fx, { amount: 100n * GLM });
        const check = async (balance: bigint, locked: bigint) => {
          const p = await fx.dripFeed.getPool(poolId);
          expect([p.owner, p.token, p.balance, p.locked]).to.deep.equal([
            fx.owner.address,
            fx.tokenAddress,
            balance,
            locked,
          ]);
        };
        await check(100n * GLM, 0n);
        const { agreementId } = await openAgreement(fx, poolId, { terms: { budget: 60n * GLM } });
        await check(100n * GLM, 60n * GLM);
        await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, agreementId, 15n * GLM)));
        await check(85n * GLM, 45n * GLM);
        await fx.dripFeed.connect(fx.providers[0]).terminate(poolId, agreementId);
        await fx.dripFeed.release(poolId, agreementId);
        await check(85n * GLM, 0n);
      });
    });
  });

  describe("getAgreement", () => {
    describe("when the agreement does not exist", () => {
      it("returns zero values with status None", async () => {
        const fx = await deployFixture();
        const poolId = await createFundedPool(fx);
        const a = await fx.dripFeed.getAgreement(poolId, agreementIdOf("nope"));
        expect(a.provider).to.equal(ZeroAddress);
        expect(a.status).to.equal(Status.None);
        expect([a.startedAt, a.terminatedAt, a.paid, a.acceptedTotal]).to.deep.equal([0n, 0n, 0n, 0n]);
        expect([...a.terms]).to.deep.equal([0n, 0n, 0n, 0n, 0n, 0n]);
      });
    });

    describe("when the agreement has no rates", () => {
      it("returns its terms with zero rates (and the upfront it was opened with)", async () => {
        const fx = await deployFixture();
        const poolId = await createFundedPool(fx);
        const { agreementId } = await openAgreement(fx, poolId, {
          terms: { budget: 9n, upfront: 3n, debitNoteInterval: 900n, paymentTimeout: 86_400n },
        });
        const a = await fx.dripFeed.getAgreement(poolId, agreementId);
        expect([...a.terms]).to.deep.equal([9n, 3n, 0n, 0n, 900n, 86_400n]);
      });
    });

    describe("when the agreement goes through its life", () => {
      it("reports status, times, paid and acceptedTotal", async () => {
        const fx = await deployFixture();
        const { poolId, agreements } = await setupPool(fx, { agreements: [{ terms: { maxRate: perSecond(GLM) } }] });
        const { agreementId, startedAt } = agreements[0];
        await atTime(startedAt + 5n);
        await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, agreementId, 20n * GLM)));
        let a = await fx.dripFeed.getAgreement(poolId, agreementId);
        expect([a.status, a.startedAt, a.terminatedAt, a.paid, a.acceptedTotal]).to.deep.equal([
          Status.Active,
          startedAt,
          0n,
          5n * GLM,
          20n * GLM,
        ]);
        await atTime(startedAt + 8n);
        await fx.dripFeed.terminate(poolId, agreementId);
        a = await fx.dripFeed.getAgreement(poolId, agreementId);
        expect([a.status, a.terminatedAt]).to.deep.equal([Status.Terminated, startedAt + 8n]);
        await atTime(startedAt + 8n + 3601n);
        await fx.dripFeed.release(poolId, agreementId);
        a = await fx.dripFeed.getAgreement(poolId, agreementId);
        // Release paid the provider what the cap allowed at termination (8 s x 1 GLM/s) before refunding the rest.
        expect([a.status, a.terminatedAt, a.paid, a.acceptedTotal]).to.deep.equal([
          Status.Released,
          startedAt + 8n,
          8n * GLM,
          20n * GLM,
        ]);
      });
    });
  });

  describe("claimable", () => {
    describe("when the agreement does not exist", () => {
      it("returns 0", async () => {
        const fx = await deployFixture();
        const poolId = await createFundedPool(fx);
        expect(await fx.dripFeed.claimable(poolId, agreementIdOf("nope"))).to.equal(0n);
      });
    });

    describe("when the agreement is released", () => {
      it("returns 0 even though acceptances exceed what was paid", async () => {
        const fx = await deployFixture();
        const { poolId, agreements } = await setupPool(fx, { agreements: [{ terms: { maxRate: perSecond(1n) } }] });
        const { agreementId } = agreements[0];
        await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, agreementId, 50n * GLM)));
        await fx.dripFeed.connect(fx.providers[0]).terminate(poolId, agreementId);
        await fx.dripFeed.release(poolId, agreementId);
        await mineAt((await now()) + 1000n);
        expect(await fx.dripFeed.claimable(poolId, agreementId)).to.equal(0n);
      });
    });

    describe("when the agreement is active or terminated", () => {
      it("equals the model's payable - paid at every second sampled", async () => {
        const fx = await deployFixture();
        const { poolId, agreements } = await setupPool(fx, {
          agreements: [
            {
              terms: {
                budget: 10n * GLM,
                upfront: GLM,
                maxRate: perSecond(GLM / 50n),
                streamRate: perSecond(GLM / 200n),
              },
            },
          ],
        });
        const { agreementId, startedAt } = agreements[0];
        await atTime(startedAt + 3n);
        await fx.dripFeed.settle(...settleArgs(await signTotal(fx.owner, fx.domain, poolId, agreementId, 4n * GLM)));
        for (const dt of [3n, 4n, 50n, 149n, 150n, 151n, 400n]) {
          await mineAt(startedAt + dt);
          const a = await fx.dripFeed.getAgreement(poolId, agreementId);
          expect(await fx.dripFeed.claimable(poolId, agreementId), `at ${dt}s`).to.equal(
            claimableAt(a, startedAt + dt),
          );
        }
        await fx.dripFeed.terminate(poolId, agreementId);
        const a = await fx.dripFeed.getAgreement(poolId, agreementId);
        for (const dt of [500n, 5000n]) {
          await mineAt(startedAt + dt);
          expect(await fx.dripFeed.claimable(poolId, agreementId)).to.equal(claimableAt(a, startedAt + dt));
        }
      });
    });
  });
});
