import { Signature, type Signer, TypedDataEncoder } from "ethers";

import { ERC20Permit__factory } from "../../typechain-types/factories/@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit__factory";
import { DripFeedError } from "./errors";

/** The EIP-2612 `Permit` type (the one place it is written in TypeScript). */
export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export interface PermitSignature {
  deadline: bigint;
  v: number;
  r: string;
  s: string;
}

/**
 * Signs an EIP-2612 permit of `value` from the signer to `spender`. The token's domain is read with EIP-5267 where
 * available (else name + version "1") and checked against its DOMAIN_SEPARATOR, so a token with an unusual domain
 * fails here with a clear error instead of on chain.
 */
export async function signPermit(
  signer: Signer,
  tokenAddress: string,
  spender: string,
  value: bigint,
  deadline: bigint,
): Promise<PermitSignature> {
  const token = ERC20Permit__factory.connect(tokenAddress, signer);
  const owner = await signer.getAddress();
  let domain: { name: string; version: string; chainId: bigint; verifyingContract: string };
  let nonce: bigint;
  let separator: string;
  try {
    const chainId = (await signer.provider?.getNetwork())?.chainId ?? 0n;
    try {
      const d = await token.eip712Domain();
      domain = { name: d.name, version: d.version, chainId: d.chainId, verifyingContract: d.verifyingContract };
    } catch {
      domain = { name: await token.name(), version: "1", chainId, verifyingContract: tokenAddress };
    }
    [nonce, separator] = await Promise.all([token.nonces(owner), token.DOMAIN_SEPARATOR()]);
  } catch {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `token ${tokenAddress} does not support EIP-2612 permits; approve instead`,
    );
  }
  if (TypedDataEncoder.hashDomain(domain) !== separator) {
    throw new DripFeedError(
      "INVALID_ARGUMENT",
      `token ${tokenAddress} has a permit domain this SDK cannot reproduce; approve instead`,
    );
  }
  const raw = await signer.signTypedData(domain, PERMIT_TYPES, { owner, spender, value, nonce, deadline });
  const sig = Signature.from(raw);
  return { deadline, v: sig.v, r: sig.r, s: sig.s };
}
