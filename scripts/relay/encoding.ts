import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import type { StoredAcceptance } from "./store";
import { keccak, signDigestNative } from "./verifier";

/**
 * The bytes of a settleBatch transaction, built directly: calldata and the signed EIP-1559 envelope. Both are equal
 * byte for byte to what ethers produces (test/relay/verifier.test.ts), only much cheaper for ~30 KB of calldata.
 */

const iface = DripFeed__factory.createInterface();
const SETTLE_BATCH_SELECTOR = Buffer.from(iface.getFunction("settleBatch")!.selector.slice(2), "hex");

/** Writes a 0x-hex value right-aligned into the 32-byte word at `offset` (hex of at most 64 digits). */
function writeWord(out: Buffer, offset: number, hex: string): void {
  const digits = hex.length % 2 ? `0${hex.slice(2)}` : hex.slice(2);
  out.write(digits, offset + 32 - digits.length / 2, "hex");
}

/**
 * `settleBatch(SignedAcceptance[])` calldata, ABI-encoded directly into one buffer (ethers' generic coder spent
 * tens of milliseconds per 100-item batch). Layout: selector, offset of the array (0x20), its length, one offset
 * per item (from the start of the offsets), then per item the inline acceptance (5 words), the signer, the offset
 * of the signature within the item (7 words), its length and its bytes padded to a word. Equal byte for byte to
 * `iface.encodeFunctionData("settleBatch", ...)` (test/relay/verifier.test.ts checks it).
 */
export function encodeSettleBatch(
  items: readonly Pick<
    StoredAcceptance,
    "poolId" | "agreementId" | "debitNoteId" | "totalAccepted" | "deadline" | "signer" | "signature"
  >[],
): string {
  const signatures = items.map((item) => Buffer.from(item.signature.slice(2), "hex"));
  const sizes = signatures.map((sig) => 32 * 8 + Math.ceil(sig.length / 32) * 32);
  const total = 4 + 64 + 32 * items.length + sizes.reduce((a, b) => a + b, 0);
  const out = Buffer.alloc(total);
  SETTLE_BATCH_SELECTOR.copy(out, 0);
  out.writeUInt32BE(0x20, 4 + 28);
  out.writeUInt32BE(items.length, 4 + 32 + 28);
  const base = 4 + 64; // the offsets count from here
  let at = base + 32 * items.length;
  items.forEach((item, i) => {
    out.writeUInt32BE(at - base, base + 32 * i + 28);
    writeWord(out, at, item.poolId);
    writeWord(out, at + 32, item.agreementId);
    writeWord(out, at + 64, item.debitNoteId);
    writeWord(out, at + 96, `0x${item.totalAccepted.toString(16)}`);
    writeWord(out, at + 128, `0x${item.deadline.toString(16)}`);
    writeWord(out, at + 160, item.signer);
    out.writeUInt32BE(32 * 7, at + 192 + 28);
    out.writeUInt32BE(signatures[i].length, at + 224 + 28);
    signatures[i].copy(out, at + 256);
    at += sizes[i];
  });
  return `0x${out.toString("hex")}`;
}

/** RLP of a byte string. */
function rlpBytes(bytes: Buffer): Buffer {
  if (bytes.length === 1 && bytes[0] < 0x80) return bytes;
  return Buffer.concat([rlpLength(bytes.length, 0x80), bytes]);
}

function rlpLength(length: number, offset: number): Buffer {
  if (length < 56) return Buffer.from([offset + length]);
  const be = uintBytes(BigInt(length));
  return Buffer.concat([Buffer.from([offset + 55 + be.length]), be]);
}

function rlpList(items: Buffer[]): Buffer {
  const body = Buffer.concat(items);
  return Buffer.concat([rlpLength(body.length, 0xc0), body]);
}

/** An unsigned integer as minimal big-endian bytes (0: empty), as RLP wants it. */
function uintBytes(value: bigint): Buffer {
  if (value < 0n) throw new RangeError(`negative value ${value} in a transaction`);
  if (value === 0n) return Buffer.alloc(0);
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

function stripZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

export interface Eip1559Fields {
  chainId: bigint;
  nonce: number;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gasLimit: bigint;
  to: string;
  data: string;
}

/**
 * A signed EIP-1559 transaction (no value, empty access list) and its hash, built with Buffers and signed with
 * libsecp256k1: ethers' signTransaction converts the ~30 KB of calldata between hex and bytes several times in
 * JavaScript. Byte for byte what ethers' Wallet.signTransaction produces (test/relay/verifier.test.ts); undefined
 * when libsecp256k1 is not available.
 */
export function signEip1559(tx: Eip1559Fields, privateKey: string): { raw: string; hash: string } | undefined {
  const fields = [
    uintBytes(tx.chainId),
    uintBytes(BigInt(tx.nonce)),
    uintBytes(tx.maxPriorityFeePerGas),
    uintBytes(tx.maxFeePerGas),
    uintBytes(tx.gasLimit),
    Buffer.from(tx.to.slice(2), "hex"),
    uintBytes(0n),
    Buffer.from(tx.data.slice(2), "hex"),
  ].map(rlpBytes);
  const accessList = rlpList([]);
  const type = Buffer.from([0x02]);
  const unsignedHash = keccak(Buffer.concat([type, rlpList([...fields, accessList])]));
  const signature = signDigestNative(unsignedHash, Buffer.from(privateKey.slice(2), "hex"));
  if (!signature) return undefined;
  const signed = Buffer.concat([
    type,
    rlpList([
      ...fields,
      accessList,
      rlpBytes(uintBytes(BigInt(signature.yParity))),
      rlpBytes(stripZeros(signature.r)),
      rlpBytes(stripZeros(signature.s)),
    ]),
  ]);
  return { raw: `0x${signed.toString("hex")}`, hash: `0x${keccak(signed).toString("hex")}` };
}

/** `settle(acceptance, signer, signature)` calldata: one item alone, for a simulation that reverts with its reason. */
export function encodeSettle(
  item: Pick<
    StoredAcceptance,
    "poolId" | "agreementId" | "debitNoteId" | "totalAccepted" | "deadline" | "signer" | "signature"
  >,
): string {
  return iface.encodeFunctionData("settle", [
    {
      poolId: item.poolId,
      agreementId: item.agreementId,
      debitNoteId: item.debitNoteId,
      totalAccepted: item.totalAccepted,
      deadline: item.deadline,
    },
    item.signer,
    item.signature,
  ]);
}
