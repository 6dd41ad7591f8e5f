import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { deployments, ethers, network } from "hardhat";
import pino from "pino";

import { MockGLM__factory } from "../../typechain-types";
import {
  ACCEPT,
  DripFeedClient,
  type SignedAcceptance,
  type Terms,
  debitNoteIdHash,
  parseAmount,
  parseRate,
  signAcceptance,
} from "../../scripts/sdk";
import { Reporter, type WatchEvent } from "../../scripts/watcher/events";
import { Watcher, type WatcherOptions } from "../../scripts/watcher";

/**
 * The in-process network the watcher tests share: two pools with an ACCEPT grant to a supervisor, agreement A (pool 0)
 * and B (pool 1, with a stream floor) paying the provider, OTHER (pool 0) paying someone else; a keeper account sends
 * the watcher's transactions.
 */

export const GLM = { decimals: 18, symbol: "GLM" };
export const units = (text: string): bigint => parseAmount(text, GLM);
export const A = "a1".repeat(32);
export const B = "b2".repeat(32);
export const OTHER = "c3".repeat(32);

export async function advance(seconds: number): Promise<void> {
  await network.provider.send("evm_increaseTime", [seconds]);
  await network.provider.send("evm_mine", []);
}

/** Temporary folders, removed by `cleanup()` (call it from `after`). */
export function tempDirs(): { make: () => string; cleanup: () => void } {
  const dirs: string[] = [];
  return {
    make: () => {
      const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-watch-"));
      dirs.push(dir);
      return dir;
    },
    cleanup: () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })),
  };
}

export const setup = deployments.createFixture(async () => {
  await deployments.fixture(["local"]);
  const [owner, supervisor, provider, otherProvider, keeper] = await ethers.getSigners();
  const address = (await deployments.get("DripFeed")).address;
  const glm = MockGLM__factory.connect((await deployments.get("MockGLM")).address, owner);
  await (await glm.mint(owner.address, units("1000"))).wait();
  const client = await DripFeedClient.connect(address, owner);
  const terms: Terms = {
    budget: units("10"),
    upfront: units("1"),
    maxRate: parseRate("36 GLM/h", GLM),
    streamRate: 0n,
    debitNoteInterval: 120,
    paymentTimeout: 3600,
  };
  const pools: string[] = [];
  for (const salt of ["watch-1", "watch-2"]) {
    const { poolId } = await client.createPool(await glm.getAddress(), salt);
    await client.fund(poolId, units("50"), { permit: true });
    await client.setGrant(poolId, supervisor.address, {
      permissions: ACCEPT,
      validUntil: (await client.now()) + 86_400n,
    });
    pools.push(poolId);
  }
  await client.openAgreement(pools[0], A, provider.address, terms);
  await client.openAgreement(pools[1], B, provider.address, { ...terms, streamRate: parseRate("36 GLM/h", GLM) });
  await client.openAgreement(pools[0], OTHER, otherProvider.address, terms);
  return { client, glm, pools, owner, supervisor, provider, keeper };
});

export type Fixture = Awaited<ReturnType<typeof setup>>;

/** A watcher for the provider, sending with the keeper, its events collected (parsed from --json lines). */
export function watcher(fx: Fixture, state: string, overrides: Partial<WatcherOptions> = {}) {
  const events: WatchEvent[] = [];
  const reporter = new Reporter(true, pino({ level: "silent" }), (line) => events.push(JSON.parse(line) as WatchEvent));
  const w = new Watcher(
    fx.client.withSigner(fx.keeper),
    {
      provider: fx.provider.address,
      state,
      minClaim: "1",
      gasFactor: 3n,
      marginSeconds: 1800n,
      budgetWarnPerMille: 900n,
      readOnly: false,
      ...overrides,
    },
    reporter,
  );
  return { w, events, of: (kind: string) => events.filter((e) => e.event === kind) };
}

/** An acceptance of `total` GLM signed by the supervisor. */
export const sign = async (
  fx: Fixture,
  poolId: string,
  agreementId: string,
  total: string,
  ttl = 86_400n,
): Promise<SignedAcceptance> =>
  signAcceptance(fx.supervisor, fx.client.domain, {
    poolId,
    agreementId: `0x${agreementId}`,
    debitNoteId: debitNoteIdHash(`${agreementId}-${total}`),
    totalAccepted: units(total),
    deadline: (await fx.client.now()) + ttl,
  });
