/**
 * The bench's world: the project's own deployment (the `local` tag through hardhat-deploy, so DripFeed sits at
 * its CREATE2 address), named actors, realistic terms and helpers to open agreements and sign acceptances.
 * Shared by every bench script (`gas.ts` now, a relay-throughput bench later).
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { getAddress, keccak256, MaxUint256, toUtf8Bytes } from "ethers";
import hre from "hardhat";

import {
  type AcceptanceDomain,
  type DebitNoteAcceptance,
  type SignedAcceptance,
  signAcceptance,
} from "../../scripts/sdk/acceptance";
import {
  type BenchERC1271Wallet,
  BenchERC1271Wallet__factory,
  type DripFeed,
  DripFeed__factory,
  type MockGLM,
  MockGLM__factory,
} from "../../typechain-types";
import type {
  DebitNoteAcceptanceStruct,
  SignedAcceptanceStruct,
  TermsStruct,
} from "../../typechain-types/contracts/DripFeed";
import { BENCH_EPOCH, Clock, mine } from "./chain";

/** One GLM in base units (18 decimals). */
export const GLM = 10n ** 18n;
/** Rates are base units per second x 1e18. */
export const RATE_SCALE = 10n ** 18n;
export const HOUR = 3600n;
/** Golem's default debit-note interval: what time advances between steady-state settles. */
export const DEBIT_NOTE_INTERVAL = 120n;

/** Grant permission bits (SPEC). */
export const ACCEPT = 1;
export const TERMINATE = 2;
export const OPEN = 4;

/** A rate of `amount` base units per hour, in the contract's unit. */
export function perHour(amount: bigint): bigint {
  return (amount * RATE_SCALE) / HOUR;
}

/** The bench's realistic rate-capped agreement: 36 GLM/h cap, 1 GLM upfront, 100 GLM budget. */
export const RATE_CAPPED: TermsStruct = {
  budget: 100n * GLM,
  upfront: 1n * GLM,
  maxRate: perHour(36n * GLM),
  streamRate: 0n,
  debitNoteInterval: DEBIT_NOTE_INTERVAL,
  paymentTimeout: HOUR,
};

/** Acceptance-only: no cap, no floor. */
export const ACCEPTANCE_ONLY: TermsStruct = { ...RATE_CAPPED, upfront: 0n, maxRate: 0n };

/** Fire & forget (scenario B): an 18 GLM/h floor under the same 36 GLM/h acceptance cap. */
export const STREAM: TermsStruct = { ...RATE_CAPPED, streamRate: perHour(18n * GLM) };

/** What a provider bills per debit-note interval in the bench: 30 GLM/h, under the 36 GLM/h cap. */
export const BILLED_PER_INTERVAL = (30n * GLM * DEBIT_NOTE_INTERVAL) / HOUR;

/** A Golem-like agreement id (a full 32-byte value, as Golem's 64 hex characters are). */
export function agreementIdOf(label: string): string {
  return keccak256(toUtf8Bytes(`bench:agreement:${label}`));
}

/** A pool salt. */
export function saltOf(label: string): string {
  return keccak256(toUtf8Bytes(`bench:salt:${label}`));
}

/** `keccak256(utf8(golemDebitNoteId))` for a bench debit note. */
export function debitNoteIdOf(label: string): string {
  return keccak256(toUtf8Bytes(`bench:debit-note:${label}`));
}

/** A provider address with no key (providers only receive), distinct per index. */
export function providerAddressOf(index: number): string {
  return getAddress(keccak256(toUtf8Bytes(`bench:provider:${index}`)).slice(0, 42));
}

export interface Actors {
  deployer: HardhatEthersSigner;
  /** The requestor: creates and funds pools, opens agreements, signs as owner. */
  owner: HardhatEthersSigner;
  /** An EOA holding an ACCEPT grant: the usual acceptance signer (a hot key of the requestor's acceptor). */
  acceptor: HardhatEthersSigner;
  /** An EOA holding an OPEN grant: a supervisor that hires providers while the owner is offline. */
  supervisor: HardhatEthersSigner;
  /** Submits acceptances it did not sign (a relay, or the provider's own tools). */
  relay: HardhatEthersSigner;
  /** The key behind the ERC-1271 wallet. */
  walletKey: HardhatEthersSigner;
  /** A provider with a key, for terminations and claims by the provider. */
  provider: HardhatEthersSigner;
  /** Two plain token holders, for the baseline transfer. */
  alice: HardhatEthersSigner;
  bob: HardhatEthersSigner;
  /** Funds a pool through `fundWithPermit` without any prior approval. */
  payer: HardhatEthersSigner;
}

export interface Bench {
  clock: Clock;
  actors: Actors;
  dripFeed: DripFeed;
  token: MockGLM;
  wallet: BenchERC1271Wallet;
  domain: AcceptanceDomain;
}

/** Deploys the project (hardhat-deploy `local` tag) and the ERC-1271 wallet, then starts the bench clock. */
export async function deployBench(): Promise<Bench> {
  if (hre.network.name !== "hardhat") {
    throw new Error(`the bench measures on the embedded network only, not on "${hre.network.name}"`);
  }
  // The first block of the run is pinned too, so everything after the deployment starts from the same state.
  await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(BENCH_EPOCH - 86_400n)]);
  await hre.deployments.fixture(["local"]);
  const signers = await hre.ethers.getSigners();
  const [deployer, owner, acceptor, supervisor, relay, walletKey, provider, alice, bob, payer] = signers;
  const actors: Actors = { deployer, owner, acceptor, supervisor, relay, walletKey, provider, alice, bob, payer };

  const dripFeed = DripFeed__factory.connect((await hre.deployments.get("DripFeed")).address, owner);
  const token = MockGLM__factory.connect((await hre.deployments.get("MockGLM")).address, owner);
  const wallet = await new BenchERC1271Wallet__factory(deployer).deploy(walletKey.address);
  await wallet.waitForDeployment();

  const clock = await Clock.start();
  const { chainId } = await hre.ethers.provider.getNetwork();
  const domain: AcceptanceDomain = { chainId, verifyingContract: await dripFeed.getAddress() };
  return { clock, actors, dripFeed, token, wallet, domain };
}

/** Mints `amount` GLM (the mock's open faucet) to `to`. */
export async function mint(bench: Bench, to: string, amount: bigint): Promise<void> {
  await mine(bench.clock, () => bench.token.connect(bench.actors.deployer).mint(to, amount));
}

/** The owner approves DripFeed for good (the usual dapp flow), then creates and funds a pool. */
export async function createFundedPool(bench: Bench, label: string, amount: bigint): Promise<string> {
  const { dripFeed, token, actors, clock } = bench;
  const dripFeedAddress = await dripFeed.getAddress();
  if ((await token.allowance(actors.owner.address, dripFeedAddress)) === 0n) {
    await mine(clock, () => token.connect(actors.owner).approve(dripFeedAddress, MaxUint256));
  }
  const salt = saltOf(label);
  const poolId = await dripFeed.poolIdOf(actors.owner.address, salt);
  await mine(clock, () => dripFeed.connect(actors.owner).createPool(token.getAddress(), salt));
  await mine(clock, () => dripFeed.connect(actors.owner).fund(poolId, amount));
  return poolId;
}

/** An acceptance of `totalAccepted` for an agreement, valid for an hour from the clock. */
export function acceptanceOf(
  bench: Bench,
  poolId: string,
  agreementId: string,
  totalAccepted: bigint,
  note: string,
): DebitNoteAcceptanceStruct {
  return { poolId, agreementId, debitNoteId: debitNoteIdOf(note), totalAccepted, deadline: bench.clock.now + HOUR };
}

/** Signs with an EOA (owner or grantee). */
export async function signWith(
  bench: Bench,
  signer: HardhatEthersSigner,
  acceptance: DebitNoteAcceptanceStruct,
): Promise<SignedAcceptanceStruct> {
  const signed = await signAcceptance(signer, bench.domain, toSdk(acceptance));
  return { acceptance, signer: signed.signer, signature: signed.signature };
}

/** Signs through the ERC-1271 wallet: its key signs the EIP-712 digest, the wallet is the signer. */
export async function signWithWallet(
  bench: Bench,
  acceptance: DebitNoteAcceptanceStruct,
): Promise<SignedAcceptanceStruct> {
  const signed: SignedAcceptance = await signAcceptance(bench.actors.walletKey, bench.domain, toSdk(acceptance));
  return { acceptance, signer: await bench.wallet.getAddress(), signature: signed.signature };
}

function toSdk(acceptance: DebitNoteAcceptanceStruct): DebitNoteAcceptance {
  return {
    poolId: String(acceptance.poolId),
    agreementId: String(acceptance.agreementId),
    debitNoteId: String(acceptance.debitNoteId),
    totalAccepted: BigInt(acceptance.totalAccepted),
    deadline: BigInt(acceptance.deadline),
  };
}
