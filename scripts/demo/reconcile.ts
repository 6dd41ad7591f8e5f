import Table from "cli-table3";

import { formatAmount } from "../sdk/amounts";
import type { TokenInfo } from "../sdk/token";

export interface ProviderLine {
  name: string;
  /** Tokens the provider's account received over the demo (balance delta). */
  received: bigint;
  /** What DripFeed records as paid on the agreement. */
  recordedPaid: bigint;
}

export interface Ledger {
  funded: bigint;
  withdrawn: bigint;
  /** The pool's balance on chain at the end. */
  stillInPool: bigint;
  /** DripFeed's token balance on chain at the end (only this pool holds the token in the demo). */
  contractBalance: bigint;
  /** The pool's locked amount at the end (0 once every agreement is released). */
  locked: bigint;
  providers: ProviderLine[];
}

/**
 * Prints the reconciliation table (funded = paid to each provider + withdrawn + still in pool) and returns every
 * way the on-chain figures fail to add up (empty when they all do).
 */
export function reconcile(ledger: Ledger, token: TokenInfo): string[] {
  const amount = (v: bigint): string => formatAmount(v, token);
  const style = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
  const table = new Table({ ...style, head: ["", "amount", "on-chain check"] });
  const problems: string[] = [];
  let paidTotal = 0n;
  table.push(["funded into the pool", amount(ledger.funded), ""]);
  for (const p of ledger.providers) {
    paidTotal += p.received;
    const ok = p.received === p.recordedPaid;
    if (!ok)
      problems.push(
        `${p.name} received ${amount(p.received)} but the agreement records ${amount(p.recordedPaid)} paid`,
      );
    table.push([
      `paid to ${p.name}`,
      amount(p.received),
      ok ? "= agreement.paid" : `MISMATCH (paid ${amount(p.recordedPaid)})`,
    ]);
  }
  table.push(["withdrawn by the requestor", amount(ledger.withdrawn), ""]);
  const poolOk = ledger.stillInPool === ledger.contractBalance;
  if (!poolOk)
    problems.push(
      `the pool holds ${amount(ledger.stillInPool)} but DripFeed's token balance is ${amount(ledger.contractBalance)}`,
    );
  table.push(["still in the pool", amount(ledger.stillInPool), poolOk ? "= DripFeed token balance" : "MISMATCH"]);
  const sum = paidTotal + ledger.withdrawn + ledger.stillInPool;
  const sumOk = sum === ledger.funded;
  if (!sumOk) problems.push(`funded ${amount(ledger.funded)} != paid + withdrawn + in pool = ${amount(sum)}`);
  table.push(["paid + withdrawn + in pool", amount(sum), sumOk ? "= funded" : "MISMATCH"]);
  if (ledger.locked !== 0n)
    problems.push(`${amount(ledger.locked)} is still locked after every agreement was released`);
  process.stdout.write(`${table.toString()}\n`);
  return problems;
}
