// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {Panic} from "@openzeppelin/contracts/utils/Panic.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IDripFeed} from "./interfaces/IDripFeed.sol";
import {PayoutRule} from "./libraries/PayoutRule.sol";
import {Agreement, DebitNoteAcceptance, Pool, SignedAcceptance, Status, Terms} from "./types/DataTypes.sol";

/// @title DripFeed
/// @notice Funded escrow that keeps paying Golem providers while the requestor is offline. One immutable
/// singleton per chain: no admin, no fees, no upgrades.
/// @dev Storage is packed so that the hot paths (`settle`, `claim`) read four agreement slots, one grant slot and
/// two pool slots, and write one agreement slot and one pool slot.
contract DripFeed is IDripFeed, EIP712, Multicall, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /*//////////////////////////////////////////////////////////////
                          CONSTANTS AND STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @notice Permission to sign debit-note acceptances for the pool's agreements.
    uint8 public constant ACCEPT = 1;
    /// @notice Permission to terminate the pool's agreements.
    uint8 public constant TERMINATE = 2;
    /// @notice Permission to open agreements and raise budgets, within the grant's allowance bucket.
    uint8 public constant OPEN = 4;

    /// @inheritdoc IDripFeed
    uint256 public constant override ACCEPT_NOTICE = 3600;
    /// @inheritdoc IDripFeed
    uint256 public constant override ITEM_CALL_GAS = 200_000;
    /// @dev Gas that must be left just before a capped call for the call to really receive `ITEM_CALL_GAS`: the EVM
    /// forwards at most 63/64 of what is left after the call's own cost (up to 2 600 for a cold account); the rest
    /// is margin for the few opcodes between the reading and the call.
    uint256 private constant ITEM_CALL_GAS_NEEDED = ITEM_CALL_GAS + ITEM_CALL_GAS / 63 + 5_000;

    // The constants below are internal on purpose: the IR dispatcher compares selectors one by one in ascending
    // order, so every public getter whose selector sorts below `settle`, `settleBatch`, `claim` or `openAgreement`
    // costs each of their calls 22 gas. Their values are in docs/PROTOCOL.md; `acceptanceDigest` exposes the type.

    // The type string is hashed at compile time, so its length costs nothing.
    // solhint-disable gas-small-strings
    /// @dev The EIP-712 type hash of `DebitNoteAcceptance`.
    bytes32 internal constant ACCEPTANCE_TYPEHASH = keccak256(
        "DebitNoteAcceptance(bytes32 poolId,bytes32 agreementId,bytes32 debitNoteId,uint256 totalAccepted,uint256 deadline)"
    );
    // solhint-enable gas-small-strings

    /// @dev Golem's debit-note interval bounds (`golem.com.scheme.payu.debit-note.interval-sec`).
    uint32 internal constant MIN_DEBIT_NOTE_INTERVAL = 120;
    uint32 internal constant MAX_DEBIT_NOTE_INTERVAL = 900;
    /// @dev Golem's payment timeout bound (`golem.com.scheme.payu.payment-timeout-sec`, at most 24 h).
    uint32 internal constant MAX_PAYMENT_TIMEOUT = 86_400;

    uint8 private constant ALL_PERMISSIONS = ACCEPT | TERMINATE | OPEN;

    /// @dev `InvalidTerms` reasons.
    uint8 private constant BAD_BUDGET = 1;
    uint8 private constant BAD_UPFRONT = 2;
    uint8 private constant BAD_STREAM_RATE = 3;
    uint8 private constant BAD_INTERVAL = 4;
    uint8 private constant BAD_TIMEOUT = 5;
    uint8 private constant BAD_PROVIDER = 6;
    uint8 private constant BUDGET_OVERFLOW = 7;

    /// @dev Three slots: owner, token, then both amounts together because every payout changes both.
    struct PoolRecord {
        address owner;
        IERC20 token;
        uint128 balance;
        uint128 locked;
    }

    /// @dev Slot 0 holds everything `settle` needs besides amounts, and everything `openAgreement` must write
    /// besides amounts. Slot 2 pairs the two terms every payout reads (budget and stream floor); slot 3 pairs the two
    /// only the rate cap uses (upfront and maxRate), read only when the cap can bind (`hasCap` and an accepted total
    /// above the floor), so a fire-and-forget claim never reads it and an agreement with neither cap nor upfront
    /// opens with two new slots instead of three. `terminatedAt` lives in the last slot, read only once the
    /// agreement is terminated. Interval (<= 900) and timeout (<= 86 400) fit 16 and 24 bits.
    struct AgreementRecord {
        // slot 0
        address provider;
        uint40 startedAt;
        Status status;
        uint16 debitNoteInterval;
        uint24 paymentTimeout;
        bool hasCap;
        // slot 1
        uint128 paid;
        uint128 acceptedTotal;
        // slot 2
        uint128 budget;
        uint128 streamRate;
        // slot 3
        uint128 upfront;
        uint128 maxRate;
        // slot 4
        uint40 terminatedAt;
        bool terminatedByProvider;
    }

    /// @dev Bit offsets of `AgreementRecord` slot 0 fields, for the hot paths that read the slot as one word
    /// (provider is the low 160 bits). They follow the declaration order above; the settle tests fail if they drift.
    uint256 private constant STARTED_AT_SHIFT = 160;
    uint256 private constant STATUS_SHIFT = 200;
    uint256 private constant HAS_CAP_SHIFT = 248;

    /// @dev Slot 0 is all an acceptance check reads: the ACCEPT validity (with its notice) and a copy of the pool's
    /// token (set at `createPool`, never changed), so a grantee's `settle` need not read the pool's token slot. The
    /// other slots are read only when the OPEN bucket is used. Three slots is the minimum for its 672 bits; the
    /// linter's packing heuristic does not see that the order is chosen for the acceptance check's single read.
    // solhint-disable-next-line gas-struct-packing
    struct GrantRecord {
        // slot 0
        uint40 acceptValidUntil;
        IERC20 token;
        uint8 permissions;
        uint40 validUntil;
        // slot 1
        uint40 refilledAt;
        uint128 level;
        // slot 2
        uint128 openAllowance;
        uint128 openRefillRate;
    }

    /// @dev Bit offset of `GrantRecord.token` in slot 0 (`acceptValidUntil` is the low 40 bits).
    uint256 private constant GRANT_TOKEN_SHIFT = 40;

    /// @dev Working state of one `settle` or `settleBatch` call, in memory: per call (domain separator, atomicity) and
    /// per run of consecutive items of one pool (the pool's storage slot, its token, an already-authorized signer). A
    /// memory struct: packing would only add masking.
    // solhint-disable-next-line gas-struct-packing
    struct Settlement {
        // First: read twice per item, and a field at offset 0 needs no address arithmetic.
        bool atomic;
        bytes32 domainSeparator;
        bytes32 poolId;
        // The storage slot of `_pools[poolId]`, derived once per run instead of hashed again for every item.
        uint256 poolSlot;
        IERC20 token;
        address acceptor;
    }

    mapping(bytes32 poolId => PoolRecord) private _pools;
    mapping(bytes32 poolId => mapping(address grantee => GrantRecord)) private _grants;
    mapping(bytes32 poolId => mapping(bytes32 agreementId => AgreementRecord)) private _agreements;

    /*//////////////////////////////////////////////////////////////
                               CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    constructor() EIP712("DripFeed", "1") {}

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IDripFeed
    function poolIdOf(address owner, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    /// @inheritdoc IDripFeed
    function getPool(bytes32 poolId) external view returns (Pool memory) {
        PoolRecord storage pool = _pools[poolId];
        return Pool({owner: pool.owner, token: pool.token, balance: pool.balance, locked: pool.locked});
    }

    /// @inheritdoc IDripFeed
    function grantOf(
        bytes32 poolId,
        address grantee
    ) external view returns (uint8 permissions, uint40 validUntil, uint256 openAllowanceNow) {
        GrantRecord storage grant = _grants[poolId][grantee];
        return (grant.permissions, grant.validUntil, _allowanceNow(grant));
    }

    /// @inheritdoc IDripFeed
    function acceptValidUntil(bytes32 poolId, address grantee) external view returns (uint256) {
        return _grants[poolId][grantee].acceptValidUntil;
    }

    /// @inheritdoc IDripFeed
    function getAgreement(bytes32 poolId, bytes32 agreementId) external view returns (Agreement memory) {
        AgreementRecord storage a = _agreements[poolId][agreementId];
        return
            Agreement({
                provider: a.provider,
                status: a.status,
                startedAt: a.startedAt,
                terminatedAt: a.terminatedAt,
                terms: Terms({
                    budget: a.budget,
                    upfront: a.upfront,
                    maxRate: a.maxRate,
                    streamRate: a.streamRate,
                    debitNoteInterval: a.debitNoteInterval,
                    paymentTimeout: a.paymentTimeout
                }),
                paid: a.paid,
                acceptedTotal: a.acceptedTotal
            });
    }

    /// @inheritdoc IDripFeed
    function claimable(bytes32 poolId, bytes32 agreementId) external view returns (uint256) {
        AgreementRecord storage a = _agreements[poolId][agreementId];
        uint256 word0 = _word(a, 0);
        uint256 status = _statusOf(word0);
        if (status == uint256(Status.None) || status == uint256(Status.Released)) return 0;
        uint256 word1 = _word(a, 1);
        return _payableNow(a, word0, word1 >> 128) - uint128(word1);
    }

    /// @inheritdoc IDripFeed
    function acceptTimeoutOf(bytes32 poolId, bytes32 agreementId) external view returns (uint256) {
        return 2 * uint256(_agreements[poolId][agreementId].debitNoteInterval);
    }

    /// @inheritdoc IDripFeed
    function acceptanceDigest(DebitNoteAcceptance calldata acceptance) external view returns (bytes32) {
        return _acceptanceDigest(acceptance, _domainSeparatorV4());
    }

    /*//////////////////////////////////////////////////////////////
                          POOLS (STATE-CHANGING)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IDripFeed
    function createPool(IERC20 token, bytes32 salt) external nonReentrant returns (bytes32 poolId) {
        // Check: a token that is a contract, and a fresh id.
        if (address(token) == address(0)) revert ZeroAddress();
        if (address(token).code.length == 0) revert UnsupportedToken(address(token));
        poolId = poolIdOf(msg.sender, salt);
        PoolRecord storage pool = _pools[poolId];
        if (pool.owner != address(0)) revert PoolExists(poolId);

        // Effect: record the pool.
        pool.owner = msg.sender;
        pool.token = token;
        emit PoolCreated(poolId, msg.sender, token, salt);
    }

    /// @inheritdoc IDripFeed
    function fund(bytes32 poolId, uint256 amount) external nonReentrant {
        _fund(poolId, amount);
    }

    /// @inheritdoc IDripFeed
    function fundWithPermit(
        bytes32 poolId,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        IERC20 token = _pools[poolId].token;
        if (address(token) == address(0)) revert PoolNotFound(poolId);
        // Interaction: a permit already used by a front-runner reverts here; the allowance it set still lets the
        // transfer below succeed, and without allowance `transferFrom` reverts with the token's own error.
        // solhint-disable-next-line no-empty-blocks
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _fund(poolId, amount);
    }

    /// @inheritdoc IDripFeed
    function withdraw(bytes32 poolId, uint256 amount, address to) external nonReentrant {
        // Check: owner, a real amount and recipient, within the free balance.
        PoolRecord storage pool = _ownedPool(poolId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = pool.balance;
        uint256 free = balance - pool.locked;
        if (amount > free) revert InsufficientFreeBalance(free, amount);

        // Effect: the free balance shrinks; `amount <= balance < 2^128`.
        pool.balance = uint128(balance - amount);

        // Interaction: pay out.
        pool.token.safeTransfer(to, amount);
        emit PoolWithdrawn(poolId, to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                          GRANTS (STATE-CHANGING)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IDripFeed
    function setGrant(
        bytes32 poolId,
        address grantee,
        uint8 permissions,
        uint40 validUntil,
        uint128 openAllowance,
        uint128 openRefillRate
    ) external nonReentrant {
        // Check: owner, a real grantee, known permission bits.
        PoolRecord storage pool = _ownedPool(poolId);
        if (grantee == address(0)) revert ZeroAddress();
        if (permissions & ~ALL_PERMISSIONS != 0) revert InvalidPermissions(permissions);

        // Effect: replace the grant as set (the bucket starts full); only the ACCEPT validity keeps a notice.
        GrantRecord storage grant = _grants[poolId][grantee];
        _grants[poolId][grantee] = GrantRecord({
            acceptValidUntil: _nextAcceptValidUntil(grant.acceptValidUntil, permissions, validUntil),
            token: pool.token,
            permissions: permissions,
            validUntil: validUntil,
            refilledAt: uint40(block.timestamp),
            level: openAllowance,
            openAllowance: openAllowance,
            openRefillRate: openRefillRate
        });
        emit GrantSet(poolId, grantee, permissions, validUntil, openAllowance, openRefillRate);
    }

    /*//////////////////////////////////////////////////////////////
                        AGREEMENTS (STATE-CHANGING)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IDripFeed
    function openAgreement(
        bytes32 poolId,
        bytes32 agreementId,
        address provider,
        Terms calldata terms
    ) external nonReentrant {
        // Check: the caller may open, the terms are valid and the id is fresh.
        (PoolRecord storage pool, address owner) = _poolForOpen(poolId);
        _validateTerms(terms, provider, owner);
        AgreementRecord storage a = _agreements[poolId][agreementId];
        if (a.status != Status.None) revert AgreementExists(poolId, agreementId);

        // Effect: lock the budget (spending the grantee's bucket), then record the agreement.
        _lock(pool, poolId, owner, terms.budget);
        _writeAgreement(a, provider, terms);
        emit AgreementOpened(poolId, agreementId, provider, terms);
    }

    /// @inheritdoc IDripFeed
    function increaseBudget(bytes32 poolId, bytes32 agreementId, uint128 amount) external nonReentrant {
        // Check: a real amount, the caller may open, the agreement is active and its budget stays in 128 bits.
        if (amount == 0) revert ZeroAmount();
        (PoolRecord storage pool, address owner) = _poolForOpen(poolId);
        AgreementRecord storage a = _agreements[poolId][agreementId];
        _requireActive(a.status);
        uint256 budget = uint256(a.budget) + amount;
        if (budget > type(uint128).max) revert InvalidTerms(BUDGET_OVERFLOW);

        // Effect: lock more from the free balance.
        _lock(pool, poolId, owner, amount);
        a.budget = uint128(budget);
        emit BudgetIncreased(poolId, agreementId, amount);
    }

    /// @inheritdoc IDripFeed
    function terminate(bytes32 poolId, bytes32 agreementId) external nonReentrant {
        // Check: active, and the caller is the provider, the owner or a TERMINATE grantee.
        AgreementRecord storage a = _agreements[poolId][agreementId];
        _requireActive(a.status);
        bool byProvider = msg.sender == a.provider;
        if (!byProvider && msg.sender != _pools[poolId].owner && !_hasValidGrant(poolId, msg.sender, TERMINATE)) {
            revert NotAuthorized(poolId, msg.sender, TERMINATE);
        }

        // Effect: freeze the clock and open the claim window.
        a.status = Status.Terminated;
        a.terminatedAt = uint40(block.timestamp);
        a.terminatedByProvider = byProvider;
        emit AgreementTerminated(poolId, agreementId, msg.sender);
    }

    /// @inheritdoc IDripFeed
    function release(bytes32 poolId, bytes32 agreementId) external nonReentrant {
        // Check: terminated, and the claim window has passed unless the provider itself terminated. An active
        // agreement's window has not even started: it reports `ClaimWindowOpen` with no end yet.
        AgreementRecord storage a = _agreements[poolId][agreementId];
        Status status = a.status;
        if (status == Status.None) revert AgreementNotFound();
        if (status == Status.Active) revert ClaimWindowOpen(type(uint256).max);
        if (status == Status.Released) revert AgreementNotActive();
        if (!a.terminatedByProvider) {
            uint256 windowEnd = uint256(a.terminatedAt) + a.paymentTimeout;
            // The SPEC's window end is inclusive.
            // solhint-disable-next-line gas-strict-inequalities
            if (block.timestamp <= windowEnd) revert ClaimWindowOpen(windowEnd);
        }

        // Effect: the provider keeps everything the payout rule made payable (paid below); only the rest of the
        // budget goes back to the pool's free balance.
        uint256 word0 = _word(a, 0);
        uint256 word1 = _word(a, 1);
        uint256 payableNow = _payableNow(a, word0, word1 >> 128);
        uint256 paid = payableNow - uint128(word1);
        uint256 refunded = uint256(a.budget) - payableNow;
        a.status = Status.Released;
        PoolRecord storage pool = _pools[poolId];
        if (paid != 0) {
            _setWord(a, 1, payableNow | ((word1 >> 128) << 128));
            _debit(pool, paid);
        }
        pool.locked -= uint128(refunded);

        // Interaction: pay the provider before the refund is announced; a payout that fails reverts the release,
        // so the provider's due is never turned into a refund.
        if (paid != 0) {
            pool.token.safeTransfer(address(uint160(word0)), paid);
            emit Claimed(poolId, agreementId, paid);
        }
        emit AgreementReleased(poolId, agreementId, refunded);
    }

    /*//////////////////////////////////////////////////////////////
                       ACCEPTANCES (STATE-CHANGING)
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IDripFeed
    function settle(
        DebitNoteAcceptance calldata acceptance,
        address signer,
        bytes calldata signature
    ) external nonReentrant returns (uint256 paid) {
        bytes4 failure;
        (paid, failure) = _settle(acceptance, signer, signature, _newSettlement(true));
        if (failure != 0) _revertWith(failure);
    }

    /// @inheritdoc IDripFeed
    function settleBatch(SignedAcceptance[] calldata items) external nonReentrant returns (uint256[] memory paid) {
        uint256 count = items.length;
        paid = new uint256[](count);
        // One context for the whole batch: the domain separator is derived once, and a pool's token and an
        // authorized signer are looked up once per run of consecutive items of that pool.
        Settlement memory s = _newSettlement(false);
        for (uint256 i; i < count; ++i) {
            SignedAcceptance calldata item = items[i];
            DebitNoteAcceptance calldata acceptance = item.acceptance;
            bytes4 failure;
            (paid[i], failure) = _settle(acceptance, item.signer, item.signature, s);
            if (failure != 0) {
                emit SettlementFailed(acceptance.poolId, acceptance.agreementId, acceptance.debitNoteId, failure);
            }
        }
    }

    /// @inheritdoc IDripFeed
    function claim(bytes32 poolId, bytes32 agreementId) external nonReentrant returns (uint256 paid) {
        // Check: an agreement that still owes something under the payout rule.
        AgreementRecord storage a = _agreements[poolId][agreementId];
        uint256 word0 = _word(a, 0);
        uint256 status = _statusOf(word0);
        if (status == uint256(Status.None)) revert AgreementNotFound();
        if (status == uint256(Status.Released)) revert NothingToSettle();
        // Both totals in one read, and written back together below in one write.
        uint256 word1 = _word(a, 1);
        uint256 payableNow = _payableNow(a, word0, word1 >> 128);
        paid = payableNow - uint128(word1);
        if (paid == 0) revert NothingToSettle();

        // Effect: record the payout (payableNow <= budget < 2^128) and take it out of the pool.
        _setWord(a, 1, payableNow | ((word1 >> 128) << 128));
        PoolRecord storage pool = _pools[poolId];
        _debit(pool, paid);

        // Interaction: pay the provider.
        pool.token.safeTransfer(address(uint160(word0)), paid);
        emit Claimed(poolId, agreementId, paid);
    }

    /*//////////////////////////////////////////////////////////////
                             INTERNAL VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @dev EIP-712 digest under `domainSeparator` (derived once per call by the caller, not once per acceptance).
    /// The struct hash copies the five static words of the acceptance straight from calldata behind the type hash
    /// instead of going through `abi.encode`.
    function _acceptanceDigest(
        DebitNoteAcceptance calldata acceptance,
        bytes32 domainSeparator
    ) internal pure returns (bytes32) {
        bytes32 structHash;
        bytes32 typeHash = ACCEPTANCE_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), acceptance, 0xa0)
            structHash := keccak256(ptr, 0xc0)
        }
        return MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
    }

    /// @dev Word `index` of an agreement record, read whole: the hot paths unpack the fields they need with shifts
    /// (offsets next to `AgreementRecord`) instead of one masked read per field.
    function _word(AgreementRecord storage a, uint256 index) internal view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(add(a.slot, index))
        }
    }

    /// @dev Writes word `index` of an agreement record whole.
    function _setWord(AgreementRecord storage a, uint256 index, uint256 word) internal {
        assembly ("memory-safe") {
            sstore(add(a.slot, index), word)
        }
    }

    /// @dev The status field of slot 0.
    function _statusOf(uint256 word0) internal pure returns (uint256) {
        return (word0 >> STATUS_SHIFT) & 0xff;
    }

    /// @dev The payout rule now, for an agreement whose slot 0 is `word0` (Active or Terminated), given the accepted
    /// total to use; the one place `settle`, `claim` and `claimable` get it from. `min(acceptedTotal, cap)` can only
    /// exceed the floor when a cap is set and `acceptedTotal > floor`; otherwise the rule is
    /// `min(budget, max(acceptedTotal, floor))` and the upfront/cap slot is not read.
    function _payableNow(
        AgreementRecord storage a,
        uint256 word0,
        uint256 acceptedTotal
    ) internal view returns (uint256) {
        // Seconds the rule counts: up to now while active, up to `terminatedAt` once terminated (the only read of
        // the last slot).
        uint256 end = _statusOf(word0) == uint256(Status.Active) ? block.timestamp : a.terminatedAt;
        uint256 elapsed = end - ((word0 >> STARTED_AT_SHIFT) & type(uint40).max);
        uint256 word2 = _word(a, 2);
        uint256 budget = uint128(word2);
        uint256 streamRate = word2 >> 128;
        uint256 floor = PayoutRule.floorAmount(streamRate, elapsed);
        if (word0 >> HAS_CAP_SHIFT != 0 && acceptedTotal > floor) {
            uint256 word3 = _word(a, 3);
            return PayoutRule.payableAmount(budget, uint128(word3), word3 >> 128, streamRate, acceptedTotal, elapsed);
        }
        return PayoutRule.uncappedAmount(budget, floor, acceptedTotal);
    }

    /// @dev The ACCEPT validity after a `setGrant`: the new grant's, except that taking away or shortening an ACCEPT
    /// that still counts leaves the notice the SPEC requires, `max(new, min(old, now + ACCEPT_NOTICE))`, which can
    /// never exceed the old value.
    function _nextAcceptValidUntil(
        uint256 previous,
        uint8 permissions,
        uint40 validUntil
    ) internal view returns (uint40) {
        uint256 next = permissions & ACCEPT != 0 ? validUntil : 0;
        // solhint-disable-next-line gas-strict-inequalities
        if (next < previous && block.timestamp <= previous) {
            uint256 noticeEnd = block.timestamp + ACCEPT_NOTICE;
            uint256 kept = previous < noticeEnd ? previous : noticeEnd;
            if (kept > next) next = kept;
        }
        // `next` is `validUntil` or at most `previous`, both 40-bit values.
        return uint40(next);
    }

    /// @dev Whether `account` holds an unexpired grant with `permission`.
    function _hasValidGrant(bytes32 poolId, address account, uint8 permission) internal view returns (bool) {
        GrantRecord storage grant = _grants[poolId][account];
        // Both fields before the branch: one read of the slot.
        uint8 permissions = grant.permissions;
        uint40 validUntil = grant.validUntil;
        // The SPEC: a grant counts while `now <= validUntil`.
        // solhint-disable-next-line gas-strict-inequalities
        return permissions & permission != 0 && block.timestamp <= validUntil;
    }

    /// @dev The grantee's bucket level now.
    function _allowanceNow(GrantRecord storage grant) internal view returns (uint256) {
        return
            PayoutRule.allowanceNow(
                grant.level,
                grant.openAllowance,
                grant.openRefillRate,
                block.timestamp - grant.refilledAt
            );
    }

    /// @dev The pool, reverting unless it exists and the caller owns it.
    function _ownedPool(bytes32 poolId) internal view returns (PoolRecord storage pool) {
        pool = _pools[poolId];
        address owner = pool.owner;
        if (owner == address(0)) revert PoolNotFound(poolId);
        if (owner != msg.sender) revert NotPoolOwner(poolId, msg.sender);
    }

    /// @dev The pool and its owner, reverting unless the caller is the owner or holds a valid OPEN grant.
    function _poolForOpen(bytes32 poolId) internal view returns (PoolRecord storage pool, address owner) {
        pool = _pools[poolId];
        owner = pool.owner;
        if (owner == address(0)) revert PoolNotFound(poolId);
        if (msg.sender != owner && !_hasValidGrant(poolId, msg.sender, OPEN)) {
            revert NotAuthorized(poolId, msg.sender, OPEN);
        }
    }

    /// @dev The SPEC's validation of `Terms`, plus a provider that is not this contract (its payouts would stick).
    function _validateTerms(Terms calldata terms, address provider, address owner) internal view {
        if (terms.budget == 0) revert InvalidTerms(BAD_BUDGET);
        if (terms.upfront > terms.budget) revert InvalidTerms(BAD_UPFRONT);
        if (terms.maxRate != 0 && terms.streamRate > terms.maxRate) revert InvalidTerms(BAD_STREAM_RATE);
        if (terms.debitNoteInterval < MIN_DEBIT_NOTE_INTERVAL || terms.debitNoteInterval > MAX_DEBIT_NOTE_INTERVAL) {
            revert InvalidTerms(BAD_INTERVAL);
        }
        if (terms.paymentTimeout == 0 || terms.paymentTimeout > MAX_PAYMENT_TIMEOUT) revert InvalidTerms(BAD_TIMEOUT);
        if (provider == address(0) || provider == owner || provider == address(this)) {
            revert InvalidTerms(BAD_PROVIDER);
        }
    }

    /// @dev Reverts unless the agreement is active.
    function _requireActive(Status status) internal pure {
        if (status == Status.None) revert AgreementNotFound();
        if (status != Status.Active) revert AgreementNotActive();
    }

    /// @dev Reverts with a bare custom-error selector (the errors `settle` shares with `settleBatch` take no
    /// arguments, so the selector is the whole error).
    function _revertWith(bytes4 selector) internal pure {
        assembly ("memory-safe") {
            mstore(0, selector)
            revert(0, 4)
        }
    }

    /*//////////////////////////////////////////////////////////////
                        INTERNAL STATE-CHANGING
    //////////////////////////////////////////////////////////////*/

    /// @dev Pulls `amount` from the caller and credits the pool, refusing tokens that do not deliver exactly.
    function _fund(bytes32 poolId, uint256 amount) internal {
        // Check: a real amount for an existing pool.
        if (amount == 0) revert ZeroAmount();
        PoolRecord storage pool = _pools[poolId];
        IERC20 token = pool.token;
        if (address(token) == address(0)) revert PoolNotFound(poolId);

        // Interaction before effect, on purpose: only the balance delta proves what arrived. The reentrancy guard
        // keeps the token from observing or changing DripFeed state in between.
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        if (token.balanceOf(address(this)) - before != amount) revert UnsupportedToken(address(token));

        // Effect: credit the pool; balances are kept in 128 bits.
        uint256 balance = uint256(pool.balance) + amount;
        if (balance > type(uint128).max) revert UnsupportedToken(address(token));
        pool.balance = uint128(balance);
        emit PoolFunded(poolId, msg.sender, amount);
    }

    /// @dev Locks `amount` from the free balance; a grantee (not the owner) spends its OPEN bucket.
    function _lock(PoolRecord storage pool, bytes32 poolId, address owner, uint256 amount) internal {
        // Both amounts in one read; `amount` and both amounts are below 2^128, so the sum cannot overflow.
        uint256 balance = pool.balance;
        uint256 lockedBefore = pool.locked;
        uint256 locked;
        unchecked {
            locked = lockedBefore + amount;
        }
        if (msg.sender != owner) {
            // A grantee's bucket first: it bounds what the grantee may lock at all.
            GrantRecord storage grant = _grants[poolId][msg.sender];
            uint256 available = _allowanceNow(grant);
            if (amount > available) revert AllowanceExceeded(available, amount);
            if (locked > balance) revert InsufficientFreeBalance(balance - lockedBefore, amount);
            grant.level = uint128(available - amount);
            grant.refilledAt = uint40(block.timestamp);
        } else if (locked > balance) {
            revert InsufficientFreeBalance(balance - lockedBefore, amount);
        }
        pool.locked = uint128(locked);
    }

    /// @dev Records a new agreement. Every term is read from calldata first, so that the writes to each slot sit in
    /// one straight block: slots 2 and 3 then compile to a single store each (a calldata read between two packed
    /// writes forces a read-modify-write per field).
    function _writeAgreement(AgreementRecord storage a, address provider, Terms calldata terms) internal {
        uint128 budget = terms.budget;
        uint128 upfront = terms.upfront;
        uint128 maxRate = terms.maxRate;
        uint128 streamRate = terms.streamRate;
        uint16 debitNoteInterval = uint16(terms.debitNoteInterval);
        uint24 paymentTimeout = uint24(terms.paymentTimeout);
        a.provider = provider;
        a.startedAt = uint40(block.timestamp);
        a.status = Status.Active;
        a.debitNoteInterval = debitNoteInterval;
        a.paymentTimeout = paymentTimeout;
        a.hasCap = maxRate != 0;
        a.budget = budget;
        a.streamRate = streamRate;
        // A fresh agreement's slots are zero: slot 3 is written only when it holds something.
        if (upfront != 0 || maxRate != 0) {
            a.upfront = upfront;
            a.maxRate = maxRate;
        }
    }

    /// @dev A payout leaves the pool: it was locked, so both balance and locked shrink.
    function _debit(PoolRecord storage pool, uint256 amount) internal {
        // One read and one write of the slot both amounts share: the underflow check is explicit (the same panic as
        // checked arithmetic) so that no checked-arithmetic call splits the two writes. `locked <= balance` holds.
        uint128 balance = pool.balance;
        uint128 locked = pool.locked;
        if (amount > locked) Panic.panic(Panic.UNDER_OVERFLOW);
        unchecked {
            pool.balance = balance - uint128(amount);
            pool.locked = locked - uint128(amount);
        }
    }

    /// @dev A fresh settlement context for one `settle` or `settleBatch` call.
    function _newSettlement(bool atomic) internal view returns (Settlement memory s) {
        s.atomic = atomic;
        s.domainSeparator = _domainSeparatorV4();
        s.acceptor = address(this);
    }

    /// @dev The whole of `settle` for one acceptance. Failures are returned as an error selector instead of
    /// reverting so that `settleBatch` can go on; with `s.atomic` the token transfer reverts on failure, without it a
    /// failed transfer rolls back this item's effects and reports `SafeERC20FailedOperation`.
    function _settle(
        DebitNoteAcceptance calldata acceptance,
        address signer,
        bytes calldata signature,
        Settlement memory s
    ) internal returns (uint256 paid, bytes4 failure) {
        // Check, in the SPEC's order: an agreement that can be paid, a deadline not passed, an authorized signer and
        // a valid signature.
        bytes32 poolId = acceptance.poolId;
        AgreementRecord storage a = _agreements[poolId][acceptance.agreementId];
        // One read of slot 0 for every agreement fact besides amounts.
        uint256 word0 = _word(a, 0);
        uint256 status = _statusOf(word0);
        if (status == uint256(Status.None)) return (0, AgreementNotFound.selector);
        if (status == uint256(Status.Released)) return (0, AgreementNotActive.selector);
        if (acceptance.deadline < block.timestamp) return (0, SignatureExpired.selector);
        if (poolId != s.poolId) {
            // Another pool than the previous item's: forget what was looked up for that one.
            s.poolId = poolId;
            PoolRecord storage pool = _pools[poolId];
            uint256 poolSlot;
            assembly ("memory-safe") {
                poolSlot := pool.slot
            }
            s.poolSlot = poolSlot;
            s.token = IERC20(address(0));
            s.acceptor = address(this);
        }
        // Authorization does not depend on the signature, so a signer already authorized for this pool in this call
        // is not looked up again (grants cannot change during the call: every state-changing entry is nonReentrant).
        // Until a signer is authorized, `s.acceptor` is DripFeed itself: no signature can ever verify for it (no
        // key, and it does not implement ERC-1271), so even a grant to DripFeed could not be abused through it.
        if (signer != s.acceptor) {
            if (!_mayAccept(poolId, signer, s)) return (0, InvalidSignature.selector);
            s.acceptor = signer;
        }
        if (!_isValidSignature(signer, _acceptanceDigest(acceptance, s.domainSeparator), signature, s.atomic)) {
            return (0, InvalidSignature.selector);
        }

        (paid, failure) = _record(a, word0, acceptance.totalAccepted, s);
        if (failure != 0) return (0, failure);
        emit DebitNoteSettled(
            poolId,
            acceptance.agreementId,
            acceptance.debitNoteId,
            acceptance.totalAccepted,
            paid,
            signer
        );
    }

    /// @dev Raises the accepted total to `signedTotal` and pays what the payout rule now allows. Totals above 128
    /// bits are clamped: payouts never exceed the 128-bit budget, so nothing a provider could be paid is lost.
    function _record(
        AgreementRecord storage a,
        uint256 word0,
        uint256 signedTotal,
        Settlement memory s
    ) internal returns (uint256 paid, bytes4 failure) {
        // Both totals in one read of slot 1.
        uint256 word1 = _word(a, 1);
        uint256 acceptedBefore = word1 >> 128;
        if (signedTotal > type(uint128).max) signedTotal = type(uint128).max;
        uint256 acceptedTotal = signedTotal > acceptedBefore ? signedTotal : acceptedBefore;
        uint256 payableNow = _payableNow(a, word0, acceptedTotal);
        paid = payableNow - uint128(word1);
        if (acceptedTotal == acceptedBefore && paid == 0) return (0, NothingToSettle.selector);

        // Effect: one write for both totals (payableNow <= budget < 2^128), one for the pool.
        _setWord(a, 1, payableNow | (acceptedTotal << 128));
        if (paid == 0) return (0, 0);
        PoolRecord storage pool;
        uint256 poolSlot = s.poolSlot;
        assembly ("memory-safe") {
            pool.slot := poolSlot
        }
        _debit(pool, paid);

        // Interaction: pay the agreement's provider, whoever submitted.
        IERC20 token = s.token;
        if (address(token) == address(0)) {
            token = pool.token;
            s.token = token;
        }
        address provider = address(uint160(word0));
        if (s.atomic) {
            token.safeTransfer(provider, paid);
        } else if (!_tryTransferCapped(token, provider, paid)) {
            // Roll back this item only; the reentrancy guard kept everything else unchanged meanwhile.
            _setWord(a, 1, word1);
            pool.balance += uint128(paid);
            pool.locked += uint128(paid);
            return (0, SafeERC20.SafeERC20FailedOperation.selector);
        }
    }

    /// @dev The owner, or a grantee whose ACCEPT validity (grant or notice) has not passed. The grant is looked up
    /// first because a supervisor key is the usual signer: its slot also carries the pool's token, which goes into
    /// the settlement context. The owner costs one more read (and the token is read when first paid out).
    function _mayAccept(bytes32 poolId, address signer, Settlement memory s) internal view returns (bool) {
        uint256 word;
        GrantRecord storage grant = _grants[poolId][signer];
        assembly ("memory-safe") {
            word := sload(grant.slot)
        }
        // The SPEC: a grantee's acceptances settle while `now <= acceptValidUntil`.
        // solhint-disable-next-line gas-strict-inequalities
        if (block.timestamp <= uint40(word)) {
            s.token = IERC20(address(uint160(word >> GRANT_TOKEN_SHIFT)));
            return true;
        }
        return signer == _pools[poolId].owner;
    }

    /// @dev ECDSA first (no code lookup for the common EOA signer), then ERC-1271 for contract wallets. A contract
    /// address cannot produce a matching ECDSA signature, so trying ECDSA first never accepts a wrong signer. The
    /// ECDSA rule is OpenZeppelin's `tryRecoverCalldata`: 65 bytes, `v` 27 or 28, `s` in the lower half order, a
    /// non-zero recovered address; written inline to skip its error-tuple plumbing.
    function _isValidSignature(
        address signer,
        bytes32 digest,
        bytes calldata signature,
        bool atomic
    ) internal view returns (bool) {
        bool valid;
        assembly ("memory-safe") {
            if eq(signature.length, 65) {
                let r := calldataload(signature.offset)
                let sv := calldataload(add(signature.offset, 0x20))
                let v := byte(0, calldataload(add(signature.offset, 0x40)))
                if and(
                    or(eq(v, 27), eq(v, 28)),
                    iszero(gt(sv, 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0))
                ) {
                    // ecrecover(digest, v, r, s) in scratch memory past the free pointer; it returns nothing when
                    // the signature does not recover, so the output word is cleared first.
                    let ptr := mload(0x40)
                    mstore(ptr, digest)
                    mstore(add(ptr, 0x20), v)
                    mstore(add(ptr, 0x40), r)
                    mstore(add(ptr, 0x60), sv)
                    mstore(0x00, 0)
                    // The precompile fails only when it runs out of gas, which leaves this call at most 1/64 of
                    // under 3 100 gas: too little for any path after it, so the transaction reverts as a whole and an
                    // out-of-gas recovery is never mistaken for a bad signature.
                    pop(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20))
                    let recovered := mload(0x00)
                    valid := and(iszero(iszero(recovered)), eq(recovered, signer))
                }
            }
        }
        return valid || _isValidERC1271(signer, digest, signature, atomic);
    }

    /// @dev OpenZeppelin's `isValidERC1271SignatureNowCalldata`, with the call capped at `ITEM_CALL_GAS` inside a
    /// batch (`atomic` false): valid only when the call succeeds and its first returned word is exactly the magic
    /// value (selector, 28 zero bytes).
    function _isValidERC1271(
        address signer,
        bytes32 digest,
        bytes calldata signature,
        bool atomic
    ) internal view returns (bool valid) {
        bytes4 selector = IERC1271.isValidSignature.selector;
        uint256 callGas = atomic ? gasleft() : ITEM_CALL_GAS;
        uint256 gasBefore;
        assembly ("memory-safe") {
            // The ABI encoding of isValidSignature(bytes32,bytes), signature zero-padded to whole words, exactly as
            // OpenZeppelin's SignatureChecker builds it.
            let length := signature.length
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 0x04), digest)
            mstore(add(ptr, 0x24), 0x40)
            mstore(add(ptr, 0x44), length)
            calldatacopy(add(ptr, 0x64), signature.offset, length)
            mstore(add(add(ptr, 0x64), length), 0)
            length := shl(5, shr(5, add(length, 0x1F)))
            gasBefore := gas()
            let success := staticcall(callGas, signer, ptr, add(length, 0x64), 0x00, 0x20)
            valid := and(success, and(gt(returndatasize(), 0x1f), eq(mload(0x00), selector)))
        }
        if (!valid && !atomic) _requireFullAllowance(gasBefore);
    }

    /// @dev Called after a capped call failed: the failure is the callee's own only if the call had its whole
    /// `ITEM_CALL_GAS`. Otherwise the batch reverts as a whole, so an honest item never fails for want of gas the
    /// sender did not provide. Checking after the call (and only on failure) keeps the check off the success path.
    function _requireFullAllowance(uint256 gasBeforeCall) internal pure {
        if (gasBeforeCall < ITEM_CALL_GAS_NEEDED) _revertWith(InsufficientGasForItem.selector);
    }

    /// @dev OpenZeppelin's `trySafeTransfer` (the same scratch-space encoding and the same rule: true when the call
    /// succeeds and returns `true`, or returns nothing from an account with code) with the call capped at
    /// `ITEM_CALL_GAS`. At most one word of return data is copied, so a huge answer cannot grief the batch either.
    function _tryTransferCapped(IERC20 token, address to, uint256 amount) internal returns (bool ok) {
        bytes4 selector = IERC20.transfer.selector;
        uint256 callGas = ITEM_CALL_GAS;
        uint256 gasNeeded = ITEM_CALL_GAS_NEEDED;
        bytes4 outOfGas = InsufficientGasForItem.selector;
        assembly ("memory-safe") {
            let fmp := mload(0x40)
            mstore(0x00, selector)
            mstore(0x04, and(to, shr(96, not(0))))
            mstore(0x24, amount)
            let gasBefore := gas()
            ok := call(callGas, token, 0, 0x00, 0x44, 0x00, 0x20)
            if iszero(and(ok, eq(mload(0x00), 1))) {
                ok := and(ok, and(iszero(returndatasize()), gt(extcodesize(token), 0)))
                // A failure is the token's own only if the call had its whole allowance (see
                // `_requireFullAllowance`).
                if and(iszero(ok), lt(gasBefore, gasNeeded)) {
                    mstore(0x00, outOfGas)
                    revert(0x00, 0x04)
                }
            }
            mstore(0x40, fmp)
        }
    }
}
