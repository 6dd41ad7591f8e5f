import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

import { parseAcceptanceJson, type SignedAcceptance, type SignedAcceptanceJson } from "../sdk/acceptance";
import { isDripFeedError } from "../sdk/errors";

/**
 * Where acceptances reach the watcher: JSON files dropped into a directory (what `dripfeed accept` writes, or a
 * requestor mails), and relays that hold acceptances for the provider's agreements
 * (`GET /v1/agreements/:poolId/:agreementId`). Each source yields signed acceptances; checking them against the chain
 * is the watcher's job.
 */

export interface Received {
  signed: SignedAcceptance;
  /** Where it came from: "file:<name>" or "relay:<url>". */
  source: string;
}

export interface Refused {
  source: string;
  reason: string;
}

/** Reads the acceptance files not read before (`isNew(name, stamp)` decides, by name and size/mtime). */
export function readInboxDir(
  dir: string,
  isNew: (name: string, stamp: string) => boolean,
): { received: Received[]; refused: Refused[] } {
  const received: Received[] = [];
  const refused: Refused[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json"));
  } catch (error) {
    refused.push({
      source: `dir:${dir}`,
      reason: `cannot read the directory: ${(error as NodeJS.ErrnoException).code}`,
    });
    return { received, refused };
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    let stamp: string;
    try {
      const st = statSync(file);
      if (!st.isFile()) continue;
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      continue;
    }
    if (!isNew(name, stamp)) continue;
    try {
      received.push({ signed: parseAcceptanceJson(readFileSync(file, "utf8")), source: `file:${name}` });
    } catch (error) {
      refused.push({
        source: `file:${name}`,
        reason: isDripFeedError(error) ? error.message : (error as Error).message,
      });
    }
  }
  return { received, refused };
}

/** An acceptance as a relay's agreement view lists it (the SPEC JSON's fields, minus the domain, plus status). */
interface RelayAcceptanceView {
  debitNoteId: string;
  totalAccepted: string;
  deadline: number;
  signer: string;
  signature?: string;
  status: string;
}

interface RelayAgreementView {
  chainId: number;
  contract: string;
  pending?: { acceptances?: RelayAcceptanceView[] };
}

/**
 * The acceptances a relay still holds for an agreement (queued or submitted), rebuilt as signed acceptances. A relay
 * that does not return signatures yields none (it settles them itself). 404: the relay has nothing for it.
 */
export async function fetchFromRelay(
  relayUrl: string,
  poolId: string,
  agreementId: string,
  timeoutMs = 10_000,
): Promise<{ received: Received[]; refused: Refused[] }> {
  const url = `${relayUrl.replace(/\/+$/, "")}/v1/agreements/${poolId}/${agreementId}`;
  const source = `relay:${relayUrl}`;
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    return { received: [], refused: [{ source, reason: `cannot reach ${url}: ${(error as Error).message}` }] };
  }
  if (response.status === 404) return { received: [], refused: [] };
  if (!response.ok) return { received: [], refused: [{ source, reason: `${url} answered ${response.status}` }] };
  let view: RelayAgreementView;
  try {
    view = (await response.json()) as RelayAgreementView;
  } catch {
    return { received: [], refused: [{ source, reason: `${url} did not answer JSON` }] };
  }
  const received: Received[] = [];
  const refused: Refused[] = [];
  for (const item of view.pending?.acceptances ?? []) {
    if (item.signature === undefined) continue;
    const json: SignedAcceptanceJson = {
      chainId: view.chainId,
      verifyingContract: view.contract,
      poolId,
      agreementId,
      debitNoteId: item.debitNoteId,
      totalAccepted: item.totalAccepted,
      deadline: item.deadline,
      signer: item.signer,
      signature: item.signature,
    };
    try {
      received.push({ signed: parseAcceptanceJson(json), source });
    } catch (error) {
      refused.push({ source, reason: (error as Error).message });
    }
  }
  return { received, refused };
}
