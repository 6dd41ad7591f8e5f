// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Agreement, DebitNoteAcceptance, Pool, SignedAcceptance, Terms} from "../types/DataTypes.sol";

/// @title IDripFeed
/// @notice Drip-feed escrow that keeps paying Golem providers while the requestor is offline.
/// A requestor funds a pool, opens one agreement per Golem agreement, and from then on every debit-note acceptance
/// is an EIP-712 signature that anyone may submit; an optional stream floor pays by the second with no acceptance.
/// @dev Binding interface of DripFeed protocol version 1.1 (see docs/PROTOCOL.md). Views never revert for unknown ids: they
/// return zero values (`owner == address(0)`, `Status.None`).
interface IDripFeed {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    // Event signatures and their indexed fields are binding in the SPEC (indexers rely on them): amounts stay
    // unindexed so that they can be read from the data.
    // solhint-disable gas-indexed-events

    /// @notice A pool was created by `owner` for `token`.
    event PoolCreated(bytes32 indexed poolId, address indexed owner, IERC20 indexed token, bytes32 salt);
    /// @notice `from` added `amount` to the pool's balance.
    event PoolFunded(bytes32 indexed poolId, address indexed from, uint256 amount);
    /// @notice The owner took `amount` of free balance out of the pool to `to`.
    event PoolWithdrawn(bytes32 indexed poolId, address indexed to, uint256 amount);
    /// @notice The owner set (or, with `permissions == 0`, revoked) a grantee's rights.
    event GrantSet(
        bytes32 indexed poolId,
        address indexed grantee,
        uint8 permissions,
        uint40 validUntil,
        uint128 openAllowance,
        uint128 openRefillRate
    );
    /// @notice An agreement was opened and its budget locked.
    event AgreementOpened(bytes32 indexed poolId, bytes32 indexed agreementId, address indexed provider, Terms terms);
    /// @notice An active agreement's budget grew by `amount`, locked from the pool's free balance.
    event BudgetIncreased(bytes32 indexed poolId, bytes32 indexed agreementId, uint128 amount);
    /// @notice An acceptance was settled: `totalAccepted` as signed, `paid` sent to the provider in this call.
    event DebitNoteSettled(
        bytes32 indexed poolId,
        bytes32 indexed agreementId,
        bytes32 indexed debitNoteId,
        uint256 totalAccepted,
        uint256 paid,
        address signer
    );
    /// @notice `paid` was sent to the provider from the recorded state (stream floor or capped acceptances).
    event Claimed(bytes32 indexed poolId, bytes32 indexed agreementId, uint256 paid);
    /// @notice The agreement was terminated by `by` (owner, TERMINATE grantee or provider).
    event AgreementTerminated(bytes32 indexed poolId, bytes32 indexed agreementId, address indexed by);
    /// @notice The agreement's unpaid budget, `refunded`, went back to the pool's free balance.
    event AgreementReleased(bytes32 indexed poolId, bytes32 indexed agreementId, uint256 refunded);
    /// @notice One item of `settleBatch` failed; `reason` is the selector of the error `settle` would revert with.
    event SettlementFailed(
        bytes32 indexed poolId,
        bytes32 indexed agreementId,
        bytes32 indexed debitNoteId,
        bytes4 reason
    );

    // solhint-enable gas-indexed-events

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice The caller already created a pool with this salt.
    error PoolExists(bytes32 poolId);
    /// @notice No pool has this id.
    error PoolNotFound(bytes32 poolId);
    /// @notice Only the pool's owner may do this.
    error NotPoolOwner(bytes32 poolId, address caller);
    /// @notice The caller is neither the owner nor holds a valid grant with `permission` (nor, to terminate, the
    /// provider).
    error NotAuthorized(bytes32 poolId, address caller, uint8 permission);
    /// @notice The grantee's OPEN allowance bucket holds `available`, less than `requested`.
    error AllowanceExceeded(uint256 available, uint256 requested);
    /// @notice The pool's free balance `free` is less than `requested`.
    error InsufficientFreeBalance(uint256 free, uint256 requested);
    /// @notice The token is not a contract, or did not deliver exactly the amount transferred (fee-on-transfer,
    /// rebasing), or the balance would not fit 128 bits.
    error UnsupportedToken(address token);
    /// @notice An amount of zero was given where it would do nothing.
    error ZeroAmount();
    /// @notice The zero address was given where an account is needed.
    error ZeroAddress();
    /// @notice The terms (or provider) break a validation rule; `reason` names it (see `TermsViolation` in
    /// DripFeed.sol: 1 budget, 2 upfront, 3 streamRate, 4 interval, 5 timeout, 6 provider, 7 budget overflow).
    error InvalidTerms(uint8 reason);
    /// @notice An agreement with this id already exists in the pool (ids are never reused, even after release).
    error AgreementExists(bytes32 poolId, bytes32 agreementId);
    /// @notice No agreement has this id in this pool.
    error AgreementNotFound();
    /// @notice The agreement is not in a state that allows this (e.g. terminated, or released).
    error AgreementNotActive();
    /// @notice The claim window is still open until `endsAt` (inclusive); `type(uint256).max` while the agreement is
    /// still active (its window starts only at termination).
    error ClaimWindowOpen(uint256 endsAt);
    /// @notice The acceptance's deadline has passed.
    error SignatureExpired();
    /// @notice The signature does not verify for the signer, or the signer is neither the pool's owner nor a holder
    /// of a valid ACCEPT grant.
    error InvalidSignature();
    /// @notice The call would neither raise the accepted total nor pay anything.
    error NothingToSettle();
    /// @notice `permissions` has bits outside ACCEPT | TERMINATE | OPEN.
    error InvalidPermissions(uint8 permissions);
    /// @notice `settleBatch` has too little gas left to give the next item's external call its `ITEM_CALL_GAS`; the
    /// whole batch reverts rather than failing an honest item for want of gas. Resend it with a higher gas limit.
    error InsufficientGasForItem();

    /*//////////////////////////////////////////////////////////////
                                 POOLS
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a pool owned by the caller, holding `token`.
    /// @dev The id is `poolIdOf(msg.sender, salt)`, so it can be computed before the transaction.
    /// Reverts `ZeroAddress` for a zero token, `UnsupportedToken` if the token has no code, `PoolExists` if the
    /// caller already used this salt.
    /// @param token The ERC-20 the pool holds (GLM or any plain ERC-20).
    /// @param salt Any value distinguishing the caller's pools.
    /// @return poolId The new pool's id.
    function createPool(IERC20 token, bytes32 salt) external returns (bytes32 poolId);

    /// @notice The id of the pool `owner` creates with `salt`: `keccak256(abi.encode(owner, salt))`.
    /// @param owner The pool creator.
    /// @param salt The salt passed to `createPool`.
    /// @return The pool id.
    function poolIdOf(address owner, bytes32 salt) external pure returns (bytes32);

    /// @notice Adds `amount` of the pool's token from the caller (anyone may top up any pool).
    /// @dev Pulls with `transferFrom`; reverts `UnsupportedToken` unless the contract's balance grows by exactly
    /// `amount`. Reverts `ZeroAmount`, `PoolNotFound`.
    /// @param poolId The pool to fund.
    /// @param amount Token base units.
    function fund(bytes32 poolId, uint256 amount) external;

    /// @notice Like `fund`, after an EIP-2612 `permit` from the caller to this contract.
    /// @dev A failing permit is ignored (it may have been front-run); the transfer then needs enough allowance.
    /// @param poolId The pool to fund.
    /// @param amount Token base units.
    /// @param deadline The permit's deadline.
    /// @param v The permit signature's v.
    /// @param r The permit signature's r.
    /// @param s The permit signature's s.
    function fundWithPermit(bytes32 poolId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Sends `amount` of the pool's free balance to `to`. Owner only.
    /// @dev Reverts `NotPoolOwner`, `ZeroAmount`, `ZeroAddress`, `InsufficientFreeBalance`.
    /// @param poolId The pool.
    /// @param amount Token base units, at most `balance - locked`.
    /// @param to Recipient.
    function withdraw(bytes32 poolId, uint256 amount, address to) external;

    /// @notice The pool's owner, token, balance and locked amount (zeros for an unknown id).
    /// @param poolId The pool.
    /// @return The pool.
    function getPool(bytes32 poolId) external view returns (Pool memory);

    /*//////////////////////////////////////////////////////////////
                                 GRANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Sets `grantee`'s rights over the pool, replacing any earlier grant and refilling its OPEN bucket.
    /// @dev Owner only. `permissions` is a mask of ACCEPT (1), TERMINATE (2), OPEN (4); 0 revokes. A grant counts
    /// while `block.timestamp <= validUntil`. TERMINATE and OPEN end at once; ACCEPT gives notice: when this call
    /// removes ACCEPT or moves it earlier while the grantee's ACCEPT still counts, `acceptValidUntil` becomes
    /// `max(new value, min(old value, block.timestamp + ACCEPT_NOTICE))` (new value: `validUntil` with ACCEPT, 0
    /// without), so the acceptances the grantee already signed keep settling for up to an hour. It never extends
    /// what the previous grant allowed. Reverts `PoolNotFound`, `NotPoolOwner`, `ZeroAddress`, `InvalidPermissions`.
    /// @param poolId The pool.
    /// @param grantee The delegate (a hot key that never holds funds).
    /// @param permissions Mask of ACCEPT | TERMINATE | OPEN.
    /// @param validUntil Last second (inclusive) the grant counts.
    /// @param openAllowance Size of the OPEN bucket: budget the grantee may lock at once.
    /// @param openRefillRate Bucket refill, base units per second x 1e18.
    function setGrant(
        bytes32 poolId,
        address grantee,
        uint8 permissions,
        uint40 validUntil,
        uint128 openAllowance,
        uint128 openRefillRate
    ) external;

    /// @notice A grantee's permissions, expiry and the OPEN allowance it could spend now.
    /// @param poolId The pool.
    /// @param grantee The delegate.
    /// @return permissions The stored mask (check `validUntil` for expiry).
    /// @return validUntil Last second the grant counts.
    /// @return openAllowanceNow `min(openAllowance, level + openRefillRate * (now - refilledAt) / 1e18)`.
    function grantOf(
        bytes32 poolId,
        address grantee
    ) external view returns (uint8 permissions, uint40 validUntil, uint256 openAllowanceNow);

    /// @notice The last second (inclusive) at which acceptances signed by `grantee` settle: the grant's `validUntil`
    /// while it holds ACCEPT, or the end of the notice that a revocation or shortening left running.
    /// @dev 0 when the grantee cannot sign. The pool owner's own signature is not governed by this value (it never
    /// expires), so tools check "signer == owner" first. Acceptances are judged when settled: re-granting ACCEPT
    /// revives what the key signed before.
    /// @param poolId The pool.
    /// @param grantee The delegate.
    /// @return Unix seconds; the grantee's acceptances settle while `block.timestamp <= acceptValidUntil`.
    function acceptValidUntil(bytes32 poolId, address grantee) external view returns (uint256);

    /// @notice Seconds an ACCEPT grantee's acceptances keep settling after the grant is revoked or shortened: 3600.
    /// @return The notice in seconds.
    // solhint-disable-next-line func-name-mixedcase
    function ACCEPT_NOTICE() external view returns (uint256);

    /// @notice Gas each `settleBatch` item's external calls (the token transfer, an ERC-1271 check) may use: 200 000.
    /// @return The gas cap per call.
    // solhint-disable-next-line func-name-mixedcase
    function ITEM_CALL_GAS() external view returns (uint256);

    /*//////////////////////////////////////////////////////////////
                               AGREEMENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens an agreement with `provider` and locks `terms.budget` from the pool's free balance.
    /// @dev Owner, or a valid OPEN grantee spending its bucket. Reverts `PoolNotFound`, `NotAuthorized`,
    /// `InvalidTerms`, `AgreementExists`, `InsufficientFreeBalance`, `AllowanceExceeded`.
    /// @param poolId The pool.
    /// @param agreementId The Golem agreement id (64 hex chars) as bytes32.
    /// @param provider The payee.
    /// @param terms Budget, upfront, rate cap, stream floor, debit-note interval, payment timeout.
    function openAgreement(bytes32 poolId, bytes32 agreementId, address provider, Terms calldata terms) external;

    /// @notice Locks `amount` more for an active agreement. Owner or OPEN grantee (spending its bucket).
    /// @dev Reverts `ZeroAmount`, `PoolNotFound`, `NotAuthorized`, `AgreementNotFound`, `AgreementNotActive`,
    /// `InsufficientFreeBalance`, `AllowanceExceeded`, `InvalidTerms` if the budget would exceed 128 bits.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    /// @param amount Token base units to add to the budget.
    function increaseBudget(bytes32 poolId, bytes32 agreementId, uint128 amount) external;

    /// @notice Stops the agreement's clock; the provider keeps `paymentTimeout` seconds to settle and claim.
    /// @dev Owner, TERMINATE grantee or the provider; Active only. If the provider terminates, `release` may run at
    /// once: it still pays the provider everything the payout rule made payable, but acceptances the provider holds
    /// and has not settled count only if settled first (`multicall([settle, terminate])`).
    /// Reverts `AgreementNotFound`, `AgreementNotActive`, `NotAuthorized`.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    function terminate(bytes32 poolId, bytes32 agreementId) external;

    /// @notice Pays the provider its `claimable`, then returns the rest of a terminated agreement's budget to the
    /// pool's free balance, once the claim window has passed (at once if the provider terminated). Anyone may call.
    /// @dev Emits `Claimed` when the provider is paid something, then `AgreementReleased(budget - payable)`. No release
    /// ever takes what the payout rule already made payable. Reverts `AgreementNotFound`, `AgreementNotActive`
    /// (already released), `ClaimWindowOpen` (still active, or terminated by the owner or a grantee less than
    /// `paymentTimeout` seconds ago), and the token's failure if the payout cannot be sent.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    function release(bytes32 poolId, bytes32 agreementId) external;

    /// @notice The agreement's provider, status, times, terms, paid and accepted totals.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    /// @return The agreement (`Status.None` for an unknown id).
    function getAgreement(bytes32 poolId, bytes32 agreementId) external view returns (Agreement memory);

    /// @notice What `claim` would pay now: the payout rule at now (or at termination) minus what was paid.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    /// @return Token base units (0 once released, or for an unknown id).
    function claimable(bytes32 poolId, bytes32 agreementId) external view returns (uint256);

    /// @notice Golem's acceptance timeout for this agreement: `2 * debitNoteInterval` seconds.
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    /// @return Seconds (0 for an unknown id).
    function acceptTimeoutOf(bytes32 poolId, bytes32 agreementId) external view returns (uint256);

    /*//////////////////////////////////////////////////////////////
                              ACCEPTANCES
    //////////////////////////////////////////////////////////////*/

    /// @notice Records a signed debit-note acceptance and pays the provider what the payout rule now allows.
    /// @dev Anyone may submit; money only ever goes to the agreement's provider. The agreement must be Active or
    /// Terminated; `signer` must be the pool owner or a grantee with `block.timestamp <= acceptValidUntil` (a valid
    /// ACCEPT grant, or the notice after its revocation), and the signature
    /// must verify for it (EOA or ERC-1271). Reverts `SignatureExpired`, `AgreementNotFound`, `AgreementNotActive`,
    /// `InvalidSignature`, `NothingToSettle` (a stale replay: nothing raised, nothing paid).
    /// @param acceptance The signed message.
    /// @param signer The account that signed it.
    /// @param signature 65-byte ECDSA signature, or the ERC-1271 wallet's signature bytes.
    /// @return paid Token base units sent to the provider.
    function settle(
        DebitNoteAcceptance calldata acceptance,
        address signer,
        bytes calldata signature
    ) external returns (uint256 paid);

    /// @notice Settles many acceptances; a failing item emits `SettlementFailed` and the others still settle.
    /// @dev Each item's external calls (token transfer, ERC-1271 `isValidSignature`) get at most `ITEM_CALL_GAS`, so a
    /// hostile token or wallet fails its own item (`SafeERC20FailedOperation`, `InvalidSignature`). Reverts
    /// `InsufficientGasForItem` as a whole when too little gas is left to give the next call that allowance.
    /// @param items Acceptances with their signers and signatures.
    /// @return paid Per item, token base units sent (0 for a failed item).
    function settleBatch(SignedAcceptance[] calldata items) external returns (uint256[] memory paid);

    /// @notice Pays the provider what the payout rule allows from the recorded state (stream floor, or accepted
    /// amounts that were above the rate cap). Anyone may call.
    /// @dev Reverts `AgreementNotFound`, `NothingToSettle` when there is nothing to pay (also once released).
    /// @param poolId The pool.
    /// @param agreementId The agreement.
    /// @return paid Token base units sent to the provider.
    function claim(bytes32 poolId, bytes32 agreementId) external returns (uint256 paid);

    /// @notice The EIP-712 digest of an acceptance under this contract's domain (what the signer signs).
    /// @param acceptance The message.
    /// @return The digest.
    function acceptanceDigest(DebitNoteAcceptance calldata acceptance) external view returns (bytes32);
}
