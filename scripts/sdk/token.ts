import type { ContractRunner } from "ethers";

import { IERC20Metadata__factory } from "../../typechain-types/factories/@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata__factory";
import type { TokenUnits } from "./amounts";
import { toDripFeedError } from "./revert";

/** An ERC-20 as a person sees it. */
export interface TokenInfo extends Required<TokenUnits> {
  address: string;
}

/** Reads a token's symbol and decimals (refusing an address that is not an ERC-20 with a clear error). */
export async function readTokenInfo(address: string, runner: ContractRunner): Promise<TokenInfo> {
  const token = IERC20Metadata__factory.connect(address, runner);
  try {
    const [symbol, decimals] = await Promise.all([token.symbol(), token.decimals()]);
    return { address, symbol, decimals: Number(decimals) };
  } catch (error) {
    throw toDripFeedError(error, `reading token ${address} (symbol, decimals)`);
  }
}
