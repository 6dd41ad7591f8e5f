/**
 * The real side of the model-based fuzz: a fresh DripFeed with two tokens (GLM with permit, and a USDT-like token
 * whose transfers return nothing), eight funded actors, and the code that sends one step to the chain, compares
 * its outcome with the model's, and checks the SPEC invariants and the whole model state after every step.
 */
import { expect } from "chai";
import { AbiCoder, type ContractTransactionReceipt, type Log, type Signer, id, keccak256, zeroPadValue } from "ethers";
import { deployments, ethers, network } from "hardhat";

import { signAcceptance } from "../../scripts/sdk/acceptance";
import type { DripFeed } from "../../typechain-types";
import {
  ACTORS,
  AGREEMENTS,
  type AcceptanceC,
  type COp,
  type ModelState,
  OWNERS,
  type Outcome,
  type PoolRef,
  SALTS,
  Status,
  TOKENS,
  allowanceNow,
  payableAt,
  poolKey,
} from "./model";

/** Every actor holds this much of each token at the start of a run. */
export const MINTED = 10n ** 24n;
/** Explicit gas so that failing transactions are mined too (no estimation) and time stays deterministic. */
const GAS_LIMIT = 15_000_000;

export interface BalanceOfToken {
  balanceOf(account: string): Promise<bigint>;
  getAddress(): Promise<string>;
}

export interface World {
  dripFeed: DripFeed;
  dripFeedAddress: string;
  chainId: bigint;
  tokens: BalanceOfToken[];
  tokenAddresses: string[];
  signers: Signer[];
  addresses: string[];
}

/** Per-pool money seen in events, for the invariant funded = withdrawn + paid + balance. */
interface EventLedger {
  funded: bigint;
  withdrawn: bigint;
  paid: bigint;
}

export interface Real {
  world: World;
  ledger: Map<string, EventLedger>;
  lastPaid: Map<string, bigint>;
  steps: number;
}

export const stats = { sequences: 0, steps: 0, outcomes: new Map<string, number>() };

function count(key: string): void {
  stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
}

export const saltOf = (salt: number): string => zeroPadValue(`0x${(salt + 1).toString(16).padStart(2, "0")}`, 32);
export const agreementIdOf = (index: number): string => id(`fuzz-agreement-${index}`);
export const debitNoteIdOf = (note: number): string => id(`fuzz-debit-note-${note}`);

export function poolIdOf(world: World, ref: PoolRef): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [world.addresses[ref.owner], saltOf(ref.salt)]),
  );
}

/** Deploys DripFeed and both tokens, funds and approves every actor. Snapshotted by hardhat-deploy. */
export const worldFixture = deployments.createFixture<World, unknown>(async () => {
  await deployments.fixture(["local"]);
  const dripFeedAddress = (await deployments.get("DripFeed")).address;
  const dripFeed = (await ethers.getContractAt("DripFeed", dripFeedAddress)) as unknown as DripFeed;
  const all = await ethers.getSigners();
  const signers: Signer[] = all.slice(1, 1 + ACTORS.length);
  const addresses = await Promise.all(signers.map((s) => s.getAddress()));
  const glm = await (await ethers.getContractFactory("MockGLM")).deploy();
  const noReturn = await (await ethers.getContractFactory("NoReturnToken")).deploy();
  for (const [i, signer] of signers.entries()) {
    await glm.mint(addresses[i], MINTED);
    await noReturn.mint(addresses[i], MINTED);
    await glm.connect(signer).approve(dripFeedAddress, ethers.MaxUint256);
    await noReturn.connect(signer).approve(dripFeedAddress, ethers.MaxUint256);
  }
  const tokens: BalanceOfToken[] = [glm, noReturn];
  const tokenAddresses = await Promise.all(tokens.map((t) => t.getAddress()));
  const { chainId } = await ethers.provider.getNetwork();
  return { dripFeed, dripFeedAddress, chainId, tokens, tokenAddresses, signers, addresses };
});

export async function latestTimestamp(): Promise<number> {
  const block = await ethers.provider.getBlock("latest");
  if (block === null) throw new Error("no latest block");
  return block.timestamp;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Sending a step                                                                                                 */
/* ------------------------------------------------------------------------------------------------------------ */

interface SignedItem {
  acceptance: {
    poolId: string;
    agreementId: string;
    debitNoteId: string;
    totalAccepted: bigint;
    deadline: bigint;
  };
  signer: string;
  signature: string;
}

async function signItem(world: World, item: AcceptanceC): Promise<SignedItem> {
  const acceptance = {
    poolId: poolIdOf(world, item.pool),
    agreementId: agreementIdOf(item.agreement),
    debitNoteId: debitNoteIdOf(item.note),
    totalAccepted: item.totalAccepted,
    deadline: BigInt(item.deadline),
  };
  const key = world.signers[item.forgedBy ?? item.signer];
  const signed = await signAcceptance(
    key,
    { chainId: world.chainId, verifyingContract: world.dripFeedAddress },
    acceptance,
  );
  return { acceptance, signer: world.addresses[item.signer], signature: signed.signature };
}

async function encodeOp(world: World, op: COp): Promise<string> {
  const iface = world.dripFeed.interface;
  switch (op.kind) {
    case "createPool":
      return iface.encodeFunctionData("createPool", [world.tokenAddresses[op.token], saltOf(op.salt)]);
    case "fund":
      return iface.encodeFunctionData("fund", [poolIdOf(world, op.pool), op.amount]);
    case "withdraw":
      return iface.encodeFunctionData("withdraw", [poolIdOf(world, op.pool), op.amount, world.addresses[op.to]]);
    case "setGrant":
      return iface.encodeFunctionData("setGrant", [
        poolIdOf(world, op.pool),
        world.addresses[op.grantee],
        op.permissions,
        op.validUntil,
        op.openAllowance,
        op.openRefillRate,
      ]);
    case "openAgreement":
      return iface.encodeFunctionData("openAgreement", [
        poolIdOf(world, op.pool),
        agreementIdOf(op.agreement),
        world.addresses[op.provider],
        op.terms,
      ]);
    case "increaseBudget":
      return iface.encodeFunctionData("increaseBudget", [
        poolIdOf(world, op.pool),
        agreementIdOf(op.agreement),
        op.amount,
      ]);
    case "terminate":
      return iface.encodeFunctionData("terminate", [poolIdOf(world, op.pool), agreementIdOf(op.agreement)]);
    case "release":
      return iface.encodeFunctionData("release", [poolIdOf(world, op.pool), agreementIdOf(op.agreement)]);
    case "claim":
      return iface.encodeFunctionData("claim", [poolIdOf(world, op.pool), agreementIdOf(op.agreement)]);
    case "settle": {
      const s = await signItem(world, op.item);
      return iface.encodeFunctionData("settle", [s.acceptance, s.signer, s.signature]);
    }
    case "settleBatch": {
      const items = await Promise.all(op.items.map((item) => signItem(world, item)));
      return iface.encodeFunctionData("settleBatch", [items]);
    }
  }
}

/** Finds the revert data in the error Hardhat throws for a mined, reverted transaction. */
function revertDataOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const record = current as { data?: unknown; error?: unknown };
    if (typeof record.data === "string" && record.data.startsWith("0x")) return record.data;
    current = record.error;
  }
  return undefined;
}

function errorNameOf(world: World, data: string | undefined): string {
  if (data === undefined || data === "0x") return `<no revert data>`;
  const parsed = world.dripFeed.interface.parseError(data);
  return parsed?.name ?? `<unknown error ${data.slice(0, 10)}>`;
}

function selectorName(world: World, selector: string): string {
  const fragment = world.dripFeed.interface.fragments.find(
    (f) => f.type === "error" && world.dripFeed.interface.getError(f.format())?.selector === selector,
  );
  if (fragment !== undefined) return world.dripFeed.interface.getError(fragment.format())?.name ?? selector;
  return selector;
}

/**
 * Sends `ops` from `sender` at the model's `now` (a multicall when there are several), checks the outcome against
 * `expected`, and records the money events of a success.
 */
export async function sendAndCompare(
  model: ModelState,
  real: Real,
  sender: number,
  ops: COp[],
  expected: Outcome,
  label: string,
): Promise<void> {
  const { world } = real;
  const encoded = await Promise.all(ops.map((op) => encodeOp(world, op)));
  const data = encoded.length === 1 ? encoded[0] : world.dripFeed.interface.encodeFunctionData("multicall", [encoded]);
  await network.provider.send("evm_setNextBlockTimestamp", [model.now]);
  let receipt: ContractTransactionReceipt | null = null;
  let revertData: string | undefined;
  let threw = false;
  try {
    const tx = await world.signers[sender].sendTransaction({ to: world.dripFeedAddress, data, gasLimit: GAS_LIMIT });
    receipt = (await tx.wait()) as ContractTransactionReceipt | null;
  } catch (error) {
    threw = true;
    revertData = revertDataOf(error);
    if (revertData === undefined) throw error;
  }
  expect(await latestTimestamp(), `${label}: the step must be mined at the model's time`).to.equal(model.now);
  const kinds = ops.map((op) => op.kind).join("+");
  count(expected.ok ? `${kinds}: ok` : `${kinds}: ${expected.error}`);
  if (expected.ok) for (const failure of expected.batchFailures) count(`  batch item: ${failure}`);
  if (!expected.ok) {
    expect(threw, `${label}: expected revert ${expected.error}, but it succeeded`).to.equal(true);
    expect(errorNameOf(world, revertData), `${label}: revert reason`).to.equal(expected.error);
    return;
  }
  expect(threw, `${label}: expected success, reverted ${errorNameOf(world, revertData)}`).to.equal(false);
  if (receipt === null) throw new Error(`${label}: no receipt`);
  const failures: string[] = [];
  for (const log of receipt.logs as Log[]) {
    if (log.address.toLowerCase() !== world.dripFeedAddress.toLowerCase()) continue;
    const parsed = world.dripFeed.interface.parseLog(log);
    if (parsed === null) continue;
    const poolId = String(parsed.args[0]);
    const entry = real.ledger.get(poolId) ?? { funded: 0n, withdrawn: 0n, paid: 0n };
    switch (parsed.name) {
      case "PoolFunded":
        entry.funded += BigInt(parsed.args[2]);
        break;
      case "PoolWithdrawn":
        entry.withdrawn += BigInt(parsed.args[2]);
        break;
      case "DebitNoteSettled":
        entry.paid += BigInt(parsed.args[4]);
        break;
      case "Claimed":
        entry.paid += BigInt(parsed.args[2]);
        break;
      case "SettlementFailed":
        failures.push(selectorName(world, String(parsed.args[3])));
        break;
      default:
        break;
    }
    real.ledger.set(poolId, entry);
  }
  expect(failures, `${label}: SettlementFailed reasons`).to.deep.equal(expected.batchFailures);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Checking the whole state and the SPEC invariants                                                               */
/* ------------------------------------------------------------------------------------------------------------ */

/** Compares the chain with the model and checks SPEC invariants 1-5. `now` is the latest block's time. */
export async function checkState(model: ModelState, real: Real, label: string): Promise<void> {
  const { world } = real;
  const now = model.now;
  const blockTime = await latestTimestamp();
  const poolBalanceByToken = TOKENS.map(() => 0n);

  for (const owner of OWNERS) {
    for (let salt = 0; salt < SALTS; salt++) {
      const ref = { owner, salt };
      const key = poolKey(ref);
      const poolId = poolIdOf(world, ref);
      const chainPool = await world.dripFeed.getPool(poolId);
      const m = model.pools.get(key);
      if (m === undefined) {
        expect(chainPool.owner, `${label}: pool ${key} must not exist`).to.equal(ethers.ZeroAddress);
        continue;
      }
      expect(chainPool.owner, `${label}: ${key}.owner`).to.equal(world.addresses[m.owner]);
      expect(chainPool.token, `${label}: ${key}.token`).to.equal(world.tokenAddresses[m.token]);
      expect(chainPool.balance, `${label}: ${key}.balance`).to.equal(m.balance);
      expect(chainPool.locked, `${label}: ${key}.locked`).to.equal(m.locked);
      // Invariant 2 (on chain values): locked == sum(budget - paid) over unreleased agreements, locked <= balance.
      expect(chainPool.locked <= chainPool.balance, `${label}: ${key} locked <= balance`).to.equal(true);
      poolBalanceByToken[m.token] += chainPool.balance;

      let lockedSum = 0n;
      for (let index = 0; index < AGREEMENTS; index++) {
        const a = await world.dripFeed.getAgreement(poolId, agreementIdOf(index));
        const ma = m.agreements.get(index);
        const where = `${label}: ${key}/agreement${index}`;
        if (ma === undefined) {
          expect(Number(a.status), `${where} must not exist`).to.equal(Status.None);
          continue;
        }
        expect(Number(a.status), `${where}.status`).to.equal(ma.status);
        expect(a.provider, `${where}.provider`).to.equal(world.addresses[ma.provider]);
        expect(Number(a.startedAt), `${where}.startedAt`).to.equal(ma.startedAt);
        expect(Number(a.terminatedAt), `${where}.terminatedAt`).to.equal(ma.terminatedAt);
        expect(a.terms.budget, `${where}.budget`).to.equal(ma.terms.budget);
        expect(a.terms.upfront, `${where}.upfront`).to.equal(ma.terms.upfront);
        expect(a.terms.maxRate, `${where}.maxRate`).to.equal(ma.terms.maxRate);
        expect(a.terms.streamRate, `${where}.streamRate`).to.equal(ma.terms.streamRate);
        expect(a.paid, `${where}.paid`).to.equal(ma.paid);
        expect(a.acceptedTotal, `${where}.acceptedTotal`).to.equal(ma.acceptedTotal);
        if (ma.status !== Status.Released) lockedSum += a.terms.budget - a.paid;

        // Invariant 3: paid never decreases, and paid <= payable(now) <= budget.
        const slot = `${poolId}/${index}`;
        const before = real.lastPaid.get(slot) ?? 0n;
        expect(a.paid >= before, `${where}: paid decreased from ${before} to ${a.paid}`).to.equal(true);
        real.lastPaid.set(slot, a.paid);
        const payableNow = payableAt(
          {
            status: Number(a.status) as Status,
            startedAt: Number(a.startedAt),
            terminatedAt: Number(a.terminatedAt),
            acceptedTotal: a.acceptedTotal,
            terms: {
              budget: a.terms.budget,
              upfront: a.terms.upfront,
              maxRate: a.terms.maxRate,
              streamRate: a.terms.streamRate,
              debitNoteInterval: Number(a.terms.debitNoteInterval),
              paymentTimeout: Number(a.terms.paymentTimeout),
            },
          },
          now,
        );
        expect(a.paid <= payableNow, `${where}: paid ${a.paid} > payable ${payableNow}`).to.equal(true);
        expect(payableNow <= a.terms.budget, `${where}: payable > budget`).to.equal(true);
        // Protocol 1.1: no release takes what the payout rule made payable (frozen at termination).
        if (ma.status === Status.Released) {
          expect(a.paid, `${where}: released without paying what was payable`).to.equal(payableNow);
        }
        // The claimable view is the payout rule at the latest block's time, minus paid (0 once released).
        const claimableNow = ma.status === Status.Released ? 0n : payableAt(ma, blockTime) - ma.paid;
        expect(await world.dripFeed.claimable(poolId, agreementIdOf(index)), `${where}: claimable`).to.equal(
          claimableNow,
        );
      }
      expect(chainPool.locked, `${label}: ${key} locked == sum(budget - paid) of unreleased`).to.equal(lockedSum);

      // Invariant 5 from events: funded = withdrawn + paid to providers + balance; and the model agrees.
      const ledger = real.ledger.get(poolId) ?? { funded: 0n, withdrawn: 0n, paid: 0n };
      expect(ledger.funded, `${label}: ${key} funded (events) = withdrawn + paid + balance`).to.equal(
        ledger.withdrawn + ledger.paid + chainPool.balance,
      );
      expect([ledger.funded, ledger.withdrawn, ledger.paid], `${label}: ${key} event ledger vs model`).to.deep.equal([
        m.funded,
        m.withdrawn,
        m.paidOut,
      ]);

      for (const [grantee, g] of m.grants) {
        const [permissions, validUntil, openAllowanceNow] = await world.dripFeed.grantOf(
          poolId,
          world.addresses[grantee],
        );
        const acceptValidUntil = await world.dripFeed.acceptValidUntil(poolId, world.addresses[grantee]);
        // Views run at the latest block's time, which a time jump without a transaction has not moved.
        expect(
          [Number(permissions), Number(validUntil), openAllowanceNow, Number(acceptValidUntil)],
          `${label}: ${key} grant of ${ACTORS[grantee]}`,
        ).to.deep.equal([g.permissions, g.validUntil, allowanceNow(g, blockTime), g.acceptValidUntil]);
      }
    }
  }

  // Invariant 1, and every party's balance of every token.
  for (const [t, token] of world.tokens.entries()) {
    const held = await token.balanceOf(world.dripFeedAddress);
    expect(held >= poolBalanceByToken[t], `${label}: ${TOKENS[t]} held >= sum of pool balances`).to.equal(true);
    expect(held, `${label}: DripFeed's ${TOKENS[t]}`).to.equal(model.held[t]);
    for (const [actor, address] of world.addresses.entries()) {
      expect(await token.balanceOf(address), `${label}: ${ACTORS[actor]}'s ${TOKENS[t]}`).to.equal(
        model.wallets[actor][t],
      );
    }
  }
}
