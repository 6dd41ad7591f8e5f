import { createHash } from "node:crypto";
import path from "node:path";

import { TypedDataEncoder, keccak256, recoverAddress, toUtf8Bytes } from "ethers";

import {
  ACCEPTANCE_TYPE_STRING,
  isCanonicalEcdsaSignature,
  type SignedAcceptance,
  parseAcceptanceJson,
  typedDataDomain,
} from "../sdk/acceptance";
import { DripFeedError } from "../sdk/errors";
import type { ChainReader } from "./chain";
import type { NewAcceptance, RelayStore, StoredAcceptance } from "./store";

/**
 * Off-chain verification of a signed acceptance before it is queued, in the order of cost: shape, domain,
 * deadline, signature (one local recovery), then cached chain facts (pool owner, grant, agreement), and last the
 * synchronous "does it raise what is known" check against the chain and the queue.
 */

/** Minimal view of the `secp256k1` package's native binding (an optional accelerator; ethers' JS is the fallback). */
interface NativeSecp256k1 {
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: false): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
}

function loadNative(): NativeSecp256k1 | undefined {
  if (process.env.DRIPFEED_RELAY_PURE_JS === "1") return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require("secp256k1/bindings") as NativeSecp256k1;
    return typeof binding.ecdsaRecover === "function" ? binding : undefined;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/**
 * The `keccak` package's native sponge: same optional-accelerator story as libsecp256k1. Used directly, one state
 * reused for every hash (the package's own API wraps each hash in a new stream object, which cost more than the
 * hashing itself).
 */
interface NativeKeccakState {
  initialize(rate: number, capacity: number): void;
  absorb(data: Buffer): void;
  absorbLastFewBits(bits: number): void;
  squeeze(length: number): Buffer;
}

function loadKeccak(): ((data: Buffer) => Buffer) | undefined {
  if (process.env.DRIPFEED_RELAY_PURE_JS === "1") return undefined;
  try {
    const dir = path.dirname(require.resolve("keccak/package.json"));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const load = require(require.resolve("node-gyp-build", { paths: [dir] })) as (
      dir: string,
    ) => new () => NativeKeccakState;
    const state = new (load(dir))();
    const hash = (data: Buffer): Buffer => {
      state.initialize(1088, 512); // keccak256: rate 1088 bits, capacity 512, suffix 0x01
      state.absorb(data);
      state.absorbLastFewBits(0x01);
      return state.squeeze(32);
    };
    for (const probe of [new Uint8Array(0), new Uint8Array(200).fill(7)]) {
      if (`0x${hash(Buffer.from(probe)).toString("hex")}` !== keccak256(probe)) return undefined;
    }
    return hash;
  } catch {
    return undefined;
  }
}

const nativeKeccak = loadKeccak();

/** keccak256 to bytes: native when available (several per request, the JS one dominates the profile). */
export function keccak(data: Uint8Array): Buffer {
  if (!nativeKeccak) return hexBytes(keccak256(data));
  return nativeKeccak(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

/** Which crypto implementations are in use (logged at start). */
export const SIGNATURE_BACKEND = `ecrecover: ${native ? "libsecp256k1 (native)" : "ethers (JavaScript)"}, keccak: ${
  nativeKeccak ? "native" : "JavaScript"
}`;

/**
 * Recovers the signer of a 65-byte r‖s‖v signature over `digest` the way OpenZeppelin's ECDSA does on-chain:
 * v must be 27 or 28 and s must be in the lower half, otherwise there is no signer (undefined). The address is
 * returned lower-case (no checksum: one keccak less per request).
 */
export function recoverEcdsa(digest: Buffer, signature: Buffer): string | undefined {
  if (!isCanonicalEcdsaSignature(signature)) return undefined;
  const v = signature[64];
  if (native) {
    let pub: Uint8Array;
    try {
      pub = native.ecdsaRecover(signature.subarray(0, 64), v - 27, digest, false);
    } catch {
      return undefined;
    }
    return `0x${keccak(pub.subarray(1)).subarray(12).toString("hex")}`;
  }
  try {
    return recoverAddress(digest, `0x${signature.toString("hex")}`).toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Signs a 32-byte digest with libsecp256k1 (RFC 6979 nonce, low s: the same signature ethers computes), or
 * undefined when the native library is not there (callers fall back to ethers).
 */
export function signDigestNative(
  digest: Buffer,
  privateKey: Buffer,
): { r: Buffer; s: Buffer; yParity: number } | undefined {
  if (!native) return undefined;
  const { signature, recid } = native.ecdsaSign(digest, privateKey);
  const bytes = Buffer.from(signature);
  return { r: bytes.subarray(0, 32), s: bytes.subarray(32, 64), yParity: recid };
}

/** EIP-712 hashing for one domain, with the domain separator and type hash computed once. */
export class AcceptanceHasher {
  /** typeHash ‖ poolId ‖ agreementId ‖ debitNoteId ‖ totalAccepted ‖ deadline, rewritten for each digest. */
  private readonly struct = Buffer.alloc(6 * 32);
  /** 0x19 0x01 ‖ domain separator ‖ struct hash, likewise. */
  private readonly message = Buffer.alloc(2 + 32 + 32);

  constructor(chainId: bigint, verifyingContract: string) {
    const separator = TypedDataEncoder.hashDomain(typedDataDomain({ chainId, verifyingContract }));
    this.message.set([0x19, 0x01]);
    this.message.write(separator.slice(2), 2, "hex");
    this.struct.write(keccak256(toUtf8Bytes(ACCEPTANCE_TYPE_STRING)).slice(2), 0, "hex");
  }

  /** The EIP-712 digest (equals `acceptanceDigest` of the SDK and of the contract); a new buffer each time. */
  digest(a: SignedAcceptance): Buffer {
    const struct = this.struct;
    writeBytes32(struct, 32, a.poolId);
    writeBytes32(struct, 64, a.agreementId);
    writeBytes32(struct, 96, a.debitNoteId);
    writeUint256(struct, 128, a.totalAccepted);
    writeUint256(struct, 160, a.deadline);
    keccak(struct).copy(this.message, 34);
    return Buffer.from(keccak(this.message));
  }
}

/** A 0x-prefixed 32-byte hex value (checked by the parser) into out[offset, offset + 32). */
function writeBytes32(out: Buffer, offset: number, hex: string): void {
  if (hex.length !== 66 || out.write(hex.slice(2), offset, 32, "hex") !== 32) {
    throw new DripFeedError("INVALID_FIELD", `not a 32-byte hex value: ${hex}`);
  }
}

/** A uint256 as a big-endian word into out[offset, offset + 32). */
function writeUint256(out: Buffer, offset: number, value: bigint): void {
  if (value < 0n || value >> 256n !== 0n) throw new DripFeedError("INVALID_FIELD", `not a uint256: ${value}`);
  const hex = value.toString(16);
  out.fill(0, offset, offset + 32);
  out.write(hex.length % 2 ? `0${hex}` : hex, offset + 32 - Math.ceil(hex.length / 2), "hex");
}

function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.slice(2), "hex");
}

/**
 * The relay's id of an acceptance: sha256(digest ‖ signer ‖ signature) as 0x-hex, so an exact resubmission gets the
 * same id. (Only this relay uses it; sha256 is native in node, keccak is not.)
 */
export function acceptanceId(digest: Buffer, signer: string, signature: Buffer): string {
  return `0x${createHash("sha256").update(digest).update(hexBytes(signer)).update(signature).digest("hex")}`;
}

export type VerifyResult =
  | { kind: "new"; item: NewAcceptance }
  | { kind: "duplicate"; existing: StoredAcceptance }
  /** A failed acceptance posted again that can still settle: queued again. */
  | { kind: "revived"; item: StoredAcceptance };

export class Verifier {
  private readonly hasher: AcceptanceHasher;

  constructor(
    private readonly chain: ChainReader,
    private readonly store: RelayStore,
    /** Told every signer's validity it checks (acceptValidUntil in unix seconds; Infinity for the pool's owner). */
    private readonly onAuthority: (poolId: string, signer: string, validUntil: number) => void = () => undefined,
  ) {
    this.hasher = new AcceptanceHasher(chain.chainId, chain.address);
  }

  /**
   * Verifies a request body and, when it is acceptable and new, queues it (resolving once it is on disk).
   * Throws DripFeedError: INVALID_JSON / INVALID_FIELD (malformed), WRONG_CHAIN, WRONG_CONTRACT, EXPIRED,
   * BAD_SIGNATURE, UNKNOWN_POOL, NOT_AUTHORIZED, UNKNOWN_AGREEMENT, AGREEMENT_RELEASED, STALE_TOTAL (unacceptable),
   * RPC_ERROR (could not check). An acceptance that failed before is checked again like a new one and, when it can
   * still settle (a grant given again, a relay that had no gas), queued again.
   */
  async verifyAndQueue(body: unknown): Promise<VerifyResult> {
    const signed = parseAcceptanceJson(body);

    // Domain: this relay's chain and contract only.
    if (signed.chainId !== this.chain.chainId) {
      throw new DripFeedError(
        "WRONG_CHAIN",
        `the acceptance is signed for chain ${signed.chainId}, this relay submits to chain ${this.chain.chainId}`,
        "chainId",
      );
    }
    if (signed.verifyingContract.toLowerCase() !== this.chain.address.toLowerCase()) {
      throw new DripFeedError(
        "WRONG_CONTRACT",
        `the acceptance is signed for DripFeed at ${signed.verifyingContract}, this relay submits to ${this.chain.address}`,
        "verifyingContract",
      );
    }

    const digest = this.hasher.digest(signed);
    const signature = hexBytes(signed.signature);
    const id = acceptanceId(digest, signed.signer, signature);
    let failed: StoredAcceptance | undefined;
    if (this.store.has(id)) {
      // An exact resubmission: answer only once the first copy is on disk, like the 202 it got.
      const existing = this.store.get(id) as StoredAcceptance;
      await this.store.committed(id);
      if (existing.status !== "failed") return { kind: "duplicate", existing };
      failed = existing;
    }

    const now = this.chain.now();
    if (signed.deadline < BigInt(now)) {
      throw new DripFeedError(
        "EXPIRED",
        `the acceptance's deadline ${signed.deadline} has passed (chain time ${now}); ask the acceptor to sign it again`,
        "deadline",
      );
    }

    // Signature: one local ECDSA recovery; contract wallets are asked on-chain (ERC-1271), as settle does.
    const recovered = recoverEcdsa(digest, signature);
    const contractSigner = recovered !== signed.signer.toLowerCase();
    if (contractSigner) {
      const isContract = await this.chain.hasCode(signed.signer);
      const digestHex = `0x${digest.toString("hex")}`;
      if (!isContract || !(await this.chain.isValidErc1271(signed.signer, digestHex, signed.signature))) {
        throw new DripFeedError(
          "BAD_SIGNATURE",
          isContract
            ? `contract wallet ${signed.signer} does not accept the signature (ERC-1271) for this acceptance`
            : `the signature does not recover to signer ${signed.signer} for this acceptance on chain ${this.chain.chainId} ` +
                `and DripFeed ${this.chain.address}` +
                (recovered ? ` (it recovers to ${recovered}; was a field changed after signing?)` : ""),
          "signature",
        );
      }
    }

    // Pool and authority: the owner (never expires), or a grantee whose acceptValidUntil has not passed (its ACCEPT
    // grant, or the notice left after one was revoked or shortened).
    const owner = await this.chain.poolOwner(signed.poolId);
    if (owner === null) {
      throw new DripFeedError(
        "UNKNOWN_POOL",
        `pool ${signed.poolId} does not exist on chain ${this.chain.chainId}`,
        "poolId",
      );
    }
    if (owner !== signed.signer) {
      const validUntil = await this.chain.acceptValidUntil(signed.poolId, signed.signer);
      this.onAuthority(signed.poolId, signed.signer, validUntil);
      if (validUntil === 0) {
        throw new DripFeedError(
          "NOT_AUTHORIZED",
          `${signed.signer} is neither the owner of pool ${signed.poolId} (${owner}) nor holds an ACCEPT grant on it`,
          "signer",
        );
      }
      if (validUntil < now) {
        throw new DripFeedError(
          "NOT_AUTHORIZED",
          `the ACCEPT of ${signed.signer} on pool ${signed.poolId} ended at ${validUntil} (acceptValidUntil; chain time ${now})`,
          "signer",
        );
      }
    } else {
      this.onAuthority(signed.poolId, signed.signer, Infinity);
    }

    // Agreement: exists, not released.
    const agreement = await this.chain.agreement(signed.poolId, signed.agreementId);
    if (agreement.status === "None") {
      throw new DripFeedError(
        "UNKNOWN_AGREEMENT",
        `agreement ${signed.agreementId} does not exist in pool ${signed.poolId}`,
        "agreementId",
      );
    }
    if (agreement.status === "Released") {
      throw new DripFeedError(
        "AGREEMENT_RELEASED",
        `agreement ${signed.agreementId} is released; nothing can be settled on it any more`,
        "agreementId",
      );
    }

    // The total must raise what is settled (on chain, or by this relay, which the cached read may not show yet).
    // A total below one still pending is kept: it goes on if the higher one fails. Checked synchronously.
    if (!failed && this.store.has(id)) {
      await this.store.committed(id);
      return { kind: "duplicate", existing: this.store.get(id) as StoredAcceptance };
    }
    const settled = this.store.settledTotal(signed.poolId, signed.agreementId);
    const highest = settled > agreement.acceptedTotal ? settled : agreement.acceptedTotal;
    if (signed.totalAccepted <= highest) {
      throw new DripFeedError(
        "STALE_TOTAL",
        `totalAccepted ${signed.totalAccepted} does not raise the total already settled for agreement ` +
          `${signed.agreementId} (${highest}: ${agreement.acceptedTotal} on-chain, ${settled} settled by this relay); ` +
          `totals are cumulative, submit the latest acceptance`,
        "totalAccepted",
      );
    }
    if (failed) {
      const revived = this.store.revive(id);
      if (revived) return { kind: "revived", item: revived };
      return { kind: "duplicate", existing: this.store.get(id) as StoredAcceptance };
    }
    const item: NewAcceptance = {
      id,
      poolId: signed.poolId,
      agreementId: signed.agreementId,
      debitNoteId: signed.debitNoteId,
      totalAccepted: signed.totalAccepted,
      deadline: Number(signed.deadline),
      signer: signed.signer,
      signature: signed.signature,
      contractSigner,
    };
    await this.store.enqueue(item, this.chain.nowMs());
    return { kind: "new", item };
  }
}
