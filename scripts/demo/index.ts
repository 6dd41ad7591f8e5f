/**
 * `npm start`: DripFeed end to end on the embedded Hardhat network, with no set-up. A requestor funds a pool, opens
 * three agreements, delegates acceptance to a supervisor key and goes offline; providers keep working and get paid;
 * the requestor comes back, releases and withdraws; the books are checked against the chain.
 */
import hre from "hardhat";

import { MockGLM__factory } from "../../typechain-types";
import { DebitNoteAcceptor } from "../sdk/acceptor";
import { formatAmount, parseAmount } from "../sdk/amounts";
import { DripFeedClient } from "../sdk/client";
import { parseDebitNote } from "../sdk/debitNote";
import { isDripFeedError } from "../sdk/errors";
import { agreementIdToBytes32 } from "../sdk/ids";
import { payableAt } from "../sdk/payout";
import { formatRate, parseRate } from "../sdk/rates";
import { ACCEPT, type Terms } from "../sdk/terms";
import { SimulatedProvider } from "./provider";
import { reconcile } from "./reconcile";
import { RelaySubmitter } from "./relaySubmitter";
import { AcceptanceQueue } from "./submitter";
import { Timeline } from "./timeline";

const INTERVAL = 120;
const PAYMENT_TIMEOUT = 900;
const TICKS = 10;
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
  const startedAt = async (id: string): Promise<bigint> => (await requestor.getAgreement(poolId, id)).startedAt;
  const [p1, p2] = [agreements[0], agreements[1]];
  const providers = [
    new SimulatedProvider(
      p1.name,
      p1.key.address,
      requestorKey.address,
      p1.id,
      "a1".repeat(32),
      { startPrice: 0n, perInterval: units("0.25") },
      token.decimals,
    ),
    // A Golem start price of 2 GLM, above the 0.5 GLM upfront: the contract's cap meters it out.
    new SimulatedProvider(
      p2.name,
      p2.key.address,
      requestorKey.address,
      p2.id,
      "b2".repeat(32),
      { startPrice: units("2"), perInterval: units("0.2") },
      token.decimals,
    ),
  ];
  const acceptors = new Map<string, DebitNoteAcceptor>();
  for (const [i, a] of [p1, p2].entries()) {
    acceptors.set(
      a.id,
      new DebitNoteAcceptor({
        poolId,
        agreementId: a.id,
        terms: a.terms,
        startedAt: await startedAt(a.id),
        token,
        provider: a.key.address,
        payer: requestorKey.address,
        paymentPlatform: null,
        leaveRateToContract: i === 1,
      }),
    );
  }
  const supervisor = requestor.withSigner(supervisorKey);
  // Acceptances reach the chain through a relay (in-process, on a free port), as they would in production.
  const submitter = await RelaySubmitter.start(hre.ethers.provider, keeperKey, dripFeedAddress);
  log.at(now, "relay", `listening on ${submitter.url} (settleBatch sent by ${keeperKey.address.slice(0, 10)}…)`);
  const queue = new AcceptanceQueue();
  const balance = (address: string): Promise<bigint> => glm.balanceOf(address);
  const before = new Map<string, bigint>();
  for (const a of agreements) before.set(a.name, await balance(a.key.address));

  const settlePending = async (who: string): Promise<void> => {
    if (queue.size === 0) return;
    const outcomes = await submitter.submit(queue.drain());
    const parts = outcomes.map((o) => {
      const name = agreements.find((a) => agreementIdToBytes32(a.id) === o.agreementId)?.name ?? o.agreementId;
      return o.failure
        ? `${name} failed (${o.failure})`
        : `${name} total ${show(o.totalAccepted)} -> paid ${show(o.paid)}`;
    });
    log.at((now = await requestor.now()), who, `settleBatch via HTTP: ${parts.join("; ")}`);
  };

  log.section(`requestor offline: ${TICKS} debit-note intervals of ${INTERVAL} s`);
  let p1Active = true;
  for (let tick = 1; tick <= TICKS; tick++) {
    now = await increaseTime(INTERVAL);
    for (const provider of providers) {
      if (provider.name === p1.name && !p1Active) continue;
      const note = parseDebitNote(provider.issueDebitNote(now));
      const acceptor = acceptors.get(note.agreementId);
      if (!acceptor) continue;
      const authority = { owner: requestorKey.address, acceptValidUntil: now + 86_400n };
      const { decision, signed } = await acceptor.accept(note, supervisorKey, supervisor.domain, { now, authority });
      if (decision.kind === "reject") {
        log.at(now, "supervisor", `refused ${provider.name}'s note ${note.debitNoteId}: ${decision.reason}`);
      } else if (signed) {
        queue.add(signed);
        log.at(
          now,
          "supervisor",
          `accepted ${provider.name}'s debit note (due ${show(parseAmount(note.totalAmountDue, token))}) -> signs agreement total ${show(decision.agreementTotal)}`,
        );
      }
    }
    if (tick === P1_STOPS_AFTER) {
      // provider-1 stops: it settles its own last acceptance (anyone may submit) and terminates.
      const mine = queue.drain();
      const own = mine.filter((s) => s.agreementId === agreementIdToBytes32(p1.id));
      mine.filter((s) => s.agreementId !== agreementIdToBytes32(p1.id)).forEach((s) => queue.add(s));
      const p1Client = requestor.withSigner(p1.key);
      for (const signed of own) {
        const { paid } = await p1Client.settle(signed);
        log.at((now = await requestor.now()), p1.name, `settles its last acceptance itself: paid ${show(paid)}`);
      }
      await p1Client.terminate(poolId, p1.id);
      log.at(
        (now = await requestor.now()),
        p1.name,
        "stops working and terminates its agreement (its budget can be released at once)",
      );
      p1Active = false;
    }
    if (tick % 2 === 0) await settlePending("relay");
    if (tick === P3_CLAIMS_AT || tick === P2_CLAIMS_AT) {
      const a = tick === P3_CLAIMS_AT ? agreements[2] : p2;
      const why =
        tick === P3_CLAIMS_AT
          ? "stream floor, no acceptance needed"
          : "the over-cap start price dripping out at the cap";
      const { paid } = await requestor.withSigner(a.key).claim(poolId, a.id);
      log.at((now = await requestor.now()), a.name, `claims ${show(paid)} with nobody online (${why})`);
    }
  }
  await settlePending("relay");
  await submitter.close();

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
