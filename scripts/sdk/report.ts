import type { AgreementView, DripFeedClient, PoolView } from "./client";
import { capAt, claimableAt, claimWindowEnd, releasableAt } from "./payout";
import type { TokenInfo } from "./token";

/** One agreement with everything a person checks: what was accepted, paid, what is claimable, and its deadlines. */
export interface AgreementReport extends AgreementView {
  /** What `claim` pays now (from the recorded state). */
  claimableNow: bigint;
  /** The rate cap now: the most acceptances can have unlocked. */
  capNow: bigint;
  /** `budget - paid`: what can still be paid. */
  budgetLeft: bigint;
  /** Terminated only: `terminatedAt + paymentTimeout`. */
  claimWindowEnd?: bigint;
  /** Who terminated (from `AgreementTerminated`), when terminated or released. */
  terminatedBy?: string;
  /** Terminated only: from when anyone may `release` (at once when the provider terminated). */
  releasableAt?: bigint;
}

/** A pool with its token and the reports of its agreements, at one chain time. */
export interface PoolReport {
  chainTime: bigint;
  pool: PoolView;
  token: TokenInfo;
  agreements: AgreementReport[];
}

/** Reads one agreement's report at chain time `now`. */
export async function agreementReport(
  client: DripFeedClient,
  poolId: string,
  agreementId: string,
  now: bigint,
): Promise<AgreementReport> {
  const a = await client.getAgreement(poolId, agreementId);
  let terminatedBy: string | undefined;
  if (a.status !== "Active") {
    const events = await client.queryEvents(client.contract.filters.AgreementTerminated(a.poolId, a.agreementId));
    terminatedBy = events[0]?.args.by;
  }
  return {
    ...a,
    claimableNow: claimableAt(a, now),
    capNow: capAt(a, now),
    budgetLeft: a.terms.budget - a.paid,
    claimWindowEnd: claimWindowEnd(a),
    terminatedBy,
    releasableAt: releasableAt(a, terminatedBy),
  };
}

/** Reads a pool and every agreement ever opened in it. */
export async function poolReport(client: DripFeedClient, poolId: string): Promise<PoolReport> {
  const pool = await client.getPool(poolId);
  const [token, chainTime, ids] = await Promise.all([
    client.token(pool.token),
    client.now(),
    client.listAgreements(pool.poolId),
  ]);
  const agreements: AgreementReport[] = [];
  for (const id of ids) agreements.push(await agreementReport(client, pool.poolId, id, chainTime));
  return { chainTime, pool, token, agreements };
}
