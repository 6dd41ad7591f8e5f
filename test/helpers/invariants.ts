/**
 * The SPEC's invariants for one pool, checked against chain state and the payout model:
 * 1. the contract holds at least the sum of the given pools' balances;
 * 2. `locked == sum(budget - paid)` over the pool's agreements not Released, and `locked <= balance`;
 * 3. every agreement has `paid <= payable(now) <= budget` (claimable equals the model's).
 * The caller passes every agreement of the pool (the contract has no enumeration).
 */
import { expect } from "chai";

import type { DripFeedFixture } from "./fixture";
import { now } from "./fixture";
import { Status, payableAt } from "./payoutModel";

export async function expectInvariants(
  fx: DripFeedFixture,
  pools: { poolId: string; agreementIds: string[] }[],
): Promise<void> {
  const t = await now();
  let sumBalances = 0n;
  for (const { poolId, agreementIds } of pools) {
    const pool = await fx.dripFeed.getPool(poolId);
    sumBalances += pool.balance;
    let expectedLocked = 0n;
    for (const agreementId of agreementIds) {
      const a = await fx.dripFeed.getAgreement(poolId, agreementId);
      if (a.status !== Status.Released && a.status !== Status.None) expectedLocked += a.terms.budget - a.paid;
      if (a.status === Status.Active || a.status === Status.Terminated) {
        const payableNow = payableAt(a, t);
        expect(a.paid, "paid <= payable(now)").to.be.lte(payableNow);
        expect(payableNow, "payable(now) <= budget").to.be.lte(a.terms.budget);
        expect(await fx.dripFeed.claimable(poolId, agreementId), "claimable").to.equal(payableNow - a.paid);
      }
    }
    expect(pool.locked, "locked == sum(budget - paid)").to.equal(expectedLocked);
    expect(pool.locked, "locked <= balance").to.be.lte(pool.balance);
  }
  expect(await fx.token.balanceOf(fx.dripFeedAddress), "token balance >= sum of pool balances").to.be.gte(sumBalances);
}
