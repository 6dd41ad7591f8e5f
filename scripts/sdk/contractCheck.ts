import { type Provider, TypedDataEncoder, getCreateAddress, zeroPadValue } from "ethers";

import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { EIP712_NAME, EIP712_VERSION } from "./acceptance";

/** A named check with its verdict and one line of detail (what `verify` prints). */
export interface Check {
  name: string;
  status: "pass" | "fail" | "info";
  detail: string;
}

/** Any address to simulate the deployment from (its nonce fixes where the simulated contract would land). */
const SIMULATION_SENDER = "0x000000000000000000000000000000000000dEaD";

function domainSeparator(chainId: bigint, address: string): string {
  return TypedDataEncoder.hashDomain({
    name: EIP712_NAME,
    version: EIP712_VERSION,
    chainId,
    verifyingContract: address,
  });
}

/** Replaces every byte-aligned occurrence of a 32-byte word in hex code (no 0x) with another word. */
function replaceWord(code: string, from: string, to: string): string {
  const needle = from.slice(2).toLowerCase();
  const replacement = to.slice(2).toLowerCase();
  let out = "";
  let index = 0;
  for (;;) {
    let found = code.indexOf(needle, index);
    while (found !== -1 && found % 2 !== 0) found = code.indexOf(needle, found + 1);
    if (found === -1) return out + code.slice(index);
    out += code.slice(index, found) + replacement;
    index = found + needle.length;
  }
}

/**
 * Whether the code at `address` is this repository's DripFeed. The runtime code holds immutables that depend on where
 * it was deployed (EIP-712's cached domain separator and address), so the committed init code is run in an `eth_call`
 * (a simulated deployment at another address), the immutables that differ are put back for `address`, and the
 * result must equal the deployed code byte for byte.
 */
export async function checkDripFeedCode(provider: Provider, address: string, chainId: bigint): Promise<Check> {
  const name = "contract code";
  const deployed = (await provider.getCode(address)).toLowerCase();
  if (deployed === "0x") return { name, status: "fail", detail: `no code at ${address}` };
  let simulated: string;
  let simulatedAt: string;
  try {
    const nonce = await provider.getTransactionCount(SIMULATION_SENDER);
    simulatedAt = getCreateAddress({ from: SIMULATION_SENDER, nonce });
    simulated = (await provider.call({ from: SIMULATION_SENDER, data: DripFeed__factory.bytecode })).toLowerCase();
  } catch (error) {
    return {
      name,
      status: "fail",
      detail: `could not simulate DripFeed's deployment to compare (${(error as Error).message.split("\n")[0]})`,
    };
  }
  let expected = replaceWord(simulated.slice(2), zeroPadValue(simulatedAt, 32), zeroPadValue(address, 32));
  expected = replaceWord(expected, domainSeparator(chainId, simulatedAt), domainSeparator(chainId, address));
  if (`0x${expected}` !== deployed) {
    return {
      name,
      status: "fail",
      detail: `the code at ${address} (${(deployed.length - 2) / 2} bytes) is not this DripFeed build's (${(simulated.length - 2) / 2} bytes)`,
    };
  }
  return {
    name,
    status: "pass",
    detail: `${address} runs this repository's DripFeed (${(deployed.length - 2) / 2} bytes, byte for byte)`,
  };
}

/** Whether `eip712Domain()` (EIP-5267) names DripFeed version 1 on this chain at this address. */
export async function checkDripFeedDomain(provider: Provider, address: string, chainId: bigint): Promise<Check> {
  const name = "eip712Domain";
  try {
    const d = await DripFeed__factory.connect(address, provider).eip712Domain();
    const problems: string[] = [];
    if (d.name !== EIP712_NAME) problems.push(`name "${d.name}"`);
    if (d.version !== EIP712_VERSION) problems.push(`version "${d.version}"`);
    if (d.chainId !== chainId) problems.push(`chain id ${d.chainId}`);
    if (d.verifyingContract.toLowerCase() !== address.toLowerCase()) problems.push(`contract ${d.verifyingContract}`);
    if (problems.length > 0) return { name, status: "fail", detail: `unexpected ${problems.join(", ")}` };
    return {
      name,
      status: "pass",
      detail: `"${d.name}" version ${d.version}, chain ${d.chainId}, ${d.verifyingContract}`,
    };
  } catch (error) {
    return { name, status: "fail", detail: `eip712Domain() failed: ${(error as Error).message.split("\n")[0]}` };
  }
}
