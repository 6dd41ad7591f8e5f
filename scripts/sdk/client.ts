import {
  type ContractRunner,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Provider,
  type Signer,
  ZeroAddress,
} from "ethers";

import type { DripFeed } from "../../typechain-types/contracts/DripFeed";
import { DripFeed__factory } from "../../typechain-types/factories/contracts/DripFeed__factory";
import { IERC20__factory } from "../../typechain-types/factories/@openzeppelin/contracts/token/ERC20/IERC20__factory";
import type { TypedContractEvent, TypedDeferredTopicFilter, TypedEventLog } from "../../typechain-types/common";
import type { AcceptanceDomain, SignedAcceptance } from "./acceptance";
import { formatAmount } from "./amounts";
import { DripFeedError } from "./errors";
import { agreementIdToBytes32, parseBytes32, poolIdOf, requireAddress, saltToBytes32 } from "./ids";
import { signPermit } from "./permit";
import { AGREEMENT_STATUSES, type AgreementState, claimableAt } from "./payout";
import { errorNameOf, toDripFeedError } from "./revert";
import { OPEN, type Terms, validateTerms } from "./terms";
import { readTokenInfo, type TokenInfo } from "./token";

/** A pool as read from chain, with its free balance. */
export interface PoolView {
  poolId: string;
  owner: string;
  token: string;
  balance: bigint;
  locked: bigint;
  free: bigint;
}

/** An agreement as read from chain, with its keys. */
export interface AgreementView extends AgreementState {
  poolId: string;
  agreementId: string;
}

/** A grantee's rights (`grantOf`). */
export interface GrantView {
  permissions: number;
  validUntil: bigint;
  openAllowanceNow: bigint;
}

export interface GrantParams {
  permissions: number;
  validUntil: bigint;
  openAllowance?: bigint;
  openRefillRate?: bigint;
}

/** What one item of `settleBatch` did: `paid` on success, or the custom error name it failed with. */
export interface BatchItemResult {
  index: number;
  agreementId: string;
  debitNoteId: string;
  paid: bigint;
  failure?: string;
}

export interface TxResult {
  hash: string;
  receipt: ContractTransactionReceipt;
}

/** What happens to a transaction after it is sent, for progress lines on slow chains. */
export interface TxProgress {
  stage: "sent" | "waiting" | "confirmed";
  action: string;
  hash: string;
  /** Milliseconds since it was sent. */
  elapsedMs: number;
}

export interface ConnectOptions {
  /** First block to search for events (the deployment block); default: found from the chain. */
  fromBlock?: number;
  /** Called when a transaction is sent, every `progressEveryMs` while it waits, and when it is mined. */
  onProgress?: (progress: TxProgress) => void;
  /** How often to report a transaction still waiting for its confirmation (default 10 s). */
  progressEveryMs?: number;
  /** Most blocks per `eth_getLogs` request (halved when a node refuses a range); default 10,000. */
  logRange?: number;
}

/** What `terminateAndCollect` did. */
export interface TerminateResult extends TxResult {
  /** Paid to the provider in the same transaction (settle or claim), base units. */
  paid: bigint;
  settled: boolean;
  claimed: boolean;
  terminatedAt: bigint;
  /** The claim window's end, or undefined when `release` may run at once (the provider terminated). */
  claimWindowEnd?: bigint;
  /** What the payout rule still allows after termination (paid by a later claim, settle or `release`). */
  claimableAfter: bigint;
  /** Who terminated. */
  by: "provider" | "other";
}

function isSigner(runner: Signer | Provider): runner is Signer {
  return typeof (runner as Signer).getAddress === "function";
}

/**
 * A typed client for one deployed DripFeed, usable without Hardhat: reads with any provider, writes with a signer.
 * Every write is simulated first (`staticCall`), so a call that would revert fails with a decoded DripFeedError and
 * nothing is sent; the common mistakes (unknown pool, too little balance or allowance, bad terms) are caught
 * before that with messages in token units.
 */
export class DripFeedClient {
  private readonly tokens = new Map<string, TokenInfo>();
  private firstBlockFound?: Promise<number>;

  private constructor(
    readonly contract: DripFeed,
    readonly address: string,
    readonly chainId: bigint,
    readonly provider: Provider,
    readonly signer: Signer | undefined,
    private readonly options: ConnectOptions,
  ) {}

  /** Connects to DripFeed at `address`, checking there is code there. */
  static async connect(
    address: string,
    runner: Signer | Provider,
    options: ConnectOptions = {},
  ): Promise<DripFeedClient> {
    const checked = requireAddress(address, "DripFeed address");
    const signer = isSigner(runner) ? runner : undefined;
    const provider = signer ? signer.provider : (runner as Provider);
    if (!provider) throw new DripFeedError("INVALID_ARGUMENT", "the signer is not connected to a provider");
    let chainId: bigint;
    let code: string;
    try {
      [chainId, code] = await Promise.all([provider.getNetwork().then((n) => n.chainId), provider.getCode(checked)]);
    } catch (error) {
      throw toDripFeedError(error, "connecting to the chain");
    }
    if (code === "0x") {
      throw new DripFeedError("NOT_DEPLOYED", `no DripFeed contract at ${checked} on chain ${chainId}`);
    }
    const contract = DripFeed__factory.connect(checked, runner as ContractRunner);
    return new DripFeedClient(contract, checked, chainId, provider, signer, options);
  }

  /** The same client acting as another signer. */
  withSigner(signer: Signer): DripFeedClient {
    return new DripFeedClient(
      this.contract.connect(signer),
      this.address,
      this.chainId,
      this.provider,
      signer,
      this.options,
    );
  }

  /** The EIP-712 domain acceptances for this contract are signed under. */
  get domain(): AcceptanceDomain {
    return { chainId: this.chainId, verifyingContract: this.address };
  }

  // ---------------------------------------------------------------- reads

  /** The latest block's timestamp: the contract's `now` (differs from the wall clock on test chains). */
  async now(): Promise<bigint> {
    const block = await this.read("reading the latest block", () => this.provider.getBlock("latest"));
    return BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000));
  }

  async token(address: string): Promise<TokenInfo> {
    const key = address.toLowerCase();
    let info = this.tokens.get(key);
    if (!info) {
      info = await readTokenInfo(address, this.provider);
      this.tokens.set(key, info);
    }
    return info;
  }

  /** How much of a token DripFeed itself holds (what backs every pool of that token). */
  async tokenBalance(tokenAddress: string): Promise<bigint> {
    const erc20 = IERC20__factory.connect(requireAddress(tokenAddress, "token"), this.provider);
    return this.read(`reading DripFeed's ${tokenAddress} balance`, () => erc20.balanceOf(this.address));
  }

  /** The pool, or UNKNOWN_POOL. */
  async getPool(poolId: string): Promise<PoolView> {
    const id = parseBytes32(poolId, "pool id");
    const pool = await this.read(`reading pool ${id}`, () => this.contract.getPool(id));
    if (pool.owner === ZeroAddress) {
      throw new DripFeedError("UNKNOWN_POOL", `pool ${id} does not exist on chain ${this.chainId}`, "poolId");
    }
    return {
      poolId: id,
      owner: pool.owner,
      token: pool.token,
      balance: pool.balance,
      locked: pool.locked,
      free: pool.balance - pool.locked,
    };
  }

  /** The agreement, or UNKNOWN_AGREEMENT (the pool is checked first). */
  async getAgreement(poolId: string, agreementId: string): Promise<AgreementView> {
    const pool = await this.getPool(poolId);
    const id = agreementIdToBytes32(agreementId);
    const a = await this.read(`reading agreement ${id}`, () => this.contract.getAgreement(pool.poolId, id));
    const status = AGREEMENT_STATUSES[Number(a.status)];
    if (status === "None") {
      throw new DripFeedError(
        "UNKNOWN_AGREEMENT",
        `agreement ${id.slice(2)} does not exist in pool ${pool.poolId}`,
        "agreementId",
      );
    }
    return {
      poolId: pool.poolId,
      agreementId: id,
      provider: a.provider,
      status,
      startedAt: a.startedAt,
      terminatedAt: a.terminatedAt,
      terms: {
        budget: a.terms.budget,
        upfront: a.terms.upfront,
        maxRate: a.terms.maxRate,
        streamRate: a.terms.streamRate,
        debitNoteInterval: Number(a.terms.debitNoteInterval),
        paymentTimeout: Number(a.terms.paymentTimeout),
      },
      paid: a.paid,
      acceptedTotal: a.acceptedTotal,
    };
  }

  async claimable(poolId: string, agreementId: string): Promise<bigint> {
    const a = await this.getAgreement(poolId, agreementId);
    return this.read("reading claimable", () => this.contract.claimable(a.poolId, a.agreementId));
  }

  async grantOf(poolId: string, grantee: string): Promise<GrantView> {
    const id = parseBytes32(poolId, "pool id");
    const g = await this.read("reading grant", () => this.contract.grantOf(id, requireAddress(grantee, "grantee")));
    return { permissions: Number(g.permissions), validUntil: g.validUntil, openAllowanceNow: g.openAllowanceNow };
  }

  /**
   * Until when `grantee`'s acceptances settle on the pool (protocol 1.1: a revoked or shortened ACCEPT keeps a
   * notice); 0 when it cannot sign. The pool owner's signature is not governed by this.
   */
  async acceptValidUntil(poolId: string, grantee: string): Promise<bigint> {
    const id = parseBytes32(poolId, "pool id");
    return this.read("reading acceptValidUntil", () =>
      this.contract.acceptValidUntil(id, requireAddress(grantee, "grantee")),
    );
  }

  /** The ids of every agreement ever opened in the pool (from `AgreementOpened` events), oldest first. */
  async listAgreements(poolId: string): Promise<string[]> {
    const id = parseBytes32(poolId, "pool id");
    const events = await this.queryEvents(this.contract.filters.AgreementOpened(id));
    return events.map((event) => event.args.agreementId);
  }

  /**
   * This contract's events matching `filter` between two blocks (default: from the deployment block to the latest),
   * oldest first, asked for in ranges a public RPC accepts (halved when a node refuses a range).
   */
  async queryEvents<TCEvent extends TypedContractEvent>(
    filter: TypedDeferredTopicFilter<TCEvent>,
    fromBlock?: number,
    toBlock?: number,
  ): Promise<TypedEventLog<TCEvent>[]> {
    const from = fromBlock ?? (await this.firstBlock());
    const to = toBlock ?? (await this.read("reading the block number", () => this.provider.getBlockNumber()));
    const found: TypedEventLog<TCEvent>[] = [];
    let span = this.options.logRange ?? 10_000;
    let start = from;
    while (start <= to) {
      const end = Math.min(to, start + span - 1);
      try {
        found.push(...(await this.contract.queryFilter(filter, start, end)));
        start = end + 1;
      } catch (error) {
        if (span <= 500) throw toDripFeedError(error, `reading events of blocks ${start}..${end}`);
        span = Math.floor(span / 2);
      }
    }
    return found;
  }

  /**
   * The first block that can hold this contract's events: the one given when connecting, else the block its code
   * appeared in (a binary search over `eth_getCode`; 0 when the node keeps no old state).
   */
  async firstBlock(): Promise<number> {
    if (this.options.fromBlock !== undefined) return this.options.fromBlock;
    this.firstBlockFound ??= (async () => {
      try {
        let low = 0;
        let high = await this.provider.getBlockNumber();
        while (low < high) {
          const mid = Math.floor((low + high) / 2);
          if ((await this.provider.getCode(this.address, mid)) === "0x") low = mid + 1;
          else high = mid;
        }
        return low;
      } catch {
        return 0;
      }
    })();
    return this.firstBlockFound;
  }

  /** The pool id the signer (or `owner`) gets for `salt`. */
  async poolIdFor(salt: string, owner?: string): Promise<string> {
    return poolIdOf(owner ?? (await this.requireSigner().getAddress()), salt);
  }

  // ---------------------------------------------------------------- pools

  /** Creates a pool for `token`; `salt` is text (<= 32 bytes) or 0x-prefixed 32-byte hex. */
  async createPool(token: string, salt: string): Promise<TxResult & { poolId: string }> {
    const tokenAddress = requireAddress(token, "token");
    const bytes = saltToBytes32(salt);
    await this.token(tokenAddress);
    const poolId = await this.poolIdFor(salt);
    const result = await this.execute(
      `create pool ${poolId}`,
      () => this.contract.createPool.staticCall(tokenAddress, bytes),
      () => this.contract.createPool(tokenAddress, bytes),
    );
    return { ...result, poolId };
  }

  /** Approves DripFeed to pull `amount` of the pool's token from the signer. */
  async approve(tokenAddress: string, amount: bigint): Promise<TxResult> {
    const token = IERC20__factory.connect(tokenAddress, this.requireSigner());
    return this.execute(
      `approve ${this.address} on token ${tokenAddress}`,
      () => token.approve.staticCall(this.address, amount),
      () => token.approve(this.address, amount),
    );
  }

  /** Funds a pool from the signer, with an EIP-2612 permit (`permit: true`) or an existing allowance. */
  async fund(
    poolId: string,
    amount: bigint,
    options: { permit?: boolean; permitDeadline?: bigint } = {},
  ): Promise<TxResult> {
    const pool = await this.getPool(poolId);
    const signer = this.requireSigner();
    const from = await signer.getAddress();
    const token = await this.token(pool.token);
    if (amount <= 0n) throw new DripFeedError("INVALID_ARGUMENT", "amount must be greater than zero", "amount");
    const erc20 = IERC20__factory.connect(pool.token, this.provider);
    const [balance, allowance] = await this.read("reading token balance", () =>
      Promise.all([erc20.balanceOf(from), erc20.allowance(from, this.address)]),
    );
    if (balance < amount) {
      throw new DripFeedError(
        "INSUFFICIENT_BALANCE",
        `${from} holds ${formatAmount(balance, token)}, less than the ${formatAmount(amount, token)} to fund`,
        "amount",
      );
    }
    const action = `fund pool ${pool.poolId} with ${formatAmount(amount, token)}`;
    if (options.permit) {
      const deadline = options.permitDeadline ?? (await this.now()) + 3600n;
      const p = await signPermit(signer, pool.token, this.address, amount, deadline);
      return this.execute(
        action,
        () => this.contract.fundWithPermit.staticCall(pool.poolId, amount, p.deadline, p.v, p.r, p.s),
        () => this.contract.fundWithPermit(pool.poolId, amount, p.deadline, p.v, p.r, p.s),
      );
    }
    if (allowance < amount) {
      throw new DripFeedError(
        "INSUFFICIENT_ALLOWANCE",
        `${from} allows DripFeed ${formatAmount(allowance, token)} of ${token.symbol}, less than ${formatAmount(amount, token)}: approve first or fund with a permit`,
        "amount",
      );
    }
    return this.execute(
      action,
      () => this.contract.fund.staticCall(pool.poolId, amount),
      () => this.contract.fund(pool.poolId, amount),
    );
  }

  /** Withdraws free balance to `to` (default: the signer). Owner only. */
  async withdraw(poolId: string, amount: bigint, to?: string): Promise<TxResult> {
    const pool = await this.getPool(poolId);
    const from = await this.requireSigner().getAddress();
    const token = await this.token(pool.token);
    const recipient = to ? requireAddress(to, "to") : from;
    if (pool.owner !== from) {
      throw new DripFeedError(
        "NOT_AUTHORIZED",
        `${from} is not the owner of pool ${pool.poolId} (the owner is ${pool.owner})`,
      );
    }
    if (amount <= 0n && pool.free === 0n) {
      throw new DripFeedError(
        "INSUFFICIENT_BALANCE",
        `pool ${pool.poolId} has nothing free to withdraw (balance ${formatAmount(pool.balance, token)}, all of it locked in agreements; released agreements return their unpaid budget)`,
        "amount",
      );
    }
    if (amount <= 0n) throw new DripFeedError("INVALID_ARGUMENT", "amount must be greater than zero", "amount");
    if (amount > pool.free) {
      throw new DripFeedError(
        "INSUFFICIENT_BALANCE",
        `pool ${pool.poolId} has ${formatAmount(pool.free, token)} free (${formatAmount(pool.locked, token)} locked), less than ${formatAmount(amount, token)}`,
        "amount",
      );
    }
    return this.execute(
      `withdraw ${formatAmount(amount, token)} from pool ${pool.poolId}`,
      () => this.contract.withdraw.staticCall(pool.poolId, amount, recipient),
      () => this.contract.withdraw(pool.poolId, amount, recipient),
    );
  }

  // ---------------------------------------------------------------- grants

  /** Sets (or with permissions 0 revokes) a grant. Owner only. */
  async setGrant(poolId: string, grantee: string, grant: GrantParams): Promise<TxResult> {
    const pool = await this.requireOwnedPool(poolId);
    const who = requireAddress(grantee, "grantee");
    const allowance = grant.openAllowance ?? 0n;
    const refill = grant.openRefillRate ?? 0n;
    return this.execute(
      `set the grant of ${who} on pool ${pool.poolId}`,
      () => this.contract.setGrant.staticCall(pool.poolId, who, grant.permissions, grant.validUntil, allowance, refill),
      () => this.contract.setGrant(pool.poolId, who, grant.permissions, grant.validUntil, allowance, refill),
    );
  }

  // ---------------------------------------------------------------- agreements

  /** Opens an agreement and locks its budget. Owner or OPEN grantee. */
  async openAgreement(poolId: string, agreementId: string, provider: string, terms: Terms): Promise<TxResult> {
    const pool = await this.getPool(poolId);
    const id = agreementIdToBytes32(agreementId);
    const payee = requireAddress(provider, "provider");
    validateTerms(terms, payee, pool.owner);
    const token = await this.token(pool.token);
    const from = await this.requireSigner().getAddress();
    if (from !== pool.owner) {
      const grant = await this.grantOf(pool.poolId, from);
      if ((grant.permissions & OPEN) === 0 || grant.validUntil < (await this.now())) {
        throw new DripFeedError(
          "NOT_AUTHORIZED",
          `${from} is neither the owner of pool ${pool.poolId} nor holds a valid OPEN grant`,
        );
      }
    }
    const existing = await this.read("reading agreement", () => this.contract.getAgreement(pool.poolId, id));
    if (Number(existing.status) !== 0) {
      throw new DripFeedError(
        "AGREEMENT_EXISTS",
        `agreement ${id.slice(2)} already exists in pool ${pool.poolId}`,
        "agreementId",
      );
    }
    if (terms.budget > pool.free) {
      throw new DripFeedError(
        "INSUFFICIENT_BALANCE",
        `pool ${pool.poolId} has ${formatAmount(pool.free, token)} free, less than the budget of ${formatAmount(terms.budget, token)}`,
        "budget",
      );
    }
    const struct = { ...terms };
    return this.execute(
      `open agreement ${id.slice(2)}`,
      () => this.contract.openAgreement.staticCall(pool.poolId, id, payee, struct),
      () => this.contract.openAgreement(pool.poolId, id, payee, struct),
    );
  }

  /** Locks `amount` more of the pool's free balance for an Active agreement. Owner or OPEN grantee. */
  async increaseBudget(poolId: string, agreementId: string, amount: bigint): Promise<TxResult> {
    const a = await this.getAgreement(poolId, agreementId);
    const pool = await this.getPool(a.poolId);
    const token = await this.token(pool.token);
    if (amount <= 0n) throw new DripFeedError("INVALID_ARGUMENT", "amount must be greater than zero", "amount");
    if (a.status !== "Active") {
      throw new DripFeedError(
        "AGREEMENT_NOT_ACTIVE",
        `agreement ${a.agreementId.slice(2)} is ${a.status}: only an Active agreement's budget can grow`,
      );
    }
    if (amount > pool.free) {
      throw new DripFeedError(
        "INSUFFICIENT_BALANCE",
        `pool ${pool.poolId} has ${formatAmount(pool.free, token)} free, less than ${formatAmount(amount, token)}: fund it first`,
        "amount",
      );
    }
    return this.execute(
      `increase the budget of agreement ${a.agreementId.slice(2)}`,
      () => this.contract.increaseBudget.staticCall(a.poolId, a.agreementId, amount),
      () => this.contract.increaseBudget(a.poolId, a.agreementId, amount),
    );
  }

  async terminate(poolId: string, agreementId: string): Promise<TxResult> {
    const a = await this.getAgreement(poolId, agreementId);
    return this.execute(
      `terminate agreement ${a.agreementId.slice(2)}`,
      () => this.contract.terminate.staticCall(a.poolId, a.agreementId),
      () => this.contract.terminate(a.poolId, a.agreementId),
    );
  }

  /**
   * Once the claim window has passed (at once when the provider terminated): pays the provider what the payout rule
   * still allows (`paidToProvider`, event `Claimed`), then returns the rest of the budget to the pool's free balance
   * (`refunded`).
   */
  async release(
    poolId: string,
    agreementId: string,
  ): Promise<TxResult & { refunded: bigint; paidToProvider: bigint; provider: string }> {
    const a = await this.getAgreement(poolId, agreementId);
    const result = await this.execute(
      `release agreement ${a.agreementId.slice(2)}`,
      () => this.contract.release.staticCall(a.poolId, a.agreementId),
      () => this.contract.release(a.poolId, a.agreementId),
    );
    const released = this.events(result.receipt, "AgreementReleased")[0];
    const claimed = this.events(result.receipt, "Claimed")[0];
    return {
      ...result,
      provider: a.provider,
      refunded: released ? (released.args[2] as bigint) : 0n,
      paidToProvider: claimed ? (claimed.args[2] as bigint) : 0n,
    };
  }

  /**
   * Terminates an Active agreement after collecting what is owed, in one transaction: the given acceptance is settled
   * first (which pays everything claimable), or, when the provider terminates without one, what is claimable is
   * claimed; then `terminate`. Several calls go through the contract's `multicall` (never settle and claim together:
   * after a settle nothing is left to claim and the claim would revert NothingToSettle). A provider that terminates
   * lets `release` run at once, so it must collect first; an owner or grantee leaves the provider the claim window.
   */
  async terminateAndCollect(
    poolId: string,
    agreementId: string,
    acceptance?: SignedAcceptance,
  ): Promise<TerminateResult> {
    const a = await this.getAgreement(poolId, agreementId);
    const from = await this.requireSigner().getAddress();
    if (a.status !== "Active") {
      throw new DripFeedError(
        "AGREEMENT_NOT_ACTIVE",
        `agreement ${a.agreementId.slice(2)} is already ${a.status}; nothing to terminate`,
      );
    }
    const byProvider = from.toLowerCase() === a.provider.toLowerCase();
    const iface = this.contract.interface;
    const calls: string[] = [];
    let settled = false;
    let claimed = false;
    if (acceptance) {
      this.requireDomain(acceptance);
      if (acceptance.poolId !== a.poolId || acceptance.agreementId !== a.agreementId) {
        throw new DripFeedError(
          "INVALID_ARGUMENT",
          `the acceptance is for agreement ${acceptance.agreementId.slice(2)} of pool ${acceptance.poolId}, not this one`,
          "acceptance",
        );
      }
      const wouldPay = claimableAt(
        { ...a, acceptedTotal: maxBig(a.acceptedTotal, acceptance.totalAccepted) },
        await this.now(),
      );
      if (acceptance.totalAccepted > a.acceptedTotal || wouldPay > 0n) {
        calls.push(
          iface.encodeFunctionData("settle", [toMessage(acceptance), acceptance.signer, acceptance.signature]),
        );
        settled = true;
      }
    }
    // Claimable only grows while the agreement is Active, so a claim worth something now still is when mined.
    if (!settled && byProvider && (await this.claimable(a.poolId, a.agreementId)) > 0n) {
      calls.push(iface.encodeFunctionData("claim", [a.poolId, a.agreementId]));
      claimed = true;
    }
    calls.push(iface.encodeFunctionData("terminate", [a.poolId, a.agreementId]));
    const action = `${settled ? "settle, then " : claimed ? "claim, then " : ""}terminate agreement ${a.agreementId.slice(2)}`;
    const result =
      calls.length === 1
        ? await this.execute(
            action,
            () => this.contract.terminate.staticCall(a.poolId, a.agreementId),
            () => this.contract.terminate(a.poolId, a.agreementId),
          )
        : await this.execute(
            action,
            () => this.contract.multicall.staticCall(calls),
            () => this.contract.multicall(calls),
          );
    let paid = 0n;
    for (const event of this.events(result.receipt, "DebitNoteSettled", "Claimed")) {
      paid += (event.name === "Claimed" ? event.args[2] : event.args[4]) as bigint;
    }
    const after = await this.getAgreement(a.poolId, a.agreementId);
    return {
      ...result,
      paid,
      settled,
      claimed,
      terminatedAt: after.terminatedAt,
      claimWindowEnd: byProvider ? undefined : after.terminatedAt + BigInt(after.terms.paymentTimeout),
      claimableAfter: claimableAt(after, after.terminatedAt),
      by: byProvider ? "provider" : "other",
    };
  }

  /** Pays the provider what the payout rule allows from the recorded state. */
  async claim(poolId: string, agreementId: string): Promise<TxResult & { paid: bigint }> {
    const a = await this.getAgreement(poolId, agreementId);
    const result = await this.execute(
      `claim agreement ${a.agreementId.slice(2)}`,
      () => this.contract.claim.staticCall(a.poolId, a.agreementId),
      () => this.contract.claim(a.poolId, a.agreementId),
    );
    const event = this.events(result.receipt, "Claimed")[0];
    return { ...result, paid: event ? (event.args[2] as bigint) : 0n };
  }

  // ---------------------------------------------------------------- acceptances

  /** Submits one signed acceptance. The caller should `verifyAcceptance` first for a precise error. */
  async settle(signed: SignedAcceptance): Promise<TxResult & { paid: bigint }> {
    this.requireDomain(signed);
    const message = toMessage(signed);
    const result = await this.execute(
      `settle debit note ${signed.debitNoteId}`,
      () => this.contract.settle.staticCall(message, signed.signer, signed.signature),
      () => this.contract.settle(message, signed.signer, signed.signature),
    );
    const event = this.events(result.receipt, "DebitNoteSettled")[0];
    return { ...result, paid: event ? (event.args[4] as bigint) : 0n };
  }

  /** Submits many acceptances in one transaction; a failing item is reported, never fatal. */
  async settleBatch(items: readonly SignedAcceptance[]): Promise<TxResult & { items: BatchItemResult[] }> {
    if (items.length === 0) throw new DripFeedError("INVALID_ARGUMENT", "settleBatch needs at least one acceptance");
    items.forEach((item) => this.requireDomain(item));
    const batch = items.map((item) => ({
      acceptance: toMessage(item),
      signer: item.signer,
      signature: item.signature,
    }));
    const result = await this.execute(
      `settle a batch of ${items.length} acceptances`,
      () => this.contract.settleBatch.staticCall(batch),
      () => this.contract.settleBatch(batch),
    );
    // One event per item, in order: DebitNoteSettled on success, SettlementFailed otherwise.
    const outcomes = this.events(result.receipt, "DebitNoteSettled", "SettlementFailed");
    const results = items.map((item, index): BatchItemResult => {
      const event = outcomes[index];
      const base = { index, agreementId: item.agreementId, debitNoteId: item.debitNoteId };
      if (!event) return { ...base, paid: 0n, failure: "unknown" };
      if (event.name === "SettlementFailed")
        return { ...base, paid: 0n, failure: errorNameOf(event.args[3] as string) };
      return { ...base, paid: event.args[4] as bigint };
    });
    return { ...result, items: results };
  }

  // ---------------------------------------------------------------- internals

  private requireSigner(): Signer {
    if (!this.signer)
      throw new DripFeedError("INVALID_ARGUMENT", "this client has no signer (connect with a Signer to send)");
    return this.signer;
  }

  private requireDomain(signed: AcceptanceDomain): void {
    if (signed.chainId !== this.chainId) {
      throw new DripFeedError(
        "WRONG_CHAIN",
        `the acceptance is for chain ${signed.chainId}, this is chain ${this.chainId}`,
        "chainId",
      );
    }
    if (signed.verifyingContract.toLowerCase() !== this.address.toLowerCase()) {
      throw new DripFeedError(
        "WRONG_CONTRACT",
        `the acceptance is for DripFeed at ${signed.verifyingContract}, not ${this.address}`,
        "verifyingContract",
      );
    }
  }

  private async requireOwnedPool(poolId: string): Promise<PoolView> {
    const pool = await this.getPool(poolId);
    const from = await this.requireSigner().getAddress();
    if (pool.owner !== from) {
      throw new DripFeedError(
        "NOT_AUTHORIZED",
        `${from} is not the owner of pool ${pool.poolId} (the owner is ${pool.owner})`,
      );
    }
    return pool;
  }

  private async read<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw toDripFeedError(error, action);
    }
  }

  /**
   * Simulates (a failure there is worded "would revert": nothing was sent), then sends and waits for one
   * confirmation, reporting progress; any failure is a decoded DripFeedError.
   */
  private async execute(
    action: string,
    simulate: () => Promise<unknown>,
    send: () => Promise<ContractTransactionResponse>,
  ): Promise<TxResult> {
    this.requireSigner();
    try {
      await simulate();
    } catch (error) {
      throw toDripFeedError(error, action, { simulated: true });
    }
    const response = await this.read(action, send);
    const receipt = await this.read(action, () => this.confirm(action, response));
    if (!receipt) throw new DripFeedError("RPC_ERROR", `${action}: the transaction was dropped`);
    return { hash: receipt.hash, receipt };
  }

  /** Waits for one confirmation, telling `onProgress` it was sent and, every so often, that it still waits. */
  private async confirm(
    action: string,
    response: ContractTransactionResponse,
  ): Promise<ContractTransactionReceipt | null> {
    const report = this.options.onProgress;
    const sentAt = Date.now();
    const progress = (stage: TxProgress["stage"]): void =>
      report?.({ stage, action, hash: response.hash, elapsedMs: Date.now() - sentAt });
    progress("sent");
    const timer = report ? setInterval(() => progress("waiting"), this.options.progressEveryMs ?? 10_000) : undefined;
    try {
      const receipt = await response.wait();
      progress("confirmed");
      return receipt;
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /** This contract's events of the given names in a receipt, in log order. */
  private events(
    receipt: ContractTransactionReceipt,
    ...names: string[]
  ): { name: string; args: readonly unknown[] }[] {
    const found: { name: string; args: readonly unknown[] }[] = [];
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = this.contract.interface.parseLog(log);
      if (parsed && names.includes(parsed.name)) found.push({ name: parsed.name, args: parsed.args });
    }
    return found;
  }
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function toMessage(signed: SignedAcceptance): {
  poolId: string;
  agreementId: string;
  debitNoteId: string;
  totalAccepted: bigint;
  deadline: bigint;
} {
  return {
    poolId: signed.poolId,
    agreementId: signed.agreementId,
    debitNoteId: signed.debitNoteId,
    totalAccepted: signed.totalAccepted,
    deadline: signed.deadline,
  };
}
