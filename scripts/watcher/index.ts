import { acceptanceDigest, parseAcceptanceJson, type SignedAcceptance, toAcceptanceJson } from "../sdk/acceptance";
import { formatAmount, parseAmount } from "../sdk/amounts";
import type { DripFeedClient } from "../sdk/client";
import { formatAmountShort } from "../sdk/describe";
import { isDripFeedError } from "../sdk/errors";
import { requireAddress } from "../sdk/ids";
import { type AgreementReport, agreementReport } from "../sdk/report";
import { isoTime, wallClockSeconds } from "../sdk/time";
import type { TokenInfo } from "../sdk/token";
import { verifyAcceptance } from "../sdk/verify";
import { ACCEPT } from "../sdk/terms";
import type { Reporter } from "./events";
import { fetchFromRelay, readInboxDir, type Received, type Refused } from "./inbox";
import { type HeldBest, type Plan, plan, type PlanOptions, warningsFor } from "./planner";
import { WatcherStore } from "./store";

/**
 * The provider's watcher: follows every agreement that pays one address (found from `AgreementOpened` events across
 * all pools), keeps the acceptances it is given (files, relays) until they are settled, collects money by the
 * planner's rules, and warns about what a provider must react to. One `step()` does everything once; `--once` runs
 * one step (for cron), the service runs them on an interval.
 */

/** Conservative gas of a settle and a claim (bench figures, rounded up), to price them before sending. */
export const SETTLE_GAS = 100_000n;
export const CLAIM_GAS = 70_000n;

export interface WatcherOptions {
  provider: string;
  /** The state file (SQLite). */
  state: string;
  /** Directory of acceptance JSON files to settle. */
  inbox?: string;
  /** Relays to fetch held acceptances from. */
  relays?: string[];
  /** Collect once worth at least this many token units ("1"), per pool token. */
  minClaim: string;
  /** Value of one native coin (ETH, POL) in the pool's token units, to compare a claim with its gas; unset: not compared. */
  nativePrice?: string;
  gasFactor: bigint;
  marginSeconds: bigint;
  budgetWarnPerMille: bigint;
  /** Only watch and warn: never send (no key needed). */
  readOnly: boolean;
}

export interface StepSummary {
  agreements: { report: AgreementReport; token: TokenInfo; plan: Plan }[];
  sent: number;
}

export class Watcher {
  private readonly store: WatcherStore;
  private readonly provider: string;
  private readonly lastFigures = new Map<string, string>();

  constructor(
    private readonly client: DripFeedClient,
    private readonly options: WatcherOptions,
    private readonly reporter: Reporter,
  ) {
    this.provider = requireAddress(options.provider, "--provider");
    this.store = new WatcherStore(options.state);
    this.store.bind(client.chainId, client.address, this.provider);
  }

  close(): void {
    this.store.close();
  }

  /** One pass: new events, new acceptances, then every followed agreement planned and acted on. */
  async step(): Promise<StepSummary> {
    const chainNow = await this.client.now();
    await this.readEvents(chainNow);
    await this.intake(chainNow);
    const summary: StepSummary = { agreements: [], sent: 0 };
    for (const followed of this.store.agreements()) {
      try {
        const result = await this.handle(followed.poolId, followed.agreementId, followed.lastSettledAt);
        summary.agreements.push(result.entry);
        if (result.sent) summary.sent++;
      } catch (error) {
        this.reporter.emit({
          event: "error",
          poolId: followed.poolId,
          agreementId: followed.agreementId,
          message: isDripFeedError(error) ? `${error.message} [${error.code}]` : (error as Error).message,
        });
      }
    }
    return summary;
  }

  // ------------------------------------------------------------ events

  private async readEvents(chainNow: bigint): Promise<void> {
    const latest = await this.client.provider.getBlockNumber();
    const cursor = this.store.cursor() ?? (await this.client.firstBlock()) - 1;
    if (latest <= cursor) return;
    const from = cursor + 1;
    const c = this.client.contract;
    for (const e of await this.client.queryEvents(
      c.filters.AgreementOpened(undefined, undefined, this.provider),
      from,
      latest,
    )) {
      if (this.store.follow(e.args.poolId, e.args.agreementId)) {
        const token = await this.tokenOf(e.args.poolId);
        this.reporter.emit({
          event: "following",
          poolId: e.args.poolId,
          agreementId: e.args.agreementId,
          token: token.symbol,
        });
      }
    }
    const followed = this.store.agreements();
    const pools = [...new Set(followed.map((f) => f.poolId))];
    for (const poolId of pools) {
      // Acceptances settled by anyone (a relay, the requestor) count as "not missing".
      const settled = await this.client.queryEvents(c.filters.DebitNoteSettled(poolId), from, latest);
      for (const e of settled) {
        if (!this.store.isFollowed(poolId, e.args.agreementId)) continue;
        const block = await this.client.provider.getBlock(e.blockNumber);
        this.store.settledAt(poolId, e.args.agreementId, block?.timestamp ?? Number(chainNow));
      }
      // A grant that lost ACCEPT (or got shorter) while it counted leaves a notice: its acceptances must settle soon.
      const grants = await this.client.queryEvents(c.filters.GrantSet(poolId), from, latest);
      for (const grantee of new Set(grants.map((e) => e.args.grantee))) {
        const until = await this.client.acceptValidUntil(poolId, grantee);
        const grant = await this.client.grantOf(poolId, grantee);
        const revoked = (grant.permissions & ACCEPT) === 0 || grant.validUntil < until;
        if (
          until >= chainNow &&
          revoked &&
          this.store.warnOnce(`notice:${poolId}:${grantee}:${until}`, Number(chainNow))
        ) {
          this.reporter.emit({
            event: "warning",
            kind: "revocation-notice",
            poolId,
            message: `pool ${poolId} took ACCEPT from ${grantee}: acceptances it signed settle only until ${isoTime(until)}; held ones are settled before then`,
          });
        }
      }
    }
    this.store.setCursor(latest);
  }

  // ------------------------------------------------------------ acceptances in

  private async intake(chainNow: bigint): Promise<void> {
    const received: Received[] = [];
    const refused: Refused[] = [];
    if (this.options.inbox) {
      const dir = readInboxDir(this.options.inbox, (name, stamp) => this.store.newInboxFile(name, stamp));
      received.push(...dir.received);
      refused.push(...dir.refused);
    }
    for (const relay of this.options.relays ?? []) {
      for (const f of this.store.agreements()) {
        const got = await fetchFromRelay(relay, f.poolId, f.agreementId);
        received.push(...got.received);
        refused.push(...got.refused);
      }
    }
    for (const r of refused) {
      this.reporter.emit({ event: "warning", kind: "acceptance-refused", message: `${r.source}: ${r.reason}` });
    }
    for (const { signed, source } of received) await this.take(signed, source, chainNow);
  }

  /** Holds an acceptance for one of this provider's agreements on this contract; anything else is refused once. */
  private async take(signed: SignedAcceptance, source: string, chainNow: bigint): Promise<void> {
    const id = acceptanceDigest(signed, signed);
    const refuse = (reason: string): void => {
      if (this.store.warnOnce(`refused:${id}`, Number(chainNow))) {
        this.reporter.emit({
          event: "warning",
          kind: "acceptance-refused",
          agreementId: signed.agreementId,
          message: `${source}: ${reason}`,
        });
      }
    };
    if (
      signed.chainId !== this.client.chainId ||
      signed.verifyingContract.toLowerCase() !== this.client.address.toLowerCase()
    ) {
      return refuse(`for chain ${signed.chainId} / DripFeed ${signed.verifyingContract}, not this one`);
    }
    if (!this.store.isFollowed(signed.poolId, signed.agreementId)) {
      try {
        const a = await this.client.getAgreement(signed.poolId, signed.agreementId);
        if (a.provider.toLowerCase() !== this.provider.toLowerCase()) {
          return refuse(`agreement ${signed.agreementId.slice(2)} pays ${a.provider}, not ${this.provider}`);
        }
        this.store.follow(a.poolId, a.agreementId);
      } catch (error) {
        return refuse((error as Error).message);
      }
    }
    const stored = this.store.hold({
      id,
      poolId: signed.poolId,
      agreementId: signed.agreementId,
      totalAccepted: signed.totalAccepted,
      deadline: signed.deadline,
      signer: signed.signer,
      json: JSON.stringify(toAcceptanceJson(signed)),
      source,
      receivedAt: Number(chainNow),
    });
    if (stored) {
      const token = await this.tokenOf(signed.poolId);
      this.reporter.emit({
        event: "received",
        poolId: signed.poolId,
        agreementId: signed.agreementId,
        totalAccepted: formatAmount(signed.totalAccepted, token),
        source,
      });
    }
  }

  // ------------------------------------------------------------ one agreement

  private async handle(
    poolId: string,
    agreementId: string,
    lastSettledAt: number,
  ): Promise<{ entry: StepSummary["agreements"][number]; sent: boolean }> {
    const token = await this.tokenOf(poolId);
    const chainNow = await this.client.now();
    const now = chainNow > wallClockSeconds() ? chainNow : wallClockSeconds();
    let report = await agreementReport(this.client, poolId, agreementId, chainNow);
    const best = report.status === "Released" ? undefined : await this.bestHeld(report);
    const options = await this.planOptions(token);
    const decision = this.options.readOnly
      ? ({ action: "wait", reason: "read-only" } as Plan)
      : plan(report, best?.best, now, options, token);
    let sent = false;
    if (decision.action === "settle" && best) {
      const { paid, hash } = await this.client.settle(best.signed);
      this.store.mark(best.id, "settled");
      for (const lower of this.store.held(poolId, agreementId)) {
        if (lower.totalAccepted <= best.signed.totalAccepted) this.store.mark(lower.id, "superseded");
      }
      this.reporter.emit({
        event: "settled",
        poolId,
        agreementId,
        totalAccepted: formatAmount(best.signed.totalAccepted, token),
        paid: formatAmount(paid, token),
        tx: hash,
        reason: decision.reason,
      });
      sent = true;
    } else if (decision.action === "claim") {
      const { paid, hash } = await this.client.claim(poolId, agreementId);
      this.reporter.emit({
        event: "claimed",
        poolId,
        agreementId,
        paid: formatAmount(paid, token),
        tx: hash,
        reason: decision.reason,
      });
      sent = true;
    }
    if (sent) report = await agreementReport(this.client, poolId, agreementId, await this.client.now());

    const lastAcceptanceAt = BigInt(Math.max(lastSettledAt, this.store.lastReceivedAt(poolId, agreementId)));
    for (const w of warningsFor(
      report,
      now,
      { lastAcceptanceAt, budgetWarnPerMille: this.options.budgetWarnPerMille },
      token,
    )) {
      if (this.store.warnOnce(w.key, Number(chainNow))) {
        this.reporter.emit({ event: "warning", kind: w.kind, poolId, agreementId, message: w.message });
      }
    }
    if (report.status === "Released") {
      for (const h of this.store.held(poolId, agreementId)) this.store.mark(h.id, "expired", "agreement released");
      this.store.finish(poolId, agreementId);
    }
    this.figures(report, token);
    return { entry: { report, token, plan: decision }, sent };
  }

  /**
   * The highest held acceptance that still raises the recorded total and passes every check `settle` makes; the
   * ones below the recorded total are superseded, the ones that fail are set aside with a warning.
   */
  private async bestHeld(
    report: AgreementReport,
  ): Promise<{ id: string; signed: SignedAcceptance; best: HeldBest } | undefined> {
    for (const held of this.store.held(report.poolId, report.agreementId)) {
      if (held.totalAccepted <= report.acceptedTotal) {
        this.store.mark(held.id, "superseded", "the recorded total is as high");
        continue;
      }
      const signed = parseAcceptanceJson(held.json);
      try {
        const check = await verifyAcceptance(this.client, signed, { expectedProvider: this.provider });
        return {
          id: held.id,
          signed,
          best: {
            totalAccepted: held.totalAccepted,
            deadline: held.deadline,
            signerValidUntil: check.signerValidUntil,
            wouldPay: check.wouldPay,
          },
        };
      } catch (error) {
        const code = isDripFeedError(error) ? error.code : "RPC_ERROR";
        if (code === "RPC_ERROR") throw error;
        this.store.mark(held.id, code === "EXPIRED" ? "expired" : "invalid", (error as Error).message);
        this.reporter.emit({
          event: "warning",
          kind: "acceptance-refused",
          poolId: report.poolId,
          agreementId: report.agreementId,
          message: `acceptance for total ${formatAmount(held.totalAccepted, await this.tokenOf(report.poolId))} (${held.source}) can no longer be settled: ${(error as Error).message}`,
        });
      }
    }
    return undefined;
  }

  private async planOptions(token: TokenInfo): Promise<PlanOptions> {
    const options: PlanOptions = {
      minClaim: parseAmount(this.options.minClaim, token, "--min-claim"),
      marginSeconds: this.options.marginSeconds,
      gasFactor: this.options.gasFactor,
    };
    if (this.options.nativePrice !== undefined) {
      const price = parseAmount(this.options.nativePrice, token, "--native-price");
      const fee = await this.client.provider.getFeeData();
      const gasPrice = fee.maxFeePerGas ?? fee.gasPrice ?? 0n;
      // wei x (token base units per 1e18 wei) / 1e18
      options.settleCost = (SETTLE_GAS * gasPrice * price) / 10n ** 18n;
      options.claimCost = (CLAIM_GAS * gasPrice * price) / 10n ** 18n;
    }
    return options;
  }

  /** Emits the agreement's figures when they changed since the last step (always on the first). */
  private figures(r: AgreementReport, token: TokenInfo): void {
    const a = (v: bigint): string => `${formatAmountShort(v, token)} ${token.symbol}`;
    const windowEnd =
      r.status === "Terminated" && r.releasableAt !== undefined
        ? r.releasableAt === r.terminatedAt
          ? "releasable now"
          : isoTime(r.releasableAt)
        : null;
    const figures = {
      event: "agreement" as const,
      poolId: r.poolId,
      agreementId: r.agreementId,
      status: r.status,
      accepted: a(r.acceptedTotal),
      paid: a(r.paid),
      claimable: a(r.claimableNow),
      cap: a(r.capNow),
      budgetLeft: a(r.budgetLeft),
      windowEnd,
    };
    const key = `${r.poolId}:${r.agreementId}`;
    const fingerprint = `${r.status}:${r.acceptedTotal}:${r.paid}`;
    if (this.lastFigures.get(key) === fingerprint) return;
    this.lastFigures.set(key, fingerprint);
    this.reporter.emit(figures);
  }

  private async tokenOf(poolId: string): Promise<TokenInfo> {
    return this.client.token((await this.client.getPool(poolId)).token);
  }
}
