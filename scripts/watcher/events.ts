import type { Logger } from "pino";

/**
 * What the watcher tells its user. Every event is a structured log line (pino, on stderr) and, on stdout, either one
 * JSON object per line (`--json`, for scripts and alerting) or one sentence per line for a person.
 */
export type WatchEvent =
  | { event: "following"; poolId: string; agreementId: string; token: string }
  | {
      event: "agreement";
      poolId: string;
      agreementId: string;
      status: string;
      accepted: string;
      paid: string;
      claimable: string;
      cap: string;
      budgetLeft: string;
      windowEnd: string | null;
    }
  | {
      event: "settled";
      poolId: string;
      agreementId: string;
      totalAccepted: string;
      paid: string;
      tx: string;
      reason: string;
    }
  | { event: "claimed"; poolId: string; agreementId: string; paid: string; tx: string; reason: string }
  | { event: "received"; poolId: string; agreementId: string; totalAccepted: string; source: string }
  | { event: "warning"; kind: string; message: string; poolId?: string; agreementId?: string }
  | { event: "error"; message: string; poolId?: string; agreementId?: string };

function sentence(e: WatchEvent): string {
  const id = "agreementId" in e && e.agreementId ? e.agreementId.slice(2, 10) + "…" + e.agreementId.slice(-4) : "";
  switch (e.event) {
    case "following":
      return `following agreement ${e.agreementId.slice(2)} (pool ${e.poolId}, ${e.token})`;
    case "agreement":
      return `${id}  ${e.status}  accepted ${e.accepted}  paid ${e.paid}  claimable ${e.claimable}  cap ${e.cap}  budget left ${e.budgetLeft}  window end ${e.windowEnd ?? "-"}`;
    case "settled":
      return `settled ${id} (accepted total ${e.totalAccepted}): paid ${e.paid} to you (${e.reason}); tx ${e.tx}`;
    case "claimed":
      return `claimed ${e.paid} on ${id} (${e.reason}); tx ${e.tx}`;
    case "received":
      return `received an acceptance for ${id}: total ${e.totalAccepted} (${e.source})`;
    case "warning":
      return `WARNING ${e.kind}: ${e.message}`;
    case "error":
      return `ERROR ${e.message}`;
  }
}

export class Reporter {
  constructor(
    private readonly json: boolean,
    private readonly log: Logger,
    private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
    /** Whether to print `agreement` lines on stdout (the one-shot run prints a table instead). */
    private readonly printFigures = true,
  ) {}

  emit(e: WatchEvent): void {
    const { event, ...fields } = e;
    if (event === "warning") this.log.warn(fields, sentence(e));
    else if (event === "error") this.log.error(fields, sentence(e));
    else this.log.info({ event, ...fields }, sentence(e));
    if (event === "agreement" && !this.printFigures && !this.json) return;
    this.write(this.json ? JSON.stringify(e) : sentence(e));
  }
}
