/**
 * Balance-delta assertions: snapshot the token balance of every party (the DripFeed contract, the pool owner, every
 * provider, grantee, relay, stranger, ...) plus the pools' `balance` / `locked` and the agreements' `paid` /
 * `acceptedTotal` before and after one transaction, and assert every change. A party, pool field or agreement field
 * that is not listed must not change at all, so an unexpected transfer anywhere fails the test.
 *
 * ```ts
 * await expectDeltas(fx, () => dripFeed.connect(fx.relay).settle(...settleArgs(s)), {
 *   tokens: { dripFeed: -x, provider0: x },
 *   pools: [{ poolId, balance: -x, locked: -x }],
 *   agreements: [{ poolId, agreementId, paid: x, acceptedTotal: x }],
 * });
 * ```
 */
import { expect } from "chai";
import type { ContractTransactionResponse } from "ethers";

/** Anything with an ERC-20 `balanceOf`. */
export interface BalanceToken {
  balanceOf(account: string): Promise<bigint>;
}

/** What the helper reads pool and agreement state from (the typechain DripFeed satisfies it). */
export interface StateReader {
  getPool(poolId: string): Promise<{ balance: bigint; locked: bigint }>;
  getAgreement(poolId: string, agreementId: string): Promise<{ paid: bigint; acceptedTotal: bigint }>;
}

/** The context: the fixture satisfies it (`token`, `dripFeed`, `parties`). */
export interface DeltaContext {
  token: BalanceToken;
  dripFeed: StateReader;
  /** Label -> address of every account to watch. */
  parties: Record<string, string>;
}

export interface PoolDelta {
  poolId: string;
  balance?: bigint;
  locked?: bigint;
}

export interface AgreementDelta {
  poolId: string;
  agreementId: string;
  paid?: bigint;
  acceptedTotal?: bigint;
}

export interface ExpectedDeltas {
  /** Token balance change by party label; every other watched party must be unchanged. */
  tokens?: Record<string, bigint>;
  /** Pools to watch; a missing field means "unchanged". */
  pools?: PoolDelta[];
  /** Agreements to watch; a missing field means "unchanged". */
  agreements?: AgreementDelta[];
  /** Extra parties to watch for this call only (label -> address), e.g. a contract wallet. */
  extraParties?: Record<string, string>;
  /** Another token to watch instead of `ctx.token`. */
  token?: BalanceToken;
}

interface Snapshot {
  tokens: Record<string, bigint>;
  pools: { balance: bigint; locked: bigint }[];
  agreements: { paid: bigint; acceptedTotal: bigint }[];
}

async function snapshot(
  token: BalanceToken,
  dripFeed: StateReader,
  parties: Record<string, string>,
  expected: ExpectedDeltas,
): Promise<Snapshot> {
  const tokens: Record<string, bigint> = {};
  for (const [label, address] of Object.entries(parties)) tokens[label] = await token.balanceOf(address);
  const pools = [];
  for (const p of expected.pools ?? []) {
    const pool = await dripFeed.getPool(p.poolId);
    pools.push({ balance: pool.balance, locked: pool.locked });
  }
  const agreements = [];
  for (const a of expected.agreements ?? []) {
    const agreement = await dripFeed.getAgreement(a.poolId, a.agreementId);
    agreements.push({ paid: agreement.paid, acceptedTotal: agreement.acceptedTotal });
  }
  return { tokens, pools, agreements };
}

/**
 * Runs `action` (one transaction, awaited until mined) and asserts the deltas. Returns the transaction so that
 * events can still be checked with `expect(tx).to.emit(...)`.
 */
export async function expectDeltas(
  ctx: DeltaContext,
  action: () => Promise<ContractTransactionResponse>,
  expected: ExpectedDeltas,
): Promise<ContractTransactionResponse> {
  const parties = { ...ctx.parties, ...(expected.extraParties ?? {}) };
  const token = expected.token ?? ctx.token;
  for (const label of Object.keys(expected.tokens ?? {})) {
    if (!(label in parties)) throw new Error(`expectDeltas: unknown party "${label}"`);
  }

  const before = await snapshot(token, ctx.dripFeed, parties, expected);
  const tx = await action();
  await tx.wait();
  const after = await snapshot(token, ctx.dripFeed, parties, expected);

  for (const label of Object.keys(parties)) {
    const want = expected.tokens?.[label] ?? 0n;
    expect(after.tokens[label] - before.tokens[label], `token balance change of ${label}`).to.equal(want);
  }
  (expected.pools ?? []).forEach((p, i) => {
    expect(after.pools[i].balance - before.pools[i].balance, `pool ${i} balance change`).to.equal(p.balance ?? 0n);
    expect(after.pools[i].locked - before.pools[i].locked, `pool ${i} locked change`).to.equal(p.locked ?? 0n);
  });
  (expected.agreements ?? []).forEach((a, i) => {
    expect(after.agreements[i].paid - before.agreements[i].paid, `agreement ${i} paid change`).to.equal(a.paid ?? 0n);
    expect(
      after.agreements[i].acceptedTotal - before.agreements[i].acceptedTotal,
      `agreement ${i} acceptedTotal change`,
    ).to.equal(a.acceptedTotal ?? 0n);
  });
  return tx;
}

/** The token balance of every watched party, by label. */
export async function balancesOf(ctx: DeltaContext, token: BalanceToken = ctx.token): Promise<Record<string, bigint>> {
  const out: Record<string, bigint> = {};
  for (const [label, address] of Object.entries(ctx.parties)) out[label] = await token.balanceOf(address);
  return out;
}
