import { zeroPadValue } from "ethers";

import type { AgreementView, DripFeedClient } from "../sdk/client";
import { agreementIdToBytes32, requireAddress, requireBytes32 } from "../sdk/ids";
import { toDripFeedError } from "../sdk/revert";
import type { TokenInfo } from "../sdk/token";
import { payoutChart, type PayoutChart } from "./chart";
import { AGREEMENT_EVENTS, chainRead, type EventReader } from "./events";
import { type AmountJson, amountJson, type TimeJson, timeJson } from "./format";
import { failureReason, type RelayClient, type RelayHealth } from "./relay";
import {
  type AgreementJson,
  agreementJson,
  type GrantJson,
  grantJson,
  type PoolJson,
  poolJson,
  relayAgreementJson,
} from "./rows";
import { timelineJson, type TimelineEntry } from "./timeline";

/**
 * The JSON behind each page of the dashboard, read from the chain at each request (and from the relay when one is
 * configured). Reads go through the SDK's client; events through one EventReader.
 */

export interface ChainJson {
  chainId: number;
  contract: string;
  block: number;
  /** The latest block's time: the contract's `now`, which every relative time is measured from. */
  time: TimeJson;
}

export interface RelayJson extends RelayHealth {
  url: string;
  /** Set when the relay serves another chain or contract than this dashboard reads. */
  mismatch?: string;
  /** Agreements with acceptances waiting on the relay (pool and provider pages: theirs; index: every open one). */
  waiting?: (AgreementRef & NonNullable<AgreementJson["relay"]>)[];
}

export interface AgreementRef {
  poolId: string;
  agreementId: string;
}

interface PageBase {
  chain: ChainJson;
  relay: RelayJson | null;
}

export interface IndexPage extends PageBase {
  pools: (PoolJson & { agreements: number; active: number })[];
}

export interface PoolPage extends PageBase {
  pool: PoolJson;
  grants: GrantJson[];
  agreements: AgreementJson[];
}

export interface AgreementPage extends PageBase {
  pool: PoolJson;
  agreement: AgreementJson;
  chart: PayoutChart;
  timeline: TimelineEntry[];
}

export interface ProviderPage extends PageBase {
  provider: string;
  agreements: AgreementJson[];
  /** Per token: what the provider may claim now, and what it was paid. */
  totals: { token: string; symbol: string; claimable: AmountJson; paid: AmountJson }[];
}

/** Agreements a relay is asked about at once, and at most per page (the index asks about every open agreement). */
const RELAY_CONCURRENCY = 8;
const RELAY_MAX_AGREEMENTS = 200;

export class Pages {
  constructor(
    private readonly client: DripFeedClient,
    private readonly events: EventReader,
    private readonly relay?: RelayClient,
  ) {}

  async index(): Promise<IndexPage> {
    const chain = await this.chain();
    const now = BigInt(chain.time.unix);
    const opened = this.events.read(["AgreementOpened"]);
    const agreements = await Promise.all(
      opened.map((e) => this.client.getAgreement(e.args.poolId as string, e.args.agreementId as string)),
    );
    const pools = await Promise.all(
      this.events.read(["PoolCreated"]).map(async (event) => {
        const { pool, token } = await this.poolAndToken(event.args.poolId as string);
        const own = agreements.filter((a) => a.poolId === pool.poolId);
        const active = own.filter((a) => a.status === "Active").length;
        return { ...poolJson(pool, token), agreements: own.length, active };
      }),
    );
    // What a relay may still hold acceptances for: every agreement not yet released.
    const refs = agreements.filter((a) => a.status !== "Released").slice(0, RELAY_MAX_AGREEMENTS);
    return { chain, relay: await this.relayJson(chain, refs, now), pools };
  }

  async pool(poolId: string): Promise<PoolPage> {
    const id = requireBytes32(poolId, "pool id");
    const chain = await this.chain();
    const now = BigInt(chain.time.unix);
    const { pool, token } = await this.poolAndToken(id);
    const grantEvents = this.events.read(["GrantSet"], id);
    const agreementEvents = this.events.read(AGREEMENT_EVENTS, id);
    const grantees = [...new Set(grantEvents.map((e) => e.args.grantee as string))];
    const grants = await Promise.all(
      grantees.map(async (grantee) => {
        const [grant, acceptValidUntil] = await Promise.all([
          this.client.grantOf(id, grantee),
          this.client.acceptValidUntil(id, grantee),
        ]);
        return grantJson(grantee, grant, acceptValidUntil, token, now);
      }),
    );
    const ids = agreementEvents.filter((e) => e.name === "AgreementOpened").map((e) => e.args.agreementId as string);
    const agreements = await Promise.all(
      ids.map(async (agreementId) => {
        const a = await this.client.getAgreement(id, agreementId);
        const own = agreementEvents.filter((e) => e.args.agreementId === agreementId);
        return agreementJson(a, token, await this.claimable(a), own, now);
      }),
    );
    const relay = await this.relayJson(chain, agreements, now, token, agreements);
    return { chain, relay, pool: poolJson(pool, token), grants, agreements };
  }

  async agreement(poolId: string, agreementId: string): Promise<AgreementPage> {
    const id = requireBytes32(poolId, "pool id");
    const chain = await this.chain();
    const now = BigInt(chain.time.unix);
    const { pool, token } = await this.poolAndToken(id);
    const a = await this.client.getAgreement(id, agreementIdToBytes32(agreementId));
    const events = this.events.read(AGREEMENT_EVENTS, id, a.agreementId);
    const agreement = agreementJson(a, token, await this.claimable(a), events, now);
    const relay = await this.relayJson(chain, [agreement], now, token, [agreement]);
    return {
      chain,
      relay,
      pool: poolJson(pool, token),
      agreement,
      chart: payoutChart(a, events, now, token),
      timeline: timelineJson(events, token, now),
    };
  }

  async provider(address: string): Promise<ProviderPage> {
    const provider = requireAddress(address, "provider address");
    const chain = await this.chain();
    const now = BigInt(chain.time.unix);
    const opened = this.events.read(["AgreementOpened"], null, null, zeroPadValue(provider, 32));
    const agreements = await Promise.all(
      opened.map(async (event) => {
        const poolId = event.args.poolId as string;
        const { token } = await this.poolAndToken(poolId);
        const a = await this.client.getAgreement(poolId, event.args.agreementId as string);
        const events = this.events.read(AGREEMENT_EVENTS, poolId, a.agreementId);
        return { row: agreementJson(a, token, await this.claimable(a), events, now), token };
      }),
    );
    const totals = new Map<string, { token: TokenInfo; claimable: bigint; paid: bigint }>();
    for (const { row, token } of agreements) {
      const total = totals.get(token.address) ?? { token, claimable: 0n, paid: 0n };
      total.claimable += BigInt(row.claimable.raw);
      total.paid += BigInt(row.paid.raw);
      totals.set(token.address, total);
    }
    const rows = agreements.map((a) => a.row);
    const relay = await this.relayJson(chain, rows, now, undefined, rows);
    return {
      chain,
      relay,
      provider,
      agreements: rows,
      totals: [...totals.values()].map((t) => ({
        token: t.token.address,
        symbol: t.token.symbol,
        claimable: amountJson(t.claimable, t.token),
        paid: amountJson(t.paid, t.token),
      })),
    };
  }

  // ---------------------------------------------------------------- helpers

  /** The chain's height and clock, with the events brought up to it: the start of every page. */
  async chain(): Promise<ChainJson> {
    await this.events.sync();
    const block = await chainRead("reading the latest block", () => this.client.provider.getBlock("latest"));
    if (!block) throw toDripFeedError(new Error("the node has no latest block"), "reading the latest block");
    const now = BigInt(block.timestamp);
    return {
      chainId: Number(this.client.chainId),
      contract: this.client.address,
      block: block.number,
      time: timeJson(now, now),
    };
  }

  private async poolAndToken(poolId: string) {
    const pool = await this.client.getPool(poolId);
    return { pool, token: await this.client.token(pool.token) };
  }

  private claimable(a: AgreementView): Promise<bigint> {
    return chainRead("reading claimable", () => this.client.contract.claimable(a.poolId, a.agreementId));
  }

  /**
   * The relay panel: its health and counts, and what it holds for `refs`. When `rows` are given, each row gets its
   * relay state too. An unreachable relay is reported in the panel, never as a failure of the page.
   */
  private async relayJson(
    chain: ChainJson,
    refs: readonly AgreementRef[],
    now: bigint,
    token?: TokenInfo,
    rows?: AgreementJson[],
  ): Promise<RelayJson | null> {
    if (!this.relay) return null;
    const health = await this.relay.health();
    const json: RelayJson = { ...health, url: this.relay.url };
    if (health.reachable && health.chainId !== undefined && health.chainId !== chain.chainId) {
      json.mismatch = `the relay serves chain ${health.chainId}, this dashboard reads chain ${chain.chainId}`;
    } else if (health.contract && health.contract.toLowerCase() !== chain.contract.toLowerCase()) {
      json.mismatch = `the relay submits to DripFeed at ${health.contract}, this dashboard reads ${chain.contract}`;
    }
    if (!health.reachable || json.mismatch) return json;
    const waiting: NonNullable<RelayJson["waiting"]> = [];
    for (let i = 0; i < refs.length; i += RELAY_CONCURRENCY) {
      const chunk = refs.slice(i, i + RELAY_CONCURRENCY);
      await Promise.all(
        chunk.map(async (ref, j) => {
          const row = rows?.[i + j];
          const unitsOf = token ?? (row ? rowToken(row) : await this.tokenOfPool(ref.poolId));
          let state: NonNullable<AgreementJson["relay"]>;
          try {
            state = relayAgreementJson(await this.relay!.agreement(ref.poolId, ref.agreementId), unitsOf, now);
          } catch (error) {
            const message = `the relay did not answer for this agreement: ${failureReason(error)}`;
            state = { ...relayAgreementJson(undefined, unitsOf, now), error: message };
          }
          if (row) row.relay = state;
          if (state.pending > 0) waiting.push({ poolId: ref.poolId, agreementId: ref.agreementId, ...state });
        }),
      );
    }
    json.waiting = waiting;
    return json;
  }

  private async tokenOfPool(poolId: string): Promise<TokenInfo> {
    return (await this.poolAndToken(poolId)).token;
  }
}

function rowToken(row: AgreementJson): TokenInfo {
  return { address: row.token.address, symbol: row.token.symbol, decimals: row.token.decimals };
}
