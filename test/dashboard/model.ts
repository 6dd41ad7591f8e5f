import type { Result } from "ethers";

import type { ChainEvent } from "../../scripts/dashboard/events";
import type { AgreementView } from "../../scripts/sdk";

/** Agreements and events as the chain would give them, for the dashboard's pure parts (chart, forecast). */

export const GLM_TOKEN = { address: "0x0000000000000000000000000000000000000001", symbol: "GLM", decimals: 18 };
export const START = 1_800_000_000n;
export const GLM = 10n ** 18n;

export function agreementOf(overrides: Partial<AgreementView> = {}): AgreementView {
  return {
    poolId: `0x${"11".repeat(32)}`,
    agreementId: `0x${"22".repeat(32)}`,
    provider: "0x0000000000000000000000000000000000000003",
    status: "Active",
    startedAt: START,
    terminatedAt: 0n,
    terms: {
      budget: 10n * GLM,
      upfront: 0n,
      maxRate: 0n,
      streamRate: 0n,
      debitNoteInterval: 120,
      paymentTimeout: 600,
    },
    paid: 0n,
    acceptedTotal: 0n,
    ...overrides,
  };
}

let block = 100;

/** One event at `time` with named arguments (the dashboard reads args by name only). */
export function eventAt(name: string, time: bigint, args: Record<string, unknown>): ChainEvent {
  block += 1;
  return {
    name,
    time,
    args: args as unknown as Result,
    blockNumber: block,
    logIndex: 0,
    txHash: `0x${block.toString(16).padStart(64, "0")}`,
  };
}

export const settled = (time: bigint, totalAccepted: bigint, paid: bigint): ChainEvent =>
  eventAt("DebitNoteSettled", time, { totalAccepted, paid, debitNoteId: `0x${"33".repeat(32)}`, signer: "0x0" });
export const claimed = (time: bigint, paid: bigint): ChainEvent => eventAt("Claimed", time, { paid });
