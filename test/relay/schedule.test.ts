import { expect } from "chai";
import { hexlify, randomBytes } from "ethers";

import { type ScheduleOptions, Scheduler } from "../../scripts/relay/schedule";
import type { StoredAcceptance } from "../../scripts/relay/store";

const POOL = `0x${"11".repeat(32)}`;
const SIGNER = "0x70997970C51812dc3A010C7d01b50e0dfc79C720";
const HOUR = 3_600_000;
const T0 = 1_900_000_000_000; // chain ms

function acceptance(
  agreementId: string,
  total: bigint,
  receivedChainAt: number,
  extra: Partial<StoredAcceptance> = {},
) {
  const item: StoredAcceptance = {
    id: hexlify(randomBytes(32)),
    poolId: POOL,
    agreementId,
    debitNoteId: hexlify(randomBytes(32)),
    totalAccepted: total,
    deadline: Math.floor(receivedChainAt / 1000) + 86_400,
    signer: SIGNER,
    signature: "0x",
    contractSigner: false,
    status: "queued",
    txHash: null,
    paid: null,
    reason: null,
    supersededBy: null,
    attempts: 0,
    batchId: null,
    receivedAt: receivedChainAt,
    receivedChainAt,
    updatedAt: receivedChainAt,
    notBefore: 0,
    ...extra,
  };
  return item;
}

function scheduler(options: Partial<ScheduleOptions> = {}, laneOf?: (item: StoredAcceptance) => string | undefined) {
  return new Scheduler({ maxHoldMs: HOUR, marginMs: 600_000, maxWaitMs: 2_000, batchSize: 3, ...options }, laneOf);
}

const agreement = () => hexlify(randomBytes(32));

/** The settlement schedule (scripts/relay/schedule.ts): when each agreement is due, and what goes in a batch. */
describe("relay: settlement schedule", function () {
  describe("with --max-hold 0", function () {
    it("makes an acceptance due on arrival and sends it once the batch fills or --max-wait passed", function () {
      const s = scheduler({ maxHoldMs: 0 });
      const a = agreement();
      s.add([acceptance(a, 10n, T0)], T0);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0, reason: "max-hold" });
      expect(s.next(T0 + 1_000)).to.deep.equal({ kind: "idle", wakeInMs: 1_000 });
      const pick = s.next(T0 + 2_000);
      expect(pick.kind).to.equal("batch");
      // A full batch goes at once.
      const t = scheduler({ maxHoldMs: 0 });
      t.add([acceptance(agreement(), 1n, T0), acceptance(agreement(), 1n, T0), acceptance(agreement(), 1n, T0)], T0);
      expect(t.next(T0).kind).to.equal("batch");
    });
  });

  describe("with a hold", function () {
    it("holds an agreement for --max-hold from its oldest unsettled acceptance; later ones do not move it", function () {
      const s = scheduler();
      const a = agreement();
      s.add([acceptance(a, 10n, T0)], T0);
      s.add([acceptance(a, 20n, T0 + 120_000)], T0 + 120_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + HOUR, reason: "max-hold" });
      const idle = s.next(T0 + 120_000);
      expect(idle).to.deep.equal({ kind: "idle", wakeInMs: HOUR - 120_000 });
      const pick = s.next(T0 + HOUR + 2_000);
      expect(pick.kind).to.equal("batch");
      if (pick.kind !== "batch") return;
      // The highest total is the one sent.
      expect(s.pick(pick.plans[0], T0 + HOUR).item?.totalAccepted).to.equal(20n);
    });

    it("counts the hold from the oldest acceptance still queued: an earlier low one arriving late, and after a reload", function () {
      const s = scheduler();
      const a = agreement();
      const late = acceptance(a, 30n, T0 + 600_000);
      s.add([late], T0 + 600_000);
      expect(s.dueOf(POOL, a)?.at).to.equal(T0 + 600_000 + HOUR);
      // A lower total received earlier (a relay forwarding what it held) pulls the hold back to its arrival.
      const early = acceptance(a, 10n, T0 + 60_000);
      s.add([early], T0 + 600_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 60_000 + HOUR, reason: "max-hold" });
      // A batch settled the early one only: the hold now counts from the late one.
      s.take([s.plan(POOL, a)!]);
      s.reload(POOL, a, [late], T0 + 700_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 600_000 + HOUR, reason: "max-hold" });
      // Everything settled: the next acceptance starts a new hold.
      s.take([s.plan(POOL, a)!]);
      s.reload(POOL, a, [], T0 + 800_000);
      s.add([acceptance(a, 40n, T0 + 900_000)], T0 + 900_000);
      expect(s.dueOf(POOL, a)?.at).to.equal(T0 + 900_000 + HOUR);
    });

    it("settles before the deadline of the acceptance it would send, by the margin", function () {
      const s = scheduler();
      const a = agreement();
      s.add([acceptance(a, 10n, T0, { deadline: (T0 + 30 * 60_000) / 1000 })], T0);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 20 * 60_000, reason: "deadline" });
    });

    it("settles before the signer's acceptValidUntil (a revocation's notice), by the margin", function () {
      const s = scheduler();
      const a = agreement();
      s.add([acceptance(a, 10n, T0)], T0);
      s.setSignerValidity(POOL, SIGNER, (T0 + 40 * 60_000) / 1000, T0);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 30 * 60_000, reason: "accept-valid-until" });
      // The owner's signature never expires.
      s.setSignerValidity(POOL, SIGNER, Infinity, T0);
      expect(s.dueOf(POOL, a)?.reason).to.equal("max-hold");
    });

    it("settles a terminated agreement, or one asked for, at once (without waiting for a batch to fill)", function () {
      const s = scheduler();
      const [a, b] = [agreement(), agreement()];
      s.add([acceptance(a, 10n, T0), acceptance(b, 10n, T0)], T0);
      s.markTerminated(POOL, a, T0 + 5_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 5_000, reason: "terminated" });
      expect(s.request(POOL, b, T0 + 6_000)).to.deep.equal({ at: T0 + 6_000, reason: "requested" });
      const pick = s.next(T0 + 6_000);
      expect(pick.kind).to.equal("batch");
      if (pick.kind === "batch") expect(pick.plans.map((p) => p.agreementId).sort()).to.deep.equal([a, b].sort());
      expect(s.request(POOL, agreement(), T0)).to.equal(undefined);
    });

    it("settles once the unpaid accepted value reaches --min-value", function () {
      const s = scheduler({ minValue: () => 100n });
      const a = agreement();
      s.add([acceptance(a, 60n, T0)], T0);
      expect(s.dueOf(POOL, a)?.reason).to.equal("max-hold");
      s.add([acceptance(a, 130n, T0 + 120_000)], T0 + 120_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 120_000, reason: "min-value" });
      // Counted from what the chain already holds.
      s.setOnChainAccepted(POOL, a, 60n, T0 + 120_000);
      expect(s.dueOf(POOL, a)?.reason).to.equal("max-hold");
      // Due from the first arrival that crossed the threshold, not the last one above it.
      s.add([acceptance(a, 200n, T0 + 240_000)], T0 + 240_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 240_000, reason: "min-value" });
      s.add([acceptance(a, 170n, T0 + 180_000)], T0 + 240_000);
      expect(s.dueOf(POOL, a)).to.deep.equal({ at: T0 + 180_000, reason: "min-value" });
    });
  });

  describe("when picking the acceptance to send", function () {
    it("takes the highest that can still settle and reports the higher ones that cannot", function () {
      const s = scheduler();
      const a = agreement();
      const low = acceptance(a, 10n, T0);
      const expired = acceptance(a, 30n, T0, { deadline: T0 / 1000 + 60 });
      const mid = acceptance(a, 20n, T0, { signer: "0x0000000000000000000000000000000000000abc" });
      s.add([low, expired, mid], T0);
      s.setSignerValidity(POOL, mid.signer, T0 / 1000 + 30, T0);
      const plan = s.plan(POOL, a)!;
      const now = T0 + 120_000;
      const picked = s.pick(plan, now);
      expect(picked.item?.id).to.equal(low.id);
      expect(picked.expired.map((i) => i.id)).to.deep.equal([expired.id]);
      expect(picked.unauthorized.map((i) => i.id)).to.deep.equal([mid.id]);
    });

    it("keeps a quarantined acceptance out of shared batches, in its own lane", function () {
      const bad = agreement();
      const s = scheduler({ maxHoldMs: 0, maxWaitMs: 0 }, (item) => (item.agreementId === bad ? "pool:x" : undefined));
      const good = agreement();
      s.add([acceptance(bad, 5n, T0), acceptance(good, 5n, T0)], T0);
      const first = s.next(T0);
      expect(first.kind).to.equal("batch");
      if (first.kind !== "batch") return;
      expect(first.plans.map((p) => p.agreementId)).to.deep.equal([good]);
      s.take(first.plans);
      const second = s.next(T0);
      expect(second).to.include({ kind: "lane", lane: "pool:x" });
    });

    it("frees a plan for the next batch after a reload, and forgets one with nothing left", function () {
      const s = scheduler({ maxHoldMs: 0, maxWaitMs: 0 });
      const a = agreement();
      const low = acceptance(a, 1n, T0);
      const high = acceptance(a, 2n, T0);
      s.add([low, high], T0);
      const pick = s.next(T0);
      if (pick.kind !== "batch") throw new Error("expected a batch");
      s.take(pick.plans);
      expect(s.next(T0).kind).to.equal("idle");
      // The higher one failed for good: the lower one goes next, at once (it has waited already).
      s.reload(POOL, a, [low], T0 + 10);
      const again = s.next(T0 + 10);
      expect(again.kind).to.equal("batch");
      if (again.kind === "batch") expect(s.pick(again.plans[0], T0 + 10).item?.id).to.equal(low.id);
      s.reload(POOL, a, [], T0 + 20);
      expect(s.plan(POOL, a)).to.equal(undefined);
      expect(s.size).to.equal(0);
    });
  });
});
