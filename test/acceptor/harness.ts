import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { deployments, ethers } from "hardhat";
import pino from "pino";

import { type Acceptor, type AcceptorOptions, startAcceptor } from "../../scripts/acceptor";
import type { NoteRecord } from "../../scripts/acceptor/store";
import { SimulatedProvider } from "../../scripts/demo/provider";
import { DemoRelay } from "../../scripts/demo/relay";
import { YagnaStandIn } from "../../scripts/demo/yagnaStandIn";
import { ACCEPT, DripFeedClient, parseAmount, parseRate, type Terms } from "../../scripts/sdk";
import { MockGLM__factory } from "../../typechain-types";

/**
 * The acceptor daemon in-process against the in-process Hardhat network, the real relay (in-process) and the yagna
 * stand-in: a pool with three agreements (A: two activities, no cap; B: 36 GLM/h cap with 1 GLM upfront; C: no
 * cap), an ACCEPT grantee for the supervisor, and providers that bill in yagna's JSON.
 */

export const GLM = { decimals: 18, symbol: "GLM" };
export const units = (text: string): bigint => parseAmount(text, GLM);
export const APP_KEY = "acceptor-test-app-key";
export const ALLOCATION = "allocation-1";
export const PLATFORM = "erc20-hardhat-glm";
export const INTERVAL = 120;

const BASE_TERMS: Terms = {
  budget: units("50"),
  upfront: 0n,
  maxRate: 0n,
  streamRate: 0n,
  debitNoteInterval: INTERVAL,
  paymentTimeout: 3600,
};

export interface World {
  client: DripFeedClient;
  poolId: string;
  owner: HardhatEthersSigner;
  supervisor: HardhatEthersSigner;
  stranger: HardhatEthersSigner;
  keeper: HardhatEthersSigner;
  providers: HardhatEthersSigner[];
  /** Golem ids (64 hex) of agreements A, B, C. */
  agreements: string[];
  balanceOf(address: string): Promise<bigint>;
}

export const world = deployments.createFixture(async (): Promise<World> => {
  await deployments.fixture(["local"]);
  const [owner, supervisor, stranger, keeper, p1, p2, p3] = await ethers.getSigners();
  const { address } = await deployments.get("DripFeed");
  const glm = MockGLM__factory.connect((await deployments.get("MockGLM")).address, owner);
  await (await glm.mint(owner.address, units("1000"))).wait();
  const client = await DripFeedClient.connect(address, owner);
  const { poolId } = await client.createPool(await glm.getAddress(), "acceptor-daemon-test");
  await client.fund(poolId, units("200"), { permit: true });
  const agreements = ["a", "b", "c"].map((x) => `${x.repeat(62)}01`);
  await client.openAgreement(poolId, agreements[0], p1.address, BASE_TERMS);
  await client.openAgreement(poolId, agreements[1], p2.address, {
    ...BASE_TERMS,
    upfront: units("1"),
    maxRate: parseRate("36 GLM/h", GLM),
  });
  await client.openAgreement(poolId, agreements[2], p3.address, BASE_TERMS);
  await client.setGrant(poolId, supervisor.address, {
    permissions: ACCEPT,
    validUntil: (await client.now()) + 7n * 86_400n,
  });
  return {
    client,
    poolId,
    owner,
    supervisor,
    stranger,
    keeper,
    providers: [p1, p2, p3],
    agreements,
    balanceOf: (a: string) => glm.balanceOf(a),
  };
});

export interface Harness {
  world: World;
  yagna: YagnaStandIn;
  relay?: DemoRelay;
  acceptor: Acceptor;
  dir: string;
  db: string;
  /** Starts (again) an acceptor on the harness's database with options changed. */
  restart(overrides?: Partial<AcceptorOptions>): Promise<Acceptor>;
  /** A provider of agreement i (0: A, 1: B, 2: C), billing `perInterval` GLM per note. */
  provider(i: number, perInterval?: string, activityId?: string): SimulatedProvider;
  /** Waits until every note is decided and neither its hand-off nor its yagna acceptance is pending. */
  answered(ids: readonly string[]): Promise<NoteRecord[]>;
  close(): Promise<void>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export async function harness(
  options: { relay?: boolean; signer?: "supervisor" | "owner" | "stranger"; acceptor?: Partial<AcceptorOptions> } = {},
): Promise<Harness> {
  const w = await world();
  const dir = mkdtempSync(path.join(tmpdir(), "dripfeed-acceptor-test-"));
  const db = path.join(dir, "acceptor.sqlite");
  const yagna = await YagnaStandIn.start({ appKey: APP_KEY, allocations: [ALLOCATION] });
  const relay =
    options.relay === false ? undefined : await DemoRelay.start(ethers.provider, w.keeper, w.client.address);
  const key = w[options.signer ?? "supervisor"];
  const base: AcceptorOptions = {
    client: w.client.withSigner(key),
    poolId: w.poolId,
    yagnaUrl: yagna.url,
    appKey: APP_KEY,
    db,
    relayUrl: relay?.url,
    yagnaAllocation: ALLOCATION,
    policy: { paymentPlatform: PLATFORM },
    port: 0,
    pollTimeoutSeconds: 1,
    retryBaseMs: 50,
    logger: pino({ level: process.env.ACCEPTOR_TEST_LOG ?? "silent" }),
    ...options.acceptor,
  };
  let acceptor = await startAcceptor(base);
  const h: Harness = {
    world: w,
    yagna,
    relay,
    acceptor,
    dir,
    db,
    restart: async (overrides = {}) => {
      acceptor = await startAcceptor({ ...base, ...overrides });
      h.acceptor = acceptor;
      return acceptor;
    },
    provider: (i, perInterval = "0.01", activityId) =>
      new SimulatedProvider(
        `p${i}`,
        w.providers[i].address,
        w.owner.address,
        w.agreements[i],
        { startPrice: 0n, perInterval: units(perInterval) },
        18,
        PLATFORM,
        activityId,
      ),
    answered: (ids) =>
      waitFor("the acceptor to answer every note", () => {
        const records = ids.map((id) => h.acceptor.store.note(id));
        return records.every((r) => r && r.delivery !== "pending" && r.yagna !== "pending")
          ? (records as NoteRecord[])
          : undefined;
      }),
    close: async () => {
      await h.acceptor.close();
      await relay?.close();
      await yagna.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** Chain time now, in microseconds, plus `seconds`: the stand-in's clock for a note received then. */
export async function chainMicros(client: DripFeedClient, seconds = 0): Promise<bigint> {
  return ((await client.now()) + BigInt(seconds)) * 1_000_000n;
}
