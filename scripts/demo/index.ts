/**
 * `npm start`: DripFeed end to end on the embedded Hardhat network, with no set-up. A requestor funds a pool, opens
 * three agreements, delegates acceptance to a supervisor key and goes offline; providers keep working and get paid;
 * the requestor comes back, releases and withdraws; the books are checked against the chain.
 */
import hre from "hardhat";

import { MockGLM__factory } from "../../typechain-types/factories/contracts/test/MockGLM__factory";
import { formatAmount, parseAmount } from "../sdk/amounts";
import { DripFeedClient } from "../sdk/client";
import { isDripFeedError } from "../sdk/errors";
import { agreementIdToBytes32 } from "../sdk/ids";
import { payableAt } from "../sdk/payout";
import { formatRate, parseRate } from "../sdk/rates";
import { ACCEPT, type Terms } from "../sdk/terms";
import { SimulatedProvider } from "./provider";
import { reconcile } from "./reconcile";
import { DemoRelay } from "./relay";
import { DemoSupervisor } from "./supervisor";
import { Timeline } from "./timeline";
import { type StandInNote, newDebitNoteId } from "./yagnaStandIn";

const INTERVAL = 120;
const PAYMENT_TIMEOUT = 900;
const TICKS = 10;
const PLATFORM = "erc20-hardhat-glm";
const BAD_NOTE_AT = 3;
const P1_STOPS_AFTER = 5;
const P3_CLAIMS_AT = 6;
const P2_CLAIMS_AT = 9;

async function main(): Promise<void> {
  const started = Date.now();
  await hre.deployments.fixture(["local"]);
  const [requestorKey, supervisorKey, p1Key, p2Key, p3Key, keeperKey] = await hre.ethers.getSigners();
  const dripFeedAddress = (await hre.deployments.get("DripFeed")).address;
  const glm = MockGLM__factory.connect((await hre.deployments.get("MockGLM")).address, requestorKey);
  const requestor = await DripFeedClient.connect(dripFeedAddress, requestorKey);
  const token = await requestor.token(await glm.getAddress());
  const units = (text: string): bigint => parseAmount(text, token);
  const show = (value: bigint): string => formatAmount(value, token);
  const increaseTime = async (seconds: number): Promise<bigint> => {
    await hre.network.provider.send("evm_increaseTime", [seconds]);
    await hre.network.provider.send("evm_mine", []);
    return requestor.now();
  };
  const log = new Timeline(await requestor.now());
  let now = await requestor.now();

  // ------------------------------------------------------------------ the requestor sets up and leaves
  log.section("requestor online: pool, permit funding, three agreements, a supervisor grant");
  const funded = units("40");
  await (await glm.mint(requestorKey.address, units("50"))).wait();
  const { poolId } = await requestor.createPool(token.address, "npm-start-demo");
  log.at(now, "requestor", `created pool ${poolId.slice(0, 18)}… for ${token.symbol}`);
  await requestor.fund(poolId, funded, { permit: true });
  log.at(
    (now = await requestor.now()),
    "requestor",
    `funded it with ${show(funded)} in one transaction (EIP-2612 permit, no approve)`,
  );

  const golemId = (label: string): string => agreementIdToBytes32(hre.ethers.id(`demo agreement ${label}`)).slice(2);
  const base = {
    upfront: 0n,
    maxRate: 0n,
    streamRate: 0n,
    debitNoteInterval: INTERVAL,
    paymentTimeout: PAYMENT_TIMEOUT,
  };
  const agreements: { name: string; key: typeof p1Key; id: string; terms: Terms; kind: string }[] = [
    {
      name: "provider-1",
      key: p1Key,
      id: golemId("1"),
      kind: "acceptance only",
      terms: { ...base, budget: units("6") },
    },
    {
      name: "provider-2",
      key: p2Key,
      id: golemId("2"),
      kind: "rate-capped",
      terms: { ...base, budget: units("8"), upfront: units("0.5"), maxRate: parseRate("9 GLM/h", token) },
    },
    {
      name: "provider-3",
      key: p3Key,
      id: golemId("3"),
      kind: "stream floor",
      terms: {
        ...base,
        budget: units("3"),
        maxRate: parseRate("9 GLM/h", token),
        streamRate: parseRate("4.5 GLM/h", token),
      },
    },
  ];
  for (const a of agreements) {
    await requestor.openAgreement(poolId, a.id, a.key.address, a.terms);
    const caps = [
      a.terms.maxRate ? `cap ${formatRate(a.terms.maxRate, token)}` : "",
      a.terms.upfront ? `upfront ${show(a.terms.upfront)}` : "",
      a.terms.streamRate ? `floor ${formatRate(a.terms.streamRate, token)}` : "",
    ].filter(Boolean);
    log.at(
      (now = await requestor.now()),
      "requestor",
      `opened ${a.kind} agreement ${a.id.slice(0, 8)}… with ${a.name}: budget ${show(a.terms.budget)}${caps.length ? `, ${caps.join(", ")}` : ""}`,
    );
  }
  await requestor.setGrant(poolId, supervisorKey.address, { permissions: ACCEPT, validUntil: now + 86_400n });
  log.at(
    (now = await requestor.now()),
    "requestor",
    `granted ACCEPT to supervisor ${supervisorKey.address.slice(0, 10)}… for 24 h`,
  );
  log.at(now, "requestor", "goes offline (Ctrl+C)");

  // ------------------------------------------------------------------ providers work, the supervisor accepts
  const [p1, p2] = [agreements[0], agreements[1]];
  const providers = [
    new SimulatedProvider(
      p1.name,
      p1.key.address,
      requestorKey.address,
      p1.id,
      { startPrice: 0n, perInterval: units("0.25") },
      token.decimals,
      PLATFORM,
    ),
    // A Golem start price of 2 GLM, above the 0.5 GLM upfront: the contract's cap meters it out.
    new SimulatedProvider(
      p2.name,
      p2.key.address,
      requestorKey.address,
      p2.id,
      { startPrice: units("2"), perInterval: units("0.2") },
      token.decimals,
      PLATFORM,
    ),
  ];
  // The relay (in-process, on a free port) puts acceptances on chain in settleBatch transactions.
  const relay = await DemoRelay.start(hre.ethers.provider, keeperKey, dripFeedAddress);
  log.at(now, "relay", `listening on ${relay.url} (settleBatch sent by ${keeperKey.address.slice(0, 10)}…)`);
  // The supervisor: the acceptor daemon following the requestor's yagna (a stand-in) with the supervisor's key.
  const supervisor = await DemoSupervisor.start(
    await DripFeedClient.connect(dripFeedAddress, supervisorKey),
    poolId,
    relay.url,
    PLATFORM,
  );
  log.at(
    now,
    "supervisor",
    `acceptor daemon following yagna at ${supervisor.yagna.url}, handing acceptances to the relay`,
  );
  const nameOf = (golemId: string): string => agreements.find((a) => a.id === golemId)?.name ?? golemId.slice(0, 8);
  const balance = (address: string): Promise<bigint> => glm.balanceOf(address);
  const before = new Map<string, bigint>();
  for (const a of agreements) before.set(a.name, await balance(a.key.address));

  /** Puts `notes` into the requestor's yagna at chain time `now`, tells what the supervisor did, then the relay. */
  const deliver = async (notes: { note: StandInNote; from: string }[]): Promise<void> => {
    notes.forEach(({ note }, i) => supervisor.receive(note, now + BigInt(i)));
    const records = await supervisor.settled(notes.map(({ note }) => note.debitNoteId));
    const handed: string[] = [];
    for (const [i, record] of records.entries()) {
      const who = notes[i].from;
      const short = record.debitNoteId.slice(0, 8);
      if (record.decision === "ignored") {
        log.at(now, "supervisor", `left ${who}'s note ${short}… alone: its agreement is not in this pool`);
      } else if (record.decision === "reject") {
        log.at(now, "supervisor", `refused ${who}'s note ${short}… [rule ${record.rule}]: ${record.reason}`);
      } else {
        const due = show(parseAmount(record.totalAmountDue.replace(/0+$/, "").replace(/\.$/, ""), token));
        const yagna = record.yagna === "accepted" ? ", accepted in yagna" : "";
        log.at(
          now,
          "supervisor",
          `accepted ${who}'s note ${short}… (due ${due}) -> signed agreement total ${show(record.agreementTotal ?? 0n)}${yagna}`,
        );
        if (record.relayId) handed.push(record.relayId);
      }
    }
    if (handed.length === 0) return;
    const views = await relay.waitFinal(handed);
    const parts = views
      .filter((v) => v.status !== "superseded")
      .map((v) => {
        const name = nameOf(v.agreementId.slice(2));
        return v.status === "failed"
          ? `${name} failed (${v.reason ?? "?"})`
          : `${name} total ${show(BigInt(v.totalAccepted))} -> paid ${show(BigInt(v.paid ?? "0"))}`;
      });
    const tx = views.find((v) => v.txHash)?.txHash;
    log.at(
      (now = await requestor.now()),
      "relay",
      `settleBatch ${tx ? `${tx.slice(0, 10)}… ` : ""}via HTTP: ${parts.join("; ")}`,
    );
  };

  log.section(`requestor offline: ${TICKS} debit-note intervals of ${INTERVAL} s`);
  let p1Active = true;
  for (let tick = 1; tick <= TICKS; tick++) {
    now = await increaseTime(INTERVAL);
    if (tick === P3_CLAIMS_AT || tick === P2_CLAIMS_AT) {
      // Claims come between debit notes: what the floor or the cap released since the last settlement.
      const a = tick === P3_CLAIMS_AT ? agreements[2] : p2;
      const why =
        tick === P3_CLAIMS_AT
          ? "stream floor, no acceptance needed"
          : "the over-cap start price dripping out at the cap";
      const { paid } = await requestor.withSigner(a.key).claim(poolId, a.id);
      log.at((now = await requestor.now()), a.name, `claims ${show(paid)} with nobody online (${why})`);
    }
    const nowMicros = now * 1_000_000n;
    const notes = providers
      .filter((p) => p.name !== p1.name || p1Active)
      .map((p) => ({ note: p.issueDebitNote(nowMicros), from: p.name }));
    if (tick === BAD_NOTE_AT) {
      // Someone bills provider-2's agreement to another address: the policy checks the payee against the chain.
      const real = notes[1].note;
      const forged = { ...real, debitNoteId: newDebitNoteId(), payeeAddr: keeperKey.address.toLowerCase() };
      notes.push({ note: forged, from: "a stranger" });
      // A note of an agreement this pool never opened (another requestor's job on the same yagna).
      const other = new SimulatedProvider(
        "another job",
        keeperKey.address,
        requestorKey.address,
        golemId("other"),
        {
          startPrice: 0n,
          perInterval: units("1"),
        },
        token.decimals,
        PLATFORM,
      );
      notes.push({ note: other.issueDebitNote(nowMicros), from: "another job" });
    }
    await deliver(notes);
    if (tick === P1_STOPS_AFTER) {
      // provider-1 stops: everything accepted is already paid through the relay, so it terminates.
      await requestor.withSigner(p1.key).terminate(poolId, p1.id);
      log.at(
        (now = await requestor.now()),
        p1.name,
        "stops working and terminates its agreement (everything accepted is paid; its budget can be released at once)",
      );
      p1Active = false;
    }
  }
  const accepted = supervisor.yagna.accepted();
  log.at(
    now,
    "supervisor",
    `accepted ${accepted.length} notes in yagna too, each for exactly its totalAmountDue (${supervisor.yagna.events.length} yagna events followed)`,
  );
  await supervisor.close();
  await relay.close();

  // ------------------------------------------------------------------ the requestor comes back
  log.section("requestor back online: stop, wait out the claim window, release, withdraw");
  await requestor.setGrant(poolId, supervisorKey.address, { permissions: 0, validUntil: 0n });
  log.at((now = await requestor.now()), "requestor", "revokes the supervisor grant");
  for (const a of agreements.slice(1)) {
    await requestor.terminate(poolId, a.id);
    const state = await requestor.getAgreement(poolId, a.id);
    const payable = payableAt(state, state.terminatedAt);
    const note =
      state.acceptedTotal > payable
        ? `; accepted ${show(state.acceptedTotal)} but the cap at termination allows ${show(payable)}, the rest is never paid`
        : "";
    log.at((now = await requestor.now()), "requestor", `terminates ${a.name}'s agreement${note}`);
  }
  now = await increaseTime(PAYMENT_TIMEOUT + 1);
  log.at(now, "clock", `${PAYMENT_TIMEOUT} s payment timeout later`);
  for (const a of agreements) {
    const claimable = await requestor.claimable(poolId, a.id);
    if (claimable > 0n) {
      await requestor.withSigner(a.key).claim(poolId, a.id);
      log.at((now = await requestor.now()), a.name, `claims its last ${show(claimable)} within the window`);
    }
  }
  for (const a of agreements) {
    const { refunded } = await requestor.release(poolId, a.id);
    log.at(
      (now = await requestor.now()),
      "requestor",
      `releases ${a.name}'s agreement: ${show(refunded)} back to the free balance`,
    );
  }
  const free = (await requestor.getPool(poolId)).free;
  const beforeWithdraw = await balance(requestorKey.address);
  await requestor.withdraw(poolId, free);
  const withdrawn = (await balance(requestorKey.address)) - beforeWithdraw;
  log.at((now = await requestor.now()), "requestor", `withdraws the free ${show(free)}`);

  // ------------------------------------------------------------------ the books, checked against the chain
  log.section("reconciliation (checked against on-chain balances)");
  const pool = await requestor.getPool(poolId);
  const providersLines = [];
  for (const a of agreements) {
    providersLines.push({
      name: a.name,
      received: (await balance(a.key.address)) - (before.get(a.name) ?? 0n),
      recordedPaid: (await requestor.getAgreement(poolId, a.id)).paid,
    });
  }
  const problems = reconcile(
    {
      funded,
      withdrawn,
      stillInPool: pool.balance,
      contractBalance: await balance(dripFeedAddress),
      locked: pool.locked,
      providers: providersLines,
    },
    token,
  );
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`reconciliation FAILED: ${problem}\n`);
    process.exit(1);
  }
  process.stdout.write(`reconciliation OK: every unit funded is accounted for (demo ran in ${seconds} s)\n`);
}

main().catch((error: unknown) => {
  const message = isDripFeedError(error)
    ? `${error.message} [${error.code}]`
    : error instanceof Error
      ? error.message
      : String(error);
  process.stderr.write(`demo failed: ${message.split("\n")[0]}\n`);
  process.exit(1);
});
