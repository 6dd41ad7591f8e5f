/**
 * Signing helpers over the SDK (`scripts/sdk/acceptance.ts`): tests sign exactly the way acceptors and relays do,
 * so a mismatch between the SDK and the contract fails the contract tests too. Nothing here re-implements EIP-712.
 */
import { type Interface, type Signer, Signature } from "ethers";

import {
  type AcceptanceDomain,
  type DebitNoteAcceptance,
  acceptanceDigest,
  signAcceptance,
} from "../../scripts/sdk/acceptance";
import { debitNoteIdHash } from "../../scripts/sdk/ids";
import type { SignedAcceptanceStruct } from "../../typechain-types/contracts/DripFeed";
import { FAR_DEADLINE } from "./fixture";
import { PERMIT_TYPES } from "../../scripts/sdk/permit";

export { ACCEPTANCE_TYPE_STRING, acceptanceDigest, signAcceptance } from "../../scripts/sdk/acceptance";

/** What `settle(acceptance, signer, signature)` takes. */
export interface Settlement {
  acceptance: DebitNoteAcceptance;
  signer: string;
  signature: string;
}

/** An acceptance message; `debitNoteId` defaults to the hash of a label derived from the total, `deadline` to far away. */
export function acceptanceOf(
  poolId: string,
  agreementId: string,
  totalAccepted: bigint,
  opts: { debitNoteId?: string; golemDebitNoteId?: string; deadline?: bigint } = {},
): DebitNoteAcceptance {
  return {
    poolId,
    agreementId,
    debitNoteId: opts.debitNoteId ?? debitNoteIdHash(opts.golemDebitNoteId ?? `debit-note-${totalAccepted}`),
    totalAccepted,
    deadline: opts.deadline ?? FAR_DEADLINE,
  };
}

/**
 * Signs `acceptance` with `key` in `domain` (the fixture's DripFeed, or another chain / contract to test replays).
 * `as` names the signer to submit when it is not the key itself: an ERC-1271 wallet whose owner key signed.
 */
export async function sign(
  key: Signer,
  domain: AcceptanceDomain,
  acceptance: DebitNoteAcceptance,
  opts: { as?: string } = {},
): Promise<Settlement> {
  const signed = await signAcceptance(key, domain, acceptance);
  return { acceptance, signer: opts.as ?? signed.signer, signature: signed.signature };
}

/** Shorthand: builds and signs an acceptance in one call. */
export async function signTotal(
  key: Signer,
  domain: AcceptanceDomain,
  poolId: string,
  agreementId: string,
  totalAccepted: bigint,
  opts: { debitNoteId?: string; deadline?: bigint; as?: string } = {},
): Promise<Settlement> {
  return sign(key, domain, acceptanceOf(poolId, agreementId, totalAccepted, opts), opts);
}

/** The positional arguments of `settle`. */
export function settleArgs(s: Settlement): [DebitNoteAcceptance, string, string] {
  return [s.acceptance, s.signer, s.signature];
}

/** One `settleBatch` item. */
export function batchItem(s: Settlement): SignedAcceptanceStruct {
  return { acceptance: s.acceptance, signer: s.signer, signature: s.signature };
}

/** The digest the SDK computes for `acceptance` in `domain` (must equal the contract's `acceptanceDigest`). */
export function digestOf(domain: AcceptanceDomain, acceptance: DebitNoteAcceptance): string {
  return acceptanceDigest(domain, acceptance);
}

/** An EIP-2612 permit for `token` signed by `holder`, as `fundWithPermit` takes it. */
export async function signPermit(
  holder: Signer,
  token: { name(): Promise<string>; nonces(owner: string): Promise<bigint>; getAddress(): Promise<string> },
  spender: string,
  value: bigint,
  deadline: bigint,
  chainId: bigint,
): Promise<{ v: number; r: string; s: string }> {
  const owner = await holder.getAddress();
  const signature = await holder.signTypedData(
    { name: await token.name(), version: "1", chainId, verifyingContract: await token.getAddress() },
    PERMIT_TYPES,
    { owner, spender, value, nonce: await token.nonces(owner), deadline },
  );
  const sig = Signature.from(signature);
  return { v: sig.v, r: sig.r, s: sig.s };
}

/** The 4-byte selector of a custom error of `contract` (for `SettlementFailed.reason`). */
export function errorSelector(contract: { interface: Interface }, name: string): string {
  const fragment = contract.interface.getError(name);
  if (fragment === null) throw new Error(`no error ${name}`);
  return fragment.selector;
}
