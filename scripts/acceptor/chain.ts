import type { SigningAuthority } from "../sdk/acceptor";
import type { DripFeedClient } from "../sdk/client";
import { isDripFeedError } from "../sdk/errors";
import { agreementIdToBytes32 } from "../sdk/ids";
import type { AgreementState } from "../sdk/payout";
import type { TokenInfo } from "../sdk/token";
import { TtlCache } from "../service/chain";

/**
 * What the acceptor reads from the chain, cached briefly: an agreement changes only by its budget, status and
 * accepted total, and a stale read can at worst sign a total the chain already holds (the relay answers that it
 * needs nothing) or refuse a note a moment after a budget increase; the contract re-checks everything at
 * settlement.
 */

export interface PoolFacts {
  poolId: string;
  owner: string;
  token: TokenInfo;
}

const AGREEMENT_TTL_MS = 2_000;
const UNKNOWN_TTL_MS = 1_000;
const AUTHORITY_TTL_MS = 5_000;

export class AcceptorChain {
  private readonly agreements = new TtlCache<AgreementState | null>(10_000);
  private readonly authorities = new TtlCache<SigningAuthority>(16);

  constructor(
    readonly client: DripFeedClient,
    readonly pool: PoolFacts,
    /** Counts failed reads (metrics). */
    private readonly onRpcError: () => void,
  ) {}

  /** Reads the pool once (owner and token never change). */
  static async open(client: DripFeedClient, poolId: string, onRpcError: () => void): Promise<AcceptorChain> {
    const pool = await client.getPool(poolId);
    const token = await client.token(pool.token);
    return new AcceptorChain(client, { poolId: pool.poolId, owner: pool.owner, token }, onRpcError);
  }

  /** The pool's agreement for a Golem agreement id, or null when the pool has none by that id. */
  agreement(golemAgreementId: string): Promise<AgreementState | null> {
    const id = agreementIdToBytes32(golemAgreementId);
    return this.agreements.get(
      id,
      (a) => (a === null ? UNKNOWN_TTL_MS : AGREEMENT_TTL_MS),
      () =>
        this.read(async () => {
          try {
            return await this.client.getAgreement(this.pool.poolId, id);
          } catch (error) {
            if (isDripFeedError(error) && error.code === "UNKNOWN_AGREEMENT") return null;
            throw error;
          }
        }),
    );
  }

  /** Re-reads an agreement at the next use (after a settlement changed its accepted total). */
  forget(golemAgreementId: string): void {
    this.agreements.delete(agreementIdToBytes32(golemAgreementId));
  }

  /** Who may sign for the pool as the contract sees it now: the owner, and `acceptValidUntil` of `signer`. */
  authority(signer: string): Promise<SigningAuthority> {
    return this.authorities.get(
      signer.toLowerCase(),
      () => AUTHORITY_TTL_MS,
      () =>
        this.read(async () => ({
          owner: this.pool.owner,
          acceptValidUntil:
            signer.toLowerCase() === this.pool.owner.toLowerCase()
              ? 0n
              : await this.client.contract.acceptValidUntil(this.pool.poolId, signer),
        })),
    );
  }

  /** Chain time: the latest block's timestamp (test chains run ahead of the wall clock). */
  now(): Promise<bigint> {
    return this.read(() => this.client.now());
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.onRpcError();
      throw error;
    }
  }
}
