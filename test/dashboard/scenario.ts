import { JsonRpcProvider, type JsonRpcSigner } from "ethers";

import { DripFeed__factory, MockGLM__factory } from "../../typechain-types";
import {
  ACCEPT,
  DripFeedClient,
  OPEN,
  TERMINATE,
  debitNoteIdHash,
  parseAmount,
  parseRate,
  signAcceptance,
  type SignedAcceptance,
  type Terms,
} from "../../scripts/sdk";

/**
 * The dashboard's scripted scenario on a JSON-RPC node (a `hardhat node`): what each page must show, made with the
 * SDK as a requestor, supervisors and providers would. Two pools (a provider paid from both), grants of every kind
 * including a revoked ACCEPT grant still in its notice, agreements with a cap and a floor, a floor only, and none,
 * settles signed by the owner's supervisors, claims, a budget increase and a termination. Chain time moves with
 * evm_increaseTime so the payout rule has something to show.
 */

const GLM = { decimals: 18, symbol: "GLM" };
export const glm = (text: string): bigint => parseAmount(text, GLM);

/** DripFeed and MockGLM freshly deployed on the node. */
export interface Deployment {
  provider: JsonRpcProvider;
  dripFeed: string;
  token: string;
}

export interface Scenario extends Deployment {
  /** The first pool: grants, three agreements. */
  poolId: string;
  /** A second pool of another owner, paying the same provider as agreement A. */
  otherPoolId: string;
  /** a: cap and floor; b: floor only, terminated by the owner; c: neither, opened by the OPEN grantee; d: in the
   * other pool, paying a's provider; e: floor only, terminated by its provider and released at once. */
  agreements: { a: string; b: string; c: string; d: string; e: string };
  /** Accounts by role. */
  owner: JsonRpcSigner;
  supervisor: JsonRpcSigner;
  revoked: JsonRpcSigner;
  opener: JsonRpcSigner;
  providerA: JsonRpcSigner;
  providerB: JsonRpcSigner;
  otherOwner: JsonRpcSigner;
  /** Clients per role (the SDK's). */
  ownerClient: DripFeedClient;
  providerClient: DripFeedClient;
  /** A signed acceptance for agreement A above what is settled, for a relay to hold. */
  heldAcceptance: SignedAcceptance;
  /** Moves chain time forward and mines a block. */
  advance(seconds: number): Promise<void>;
  /** The latest block's time. */
  now(): Promise<bigint>;
}

const id = (n: number): string => `0x${n.toString(16).padStart(2, "0").repeat(32)}`;

export async function deploy(rpcUrl: string): Promise<Deployment> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  const deployer = await provider.getSigner(0);
  const token = await (await new MockGLM__factory(deployer).deploy()).waitForDeployment();
  const dripFeed = await (await new DripFeed__factory(deployer).deploy()).waitForDeployment();
  return { provider, dripFeed: await dripFeed.getAddress(), token: await token.getAddress() };
}

/** Plays the scenario on a fresh deployment (the dashboard may already be watching). */
export async function runScenario({ provider, dripFeed, token: tokenAddress }: Deployment): Promise<Scenario> {
  const signers = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => provider.getSigner(i)));
  const [deployer, owner, supervisor, revoked, opener, providerA, providerB, otherOwner] = signers;
  const advance = async (seconds: number): Promise<void> => {
    await provider.send("evm_increaseTime", [seconds]);
    await provider.send("evm_mine", []);
  };
  const now = async (): Promise<bigint> => BigInt((await provider.getBlock("latest"))!.timestamp);

  const token = MockGLM__factory.connect(tokenAddress, deployer);
  for (const who of [owner, otherOwner]) await (await token.mint(who.address, glm("1000"))).wait();

  const ownerClient = await DripFeedClient.connect(dripFeed, owner);
  const { poolId } = await ownerClient.createPool(tokenAddress, "dashboard");
  await ownerClient.fund(poolId, glm("100"), { permit: true });
  const otherClient = ownerClient.withSigner(otherOwner);
  const { poolId: otherPoolId } = await otherClient.createPool(tokenAddress, "other");
  await otherClient.fund(otherPoolId, glm("20"), { permit: true });

  const start = await now();
  await ownerClient.setGrant(poolId, supervisor.address, {
    permissions: ACCEPT | TERMINATE,
    validUntil: start + 7n * 86_400n,
  });
  await ownerClient.setGrant(poolId, revoked.address, { permissions: ACCEPT, validUntil: start + 7n * 86_400n });
  await ownerClient.setGrant(poolId, opener.address, {
    permissions: OPEN,
    validUntil: start + 30n * 86_400n,
    openAllowance: glm("20"),
    openRefillRate: parseRate("10 GLM/day", GLM),
  });

  const agreements = { a: id(0xa1), b: id(0xb2), c: id(0xc3), d: id(0xd4), e: id(0xe5) };
  const capAndFloor: Terms = {
    budget: glm("10"),
    upfront: glm("1"),
    maxRate: parseRate("12 GLM/h", GLM),
    streamRate: parseRate("6 GLM/h", GLM),
    debitNoteInterval: 120,
    paymentTimeout: 600,
  };
  await ownerClient.openAgreement(poolId, agreements.a, providerA.address, capAndFloor);
  await ownerClient.openAgreement(poolId, agreements.b, providerB.address, {
    budget: glm("5"),
    upfront: 0n,
    maxRate: 0n,
    streamRate: parseRate("18 GLM/h", GLM),
    debitNoteInterval: 120,
    paymentTimeout: 3600,
  });
  // The OPEN grantee hires too: an acceptance-only agreement (no cap, no floor).
  await ownerClient
    .withSigner(opener)
    .openAgreement(poolId, agreements.c, providerB.address, { ...capAndFloor, maxRate: 0n, streamRate: 0n });
  await otherClient.openAgreement(otherPoolId, agreements.d, providerA.address, { ...capAndFloor, budget: glm("6") });

  const providerClient = ownerClient.withSigner(providerA);
  const accept = async (signer: JsonRpcSigner, agreementId: string, note: string, total: string) =>
    signAcceptance(signer, ownerClient.domain, {
      poolId,
      agreementId,
      debitNoteId: debitNoteIdHash(note),
      totalAccepted: glm(total),
      deadline: (await now()) + 86_400n,
    });

  await advance(300);
  await providerClient.settle(await accept(supervisor, agreements.a, "a-note-1", "2.5"));
  // The revoked supervisor signed a note before it lost ACCEPT: it still settles within the notice.
  const signedBeforeRevocation = await accept(revoked, agreements.a, "a-note-2", "4");
  await ownerClient.setGrant(poolId, revoked.address, { permissions: 0, validUntil: 0n });
  await advance(240);
  await providerClient.settle(signedBeforeRevocation);
  await advance(600);
  await providerClient.claim(poolId, agreements.a);
  await ownerClient.increaseBudget(poolId, agreements.a, glm("2"));
  await advance(300);
  // Accepted beyond the cap: it drips out at maxRate.
  await providerClient.settle(await accept(supervisor, agreements.a, "a-note-3", "11"));
  await providerClient.settle(await accept(supervisor, agreements.c, "c-note-1", "3"));
  await advance(200);
  await ownerClient.withSigner(providerB).claim(poolId, agreements.b);
  await ownerClient.terminate(poolId, agreements.b);
  // A provider that stops: its own termination lets anyone release at once; release pays the floor first.
  await ownerClient.openAgreement(poolId, agreements.e, providerB.address, {
    ...capAndFloor,
    budget: glm("3"),
    upfront: 0n,
    maxRate: 0n,
  });
  await advance(600);
  await ownerClient.withSigner(providerB).terminate(poolId, agreements.e);
  await ownerClient.release(poolId, agreements.e);
  await advance(120);
  await otherClient.withSigner(providerA).settle({
    ...(await signAcceptance(otherOwner, ownerClient.domain, {
      poolId: otherPoolId,
      agreementId: agreements.d,
      debitNoteId: debitNoteIdHash("d-note-1"),
      totalAccepted: glm("1.5"),
      deadline: (await now()) + 86_400n,
    })),
  });
  await advance(60);
  const heldAcceptance = await accept(supervisor, agreements.a, "a-note-4", "11.5");

  return {
    provider,
    dripFeed,
    token: tokenAddress,
    poolId,
    otherPoolId,
    agreements,
    owner,
    supervisor,
    revoked,
    opener,
    providerA,
    providerB,
    otherOwner,
    ownerClient,
    providerClient,
    heldAcceptance,
    advance,
    now,
  };
}
