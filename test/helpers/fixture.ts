/**
 * The shared DripFeed test fixture: deploys the `local` tag (MockGLM, then DripFeed through the deterministic
 * CREATE2 factory) with hardhat-deploy, funds the named signers and reverts to that snapshot on every call.
 *
 * ```ts
 * const fx = await deployFixture();
 * const { poolId, agreements } = await setupPool(fx, { agreements: [{ terms: { maxRate: perHour(36n * GLM) } }] });
 * ```
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { keccak256, MaxUint256, parseEther, toUtf8Bytes } from "ethers";
import { deployments, ethers } from "hardhat";

import type { AcceptanceDomain } from "../../scripts/sdk/acceptance";
import { type DripFeed, type MockGLM, DripFeed__factory, MockGLM__factory } from "../../typechain-types";
import type { TermsStruct } from "../../typechain-types/contracts/DripFeed";

/** One GLM in base units (18 decimals). */
export const GLM = 10n ** 18n;
/** Tokens minted to the owner and every provider in the fixture. */
export const INITIAL_BALANCE = parseEther("1000000");
/** A deadline far beyond any time a test warps to (2100-01-01). */
export const FAR_DEADLINE = 4_102_444_800n;
/** Golem's limits, as the contract names them. */
export const MIN_DEBIT_NOTE_INTERVAL = 120n;
export const MAX_DEBIT_NOTE_INTERVAL = 900n;
export const MAX_PAYMENT_TIMEOUT = 86_400n;
/** Grant permission bits. */
export const ACCEPT = 1;
export const TERMINATE = 2;
export const OPEN = 4;
/** Seconds an ACCEPT grantee's acceptances keep settling after its grant is revoked or shortened (protocol 1.1). */
export const ACCEPT_NOTICE = 3600n;
/** Gas each `settleBatch` item's external calls may use (protocol 1.1). */
export const ITEM_CALL_GAS = 200_000n;

/** `Terms` with every field a bigint (what `getAgreement` returns and what the payout model reads). */
export interface Terms {
  budget: bigint;
  upfront: bigint;
  maxRate: bigint;
  streamRate: bigint;
  debitNoteInterval: bigint;
  paymentTimeout: bigint;
}

/** Acceptance-only terms: 100 GLM budget, no cap, no floor, 120 s interval, 1 h claim window. */
export const DEFAULT_TERMS: Terms = {
  budget: 100n * GLM,
  upfront: 0n,
  maxRate: 0n,
  streamRate: 0n,
  debitNoteInterval: 120n,
  paymentTimeout: 3600n,
};

/** `DEFAULT_TERMS` with some fields replaced. */
export function terms(overrides: Partial<Terms> = {}): Terms {
  return { ...DEFAULT_TERMS, ...overrides };
}

/** The `Terms` tuple as the typechain contract methods take it. */
export function termsStruct(t: Terms): TermsStruct {
  return { ...t };
}

/** A Golem-like agreement id (bytes32) derived from a readable label. */
export function agreementIdOf(label: string): string {
  return keccak256(toUtf8Bytes(`agreement:${label}`));
}

/** A pool salt (bytes32) derived from a readable label. */
export function saltOf(label: string): string {
  return keccak256(toUtf8Bytes(`salt:${label}`));
}

export interface DripFeedFixture {
  dripFeed: DripFeed;
  token: MockGLM;
  dripFeedAddress: string;
  tokenAddress: string;
  chainId: bigint;
  /** The EIP-712 domain acceptances for this DripFeed are signed in. */
  domain: AcceptanceDomain;
  /** Account 0: ran the deploy scripts. Holds no tokens. */
  deployer: HardhatEthersSigner;
  /** The requestor: creates pools (INITIAL_BALANCE of tokens, DripFeed approved for all of it). */
  owner: HardhatEthersSigner;
  /** A supervisor / acceptor key the owner can grant rights to. Holds no tokens. */
  grantee: HardhatEthersSigner;
  /** Holds INITIAL_BALANCE tokens (approved), no rights anywhere. */
  stranger: HardhatEthersSigner;
  /** A relay that submits other people's acceptances. Holds no tokens. */
  relay: HardhatEthersSigner;
  /** Three providers (payees), holding no tokens at the start. */
  providers: HardhatEthersSigner[];
  /** Every account whose token balance the balance-delta helper watches, by label. */
  parties: Record<string, string>;
}

/**
 * Deploys the `local` tag and prepares the accounts; later calls revert to the same snapshot (fast).
 * Signer layout: 0 deployer, 1 owner, 2 grantee, 3 stranger, 4 relay, 5..7 providers.
 */
export const deployFixture = deployments.createFixture<DripFeedFixture, unknown>(async (hre) => {
  await hre.deployments.fixture(["local"]);
  const signers = await ethers.getSigners();
  const [deployer, owner, grantee, stranger, relay, ...rest] = signers;
  const providers = rest.slice(0, 3);

  const dripFeedAddress = (await hre.deployments.get("DripFeed")).address;
  const tokenAddress = (await hre.deployments.get("MockGLM")).address;
  const dripFeed = DripFeed__factory.connect(dripFeedAddress, owner);
  const token = MockGLM__factory.connect(tokenAddress, owner);

  for (const holder of [owner, stranger]) {
    await token.mint(holder.address, INITIAL_BALANCE);
    await token.connect(holder).approve(dripFeedAddress, MaxUint256);
  }

  const chainId = (await ethers.provider.getNetwork()).chainId;
  const parties: Record<string, string> = {
    dripFeed: dripFeedAddress,
    deployer: deployer.address,
    owner: owner.address,
    grantee: grantee.address,
    stranger: stranger.address,
    relay: relay.address,
  };
  providers.forEach((p, i) => (parties[`provider${i}`] = p.address));

  return {
    dripFeed,
    token,
    dripFeedAddress,
    tokenAddress,
    chainId,
    domain: { chainId, verifyingContract: dripFeedAddress },
    deployer,
    owner,
    grantee,
    stranger,
    relay,
    providers,
    parties,
  };
});

/** Creates a pool for `token` (the fixture's GLM by default) as `owner`, and funds it with `amount` (0 skips). */
export async function createFundedPool(
  fx: DripFeedFixture,
  opts: { owner?: HardhatEthersSigner; salt?: string; amount?: bigint } = {},
): Promise<string> {
  const owner = opts.owner ?? fx.owner;
  const salt = opts.salt ?? saltOf("pool");
  const poolId = await fx.dripFeed.poolIdOf(owner.address, salt);
  await fx.dripFeed.connect(owner).createPool(fx.tokenAddress, salt);
  const amount = opts.amount ?? 1000n * GLM;
  if (amount > 0n) await fx.dripFeed.connect(owner).fund(poolId, amount);
  return poolId;
}

/** An agreement opened by a helper: its id, provider, terms and the block time it started at. */
export interface OpenedAgreement {
  poolId: string;
  agreementId: string;
  provider: HardhatEthersSigner;
  terms: Terms;
  startedAt: bigint;
}

/** Opens one agreement (as the pool owner unless `from` is given); `at` pins the block timestamp. */
export async function openAgreement(
  fx: DripFeedFixture,
  poolId: string,
  opts: {
    agreementId?: string;
    provider?: HardhatEthersSigner;
    terms?: Partial<Terms>;
    from?: HardhatEthersSigner;
    at?: bigint;
  } = {},
): Promise<OpenedAgreement> {
  const agreementId = opts.agreementId ?? agreementIdOf("a0");
  const provider = opts.provider ?? fx.providers[0];
  const t = terms(opts.terms);
  if (opts.at !== undefined) await time.setNextBlockTimestamp(opts.at);
  const tx = await fx.dripFeed
    .connect(opts.from ?? fx.owner)
    .openAgreement(poolId, agreementId, provider.address, termsStruct(t));
  const receipt = await tx.wait();
  const block = await ethers.provider.getBlock(receipt!.blockNumber);
  return { poolId, agreementId, provider, terms: t, startedAt: BigInt(block!.timestamp) };
}

/**
 * Creates and funds a pool, then opens the given agreements (ids `a0`, `a1`, ... and providers 0, 1, 2, ... by
 * default, each with `DEFAULT_TERMS` overridden by its `terms`).
 */
export async function setupPool(
  fx: DripFeedFixture,
  opts: {
    owner?: HardhatEthersSigner;
    salt?: string;
    amount?: bigint;
    agreements?: { agreementId?: string; provider?: HardhatEthersSigner; terms?: Partial<Terms> }[];
  } = {},
): Promise<{ poolId: string; agreements: OpenedAgreement[] }> {
  const poolId = await createFundedPool(fx, opts);
  const agreements: OpenedAgreement[] = [];
  for (const [i, spec] of (opts.agreements ?? [{}]).entries()) {
    agreements.push(
      await openAgreement(fx, poolId, {
        agreementId: spec.agreementId ?? agreementIdOf(`a${i}`),
        provider: spec.provider ?? fx.providers[i % fx.providers.length],
        terms: spec.terms,
        from: opts.owner,
      }),
    );
  }
  return { poolId, agreements };
}

/** The timestamp of the latest block. */
export async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** Makes the next transaction run at exactly `timestamp`. */
export async function atTime(timestamp: bigint): Promise<void> {
  await time.setNextBlockTimestamp(timestamp);
}

/**
 * Mines an empty block at exactly `timestamp`, so that views (`claimable`, `grantOf`) read that time (calls run
 * against the latest block). A no-op when the latest block already has that timestamp.
 */
export async function mineAt(timestamp: bigint): Promise<void> {
  if ((await now()) === timestamp) return;
  await time.increaseTo(timestamp);
}
