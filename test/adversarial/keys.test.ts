/**
 * Stolen keys (SECURITY.md threat model): what a compromised OPEN, ACCEPT or TERMINATE grantee key can cost the
 * pool at most, checked with every party's balance.
 */
import { expect } from "chai";
import { network } from "hardhat";

import {
  ACCEPT,
  type Hostile,
  OPEN,
  TERMINATE,
  acceptance,
  agreementIdOf,
  createPool,
  expectMoves,
  hostileFixture,
  partiesOf,
  poolState,
  signed,
  terms,
} from "./setup";

const E18 = 10n ** 18n;

async function at(timestamp: number): Promise<void> {
  await network.provider.send("evm_setNextBlockTimestamp", [timestamp]);
}

async function latest(): Promise<number> {
  const block = (await network.provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
  return Number(BigInt(block.timestamp));
}

describe("adversarial: stolen grantee keys", () => {
  let f: Hostile;
  let parties: Record<string, string>;
  let poolId: string;

  beforeEach(async () => {
    f = await hostileFixture();
    parties = await partiesOf(f);
    poolId = await createPool(f, f.owner, f.glm, "keys", 100_000n);
  });

  describe("an OPEN key", () => {
    it("can commit at most openAllowance + openRefillRate * T / 1e18, even to a provider it controls", async () => {
      // The thief (grantee key) opens agreements paying a colluding address (the stranger) by the stream floor alone.
      const refill = 10n * E18; // 10 units per second
      await f.dripFeed.connect(f.owner).setGrant(poolId, parties.grantee, OPEN, 4_000_000_000, 5_000n, refill);
      const start = await latest();
      await at(start + 1);
      await f.dripFeed
        .connect(f.grantee)
        .openAgreement(
          poolId,
          agreementIdOf("theft-1"),
          parties.stranger,
          terms({ budget: 5_000n, streamRate: 10n ** 30n }),
        );
      // The bucket is empty: one more unit is refused.
      await at(start + 2);
      await expect(
        f.dripFeed
          .connect(f.grantee)
          .openAgreement(
            poolId,
            agreementIdOf("theft-2"),
            parties.stranger,
            terms({ budget: 11n, streamRate: 10n ** 30n }),
          ),
      ).to.be.revertedWithCustomError(f.dripFeed, "AllowanceExceeded");
      // 100 s later the bucket refilled 1 000: exactly that much more can be committed.
      await at(start + 101);
      await f.dripFeed
        .connect(f.grantee)
        .openAgreement(
          poolId,
          agreementIdOf("theft-3"),
          parties.stranger,
          terms({ budget: 1_000n, streamRate: 10n ** 30n }),
        );
      await at(start + 102);
      await expect(
        f.dripFeed
          .connect(f.grantee)
          .openAgreement(
            poolId,
            agreementIdOf("theft-4"),
            parties.stranger,
            terms({ budget: 11n, streamRate: 10n ** 30n }),
          ),
      ).to.be.revertedWithCustomError(f.dripFeed, "AllowanceExceeded");
      // What the thief collected: exactly the budgets it committed, 5 000 + 1 000 = openAllowance + rate * 100 s.
      await expectMoves(
        f.glm,
        parties,
        async () => {
          await f.dripFeed.connect(f.stranger).claim(poolId, agreementIdOf("theft-1"));
          await f.dripFeed.connect(f.stranger).claim(poolId, agreementIdOf("theft-3"));
        },
        { dripFeed: -6_000n, stranger: 6_000n },
      );
      // It can never withdraw the free balance nor re-grant itself.
      await expect(f.dripFeed.connect(f.grantee).withdraw(poolId, 1n, parties.grantee)).to.be.revertedWithCustomError(
        f.dripFeed,
        "NotPoolOwner",
      );
      await expect(
        f.dripFeed.connect(f.grantee).setGrant(poolId, parties.grantee, OPEN, 4_000_000_000, 10n ** 30n, 0n),
      ).to.be.revertedWithCustomError(f.dripFeed, "NotPoolOwner");
      expect(await poolState(f, poolId)).to.deep.equal([94_000n, 0n]);
    });
  });

  describe("an ACCEPT key", () => {
    it("pays only the agreement's provider, at most at maxRate, never above the budget", async () => {
      await f.dripFeed.connect(f.owner).setGrant(poolId, parties.grantee, ACCEPT, 4_000_000_000, 0n, 0n);
      const agreementId = agreementIdOf("capped");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(
          poolId,
          agreementId,
          parties.providerA,
          terms({ budget: 50_000n, upfront: 100n, maxRate: 5n * E18 }),
        );
      const startedAt = Number((await f.dripFeed.getAgreement(poolId, agreementId)).startedAt);
      const forged = acceptance(poolId, agreementId, 10n ** 40n);
      const signature = await signed(f, f.grantee, forged);
      const signedLater = await signed(f, f.grantee, acceptance(poolId, agreementId, 10n ** 41n, "dn-2"));
      await at(startedAt + 60);
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.stranger).settle(forged, parties.grantee, signature),
        {
          dripFeed: -400n, // upfront 100 + 5/s x 60 s
          providerA: 400n,
        },
      );
      // The owner revokes and, to stop the key at once (the revocation gives an hour's notice), terminates the
      // agreement in the same block: the cap freezes at the termination time and never passes the budget.
      // Explicit gas limits: both transactions must fit in one block whatever the network's default gas is.
      await network.provider.send("evm_setAutomine", [false]);
      await f.dripFeed.connect(f.owner).setGrant(poolId, parties.grantee, 0, 0, 0n, 0n, { gasLimit: 300_000 });
      await f.dripFeed.connect(f.owner).terminate(poolId, agreementId, { gasLimit: 300_000 });
      await at(startedAt + 61);
      await network.provider.send("evm_mine", []);
      await network.provider.send("evm_setAutomine", [true]);
      const a = await f.dripFeed.getAgreement(poolId, agreementId);
      const frozen = 100n + (5n * E18 * (a.terminatedAt - a.startedAt)) / E18;
      expect(frozen).to.equal(405n);
      // Within the notice the key's new acceptance still counts, but unlocks nothing beyond the frozen cap.
      const later = acceptance(poolId, agreementId, 10n ** 41n, "dn-2");
      await at(startedAt + 61 + 3000);
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.stranger).settle(later, parties.grantee, signedLater),
        { dripFeed: -5n, providerA: 5n },
      );
      // After the notice the key signs nothing that counts.
      const last = acceptance(poolId, agreementId, 10n ** 42n, "dn-3");
      await at(startedAt + 61 + 3601);
      await expect(
        f.dripFeed.connect(f.stranger).settle(last, parties.grantee, await signed(f, f.grantee, last)),
      ).to.be.revertedWithCustomError(f.dripFeed, "InvalidSignature");
    });
  });

  describe("a TERMINATE key", () => {
    it("stops agreements but moves no money; the provider keeps its claim window", async () => {
      await f.dripFeed.connect(f.owner).setGrant(poolId, parties.grantee, TERMINATE, 4_000_000_000, 0n, 0n);
      const agreementId = agreementIdOf("stopped");
      await f.dripFeed
        .connect(f.owner)
        .openAgreement(poolId, agreementId, parties.providerA, terms({ budget: 9_000n }));
      const message = acceptance(poolId, agreementId, 3_000n);
      const signature = await signed(f, f.owner, message);
      await expectMoves(f.glm, parties, () => f.dripFeed.connect(f.grantee).terminate(poolId, agreementId), {});
      await expect(f.dripFeed.connect(f.grantee).release(poolId, agreementId)).to.be.revertedWithCustomError(
        f.dripFeed,
        "ClaimWindowOpen",
      );
      await expectMoves(
        f.glm,
        parties,
        () => f.dripFeed.connect(f.providerA).settle(message, parties.owner, signature),
        {
          dripFeed: -3_000n,
          providerA: 3_000n,
        },
      );
    });
  });
});
