import type { StoredAcceptance } from "./store";

/**
 * When each agreement gets settled: the one place that decides it.
 *
 * Golem pays a provider about once a day and every settlement costs gas, so the relay holds accepted totals and
 * settles each agreement on a schedule instead of once per debit note. For every agreement with queued acceptances
 * it computes a due time, the earliest of:
 *
 * - `max-hold`: the oldest unsettled acceptance arrived `maxHold` ago (0: at once, within `maxWait`, as before);
 * - `deadline`: the deadline of the acceptance that would be sent is `margin` away;
 * - `accept-valid-until`: its signer's `acceptValidUntil` (a revoked or expiring grant) is `margin` away;
 * - `terminated`: the agreement was terminated (its provider may release it at once; the claim window closes);
 * - `min-value`: the unpaid accepted value reached `--min-value`;
 * - `requested`: someone asked (`POST /v1/agreements/:poolId/:agreementId/settle`);
 * - `expired`: nothing queued can settle any more (the submitter records why).
 *
 * Lower acceptances stay queued beside higher ones and are set aside only once a total at least as high is settled:
 * the one sent is the highest that can still settle (deadline and signer valid), so when a higher one fails the best
 * remaining lower one goes next. Due agreements wait at most `maxWait` for a batch to fill. Times are chain time in
 * milliseconds (a test chain's clock runs ahead of the wall clock).
 */

export type DueReason =
  "max-hold" | "deadline" | "accept-valid-until" | "terminated" | "min-value" | "requested" | "expired";

export interface Due {
  /** Chain time (ms) from which the agreement may go into a batch. */
  at: number;
  reason: DueReason;
}

export interface ScheduleOptions {
  /** Longest an accepted total waits unsettled (ms); 0 settles within `maxWaitMs` of arrival. */
  maxHoldMs: number;
  /** How long before a deadline or an `acceptValidUntil` the agreement is settled (ms). */
  marginMs: number;
  /** Longest a due agreement waits for a batch to fill (ms). */
  maxWaitMs: number;
  batchSize: number;
  /** Unpaid accepted value (the pool token's base units) that makes an agreement due at once; undefined: none. */
  minValue?: (poolId: string) => bigint | undefined;
}

/** What the submitter should do next. */
export type Pick =
  | { kind: "batch"; plans: AgreementPlan[] }
  /** Plans whose acceptance is quarantined under `lane` (its pool or signer): sent apart, never with others. */
  | { kind: "lane"; lane: string; plans: AgreementPlan[] }
  | { kind: "idle"; wakeInMs: number };

/** One agreement's queued acceptances and what the relay knows about it. */
export class AgreementPlan {
  /** Queued acceptances, highest total first. */
  items: StoredAcceptance[] = [];
  /** The earliest `receivedChainAt` among `items`, kept as they change (a held day is hundreds of items). */
  oldestReceived = Infinity;
  /** An acceptance of this agreement is in a batch in flight (one at a time per agreement). */
  inFlight = false;
  /** Chain time (ms) the relay learnt the agreement was terminated. */
  terminatedAt: number | undefined;
  /** Chain time (ms) settlement was requested. */
  requestedAt: number | undefined;
  /** The chain's acceptedTotal as last read. */
  onChainAccepted = 0n;
  due: Due | undefined;
  /** Bumped whenever the plan's heap entry changes, so stale entries are skipped when they surface. */
  version = 0;
  /** The due time of the plan's current heap entry, if any. */
  heapAt: number | undefined;

  constructor(
    readonly key: string,
    readonly poolId: string,
    readonly agreementId: string,
  ) {}
}

/** Seconds (a deadline, an acceptValidUntil) as chain ms. */
function ms(seconds: number): number {
  return seconds * 1000;
}

export function agreementKey(poolId: string, agreementId: string): string {
  return `${poolId}:${agreementId}`;
}

function signerKey(poolId: string, signer: string): string {
  return `${poolId}:${signer.toLowerCase()}`;
}

function byTotalDesc(a: StoredAcceptance, b: StoredAcceptance): number {
  if (a.totalAccepted !== b.totalAccepted) return a.totalAccepted > b.totalAccepted ? -1 : 1;
  return a.receivedChainAt - b.receivedChainAt;
}

/**
 * Puts an acceptance into an agreement's list, kept in `byTotalDesc` order, unless it is there already. A binary
 * search and one splice: a relay holding a day of notes keeps hundreds per agreement, and sorting them (or scanning
 * them for the id) on every arrival made ingestion several times slower.
 */
function insertSorted(items: StoredAcceptance[], item: StoredAcceptance): boolean {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (byTotalDesc(items[mid], item) <= 0) low = mid + 1;
    else high = mid;
  }
  // The same acceptance has the same total: look among the neighbours with that total.
  for (let i = low - 1; i >= 0 && items[i].totalAccepted === item.totalAccepted; i--) {
    if (items[i].id === item.id) return false;
  }
  for (let i = low; i < items.length && items[i].totalAccepted === item.totalAccepted; i++) {
    if (items[i].id === item.id) return false;
  }
  items.splice(low, 0, item);
  return true;
}

/** A binary min-heap of (at, key, version): due times, with stale entries skipped when they surface. */
class DueHeap {
  private readonly entries: { at: number; key: string; version: number }[] = [];

  push(at: number, key: string, version: number): void {
    const e = this.entries;
    e.push({ at, key, version });
    let i = e.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (e[parent].at <= e[i].at) break;
      [e[parent], e[i]] = [e[i], e[parent]];
      i = parent;
    }
  }

  peek(): { at: number; key: string; version: number } | undefined {
    return this.entries[0];
  }

  pop(): { at: number; key: string; version: number } | undefined {
    const e = this.entries;
    const top = e[0];
    const last = e.pop();
    if (e.length > 0 && last) {
      e[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < e.length && e[l].at < e[m].at) m = l;
        if (r < e.length && e[r].at < e[m].at) m = r;
        if (m === i) break;
        [e[m], e[i]] = [e[i], e[m]];
        i = m;
      }
    }
    return top;
  }
}

export class Scheduler {
  private readonly plans = new Map<string, AgreementPlan>();
  private readonly heap = new DueHeap();
  /** Plans whose due time has come, waiting for a batch. */
  private readonly ready = new Set<string>();
  /** acceptValidUntil (unix s) per pool and signer; the owner's is Infinity. Unknown signers count as valid. */
  private readonly validity = new Map<string, number>();

  constructor(
    private readonly options: ScheduleOptions,
    /** The quarantine lane of an acceptance (its pool or signer), or undefined for a shared batch. */
    private readonly laneOf: (item: StoredAcceptance) => string | undefined = () => undefined,
  ) {}

  get size(): number {
    return this.plans.size;
  }

  plan(poolId: string, agreementId: string): AgreementPlan | undefined {
    return this.plans.get(agreementKey(poolId, agreementId));
  }

  /** Newly queued acceptances (committed to disk). */
  add(items: readonly StoredAcceptance[], now: number): void {
    const changed = new Set<AgreementPlan>();
    for (const item of items) {
      const plan = this.planFor(item.poolId, item.agreementId);
      if (insertSorted(plan.items, item)) {
        plan.oldestReceived = Math.min(plan.oldestReceived, item.receivedChainAt);
        changed.add(plan);
      }
    }
    for (const plan of changed) this.reschedule(plan, now);
  }

  /** Replaces an agreement's queued acceptances (after a batch closed or items were resolved) and frees it. */
  reload(poolId: string, agreementId: string, items: StoredAcceptance[], now: number): void {
    const plan = this.planFor(poolId, agreementId);
    plan.items = [...items].sort(byTotalDesc);
    plan.oldestReceived = Infinity;
    for (const item of plan.items) plan.oldestReceived = Math.min(plan.oldestReceived, item.receivedChainAt);
    plan.inFlight = false;
    if (plan.items.length === 0) {
      // Nothing left to settle: a later acceptance starts a new hold (and a new request is needed).
      plan.requestedAt = undefined;
      this.plans.delete(plan.key);
      this.ready.delete(plan.key);
      plan.version++;
      plan.heapAt = undefined;
      return;
    }
    this.reschedule(plan, now);
  }

  /** The signer's acceptValidUntil (unix s; Infinity for the pool's owner), from verification or a GrantSet. */
  setSignerValidity(poolId: string, signer: string, until: number, now: number): void {
    const key = signerKey(poolId, signer);
    if (this.validity.get(key) === until) return;
    this.validity.set(key, until);
    for (const plan of this.plans.values()) {
      if (plan.poolId === poolId && plan.items.some((i) => i.signer.toLowerCase() === signer.toLowerCase())) {
        this.reschedule(plan, now);
      }
    }
  }

  signerValidity(poolId: string, signer: string): number {
    return this.validity.get(signerKey(poolId, signer)) ?? Infinity;
  }

  /** Signers with queued acceptances in a pool (a GrantSet for one of them matters). */
  hasSigner(poolId: string, signer: string): boolean {
    const lower = signer.toLowerCase();
    for (const plan of this.plans.values()) {
      if (plan.poolId === poolId && plan.items.some((i) => i.signer.toLowerCase() === lower)) return true;
    }
    return false;
  }

  /** Recomputes the due times of a pool's agreements (its --min-value became known). */
  reschedulePool(poolId: string, now: number): void {
    for (const plan of this.plans.values()) if (plan.poolId === poolId) this.reschedule(plan, now);
  }

  /** The distinct (pool, signer) pairs and agreements with queued acceptances (re-read at start). */
  waiting(): { signers: [string, string][]; agreements: [string, string][] } {
    const signers = new Map<string, [string, string]>();
    const agreements: [string, string][] = [];
    for (const plan of this.plans.values()) {
      agreements.push([plan.poolId, plan.agreementId]);
      for (const item of plan.items) signers.set(signerKey(item.poolId, item.signer), [item.poolId, item.signer]);
    }
    return { signers: [...signers.values()], agreements };
  }

  markTerminated(poolId: string, agreementId: string, now: number): void {
    const plan = this.plans.get(agreementKey(poolId, agreementId));
    if (!plan || plan.terminatedAt !== undefined) return;
    plan.terminatedAt = now;
    this.reschedule(plan, now);
  }

  /** Settle as soon as possible; returns the new due time, or undefined when nothing is queued for it. */
  request(poolId: string, agreementId: string, now: number): Due | undefined {
    const plan = this.plans.get(agreementKey(poolId, agreementId));
    if (!plan || plan.items.length === 0) return undefined;
    plan.requestedAt ??= now;
    this.reschedule(plan, now);
    return plan.due;
  }

  setOnChainAccepted(poolId: string, agreementId: string, acceptedTotal: bigint, now: number): void {
    const plan = this.plans.get(agreementKey(poolId, agreementId));
    if (!plan || plan.onChainAccepted === acceptedTotal) return;
    plan.onChainAccepted = acceptedTotal;
    this.reschedule(plan, now);
  }

  /** Agreements with queued acceptances: due now (or in a batch), and held for later. */
  counts(now: number): { due: number; held: number } {
    let due = 0;
    for (const plan of this.plans.values()) if (plan.inFlight || (plan.due && plan.due.at <= now)) due++;
    return { due, held: this.plans.size - due };
  }

  /** The due time of an agreement with queued acceptances (for the HTTP views). */
  dueOf(poolId: string, agreementId: string): Due | undefined {
    return this.plans.get(agreementKey(poolId, agreementId))?.due;
  }

  /**
   * The acceptance to send for a plan: the highest total that can still settle (deadline and signer not passed)
   * and is not waiting out a retry back-off, and the higher ones that can no longer settle (to be recorded as
   * failed). A higher one in back-off stays queued: it goes again later if the lower one does not cover it.
   */
  pick(
    plan: AgreementPlan,
    now: number,
  ): { item: StoredAcceptance | undefined; expired: StoredAcceptance[]; unauthorized: StoredAcceptance[] } {
    const expired: StoredAcceptance[] = [];
    const unauthorized: StoredAcceptance[] = [];
    for (const item of plan.items) {
      if (ms(item.deadline) < now) expired.push(item);
      else if (ms(this.signerValidity(item.poolId, item.signer)) < now) unauthorized.push(item);
      else if (item.notBefore <= now) return { item, expired, unauthorized };
    }
    return { item: undefined, expired, unauthorized };
  }

  /**
   * Acceptances above each agreement's best that can no longer settle (deadline or signer passed), so they are
   * reported failed when that happens rather than when the agreement is next settled.
   */
  dead(now: number): { expired: StoredAcceptance[]; unauthorized: StoredAcceptance[] } {
    const expired: StoredAcceptance[] = [];
    const unauthorized: StoredAcceptance[] = [];
    for (const plan of this.plans.values()) {
      if (plan.inFlight) continue;
      const picked = this.pick(plan, now);
      expired.push(...picked.expired);
      unauthorized.push(...picked.unauthorized);
    }
    return { expired, unauthorized };
  }

  /** Whether an acceptance can still settle at `now` (deadline and signer not passed). */
  private viable(item: StoredAcceptance, now: number): boolean {
    return ms(item.deadline) >= now && ms(this.signerValidity(item.poolId, item.signer)) >= now;
  }

  /** Marks plans as being in a batch: they leave the ready set until reloaded. */
  take(plans: readonly AgreementPlan[]): void {
    for (const plan of plans) {
      plan.inFlight = true;
      plan.version++;
      plan.heapAt = undefined;
      this.ready.delete(plan.key);
    }
  }

  /** Puts plans taken for a batch that was not sent back as they were. */
  untake(plans: readonly AgreementPlan[], now: number): void {
    for (const plan of plans) {
      plan.inFlight = false;
      this.reschedule(plan, now);
    }
  }

  /** What to do at `now`: a shared batch when one is full or has waited `maxWait`, else a quarantine lane, else sleep. */
  next(now: number): Pick {
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      const plan = this.plans.get(top.key);
      if (plan && plan.version === top.version && !plan.inFlight) {
        plan.heapAt = undefined;
        this.ready.add(top.key);
      }
    }
    const shared: AgreementPlan[] = [];
    const lanes = new Map<string, AgreementPlan[]>();
    for (const key of this.ready) {
      const plan = this.plans.get(key);
      if (!plan || plan.inFlight || !plan.due) {
        this.ready.delete(key);
        continue;
      }
      if (plan.due.at > now) {
        // Not due after all (its due time moved): back to the heap.
        this.ready.delete(key);
        this.reschedule(plan, now);
        continue;
      }
      const best = this.pick(plan, now).item;
      const lane = best ? this.laneOf(best) : undefined;
      if (lane === undefined) shared.push(plan);
      else lanes.set(lane, [...(lanes.get(lane) ?? []), plan]);
    }
    const byDue = (a: AgreementPlan, b: AgreementPlan) => (a.due as Due).at - (b.due as Due).at;
    let wake = Infinity;
    if (shared.length > 0) {
      shared.sort(byDue);
      const oldest = (shared[0].due as Due).at;
      const urgent = shared.some((p) => (p.due as Due).reason !== "max-hold");
      if (shared.length >= this.options.batchSize || oldest + this.options.maxWaitMs <= now || urgent) {
        return { kind: "batch", plans: shared.slice(0, this.options.batchSize) };
      }
      wake = oldest + this.options.maxWaitMs;
    }
    for (const [lane, plans] of lanes) {
      return { kind: "lane", lane, plans: plans.sort(byDue).slice(0, this.options.batchSize) };
    }
    const top = this.heap.peek();
    if (top) wake = Math.min(wake, top.at);
    return { kind: "idle", wakeInMs: wake === Infinity ? 60_000 : Math.max(1, wake - now) };
  }

  private planFor(poolId: string, agreementId: string): AgreementPlan {
    const key = agreementKey(poolId, agreementId);
    let plan = this.plans.get(key);
    if (!plan) {
      plan = new AgreementPlan(key, poolId, agreementId);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private reschedule(plan: AgreementPlan, now: number): void {
    const due = this.computeDue(plan, now);
    plan.due = due;
    if (!due || plan.inFlight) {
      plan.version++;
      plan.heapAt = undefined;
      this.ready.delete(plan.key);
      return;
    }
    if (due.at <= now) {
      this.ready.add(plan.key);
      return;
    }
    this.ready.delete(plan.key);
    if (plan.heapAt === due.at) return; // its entry is already there (a new acceptance rarely moves the due time)
    plan.version++;
    plan.heapAt = due.at;
    this.heap.push(due.at, plan.key, plan.version);
  }

  private computeDue(plan: AgreementPlan, now: number): Due | undefined {
    if (plan.items.length === 0) return undefined;
    // The best is the first viable item (highest total); the rest are looked at only for the back-off below.
    const bestIndex = plan.items.findIndex((item) => this.viable(item, now));
    if (bestIndex === -1) return { at: now, reason: "expired" };
    const best = plan.items[bestIndex];
    // Computed on every arrival: nothing here may walk all of an agreement's items (a held day is hundreds).
    let due: Due = { at: plan.oldestReceived + this.options.maxHoldMs, reason: "max-hold" };
    const consider = (at: number, reason: DueReason) => {
      if (at < due.at) due = { at, reason };
    };
    consider(ms(best.deadline) - this.options.marginMs, "deadline");
    const validUntil = this.signerValidity(best.poolId, best.signer);
    if (validUntil !== Infinity) consider(ms(validUntil) - this.options.marginMs, "accept-valid-until");
    if (plan.terminatedAt !== undefined) consider(plan.terminatedAt, "terminated");
    if (plan.requestedAt !== undefined) consider(plan.requestedAt, "requested");
    const minValue = this.options.minValue?.(plan.poolId);
    if (minValue !== undefined) {
      // When the first acceptance that brought the unpaid value to the threshold arrived.
      // Items are highest first, so those past the threshold are a prefix of the list.
      let crossed = Infinity;
      for (const item of plan.items) {
        if (item.totalAccepted - plan.onChainAccepted < minValue) break;
        crossed = Math.min(crossed, item.receivedChainAt);
      }
      consider(crossed, "min-value");
    }
    // Retried acceptances wait out their back-off (a lower one that is not waiting may go first): the plan is ready
    // once any viable item is; the scan stops at the first one ready by the due time (usually the best itself).
    let readyAt = best.notBefore;
    for (let i = bestIndex + 1; i < plan.items.length && readyAt > due.at; i++) {
      const item = plan.items[i];
      if (this.viable(item, now)) readyAt = Math.min(readyAt, item.notBefore);
    }
    if (readyAt > due.at) due = { at: readyAt, reason: due.reason };
    return due;
  }
}
