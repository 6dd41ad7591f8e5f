import { acceptanceDigest, recoverAcceptanceSigner, type SignedAcceptance } from "./acceptance";
import type { DripFeedClient } from "./client";
import { erc1271Accepts } from "./erc1271";
import { DripFeedError } from "./errors";
import { requireAddress } from "./ids";
import { payableAt } from "./payout";
import { isoTime } from "./time";

export interface AcceptanceCheck {
  /** Who signed, and in what role at the checked time. */
  signer: string;
  role: "owner" | "grantee";
  /** Until when the signer's acceptances settle (`acceptValidUntil`); undefined for the owner (never expires). */
  signerValidUntil?: bigint;
  /** "eoa" for an ECDSA signature, "erc1271" for a contract wallet's. */
  signatureKind: "eoa" | "erc1271";
  /** Who settling pays: the agreement's provider (never the submitter). */
  provider: string;
  /** What settling now would pay the provider (base units). */
  wouldPay: bigint;
  /** Whether it raises the agreement's recorded accepted total. */
  raisesTotal: boolean;
  /** Neither raises the total nor pays: `settle` would revert NothingToSettle. */
  stale: boolean;
  /** The chain time the check was made at. */
  checkedAt: bigint;
}

export interface VerifyOptions {
  /** Refuse (WRONG_PROVIDER) unless the agreement pays this address. */
  expectedProvider?: string;
  /**
   * This computer's clock in unix seconds (default: `Date.now()`), or `false` to judge by chain time alone. A
   * transaction is mined in a block at or after both the latest block and the wall clock, so the later of the two
   * decides whether the deadline and the signer's right still hold (a test chain ahead of the clock wins).
   */
  wallClock?: bigint | false;
}

/**
 * Checks a signed acceptance against the chain the way `settle` will, and says why not with a stable code:
 * WRONG_CHAIN / WRONG_CONTRACT (domain), UNKNOWN_POOL, UNKNOWN_AGREEMENT, AGREEMENT_RELEASED, WRONG_PROVIDER (with
 * `expectedProvider`), EXPIRED (deadline passed by chain time or the wall clock), NOT_AUTHORIZED (neither the owner
 * nor a grantee whose `acceptValidUntil` still holds: the ACCEPT notice of protocol 1.1 counts), BAD_SIGNATURE
 * (ECDSA recovery, or the signer contract's ERC-1271 answer, exact magic word only). A stale acceptance is reported,
 * not thrown: a relay may still want to record it.
 */
export async function verifyAcceptance(
  client: DripFeedClient,
  signed: SignedAcceptance,
  options: VerifyOptions = {},
): Promise<AcceptanceCheck> {
  if (signed.chainId !== client.chainId) {
    throw new DripFeedError(
      "WRONG_CHAIN",
      `the acceptance is for chain ${signed.chainId}, this is chain ${client.chainId}`,
      "chainId",
    );
  }
  if (signed.verifyingContract.toLowerCase() !== client.address.toLowerCase()) {
    throw new DripFeedError(
      "WRONG_CONTRACT",
      `the acceptance is for DripFeed at ${signed.verifyingContract}, not ${client.address}`,
      "verifyingContract",
    );
  }
  const [pool, chainNow] = await Promise.all([client.getPool(signed.poolId), client.now()]);
  const agreement = await client.getAgreement(signed.poolId, signed.agreementId);
  if (agreement.status === "Released") {
    throw new DripFeedError(
      "AGREEMENT_RELEASED",
      `agreement ${agreement.agreementId.slice(2)} is released; nothing can be settled`,
    );
  }
  if (options.expectedProvider !== undefined) {
    const expected = requireAddress(options.expectedProvider, "provider");
    if (expected.toLowerCase() !== agreement.provider.toLowerCase()) {
      throw new DripFeedError(
        "WRONG_PROVIDER",
        `agreement ${agreement.agreementId.slice(2)} pays ${agreement.provider}, not ${expected}`,
        "provider",
      );
    }
  }
  const wall = options.wallClock === false ? 0n : (options.wallClock ?? BigInt(Math.floor(Date.now() / 1000)));
  const sendAt = wall > chainNow ? wall : chainNow;
  if (signed.deadline < sendAt) {
    const by = sendAt === chainNow ? "chain time" : "this computer's clock";
    throw new DripFeedError(
      "EXPIRED",
      `the acceptance expired at ${isoTime(signed.deadline)} (${by} is ${isoTime(sendAt)}); a settle would revert SignatureExpired`,
      "deadline",
    );
  }

  let role: AcceptanceCheck["role"];
  let signerValidUntil: bigint | undefined;
  if (signed.signer.toLowerCase() === pool.owner.toLowerCase()) {
    role = "owner";
  } else {
    signerValidUntil = await client.acceptValidUntil(pool.poolId, signed.signer);
    if (signerValidUntil < sendAt) {
      throw new DripFeedError(
        "NOT_AUTHORIZED",
        signerValidUntil === 0n
          ? `${signed.signer} is neither the owner of pool ${pool.poolId} nor an ACCEPT grantee of it`
          : `${signed.signer}'s ACCEPT right on pool ${pool.poolId} ended at ${isoTime(signerValidUntil)} (acceptValidUntil); its acceptances no longer settle`,
        "signer",
      );
    }
    role = "grantee";
  }

  const signatureKind = await checkSignature(client, signed);
  const payable = payableAt(agreement, chainNow, signed.totalAccepted);
  const wouldPay = payable > agreement.paid ? payable - agreement.paid : 0n;
  const raisesTotal = signed.totalAccepted > agreement.acceptedTotal;
  return {
    signer: signed.signer,
    role,
    signerValidUntil,
    signatureKind,
    provider: agreement.provider,
    wouldPay,
    raisesTotal,
    stale: !raisesTotal && wouldPay === 0n,
    checkedAt: chainNow,
  };
}

/** ECDSA first, then ERC-1271 for a signer with code: the contract's order. */
async function checkSignature(client: DripFeedClient, signed: SignedAcceptance): Promise<"eoa" | "erc1271"> {
  if (recoverAcceptanceSigner(signed)?.toLowerCase() === signed.signer.toLowerCase()) return "eoa";
  const code = await client.provider.getCode(signed.signer);
  if (
    code !== "0x" &&
    (await erc1271Accepts(client.provider, signed.signer, acceptanceDigest(signed, signed), signed.signature))
  ) {
    return "erc1271";
  }
  throw new DripFeedError("BAD_SIGNATURE", `the signature does not verify for ${signed.signer}`, "signature");
}
