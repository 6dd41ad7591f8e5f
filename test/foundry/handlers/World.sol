// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IDripFeed} from "../../../contracts/interfaces/IDripFeed.sol";
import {Agreement, Pool, Status} from "../../../contracts/types/DataTypes.sol";
import {MockGLM} from "../../../contracts/test/MockGLM.sol";
import {NoReturnToken} from "../../../contracts/test/NoReturnToken.sol";
import {MockERC1271Wallet} from "../../../contracts/test/MockERC1271Wallet.sol";

import {SpecModel} from "../model/SpecModel.sol";
import {Cheats} from "../utils/Cheats.sol";

/// @title World
/// @notice The actors, the two tokens and a mirror of everything DripFeed should hold, kept by the handler from the
/// SPEC alone: pools (balance, locked, and the ghosts funded / withdrawn / paid), agreements (terms, status, paid,
/// accepted total), grants (bucket and ACCEPT validity) and signed acceptances waiting to be settled. The handler
/// predicts every call's outcome from this mirror before making it; `checkInvariants` compares it with the chain.
abstract contract World is Cheats {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @dev `key` signs for `account`; for a contract wallet it is the key of the wallet's owner (ERC-1271).
    struct Actor {
        address account;
        uint256 key;
    }

    struct PoolMirror {
        bytes32 id;
        bytes32 salt;
        uint8 owner;
        uint8 token;
        uint256 balance;
        uint256 locked;
        uint256 funded;
        uint256 withdrawn;
        uint256 paid;
    }

    struct AgreementMirror {
        uint256 pool;
        bytes32 id;
        uint8 provider;
        uint8 status;
        bool byProvider;
        uint256 startedAt;
        uint256 terminatedAt;
        uint256 budget;
        uint256 upfront;
        uint256 maxRate;
        uint256 streamRate;
        uint256 paymentTimeout;
        uint256 paid;
        uint256 accepted;
    }

    struct GrantMirror {
        uint8 permissions;
        uint256 validUntil;
        uint256 acceptValidUntil;
        uint256 level;
        uint256 refilledAt;
        uint256 openAllowance;
        uint256 openRefillRate;
    }

    /// @dev A signed acceptance someone holds and may submit later (or again). `agreement` indexes `agreements`
    /// (`type(uint256).max`: an id no pool has).
    struct Held {
        uint256 agreement;
        bytes32 poolId;
        bytes32 agreementId;
        bytes32 debitNoteId;
        uint256 total;
        uint256 deadline;
        address signer;
        bytes signature;
        bool forged;
    }

    /// @dev The errors a call may revert with (empty: it must succeed). When several SPEC checks fail at once the
    /// SPEC does not order them, so any of them is accepted.
    struct Expect {
        bytes4[8] errors;
        uint256 count;
    }

    error Violation(string what, uint256 expected, uint256 actual);
    error UnexpectedRevert(string what, bytes reason);
    error UnexpectedSuccess(string what);
    error WrongError(string what, bytes4 actual, bytes4 expectedFirst);

    /*//////////////////////////////////////////////////////////////
                               CONSTANTS
    //////////////////////////////////////////////////////////////*/

    uint8 internal constant ACTIVE = 1;
    uint8 internal constant TERMINATED = 2;
    uint8 internal constant RELEASED = 3;

    uint256 internal constant OWNERS = 3;
    uint256 internal constant GRANTEES = 3;
    uint256 internal constant PROVIDERS = 3;
    uint256 internal constant MAX_POOLS = 6;
    uint256 internal constant MAX_AGREEMENTS = 24;
    uint256 internal constant MAX_HELD = 12;
    /// @dev Amounts stay far below 2^128 so that sums of many of them never reach the contract's 128-bit limits.
    uint256 internal constant MAX_AMOUNT = 1e27;

    /*//////////////////////////////////////////////////////////////
                                 STATE
    //////////////////////////////////////////////////////////////*/

    IDripFeed public immutable DRIP_FEED;
    IERC20[2] internal tokens;
    MockGLM internal immutable GLM;
    NoReturnToken internal immutable USDT;

    /// @dev Owners 0 and 1 are EOAs, owner 2 an ERC-1271 wallet; grantees 0 and 1 EOAs, grantee 2 a wallet.
    Actor[3] internal owners;
    Actor[3] internal grantees;
    address[3] internal providers;
    /// @dev Holds no rights anywhere: signs acceptances that must be refused, calls what it must not.
    Actor internal stranger;
    /// @dev Funds with EIP-2612 permits only: never approves DripFeed itself.
    Actor internal permitFunder;
    /// @dev Submits acceptances, claims and releases on others' behalf.
    address internal relay;

    PoolMirror[] internal pools;
    AgreementMirror[] internal agreements;
    mapping(uint256 pool => mapping(uint256 grantee => GrantMirror)) internal grants;
    Held[] internal held;
    uint256 internal heldNext;
    uint256 internal nonce;

    /// @dev Ghosts per token: paid to providers, and sent to DripFeed outside any pool (a donation).
    uint256[2] internal paidOut;
    uint256[2] internal donated;

    /// @dev How often each outcome happened in this sequence ("settle: ok", "settle: refused", and the notes the
    /// actions add), so that a test can show the handlers reach every state they are meant to.
    mapping(bytes32 label => uint256) private _outcomes;

    constructor(IDripFeed dripFeed) {
        DRIP_FEED = dripFeed;
        GLM = new MockGLM();
        USDT = new NoReturnToken();
        tokens[0] = IERC20(address(GLM));
        tokens[1] = IERC20(address(USDT));

        owners[0] = _eoa(0xA11CE, "ownerA");
        owners[1] = _eoa(0xB0B, "ownerB");
        uint256 walletKey = 0xC0FFEE;
        owners[2] = Actor(address(new MockERC1271Wallet(VM.addr(walletKey))), walletKey);
        VM.label(owners[2].account, "ownerWallet");
        grantees[0] = _eoa(0x6A1, "granteeA");
        grantees[1] = _eoa(0x6B2, "granteeB");
        uint256 granteeWalletKey = 0x6C3;
        grantees[2] = Actor(address(new MockERC1271Wallet(VM.addr(granteeWalletKey))), granteeWalletKey);
        VM.label(grantees[2].account, "granteeWallet");
        for (uint256 i; i < PROVIDERS; ++i) providers[i] = _eoa(0x9000 + i, "provider").account;
        stranger = _eoa(0x5757, "stranger");
        permitFunder = _eoa(0xFEED, "permitFunder");
        relay = _eoa(0x4E1A, "relay").account;

        // Everyone who funds with `fund` approves once; the permit funder never does.
        for (uint256 t; t < 2; ++t) {
            for (uint256 i; i < OWNERS; ++i) _approveMax(t, owners[i].account);
            _approveMax(t, relay);
            _approveMax(t, stranger.account);
        }
    }

    /*//////////////////////////////////////////////////////////////
                              SMALL HELPERS
    //////////////////////////////////////////////////////////////*/

    function _eoa(uint256 key, string memory name) private returns (Actor memory actor) {
        actor = Actor(VM.addr(key), key);
        VM.label(actor.account, name);
    }

    function _approveMax(uint256 t, address account) private {
        VM.prank(account);
        if (t == 0) GLM.approve(address(DRIP_FEED), type(uint256).max);
        else USDT.approve(address(DRIP_FEED), type(uint256).max);
    }

    function _mint(uint256 t, address to, uint256 amount) internal {
        if (t == 0) GLM.mint(to, amount);
        else USDT.mint(to, amount);
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        if (hi <= lo) return lo;
        uint256 span = hi - lo;
        if (span == type(uint256).max) return x;
        return lo + (x % (span + 1));
    }

    /// @dev A fresh pseudo-random word from a seed, for the second and later choices a handler makes from one input.
    function _next(uint256 seed) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed)));
    }

    /// @dev Sub-choice `k` of one input: independent of the input's low bits, which forge's dictionary often fixes
    /// (small numbers, addresses).
    function _split(uint256 seed, uint256 k) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, k)));
    }

    function _fresh(string memory what) internal returns (bytes32) {
        return keccak256(abi.encode(what, ++nonce));
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = VM.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _ownerOf(uint256 p) internal view returns (Actor storage) {
        return owners[pools[p].owner];
    }

    function _tokenOf(uint256 p) internal view returns (IERC20) {
        return tokens[pools[p].token];
    }

    function _free(uint256 p) internal view returns (uint256) {
        return pools[p].balance - pools[p].locked;
    }

    /// @dev Index of `account` among the grantees, or GRANTEES when it is none of them.
    function _granteeIndex(address account) internal view returns (uint256 g) {
        for (g = 0; g < GRANTEES; ++g) if (grantees[g].account == account) return g;
    }

    /*//////////////////////////////////////////////////////////////
                             THE SPEC'S RULES
    //////////////////////////////////////////////////////////////*/

    /// @dev `payable(now)` of the payout rule, with `accepted` as the accepted total.
    function _payable(AgreementMirror storage a, uint256 accepted) internal view returns (uint256) {
        uint256 end = a.status == ACTIVE ? block.timestamp : a.terminatedAt;
        return SpecModel.payableAmount(a.budget, a.upfront, a.maxRate, a.streamRate, accepted, end - a.startedAt);
    }

    /// @dev What the agreement owes its provider now; nothing once released.
    function _claimable(AgreementMirror storage a) internal view returns (uint256) {
        if (a.status == RELEASED) return 0;
        return _payable(a, a.accepted) - a.paid;
    }

    /// @dev A grant counts while `now <= validUntil`, for the permission asked.
    function _grantAllows(uint256 p, uint256 g, uint8 permission) internal view returns (bool) {
        if (g >= GRANTEES) return false;
        GrantMirror storage grant = grants[p][g];
        return grant.permissions & permission != 0 && block.timestamp <= grant.validUntil;
    }

    function _allowanceNow(uint256 p, uint256 g) internal view returns (uint256) {
        GrantMirror storage grant = grants[p][g];
        return
            SpecModel.allowanceNow(
                grant.level,
                grant.openAllowance,
                grant.openRefillRate,
                grant.refilledAt,
                block.timestamp
            );
    }

    /// @dev Whether `signer`'s acceptances for pool `p` settle now: the owner always, a grantee while
    /// `now <= acceptValidUntil` (the grant's, or the notice left after a revocation).
    function _mayAccept(uint256 p, address signer) internal view returns (bool) {
        if (signer == _ownerOf(p).account) return true;
        uint256 g = _granteeIndex(signer);
        return g < GRANTEES && block.timestamp <= grants[p][g].acceptValidUntil;
    }

    /// @dev The mirror's side of a payout: the provider is paid `newPaid - paid`, out of the pool's locked funds.
    function _recordPaid(AgreementMirror storage a, uint256 newPaid) internal returns (uint256 amount) {
        _le(a.paid, newPaid, "paid never decreases");
        amount = newPaid - a.paid;
        a.paid = newPaid;
        PoolMirror storage pool = pools[a.pool];
        pool.balance -= amount;
        pool.locked -= amount;
        pool.paid += amount;
        paidOut[pool.token] += amount;
    }

    /// @dev Spends from a grantee's OPEN bucket (the owner's own actions use none).
    function _spendBucket(uint256 p, uint256 g, uint256 amount) internal {
        GrantMirror storage grant = grants[p][g];
        grant.level = _allowanceNow(p, g) - amount;
        grant.refilledAt = block.timestamp;
    }

    /*//////////////////////////////////////////////////////////////
                           CALLS AND OUTCOMES
    //////////////////////////////////////////////////////////////*/

    function _expect(Expect memory e, bool condition, bytes4 selector) internal pure {
        if (condition) e.errors[e.count++] = selector;
    }

    /// @dev Calls DripFeed as `from` and checks the outcome against `e`; returns whether it succeeded and its data.
    function _call(
        address from,
        bytes memory data,
        Expect memory e,
        string memory what
    ) internal returns (bool ok, bytes memory ret) {
        VM.prank(from);
        (ok, ret) = address(DRIP_FEED).call(data);
        _judge(ok, ret, e, what);
        _note(string.concat(what, ok ? ": ok" : ": refused"));
    }

    function _note(string memory label) internal {
        ++_outcomes[keccak256(bytes(label))];
    }

    /// @notice How often `label` happened in this sequence.
    function outcomes(string calldata label) external view returns (uint256) {
        return _outcomes[keccak256(bytes(label))];
    }

    function _judge(bool ok, bytes memory ret, Expect memory e, string memory what) internal pure {
        if (e.count == 0) {
            if (!ok) revert UnexpectedRevert(what, ret);
            return;
        }
        if (ok) revert UnexpectedSuccess(what);
        bytes4 selector = ret.length >= 4 ? bytes4(ret) : bytes4(0);
        for (uint256 i; i < e.count; ++i) if (selector == e.errors[i]) return;
        revert WrongError(what, selector, e.errors[0]);
    }

    function _eq(uint256 actual, uint256 expected, string memory what) internal pure {
        if (actual != expected) revert Violation(what, expected, actual);
    }

    function _le(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) revert Violation(what, b, a);
    }

    /*//////////////////////////////////////////////////////////////
                               INVARIANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice SPEC invariants 1, 2, 3 and 5 and the 1.1 rules, read from the chain, then every figure compared with
    /// the mirror. The SPEC's own invariants come first so that a failure names the one broken. Reverts with
    /// `Violation(what, expected, actual)` on the first that fails.
    function checkInvariants() external view {
        uint256 poolCount = pools.length;
        Pool[] memory chain = new Pool[](poolCount);
        for (uint256 p; p < poolCount; ++p) chain[p] = DRIP_FEED.getPool(pools[p].id);
        _checkTokens(chain);
        (uint256[] memory lockedSum, uint256[] memory paidSum) = _checkAgreements(poolCount);
        for (uint256 p; p < poolCount; ++p) {
            PoolMirror storage pm = pools[p];
            // 2: locked == sum(budget - paid) over the pool's agreements not released, and locked <= balance.
            _eq(chain[p].locked, lockedSum[p], "2: locked == sum(budget - paid)");
            _le(chain[p].locked, chain[p].balance, "2: locked <= balance");
            // 5: funded = withdrawn + paid to providers + balance.
            _eq(pm.funded, pm.withdrawn + pm.paid + chain[p].balance, "5: funded == withdrawn + paid + balance");
            _eq(paidSum[p], pm.paid, "5: sum of agreements' paid == paid out of the pool");
            _eq(chain[p].balance, pm.balance, "pool balance matches the model");
            _eq(chain[p].locked, pm.locked, "pool locked matches the model");
            _eq(uint160(chain[p].owner), uint160(_ownerOf(p).account), "pool owner");
            _eq(uint160(address(chain[p].token)), uint160(address(_tokenOf(p))), "pool token");
            _checkGrants(p);
        }
    }

    /// @dev 1, per token, and 5 from the providers' side.
    function _checkTokens(Pool[] memory chain) private view {
        for (uint256 t; t < 2; ++t) {
            uint256 poolBalances;
            for (uint256 p; p < chain.length; ++p) if (pools[p].token == t) poolBalances += chain[p].balance;
            uint256 held_ = tokens[t].balanceOf(address(DRIP_FEED));
            // 1: the contract holds at least the pools' balances (exactly, plus what was sent to it outside pools).
            _le(poolBalances, held_, "1: token balance >= sum of pool balances");
            _eq(held_, poolBalances + donated[t], "1: token balance == pools + donations");
            // 5: providers hold exactly what DripFeed paid them (they get tokens from nowhere else).
            uint256 providersHold;
            for (uint256 i; i < PROVIDERS; ++i) providersHold += tokens[t].balanceOf(providers[i]);
            _eq(providersHold, paidOut[t], "5: providers hold exactly what was paid out");
        }
    }

    /// @dev 3 (paid <= payable(now) <= budget, claimable == payable - paid) for every agreement, then its figures
    /// against the mirror; returns per pool the sums invariants 2 and 5 need.
    function _checkAgreements(
        uint256 poolCount
    ) private view returns (uint256[] memory lockedSum, uint256[] memory paidSum) {
        lockedSum = new uint256[](poolCount);
        paidSum = new uint256[](poolCount);
        for (uint256 i; i < agreements.length; ++i) {
            AgreementMirror storage am = agreements[i];
            bytes32 poolId = pools[am.pool].id;
            Agreement memory a = DRIP_FEED.getAgreement(poolId, am.id);
            uint256 owed = DRIP_FEED.claimable(poolId, am.id);
            paidSum[am.pool] += a.paid;
            if (a.status == Status.Released) {
                _eq(owed, 0, "3: a released agreement owes nothing");
            } else {
                lockedSum[am.pool] += a.terms.budget - a.paid;
                uint256 payableNow = _payable(am, a.acceptedTotal);
                _le(a.paid, payableNow, "3: paid <= payable(now)");
                _le(payableNow, a.terms.budget, "3: payable(now) <= budget");
                _eq(owed, payableNow - a.paid, "3: claimable == payable(now) - paid");
            }
            _eq(uint8(a.status), am.status, "agreement status");
            _eq(a.paid, am.paid, "agreement paid matches the model");
            _eq(a.acceptedTotal, am.accepted, "agreement accepted total matches the model");
            _eq(a.terms.budget, am.budget, "agreement budget");
            _eq(uint160(a.provider), uint160(providers[am.provider]), "agreement provider");
        }
    }

    /// @dev The grants as set, the OPEN bucket, and the ACCEPT validity with its notice (1.1).
    function _checkGrants(uint256 p) private view {
        for (uint256 g; g < GRANTEES; ++g) {
            GrantMirror storage gm = grants[p][g];
            (uint8 permissions, uint40 validUntil, uint256 allowanceNow) = DRIP_FEED.grantOf(
                pools[p].id,
                grantees[g].account
            );
            _eq(permissions, gm.permissions, "grant permissions");
            _eq(validUntil, gm.validUntil, "grant validUntil");
            _eq(allowanceNow, _allowanceNow(p, g), "OPEN allowance matches the bucket model");
            _eq(
                DRIP_FEED.acceptValidUntil(pools[p].id, grantees[g].account),
                gm.acceptValidUntil,
                "1.1: acceptValidUntil matches the notice rule"
            );
        }
    }

    /// @notice 4: the owner can withdraw exactly the free balance of every pool, and not one unit more. Runs the
    /// withdrawals and then reverts with `ProbeDone` so that nothing changes; any other revert is a violation.
    function probeWithdrawAll() external {
        for (uint256 p; p < pools.length; ++p) {
            uint256 free = _free(p);
            address owner = _ownerOf(p).account;
            Expect memory none;
            if (free != 0) {
                uint256 before = _tokenOf(p).balanceOf(owner);
                _call(owner, abi.encodeCall(IDripFeed.withdraw, (pools[p].id, free, owner)), none, "4: withdraw all");
                _eq(_tokenOf(p).balanceOf(owner) - before, free, "4: the owner receives the free balance");
            }
            Expect memory tooMuch;
            _expect(tooMuch, true, IDripFeed.InsufficientFreeBalance.selector);
            _call(owner, abi.encodeCall(IDripFeed.withdraw, (pools[p].id, 1, owner)), tooMuch, "4: one unit more");
        }
        revert ProbeDone();
    }

    error ProbeDone();
}
