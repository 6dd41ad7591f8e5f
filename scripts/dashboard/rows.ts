import type { AgreementView, GrantView, PoolView } from "../sdk/client";
import { claimWindowEnd } from "../sdk/payout";
import { ACCEPT, PERMISSION_NAMES } from "../sdk/terms";
import type { TokenInfo } from "../sdk/token";
import type { ChainEvent } from "./events";
import { forecast, type PaceBasis } from "./forecast";
import { humanTerms } from "../sdk/describe";
import { type AmountJson, amountJson, rateText, type TimeJson, timeJson } from "./format";
import type { RelayAgreement } from "./relay";

/** The JSON rows the pages are made of: chain values, formatted by the SDK, with times relative to chain time. */

export interface TokenJson {
  address: string;
  symbol: string;
  decimals: number;
}

export interface PoolJson {
  poolId: string;
  owner: string;
  token: TokenJson;
  balance: AmountJson;
  locked: AmountJson;
  free: AmountJson;
}

export interface TermsJson {
  budget: AmountJson;
  upfront: AmountJson;
  maxRate: string;
  streamRate: string;
  debitNoteInterval: string;
  paymentTimeout: string;
}

export interface RelayAgreementJson {
  pending: number;
  highestTotal: AmountJson | null;
  dueAt: TimeJson | null;
  dueReason: string | null;
  /** Set when the relay could not be asked. */
  error?: string;
}

export interface AgreementJson {
  poolId: string;
  agreementId: string;
  provider: string;
  status: string;
  token: TokenJson;
  terms: TermsJson;
  startedAt: TimeJson;
  terminatedAt: TimeJson | null;
  claimWindowEnd: TimeJson | null;
  claimWindowOpen: boolean;
  acceptedTotal: AmountJson;
  paid: AmountJson;
  claimable: AmountJson;
  budgetLeft: AmountJson;
  pace: { rate: string; basis: PaceBasis };
  /** When the budget is used up at the current pace; null when it will not be (see `runsOut`). */
  runsOutAt: TimeJson | null;
  /** "in 3 h", "used up", "stopped (Terminated)", "not at the current pace". */
  runsOut: string;
  relay?: RelayAgreementJson;
}

export interface GrantJson {
  grantee: string;
  permissions: string[];
  /** "valid", "expired", "revoked". */
  state: string;
  validUntil: TimeJson | null;
  openAllowanceNow: AmountJson | null;
  acceptValidUntil: TimeJson | null;
  /** The ACCEPT notice running after a revocation or a shortening: until when acceptances still settle. */
  notice: { until: TimeJson; why: string } | null;
}

export function tokenJson(token: TokenInfo): TokenJson {
  return { address: token.address, symbol: token.symbol, decimals: token.decimals };
}

export function poolJson(pool: PoolView, token: TokenInfo): PoolJson {
  return {
    poolId: pool.poolId,
    owner: pool.owner,
    token: tokenJson(token),
    balance: amountJson(pool.balance, token),
    locked: amountJson(pool.locked, token),
    free: amountJson(pool.free, token),
  };
}

function runsOutText(status: string, exhausted: boolean, runsOutAt: TimeJson | null): string {
  if (exhausted) return "used up";
  if (status !== "Active") return `stopped (${status})`;
  return runsOutAt ? runsOutAt.relative : "not at the current pace";
}

/** One agreement: `events` are its own (any order of AGREEMENT_EVENTS, oldest first), `claimable` the chain's. */
export function agreementJson(
  a: AgreementView,
  token: TokenInfo,
  claimable: bigint,
  events: readonly ChainEvent[],
  now: bigint,
): AgreementJson {
  const f = forecast(a, events, now);
  const windowEnd = claimWindowEnd(a);
  const runsOutAt = f.runsOutAt === undefined ? null : timeJson(f.runsOutAt, now);
  const words = humanTerms(a.terms, token);
  return {
    poolId: a.poolId,
    agreementId: a.agreementId,
    provider: a.provider,
    status: a.status,
    token: tokenJson(token),
    terms: {
      budget: amountJson(a.terms.budget, token),
      upfront: amountJson(a.terms.upfront, token),
      maxRate: words.maxRate,
      streamRate: words.streamRate,
      debitNoteInterval: words.debitNoteInterval,
      paymentTimeout: words.paymentTimeout,
    },
    startedAt: timeJson(a.startedAt, now),
    terminatedAt: a.status === "Active" ? null : timeJson(a.terminatedAt, now),
    claimWindowEnd: windowEnd === undefined ? null : timeJson(windowEnd, now),
    claimWindowOpen:
      a.status === "Active" || (a.status === "Terminated" && windowEnd !== undefined && now <= windowEnd),
    acceptedTotal: amountJson(a.acceptedTotal, token),
    paid: amountJson(a.paid, token),
    claimable: amountJson(claimable, token),
    budgetLeft: amountJson(f.budgetLeft, token),
    pace: { rate: rateText(f.rate, token), basis: f.basis },
    runsOutAt,
    runsOut: runsOutText(a.status, f.exhausted, runsOutAt),
  };
}

export function grantJson(
  grantee: string,
  grant: GrantView,
  acceptValidUntil: bigint,
  token: TokenInfo,
  now: bigint,
): GrantJson {
  const permissions = Object.entries(PERMISSION_NAMES)
    .filter(([, bit]) => (grant.permissions & bit) !== 0)
    .map(([name]) => name);
  const hasAccept = (grant.permissions & ACCEPT) !== 0;
  const state = grant.permissions === 0 ? "revoked" : grant.validUntil < now ? "expired" : "valid";
  // A notice runs when ACCEPT still counts past what the grant as set says: removed, or moved earlier.
  const noticeRuns = acceptValidUntil >= now && (!hasAccept || acceptValidUntil !== grant.validUntil);
  return {
    grantee,
    permissions,
    state,
    validUntil: grant.validUntil === 0n ? null : timeJson(grant.validUntil, now),
    openAllowanceNow: permissions.includes("open") ? amountJson(grant.openAllowanceNow, token) : null,
    acceptValidUntil: acceptValidUntil === 0n ? null : timeJson(acceptValidUntil, now),
    notice: noticeRuns
      ? {
          until: timeJson(acceptValidUntil, now),
          why: hasAccept ? "ACCEPT was moved earlier" : "ACCEPT was taken away",
        }
      : null,
  };
}

export function relayAgreementJson(
  held: RelayAgreement | undefined,
  token: TokenInfo,
  now: bigint,
): RelayAgreementJson {
  return {
    pending: held?.pending.length ?? 0,
    highestTotal: held?.highestTotal === undefined ? null : amountJson(held.highestTotal, token),
    dueAt: held?.dueAtMs === undefined ? null : timeJson(BigInt(Math.floor(held.dueAtMs / 1000)), now),
    dueReason: held?.dueReason ?? null,
  };
}
