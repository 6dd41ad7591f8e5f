import { IERC1271__factory } from "../../typechain-types";
import { acceptanceDigest, recoverAcceptanceSigner, type SignedAcceptance } from "./acceptance";
import type { DripFeedClient } from "./client";
import { DripFeedError } from "./errors";
import { payableAt } from "./payout";
import { ACCEPT } from "./terms";

/** ERC-1271 `isValidSignature` magic value. */
const ERC1271_MAGIC = "0x1626ba7e";

export interface AcceptanceCheck {
  /** Who signed, and in what role at the checked time. */
  signer: string;
  role: "owner" | "grantee";
  /** "eoa" for an ECDSA signature, "erc1271" for a contract wallet's. */
  signatureKind: "eoa" | "erc1271";
  /** What settling now would pay the provider (base units). */
  wouldPay: bigint;
  /** Whether it raises the agreement's recorded accepted total. */
  raisesTotal: boolean;
  /** Neither raises the total nor pays: `settle` would revert NothingToSettle. */
  stale: boolean;
  /** The chain time the check was made at. */
  checkedAt: bigint;
}

/**
 * Checks a signed acceptance against the chain the way `settle` will, and says why not with a stable code:
 * WRONG_CHAIN / WRONG_CONTRACT (domain), UNKNOWN_POOL, UNKNOWN_AGREEMENT, AGREEMENT_RELEASED, EXPIRED (deadline
 * before chain time), NOT_AUTHORIZED (neither the owner nor a valid ACCEPT grantee per `grantOf`), BAD_SIGNATURE
 * (ECDSA recovery, or the signer contract's ERC-1271 `isValidSignature`). A stale acceptance is reported, not
 * thrown: a relay may still want to record it.
 */
export async function verifyAcceptance(client: DripFeedClient, signed: SignedAcceptance): Promise<AcceptanceCheck> {
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
  const [pool, now] = await Promise.all([client.getPool(signed.poolId), client.now()]);
  const agreement = await client.getAgreement(signed.poolId, signed.agreementId);
  if (agreement.status === "Released") {
    throw new DripFeedError(
      "AGREEMENT_RELEASED",
      `agreement ${agreement.agreementId.slice(2)} is released; nothing can be settled`,
    );
  }
  if (signed.deadline < now) {
    throw new DripFeedError(
      "EXPIRED",
      `the acceptance expired at ${signed.deadline} (chain time is ${now})`,
      "deadline",
    );
  }

  let role: AcceptanceCheck["role"];
  if (signed.signer.toLowerCase() === pool.owner.toLowerCase()) {
    role = "owner";
  } else {
    const grant = await client.grantOf(pool.poolId, signed.signer);
    if ((grant.permissions & ACCEPT) === 0 || grant.validUntil < now) {
      throw new DripFeedError(
        "NOT_AUTHORIZED",
        `${signed.signer} is neither the owner of pool ${pool.poolId} nor holds a valid ACCEPT grant`,
        "signer",
      );
    }
    role = "grantee";
  }

  const signatureKind = await checkSignature(client, signed);
  const payable = payableAt(agreement, now, signed.totalAccepted);
  const wouldPay = payable > agreement.paid ? payable - agreement.paid : 0n;
  const raisesTotal = signed.totalAccepted > agreement.acceptedTotal;
  return {
    signer: signed.signer,
    role,
    signatureKind,
    wouldPay,
    raisesTotal,
    stale: !raisesTotal && wouldPay === 0n,
    checkedAt: now,
  };
}

async function checkSignature(client: DripFeedClient, signed: SignedAcceptance): Promise<"eoa" | "erc1271"> {
  if (recoverAcceptanceSigner(signed)?.toLowerCase() === signed.signer.toLowerCase()) return "eoa";
  const code = await client.provider.getCode(signed.signer);
  if (code !== "0x") {
    try {
      const wallet = IERC1271__factory.connect(signed.signer, client.provider);
      const magic = await wallet.isValidSignature(acceptanceDigest(signed, signed), signed.signature);
      if (magic.toLowerCase() === ERC1271_MAGIC) return "erc1271";
    } catch {
      // a reverting or non-conforming wallet is an invalid signature
    }
  }
  throw new DripFeedError("BAD_SIGNATURE", `the signature does not verify for ${signed.signer}`, "signature");
}
