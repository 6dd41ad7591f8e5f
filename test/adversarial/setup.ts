/**
 * Small helpers of the adversarial tests (kept here so they do not depend on test/helpers being ready): a fixture
 * with DripFeed and every hostile contract, acceptance signing through the SDK, and a balance-delta check that
 * names every party of a money movement.
 */
import { expect } from "chai";
import type { Signer } from "ethers";
import { ethers, deployments } from "hardhat";
import hre from "hardhat";

import { type DebitNoteAcceptance, signAcceptance } from "../../scripts/sdk/acceptance";
import { debitNoteIdHash } from "../../scripts/sdk/ids";
import type {
  BlocklistToken,
  DripFeed,
  FalseReturnToken,
  FeeOnTransferToken,
  HostileERC1271Wallet,
  MockGLM,
  NoReturnToken,
  ReentrantToken,
} from "../../typechain-types";
import type { TermsStruct } from "../../typechain-types/contracts/DripFeed";

export const FAR_DEADLINE = 4_102_444_800n;
export const MINTED = 10n ** 24n;
export const ACCEPT = 1;
export const TERMINATE = 2;
export const OPEN = 4;
/** HostileERC1271Wallet.Mode */
export const Mode = { Lie: 0, Revert: 1, BurnGas: 2, DirtyMagic: 3 } as const;

/** Solidity-coverage instruments the contracts, so tests that depend on exact gas are skipped under it. */
export const UNDER_COVERAGE =
  (hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING === true;

export interface BalanceToken {
  balanceOf(account: string): Promise<bigint>;
}

export interface Hostile {
  dripFeed: DripFeed;
  dripFeedAddress: string;
  chainId: bigint;
  owner: Signer;
  grantee: Signer;
  providerA: Signer;
  providerB: Signer;
  relay: Signer;
  stranger: Signer;
  glm: MockGLM;
  fot: FeeOnTransferToken;
  noReturn: NoReturnToken;
  falseReturn: FalseReturnToken;
  blocklist: BlocklistToken;
  reentrant: ReentrantToken;
}

export const hostileFixture = deployments.createFixture<Hostile, unknown>(async () => {
  await deployments.fixture(["local"]);
  const dripFeedAddress = (await deployments.get("DripFeed")).address;
  const dripFeed = (await ethers.getContractAt("DripFeed", dripFeedAddress)) as unknown as DripFeed;
  const [, owner, grantee, providerA, providerB, relay, stranger] = await ethers.getSigners();
  const glm = await (await ethers.getContractFactory("MockGLM")).deploy();
  const fot = await (await ethers.getContractFactory("FeeOnTransferToken")).deploy();
  const noReturn = await (await ethers.getContractFactory("NoReturnToken")).deploy();
  const falseReturn = await (await ethers.getContractFactory("FalseReturnToken")).deploy();
  const blocklist = await (await ethers.getContractFactory("BlocklistToken")).deploy();
  const reentrant = await (await ethers.getContractFactory("ReentrantToken")).deploy();
  for (const account of [owner, relay, stranger]) {
    const address = await account.getAddress();
    for (const token of [glm, fot, noReturn, falseReturn, blocklist, reentrant]) {
      await token.mint(address, MINTED);
      await token.connect(account).approve(dripFeedAddress, ethers.MaxUint256);
    }
  }
  const { chainId } = await ethers.provider.getNetwork();
  return {
    dripFeed,
    dripFeedAddress,
    chainId,
    owner,
    grantee,
    providerA,
    providerB,
    relay,
    stranger,
    glm,
    fot,
    noReturn,
    falseReturn,
    blocklist,
    reentrant,
  };
});

export function terms(overrides: Partial<TermsStruct> = {}): TermsStruct {
  return {
    budget: 1_000_000n,
    upfront: 0n,
    maxRate: 0n,
    streamRate: 0n,
    debitNoteInterval: 120,
    paymentTimeout: 600,
    ...overrides,
  };
}

export const agreementIdOf = (label: string): string => ethers.id(`agreement:${label}`);
export const saltOf = (label: string): string => ethers.id(`salt:${label}`);

/** Creates a pool of `token` owned by `owner` and funds it with `amount` (when not zero). */
export async function createPool(
  f: Hostile,
  owner: Signer,
  token: { getAddress(): Promise<string> },
  label: string,
  amount: bigint,
): Promise<string> {
  const salt = saltOf(label);
  const poolId = await f.dripFeed.poolIdOf(await owner.getAddress(), salt);
  await f.dripFeed.connect(owner).createPool(await token.getAddress(), salt);
  if (amount > 0n) await f.dripFeed.connect(owner).fund(poolId, amount);
  return poolId;
}

export function acceptance(
  poolId: string,
  agreementId: string,
  totalAccepted: bigint,
  note = "dn-1",
): DebitNoteAcceptance {
  return { poolId, agreementId, debitNoteId: debitNoteIdHash(note), totalAccepted, deadline: FAR_DEADLINE };
}

/** Signs with the SDK (the same code acceptors and relays use). */
export async function signed(f: Hostile, key: Signer, message: DebitNoteAcceptance): Promise<string> {
  const result = await signAcceptance(key, { chainId: f.chainId, verifyingContract: f.dripFeedAddress }, message);
  return result.signature;
}

/**
 * Runs `action` and checks the balance change of every named party in `token`: parties missing from `expected`
 * must not move at all.
 */
export async function expectMoves(
  token: BalanceToken,
  parties: Record<string, string>,
  action: () => Promise<unknown>,
  expected: Record<string, bigint>,
): Promise<void> {
  for (const name of Object.keys(expected)) {
    if (!(name in parties)) throw new Error(`expectMoves: unknown party ${name}`);
  }
  const before: Record<string, bigint> = {};
  for (const [name, address] of Object.entries(parties)) before[name] = await token.balanceOf(address);
  await action();
  const actual: Record<string, bigint> = {};
  const wanted: Record<string, bigint> = {};
  for (const [name, address] of Object.entries(parties)) {
    actual[name] = (await token.balanceOf(address)) - before[name];
    wanted[name] = expected[name] ?? 0n;
  }
  expect(actual, "balance changes of every party").to.deep.equal(wanted);
}

/** Every party of a fixture by name, for `expectMoves`. */
export async function partiesOf(f: Hostile, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    dripFeed: f.dripFeedAddress,
    owner: await f.owner.getAddress(),
    grantee: await f.grantee.getAddress(),
    providerA: await f.providerA.getAddress(),
    providerB: await f.providerB.getAddress(),
    relay: await f.relay.getAddress(),
    stranger: await f.stranger.getAddress(),
    ...extra,
  };
}

/** The pool's balance and locked amount. */
export async function poolState(f: Hostile, poolId: string): Promise<[bigint, bigint]> {
  const pool = await f.dripFeed.getPool(poolId);
  return [pool.balance, pool.locked];
}

/** The agreement's status, paid and accepted total. */
export async function agreementState(
  f: Hostile,
  poolId: string,
  agreementId: string,
): Promise<[bigint, bigint, bigint]> {
  const a = await f.dripFeed.getAgreement(poolId, agreementId);
  return [a.status, a.paid, a.acceptedTotal];
}

export async function deployWallet(mode: number): Promise<HostileERC1271Wallet> {
  return (await ethers.getContractFactory("HostileERC1271Wallet")).deploy(mode);
}

/** A pool owned by a hostile wallet, funded by `funder`, with one agreement paying `provider`. */
export async function walletPool(
  f: Hostile,
  wallet: HostileERC1271Wallet,
  provider: string,
  label: string,
  budget: bigint,
  maxRate = 0n,
): Promise<{ poolId: string; agreementId: string }> {
  const walletAddress = await wallet.getAddress();
  const salt = saltOf(label);
  const poolId = await f.dripFeed.poolIdOf(walletAddress, salt);
  const agreementId = agreementIdOf(label);
  await wallet.execute(
    f.dripFeedAddress,
    f.dripFeed.interface.encodeFunctionData("createPool", [await f.glm.getAddress(), salt]),
  );
  await f.dripFeed.connect(f.owner).fund(poolId, budget * 2n);
  await wallet.execute(
    f.dripFeedAddress,
    f.dripFeed.interface.encodeFunctionData("openAgreement", [
      poolId,
      agreementId,
      provider,
      terms({ budget, maxRate }),
    ]),
  );
  return { poolId, agreementId };
}
