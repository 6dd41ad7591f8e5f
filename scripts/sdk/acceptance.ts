import {
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
  TypedDataEncoder,
  getBytes,
  hexlify,
  isHexString,
  recoverAddress,
  Signature,
} from "ethers";

import { DripFeedError } from "./errors";
import { requireAddress, requireBytes32 } from "./ids";
import { parseJsonObject } from "./jsonText";

/** The EIP-712 type of an acceptance: the one place in TypeScript it is written (the contract has the other). */
export const ACCEPTANCE_TYPES: Record<string, TypedDataField[]> = {
  DebitNoteAcceptance: [
    { name: "poolId", type: "bytes32" },
    { name: "agreementId", type: "bytes32" },
    { name: "debitNoteId", type: "bytes32" },
    { name: "totalAccepted", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

/** The type string, for comparing with the contract's `ACCEPTANCE_TYPEHASH`. */
export const ACCEPTANCE_TYPE_STRING = TypedDataEncoder.from(ACCEPTANCE_TYPES).encodeType("DebitNoteAcceptance");

export const EIP712_NAME = "DripFeed";
export const EIP712_VERSION = "1";

const UINT256_MAX = (1n << 256n) - 1n;
/** Half the secp256k1 group order: the largest `s` OpenZeppelin ECDSA accepts (EIP-2 low-s rule). */
const SECP256K1_HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** The message signed (mirrors the Solidity struct). */
export interface DebitNoteAcceptance {
  poolId: string;
  agreementId: string;
  debitNoteId: string;
  totalAccepted: bigint;
  deadline: bigint;
}

/** Where an acceptance is valid: the chain and the DripFeed contract. */
export interface AcceptanceDomain {
  chainId: bigint;
  verifyingContract: string;
}

/** A signed acceptance as held in memory. */
export interface SignedAcceptance extends DebitNoteAcceptance, AcceptanceDomain {
  signer: string;
  signature: string;
}

/** The signed-acceptance JSON of the SPEC: what travels between acceptor, provider and relay. */
export interface SignedAcceptanceJson {
  chainId: number;
  verifyingContract: string;
  poolId: string;
  agreementId: string;
  debitNoteId: string;
  totalAccepted: string;
  deadline: number;
  signer: string;
  signature: string;
}

export function typedDataDomain(domain: AcceptanceDomain): TypedDataDomain {
  return {
    name: EIP712_NAME,
    version: EIP712_VERSION,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

/** The EIP-712 digest (equals the contract's `acceptanceDigest`). */
export function acceptanceDigest(domain: AcceptanceDomain, acceptance: DebitNoteAcceptance): string {
  return TypedDataEncoder.hash(typedDataDomain(domain), ACCEPTANCE_TYPES, acceptanceMessage(acceptance));
}

function acceptanceMessage(acceptance: DebitNoteAcceptance): Record<string, unknown> {
  return {
    poolId: acceptance.poolId,
    agreementId: acceptance.agreementId,
    debitNoteId: acceptance.debitNoteId,
    totalAccepted: acceptance.totalAccepted,
    deadline: acceptance.deadline,
  };
}

/** Signs an acceptance with `signTypedData` (works with any ethers Signer, offline wallets included). */
export async function signAcceptance(
  signer: Signer,
  domain: AcceptanceDomain,
  acceptance: DebitNoteAcceptance,
): Promise<SignedAcceptance> {
  const signature = await signer.signTypedData(
    typedDataDomain(domain),
    ACCEPTANCE_TYPES,
    acceptanceMessage(acceptance),
  );
  return { ...acceptance, ...domain, signer: await signer.getAddress(), signature };
}

/**
 * Whether 65 bytes r‖s‖v are a signature the contract's ECDSA (OpenZeppelin) would recover: v is 27 or 28 and s is
 * non-zero and in the lower half of the curve order. ethers would quietly accept v = 0/1 and normalise a high s, so
 * the SDK and the relay check the raw bytes with this first.
 */
export function isCanonicalEcdsaSignature(bytes: Uint8Array): boolean {
  if (bytes.length !== 65) return false;
  const v = bytes[64];
  if (v !== 27 && v !== 28) return false;
  const s = BigInt(hexlify(bytes.subarray(32, 64)));
  return s !== 0n && s <= SECP256K1_HALF_ORDER;
}

/**
 * The address an ECDSA acceptance signature recovers to, or undefined when the signature is not one the contract
 * would recover (see `isCanonicalEcdsaSignature`; contract wallets sign with ERC-1271 and are checked on-chain).
 */
export function recoverAcceptanceSigner(signed: SignedAcceptance): string | undefined {
  if (!isCanonicalEcdsaSignature(getBytes(signed.signature))) return undefined;
  try {
    return recoverAddress(acceptanceDigest(signed, signed), Signature.from(signed.signature));
  } catch {
    return undefined;
  }
}

/** The SPEC's JSON shape of a signed acceptance. */
export function toAcceptanceJson(signed: SignedAcceptance): SignedAcceptanceJson {
  return {
    chainId: Number(signed.chainId),
    verifyingContract: signed.verifyingContract,
    poolId: signed.poolId,
    agreementId: signed.agreementId,
    debitNoteId: signed.debitNoteId,
    totalAccepted: signed.totalAccepted.toString(),
    deadline: Number(signed.deadline),
    signer: signed.signer,
    signature: signed.signature,
  };
}

const JSON_FIELDS: readonly (keyof SignedAcceptanceJson)[] = [
  "chainId",
  "verifyingContract",
  "poolId",
  "agreementId",
  "debitNoteId",
  "totalAccepted",
  "deadline",
  "signer",
  "signature",
];

/**
 * Parses and validates a signed-acceptance JSON value (already `JSON.parse`d, or a string). Every problem is a
 * DripFeedError("INVALID_FIELD" | "INVALID_JSON") naming the field; nothing is checked against the chain here.
 */
export function parseAcceptanceJson(input: unknown): SignedAcceptance {
  const obj = parseJsonObject(input, "a signed acceptance");
  for (const field of JSON_FIELDS) {
    if (!(field in obj)) throw new DripFeedError("INVALID_FIELD", `missing field ${field}`, field);
  }
  const unknown = Object.keys(obj).filter((key) => !(JSON_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new DripFeedError("INVALID_FIELD", `unknown field ${unknown[0]}`, unknown[0]);
  }
  return {
    chainId: BigInt(requireSafeInteger(obj.chainId, "chainId", 1)),
    verifyingContract: requireAddress(obj.verifyingContract, "verifyingContract"),
    poolId: requireBytes32(obj.poolId, "poolId"),
    agreementId: requireBytes32(obj.agreementId, "agreementId"),
    debitNoteId: requireBytes32(obj.debitNoteId, "debitNoteId"),
    totalAccepted: requireUint256String(obj.totalAccepted, "totalAccepted"),
    deadline: BigInt(requireSafeInteger(obj.deadline, "deadline", 0)),
    signer: requireAddress(obj.signer, "signer"),
    signature: requireSignatureHex(obj.signature, "signature"),
  };
}

function requireSafeInteger(value: unknown, field: string, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new DripFeedError("INVALID_FIELD", `${field} must be an integer number >= ${min}`, field);
  }
  return value;
}

function requireUint256String(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(value)) {
    throw new DripFeedError(
      "INVALID_FIELD",
      `${field} must be a decimal string of token base units (no sign, no decimals, no leading zeros)`,
      field,
    );
  }
  const parsed = BigInt(value);
  if (parsed > UINT256_MAX) throw new DripFeedError("INVALID_FIELD", `${field} does not fit uint256`, field);
  return parsed;
}

function requireSignatureHex(value: unknown, field: string): string {
  // ERC-1271 wallets may use other lengths; 2 KiB is far above any real wallet signature and bounds relay input.
  if (typeof value !== "string" || !isHexString(value) || value.length < 4 || value.length > 2 + 4096) {
    throw new DripFeedError("INVALID_FIELD", `${field} must be 0x-prefixed hex of 1 to 2048 bytes`, field);
  }
  return value.toLowerCase();
}
