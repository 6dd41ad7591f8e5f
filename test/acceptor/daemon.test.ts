import { expect } from "chai";

import type { DripFeedError } from "../../scripts/sdk";
import { newDebitNoteId } from "../../scripts/demo/yagnaStandIn";
import { formatRfc3339Micros } from "../../scripts/sdk/debitNote";
import { type Harness, chainMicros, harness, units, waitFor } from "./harness";

/**
 * The supervisor acceptor daemon in-process: yagna stand-in -> policy -> EIP-712 acceptance -> relay ->
 * settleBatch, with the notes a real requestor's yagna serves (several agreements and activities, other
 * agreements' notes, resends, cancellations, a provider clock in 2027, long polls that bring nothing).
 */
describe("acceptor daemon (in-process, yagna stand-in, real relay)", function () {
  this.timeout(120_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** Microseconds of round r (rounds are one debit-note interval apart on the requestor's clock). */
  const roundAt = (start: bigint, round: number, offset = 0) => start + BigInt(round * 120 + offset) * 1_000_000n;

  it("answers several agreements and activities at once; what it accepts ends paid on chain, refusals name their rule", async () => {
    h = await harness();
    const { world: w, yagna } = h;
    const a1 = h.provider(0, "0.05");
    const a2 = h.provider(0, "0.02");
    const b = h.provider(1, "0.1");
    const c = h.provider(2, "0.03");
    const stranger = h.provider(2, "0.5");
    const start = await chainMicros(w.client);
    const decided: string[] = [];
    const balances = await Promise.all(w.providers.map((p) => w.balanceOf(p.address)));
    for (let round = 1; round <= 4; round++) {
      for (const [i, p] of [a1, a2, b, c].entries()) {
        const note = p.issueDebitNote(roundAt(start, round, i));
        if (round === 3 && p === b) note.timestamp = "2027-06-01T00:00:00.000000Z"; // the provider's clock is wrong
        yagna.receive(note, roundAt(start, round, i));
        decided.push(note.debitNoteId);
        if (round === 3 && p === a1) {
          yagna.event(note.debitNoteId, "DebitNoteReceivedEvent", roundAt(start, round, 10)); // yagna resends it
        }
      }
      if (round === 2) {
        // another requestor job on the same yagna: an agreement this pool does not have
        const other = { ...h.provider(2, "1").issueDebitNote(roundAt(start, round, 20)), agreementId: "d".repeat(64) };
        yagna.receive(other, roundAt(start, round, 20));
        decided.push(other.debitNoteId);
      }
      if (round === 4) {
        // billed to someone else than the requestor
        const wrongPayer = { ...stranger.issueDebitNote(roundAt(start, round, 30)), payerAddr: w.stranger.address };
        yagna.receive(wrongPayer, roundAt(start, round, 30));
        decided.push(wrongPayer.debitNoteId);
      }
    }
    const records = await h.answered(decided);
    const byDecision = (d: string) => records.filter((r) => r.decision === d);
    expect(byDecision("accept")).to.have.length(16);
    expect(byDecision("ignored").map((r) => r.agreementId)).to.deep.equal(["d".repeat(64)]);
    expect(byDecision("reject").map((r) => r.rule)).to.deep.equal(["payer"]);
    expect(records.filter((r) => r.decision === "accept").every((r) => r.yagna === "accepted")).to.equal(true);

    // every accepted note accepted in yagna for exactly its totalAmountDue, nothing else accepted there
    const accepted = new Map(byDecision("accept").map((r) => [r.debitNoteId, r.totalAmountDue]));
    const calls = yagna.accepted();
    expect(new Set(calls.map((call) => call.debitNoteId))).to.deep.equal(new Set(accepted.keys()));
    for (const call of calls) expect(call.totalAmountAccepted).to.equal(accepted.get(call.debitNoteId));

    // the chain: each agreement's accepted total is the sum of its activities' last totals, paid to its provider
    const expected = [units("0.2") + units("0.08"), units("0.4"), units("0.12")];
    await waitFor("the relay to settle the last totals", async () => {
      const states = await Promise.all(w.agreements.map((id) => w.client.getAgreement(w.poolId, id)));
      return states.every((s, i) => s.acceptedTotal === expected[i]) ? true : undefined;
    });
    for (const [i, p] of w.providers.entries()) {
      const state = await w.client.getAgreement(w.poolId, w.agreements[i]);
      expect(state.paid, `agreement ${i}`).to.equal(expected[i]);
      expect((await w.balanceOf(p.address)) - balances[i], `provider ${i}`).to.equal(expected[i]);
    }

    // what an operator sees
    const metrics = await (await fetch(`${h.acceptor.opsUrl}/metrics`)).text();
    expect(metrics).to.match(/^dripfeed_acceptor_notes_seen_total 18$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_notes_accepted_total 16$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_notes_refused_total\{rule="payer"\} 1$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_notes_refused_total\{rule="interval"\} 0$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_notes_ignored_total\{reason="unknown-agreement"\} 1$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_yagna_accepts_total\{outcome="accepted"\} 16$/m);
    const health = (await (await fetch(`${h.acceptor.opsUrl}/healthz`)).json()) as Record<string, unknown>;
    expect(health).to.include({ ok: true, pendingDeliveries: 0 });
  });

  it("refuses a note cancelled before it was read; one cancelled after acceptance keeps its acceptance", async () => {
    h = await harness();
    const { world: w, yagna } = h;
    const p = h.provider(0, "0.05");
    const start = await chainMicros(w.client);
    const first = p.issueDebitNote(roundAt(start, 1));
    yagna.receive(first, roundAt(start, 1));
    const [accepted] = await h.answered([first.debitNoteId]);
    expect(accepted.decision).to.equal("accept");
    yagna.cancel(first.debitNoteId, roundAt(start, 1, 5));

    // the next note is received and cancelled before the acceptor reads it: yagna then serves it as CANCELLED
    await h.acceptor.close();
    const second = p.issueDebitNote(roundAt(start, 2));
    yagna.receive(second, roundAt(start, 2));
    yagna.cancel(second.debitNoteId, roundAt(start, 2, 1));
    const third = p.issueDebitNote(roundAt(start, 3));
    yagna.receive(third, roundAt(start, 3));
    await h.restart();
    const [refused, next] = await h.answered([second.debitNoteId, third.debitNoteId]);
    expect(refused).to.include({ decision: "reject", rule: "status", delivery: "none", yagna: "none" });
    expect(refused.reason).to.equal("its status is CANCELLED; only a RECEIVED note is accepted");
    // the refusal blocked nothing: the next note is accepted, 240 s after the first accepted one
    expect(next).to.include({ decision: "accept", agreementTotal: units("0.15") });
    expect(h.acceptor.store.note(first.debitNoteId)).to.include({ decision: "accept", yagna: "accepted" });
  });

  it("after a restart it resumes from the cursor: nothing lost, nothing decided twice, empty polls in between", async () => {
    h = await harness();
    const { world: w, yagna } = h;
    const p = h.provider(2, "0.03");
    const start = await chainMicros(w.client);
    const before = [1, 2].map((r) => p.issueDebitNote(roundAt(start, r)));
    before.forEach((note, i) => yagna.receive(note, roundAt(start, i + 1)));
    const firstRecords = await h.answered(before.map((n) => n.debitNoteId));
    // idle: the long polls come back empty and the acceptor keeps asking
    await waitFor("empty long polls", () =>
      yagna.polls.filter((q) => q.returned === 0).length >= 2 ? true : undefined,
    );
    const lastEvent = yagna.events[yagna.events.length - 1];
    await waitFor("the cursor at the last event", () =>
      h!.acceptor.store.cursor()?.at === lastEvent.at ? true : undefined,
    );
    await h.acceptor.close();

    const during = [3, 4].map((r) => p.issueDebitNote(roundAt(start, r)));
    during.forEach((note, i) => yagna.receive(note, roundAt(start, i + 3)));
    const restartedAt = yagna.polls.length;
    await h.restart();
    const later = await h.answered(during.map((n) => n.debitNoteId));
    expect(later.map((r) => r.agreementTotal)).to.deep.equal([units("0.09"), units("0.12")]);
    // the first poll after the restart starts one second before the stored cursor (events of that same instant)
    // (a poll the stopped acceptor had in flight may reach the stand-in after this point: look for the new one)
    const after = yagna.polls.slice(restartedAt).map((q) => q.query.get("afterTimestamp"));
    expect(after).to.include(formatRfc3339Micros(lastEvent.at - 1_000_000n));
    // the earlier notes were not decided again (same rows, same totals)
    expect(before.map((n) => h!.acceptor.store.note(n.debitNoteId)?.agreementTotal)).to.deep.equal(
      firstRecords.map((r) => r.agreementTotal),
    );
    expect(h.acceptor.store.countByDecision()).to.deep.equal({ accept: 4, reject: 0, ignored: 0 });
    expect(yagna.accepted()).to.have.length(4);
  });

  it("refuses a second acceptor on the same database, another key on it, and a key that cannot sign", async () => {
    h = await harness();
    const second = await h.restart().catch((e: DripFeedError) => e);
    expect(second).to.have.property("code", "STORE_LOCKED");
    expect((second as Error).message).to.match(/is in use by another acceptor \(pid \d+\)/);
    await h.acceptor.close();
    const otherKey = await h.restart({ client: h.world.client.withSigner(h.world.owner) }).catch((e) => e);
    expect(otherKey).to.have.property("code", "STORE_MISMATCH");
    expect((otherKey as Error).message).to.match(/was written for signing key 0x[0-9a-f]{40}, not 0x[0-9a-f]{40}/);
    const noGrant = await h
      .restart({ client: h.world.client.withSigner(h.world.stranger), db: `${h.db}-stranger` })
      .catch((e) => e);
    expect(noGrant).to.have.property("code", "NOT_AUTHORIZED");
    await h.restart(); // the rightful key still runs on its file
  });

  it("settles itself when no relay is given (its key pays the gas)", async () => {
    h = await harness({ relay: false });
    const { world: w, yagna } = h;
    const p = h.provider(2, "0.4");
    const start = await chainMicros(w.client);
    const before = await w.balanceOf(w.providers[2].address);
    const notes = [1, 2].map((r) => p.issueDebitNote(roundAt(start, r)));
    notes.forEach((note, i) => yagna.receive(note, roundAt(start, i + 1)));
    const records = await h.answered(notes.map((n) => n.debitNoteId));
    expect(records.map((r) => r.delivery).sort()).to.satisfy(
      (states: string[]) => states.includes("settled") && states.every((s) => s === "settled" || s === "covered"),
    );
    expect(records.find((r) => r.delivery === "settled")?.txHash).to.match(/^0x[0-9a-f]{64}$/);
    await waitFor("the second total on chain", async () =>
      (await w.client.getAgreement(w.poolId, w.agreements[2])).acceptedTotal === units("0.8") ? true : undefined,
    );
    expect((await w.balanceOf(w.providers[2].address)) - before).to.equal(units("0.8"));
  });

  it("retries a relay that is down at most 5 times, and not at all once Golem's acceptance timeout passed", async () => {
    h = await harness({ relay: false, acceptor: { relayUrl: "http://127.0.0.1:9" } });
    const { world: w, yagna } = h;
    // received 10 minutes ago (its acceptance timeout, 2 x 120 s, has passed): one attempt, no retry
    const old = BigInt(Date.now() - 600_000) * 1000n;
    const late = h.provider(2, "0.05").issueDebitNote(old);
    yagna.receive(late, old);
    const start = await chainMicros(w.client);
    const fresh = h.provider(0, "0.05").issueDebitNote(roundAt(start, 1));
    yagna.receive(fresh, roundAt(start, 1));
    const [tooLate, inTime] = await h.answered([late.debitNoteId, fresh.debitNoteId]);
    expect(tooLate).to.include({ decision: "accept", delivery: "failed", deliveryAttempts: 1 });
    expect(inTime).to.include({ decision: "accept", delivery: "failed", deliveryAttempts: 5 });
    expect(inTime.deliveryDetail).to.match(/^RELAY_UNREACHABLE: POST http:\/\/127\.0\.0\.1:9\/v1\/acceptances failed/);
    const metrics = await (await fetch(`${h.acceptor.opsUrl}/metrics`)).text();
    expect(metrics).to.match(/^dripfeed_acceptor_relay_errors_total\{code="RELAY_UNREACHABLE"\} 6$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_deliveries_total\{outcome="failed"\} 2$/m);
  });

  it("never answers a resent note twice, leaves other event types alone and skips a malformed note", async () => {
    h = await harness();
    const { world: w, yagna } = h;
    const p = h.provider(1, "0.1");
    const start = await chainMicros(w.client);
    const note = p.issueDebitNote(roundAt(start, 1));
    yagna.receive(note, roundAt(start, 1));
    for (let i = 1; i <= 5; i++) yagna.event(note.debitNoteId, "DebitNoteReceivedEvent", roundAt(start, 1, i));
    yagna.event(newDebitNoteId(), "DebitNotePaymentOkEvent", roundAt(start, 1, 9));
    // a note yagna serves in a shape that is not a debit note must not stop the stream
    const malformed = { ...p.issueDebitNote(roundAt(start, 1, 20)), agreementId: "not-an-agreement-id" };
    yagna.receive(malformed, roundAt(start, 1, 20));
    const follow = p.issueDebitNote(roundAt(start, 2));
    yagna.receive(follow, roundAt(start, 2));
    await h.answered([note.debitNoteId, follow.debitNoteId]);
    expect(h.acceptor.store.countByDecision()).to.deep.equal({ accept: 2, reject: 0, ignored: 0 });
    expect(yagna.accepted().filter((a) => a.debitNoteId === note.debitNoteId)).to.have.length(1);
    const metrics = await (await fetch(`${h.acceptor.opsUrl}/metrics`)).text();
    expect(metrics).to.match(/^dripfeed_acceptor_notes_seen_total 2$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_events_total\{type="DebitNoteReceivedEvent"\} 8$/m);
    expect(metrics).to.match(/^dripfeed_acceptor_notes_ignored_total\{reason="malformed"\} 1$/m);
    expect(h.acceptor.store.note(malformed.debitNoteId)).to.equal(undefined);
  });
});
