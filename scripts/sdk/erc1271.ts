import { Interface, type Provider, dataLength, dataSlice, isError } from "ethers";

import { DripFeedError } from "./errors";

/**
 * ERC-1271 as the contract checks it (OpenZeppelin `SignatureChecker`): the wallet's `isValidSignature` answer counts
 * only when at least 32 bytes come back and the first word is exactly the magic value, `0x1626ba7e` followed by 28
 * zero bytes. Decoding the answer as an ABI `bytes4` would drop the padding and accept `0x1626ba7e` followed by
 * anything, which the contract refuses: off-chain checks must agree with it byte for byte.
 */
export const ERC1271_MAGIC_WORD = `0x1626ba7e${"00".repeat(28)}`;

const ERC1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);

/** Whether raw `isValidSignature` return data is an acceptance the contract would honour. */
export function isErc1271MagicWord(returnData: string): boolean {
  return dataLength(returnData) >= 32 && dataSlice(returnData, 0, 32).toLowerCase() === ERC1271_MAGIC_WORD;
}

/**
 * Asks a contract wallet whether it signed `digest` with `signature`. A revert or any other answer is "no"; a
 * failure to reach the chain is an RPC_ERROR (not an answer).
 */
export async function erc1271Accepts(
  provider: Provider,
  wallet: string,
  digest: string,
  signature: string,
): Promise<boolean> {
  let returned: string;
  try {
    returned = await provider.call({
      to: wallet,
      data: ERC1271.encodeFunctionData("isValidSignature", [digest, signature]),
    });
  } catch (error) {
    if (isError(error, "CALL_EXCEPTION")) return false;
    const message = (error as { shortMessage?: string; message?: string }).shortMessage ?? String(error);
    throw new DripFeedError("RPC_ERROR", `could not ask ${wallet} (ERC-1271) about the signature: ${message}`);
  }
  return isErc1271MagicWord(returned);
}
