// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IDripFeed} from "../../../contracts/interfaces/IDripFeed.sol";
import {DebitNoteAcceptance, SignedAcceptance, Terms} from "../../../contracts/types/DataTypes.sol";

import {SpecModel} from "../model/SpecModel.sol";
import {Vm} from "../utils/Cheats.sol";
import {World} from "./World.sol";

/// @title Actions
/// @notice One function per DripFeed entry point: predict the outcome from the SPEC and the mirror (the errors it
/// may revert with, or what it must pay and to whom), make the call as the given account, check every party's
/// balance, and update the mirror. The handler decides the inputs; these decide what is right.
abstract contract Actions is World {
    bytes32 private constant SETTLEMENT_FAILED = keccak256("SettlementFailed(bytes32,bytes32,bytes32,bytes4)");

    constructor(IDripFeed dripFeed) World(dripFeed) {}

    /*//////////////////////////////////////////////////////////////
                                 POOLS
    //////////////////////////////////////////////////////////////*/

    function _createPool(uint256 o, uint256 t, bytes32 salt) internal {
        Expect memory none;
        address owner = owners[o].account;
        (, bytes memory ret) = _call(
            owner,
            abi.encodeCall(IDripFeed.createPool, (tokens[t], salt)),
            none,
            "createPool"
        );
        bytes32 poolId = abi.decode(ret, (bytes32));
        _eq(uint256(poolId), uint256(keccak256(abi.encode(owner, salt))), "poolId == keccak256(owner, salt)");
        pools.push(PoolMirror(poolId, salt, uint8(o), uint8(t), 0, 0, 0, 0, 0));
    }

    function _fund(uint256 p, address from, uint256 amount) internal {
        _mint(pools[p].token, from, amount);
        Expect memory e;
        _expect(e, amount == 0, IDripFeed.ZeroAmount.selector);
        _fundFrom(p, from, amount, abi.encodeCall(IDripFeed.fund, (pools[p].id, amount)), e);
    }

    /// @dev `fund` or `fundWithPermit` (`data`): exactly `amount` moves from the funder to DripFeed and the pool.
    function _fundFrom(uint256 p, address from, uint256 amount, bytes memory data, Expect memory e) internal {
        IERC20 token = _tokenOf(p);
        uint256 fromBefore = token.balanceOf(from);
        uint256 heldBefore = token.balanceOf(address(DRIP_FEED));
        (bool ok, ) = _call(from, data, e, "fund");
        if (!ok) return;
        _eq(fromBefore - token.balanceOf(from), amount, "fund takes exactly the amount from the funder");
        _eq(token.balanceOf(address(DRIP_FEED)) - heldBefore, amount, "fund: DripFeed receives the amount");
        pools[p].balance += amount;
        pools[p].funded += amount;
    }

    function _withdraw(uint256 p, address caller, uint256 amount, address to) internal {
        Expect memory e;
        _expect(e, caller != _ownerOf(p).account, IDripFeed.NotPoolOwner.selector);
        _expect(e, amount == 0, IDripFeed.ZeroAmount.selector);
        _expect(e, to == address(0), IDripFeed.ZeroAddress.selector);
        _expect(e, amount > _free(p), IDripFeed.InsufficientFreeBalance.selector);
        IERC20 token = _tokenOf(p);
        uint256 toBefore = token.balanceOf(to);
        uint256 heldBefore = token.balanceOf(address(DRIP_FEED));
        (bool ok, ) = _call(caller, abi.encodeCall(IDripFeed.withdraw, (pools[p].id, amount, to)), e, "withdraw");
        if (!ok) return;
        _eq(token.balanceOf(to) - toBefore, amount, "withdraw: the recipient receives the amount");
        _eq(heldBefore - token.balanceOf(address(DRIP_FEED)), amount, "withdraw: DripFeed sends the amount");
        pools[p].balance -= amount;
        pools[p].withdrawn += amount;
    }

    /*//////////////////////////////////////////////////////////////
                                 GRANTS
    //////////////////////////////////////////////////////////////*/

    function _setGrant(
        uint256 p,
        uint256 g,
        address caller,
        uint8 permissions,
        uint256 validUntil,
        uint256 openAllowance,
        uint256 refillRate
    ) internal {
        Expect memory e;
        _expect(e, caller != _ownerOf(p).account, IDripFeed.NotPoolOwner.selector);
        _expect(e, permissions > 7, IDripFeed.InvalidPermissions.selector);
        bytes memory data = abi.encodeCall(
            IDripFeed.setGrant,
            (
                pools[p].id,
                grantees[g].account,
                permissions,
                uint40(validUntil),
                uint128(openAllowance),
                uint128(refillRate)
            )
        );
        (bool ok, ) = _call(caller, data, e, "setGrant");
        if (ok) _recordGrant(p, g, permissions, validUntil, openAllowance, refillRate);
    }

    /// @dev The mirror after a `setGrant`: the grant as set, a full bucket, and the ACCEPT validity with its notice.
    function _recordGrant(
        uint256 p,
        uint256 g,
        uint8 permissions,
        uint256 validUntil,
        uint256 openAllowance,
        uint256 refillRate
    ) private {
        GrantMirror storage grant = grants[p][g];
        uint256 previous = grant.acceptValidUntil;
        uint256 next = SpecModel.nextAcceptValidUntil(previous, permissions, validUntil, block.timestamp);
        uint256 granted = permissions & SpecModel.ACCEPT != 0 ? validUntil : 0;
        if (granted < previous) _le(next, previous, "1.1: the notice never extends what the previous grant allowed");
        (grant.permissions, grant.validUntil, grant.acceptValidUntil) = (permissions, validUntil, next);
        (grant.level, grant.refilledAt) = (openAllowance, block.timestamp);
        (grant.openAllowance, grant.openRefillRate) = (openAllowance, refillRate);
        uint256 onChain = DRIP_FEED.acceptValidUntil(pools[p].id, grantees[g].account);
        _eq(onChain, next, "1.1: acceptValidUntil after setGrant follows the notice rule");
    }

    /*//////////////////////////////////////////////////////////////
                               AGREEMENTS
    //////////////////////////////////////////////////////////////*/

    function _openAgreement(uint256 p, address caller, bytes32 id, uint256 provider, Terms memory terms) internal {
        if (_openAgreementTo(p, caller, id, providers[provider], terms)) _recordOpened(p, id, provider, terms);
    }

    /// @dev Opens (or fails to); on success the caller's bucket is spent, and the caller records the agreement.
    function _openAgreementTo(
        uint256 p,
        address caller,
        bytes32 id,
        address provider,
        Terms memory terms
    ) internal returns (bool ok) {
        address owner = _ownerOf(p).account;
        bool byOwner = caller == owner;
        uint256 g = _granteeIndex(caller);
        Expect memory e;
        _expect(e, !byOwner && !_grantAllows(p, g, SpecModel.OPEN), IDripFeed.NotAuthorized.selector);
        _expect(e, _invalidTerms(terms, provider, owner), IDripFeed.InvalidTerms.selector);
        _expect(e, _exists(p, id), IDripFeed.AgreementExists.selector);
        _expect(
            e,
            !byOwner && g < GRANTEES && terms.budget > _allowanceNow(p, g),
            IDripFeed.AllowanceExceeded.selector
        );
        _expect(e, terms.budget > _free(p), IDripFeed.InsufficientFreeBalance.selector);
        bytes memory data = abi.encodeCall(IDripFeed.openAgreement, (pools[p].id, id, provider, terms));
        (ok, ) = _call(caller, data, e, "openAgreement");
        if (ok && !byOwner) _spendBucket(p, g, terms.budget);
    }

    function _recordOpened(uint256 p, bytes32 id, uint256 provider, Terms memory terms) internal {
        AgreementMirror storage a = agreements.push();
        (a.pool, a.id, a.provider, a.status, a.startedAt) = (p, id, uint8(provider), ACTIVE, block.timestamp);
        (a.budget, a.upfront, a.maxRate, a.streamRate) = (terms.budget, terms.upfront, terms.maxRate, terms.streamRate);
        a.paymentTimeout = terms.paymentTimeout;
        pools[p].locked += terms.budget;
        _eq(DRIP_FEED.getAgreement(pools[p].id, id).startedAt, block.timestamp, "an agreement starts when opened");
    }

    /// @dev The SPEC's validation of `Terms` and the provider.
    function _invalidTerms(Terms memory t, address provider, address owner) private pure returns (bool) {
        return
            t.budget == 0 ||
            t.upfront > t.budget ||
            (t.maxRate != 0 && t.streamRate > t.maxRate) ||
            t.debitNoteInterval < 120 ||
            t.debitNoteInterval > 900 ||
            t.paymentTimeout == 0 ||
            t.paymentTimeout > 86_400 ||
            provider == address(0) ||
            provider == owner;
    }

    function _exists(uint256 p, bytes32 id) private view returns (bool) {
        for (uint256 i; i < agreements.length; ++i) if (agreements[i].pool == p && agreements[i].id == id) return true;
        return false;
    }

    function _increaseBudget(uint256 i, address caller, uint256 amount) internal {
        AgreementMirror storage a = agreements[i];
        uint256 p = a.pool;
        bool byOwner = caller == _ownerOf(p).account;
        uint256 g = _granteeIndex(caller);
        Expect memory e;
        _expect(e, amount == 0, IDripFeed.ZeroAmount.selector);
        _expect(e, !byOwner && !_grantAllows(p, g, SpecModel.OPEN), IDripFeed.NotAuthorized.selector);
        _expect(e, a.status != ACTIVE, IDripFeed.AgreementNotActive.selector);
        _expect(e, !byOwner && g < GRANTEES && amount > _allowanceNow(p, g), IDripFeed.AllowanceExceeded.selector);
        _expect(e, amount > _free(p), IDripFeed.InsufficientFreeBalance.selector);
        bytes memory data = abi.encodeCall(IDripFeed.increaseBudget, (pools[p].id, a.id, uint128(amount)));
        (bool ok, ) = _call(caller, data, e, "increaseBudget");
        if (!ok) return;
        if (!byOwner) _spendBucket(p, g, amount);
        a.budget += amount;
        pools[p].locked += amount;
    }

    function _terminate(uint256 i, address caller) internal {
        AgreementMirror storage a = agreements[i];
        uint256 p = a.pool;
        bool byProvider = caller == providers[a.provider];
        bool allowed =
            byProvider || caller == _ownerOf(p).account || _grantAllows(p, _granteeIndex(caller), SpecModel.TERMINATE);
        Expect memory e;
        _expect(e, a.status != ACTIVE, IDripFeed.AgreementNotActive.selector);
        _expect(e, !allowed, IDripFeed.NotAuthorized.selector);
        uint256 payableBefore = _chainPayable(i);
        (bool ok, ) = _call(caller, abi.encodeCall(IDripFeed.terminate, (pools[p].id, a.id)), e, "terminate");
        if (!ok) return;
        (a.status, a.terminatedAt, a.byProvider) = (TERMINATED, block.timestamp, byProvider);
        _eq(_chainPayable(i), payableBefore, "terminating changes nothing payable at that moment");
    }

    /// @dev Checks the 1.1 rule: the provider is first paid everything the payout rule made payable, and only the
    /// rest of the budget returns to the pool's free balance.
    function _release(uint256 i, address caller) internal {
        AgreementMirror storage a = agreements[i];
        uint256 p = a.pool;
        Expect memory e;
        _expect(e, a.status == ACTIVE, IDripFeed.ClaimWindowOpen.selector);
        _expect(e, a.status == RELEASED, IDripFeed.AgreementNotActive.selector);
        bool windowOpen = block.timestamp <= a.terminatedAt + a.paymentTimeout;
        _expect(e, a.status == TERMINATED && !a.byProvider && windowOpen, IDripFeed.ClaimWindowOpen.selector);
        uint256 payableNow = a.status == RELEASED ? a.paid : _payable(a, a.accepted);
        (uint256 providerBefore, uint256 heldBefore) = _balances(i);
        (bool ok, ) = _call(caller, abi.encodeCall(IDripFeed.release, (pools[p].id, a.id)), e, "release");
        if (!ok) return;
        uint256 owed = _recordPaid(a, payableNow);
        pools[p].locked -= a.budget - payableNow;
        a.status = RELEASED;
        (uint256 providerAfter, uint256 heldAfter) = _balances(i);
        _eq(providerAfter - providerBefore, owed, "1.1: release pays the provider its claimable first");
        if (owed != 0) _note("release: paid the provider first");
        if (a.byProvider && block.timestamp <= a.terminatedAt + a.paymentTimeout) _note("release: at once (provider)");
        _eq(heldBefore - heldAfter, owed, "release: only the provider's due leaves DripFeed");
        _eq(
            DRIP_FEED.getAgreement(pools[p].id, a.id).paid,
            payableNow,
            "1.1: no release lowers what the payout rule made payable"
        );
    }

    function _claim(uint256 i, address caller) internal {
        AgreementMirror storage a = agreements[i];
        uint256 owed = _claimable(a);
        Expect memory e;
        _expect(e, a.status == RELEASED || owed == 0, IDripFeed.NothingToSettle.selector);
        (uint256 providerBefore, ) = _balances(i);
        bytes memory data = abi.encodeCall(IDripFeed.claim, (pools[a.pool].id, a.id));
        (bool ok, bytes memory ret) = _call(caller, data, e, "claim");
        if (!ok) return;
        _recordPaid(a, a.paid + owed);
        (uint256 providerAfter, ) = _balances(i);
        _eq(abi.decode(ret, (uint256)), owed, "claim returns what it paid");
        _eq(providerAfter - providerBefore, owed, "claim pays the provider its claimable");
    }

    /// @dev The provider's and DripFeed's balances of the agreement's token.
    function _balances(uint256 i) private view returns (uint256 provider, uint256 dripFeed) {
        IERC20 token = _tokenOf(agreements[i].pool);
        return (token.balanceOf(providers[agreements[i].provider]), token.balanceOf(address(DRIP_FEED)));
    }

    /// @dev What the contract says is payable now: paid + claimable.
    function _chainPayable(uint256 i) internal view returns (uint256) {
        AgreementMirror storage a = agreements[i];
        bytes32 poolId = pools[a.pool].id;
        return DRIP_FEED.getAgreement(poolId, a.id).paid + DRIP_FEED.claimable(poolId, a.id);
    }

    /*//////////////////////////////////////////////////////////////
                              ACCEPTANCES
    //////////////////////////////////////////////////////////////*/

    function _digest(Held memory h) internal view returns (bytes32) {
        return
            SpecModel.acceptanceDigest(address(DRIP_FEED), h.poolId, h.agreementId, h.debitNoteId, h.total, h.deadline);
    }

    function _item(Held memory h) internal pure returns (SignedAcceptance memory) {
        return
            SignedAcceptance(
                DebitNoteAcceptance(h.poolId, h.agreementId, h.debitNoteId, h.total, h.deadline),
                h.signer,
                h.signature
            );
    }

    /// @dev `settle`'s outcome by the SPEC: the errors it may revert with, or the accepted total and paid it leaves.
    /// A grantee's acceptance counts only while `now <= acceptValidUntil` (1.1: the notice after a revocation).
    function _expectSettle(
        Held memory h
    ) internal view returns (Expect memory e, uint256 newAccepted, uint256 newPaid) {
        if (h.agreement == type(uint256).max) {
            _expect(e, true, IDripFeed.AgreementNotFound.selector);
            return (e, 0, 0);
        }
        AgreementMirror storage a = agreements[h.agreement];
        _expect(e, a.status == RELEASED, IDripFeed.AgreementNotActive.selector);
        _expect(e, h.deadline < block.timestamp, IDripFeed.SignatureExpired.selector);
        _expect(e, h.forged || !_mayAccept(a.pool, h.signer), IDripFeed.InvalidSignature.selector);
        if (e.count != 0) return (e, 0, 0);
        // Totals above 128 bits count as the largest 128-bit total: no budget is larger.
        newAccepted = SpecModel.max(a.accepted, SpecModel.min(h.total, type(uint128).max));
        newPaid = _payable(a, newAccepted);
        _expect(e, newAccepted == a.accepted && newPaid == a.paid, IDripFeed.NothingToSettle.selector);
    }

    function _settle(Held memory h, address caller) internal {
        (Expect memory e, uint256 newAccepted, uint256 newPaid) = _expectSettle(h);
        SignedAcceptance memory item = _item(h);
        _eq(uint256(DRIP_FEED.acceptanceDigest(item.acceptance)), uint256(_digest(h)), "EIP-712 digest");
        (uint256 providerBefore, ) = _balances(h.agreement);
        bytes memory data = abi.encodeCall(IDripFeed.settle, (item.acceptance, h.signer, h.signature));
        (bool ok, bytes memory ret) = _call(caller, data, e, "settle");
        _noteSigner(h, ok);
        if (!ok) return;
        AgreementMirror storage a = agreements[h.agreement];
        uint256 amount = _recordPaid(a, newPaid);
        a.accepted = newAccepted;
        (uint256 providerAfter, ) = _balances(h.agreement);
        _eq(abi.decode(ret, (uint256)), amount, "settle returns what it paid");
        _eq(providerAfter - providerBefore, amount, "settle pays the agreement's provider");
    }

    /// @dev Notes the signer cases the campaign must reach: a grantee settling inside its ACCEPT notice (its grant
    /// no longer allows ACCEPT), refused after it, and contract-wallet signers.
    function _noteSigner(Held memory h, bool ok) private {
        uint256 p = agreements[h.agreement].pool;
        uint256 g = _granteeIndex(h.signer);
        if (h.signer.code.length != 0) _note(ok ? "settle: ERC-1271 signer ok" : "settle: ERC-1271 signer refused");
        if (g == GRANTEES || h.forged) return;
        GrantMirror storage grant = grants[p][g];
        bool grantAllows = _grantAllows(p, g, SpecModel.ACCEPT);
        if (ok && !grantAllows) _note("settle: grantee inside its ACCEPT notice");
        if (!ok && grant.acceptValidUntil != 0 && block.timestamp > grant.acceptValidUntil) {
            _note("settle: grantee refused after its ACCEPT notice");
        }
    }

    /// @dev Items are judged in order against the mirror (an earlier item changes what a later one of the same
    /// agreement may pay); each bad item must fail alone with a `SettlementFailed` naming its reason.
    function _settleBatch(Held[] memory items) internal {
        uint256 n = items.length;
        SignedAcceptance[] memory batch = new SignedAcceptance[](n);
        Expect[] memory expects = new Expect[](n);
        uint256[] memory amounts = new uint256[](n);
        uint256[2][3] memory gains;
        uint256[2][3] memory before = _providerBalances();
        for (uint256 k; k < n; ++k) {
            batch[k] = _item(items[k]);
            uint256 newAccepted;
            uint256 newPaid;
            (expects[k], newAccepted, newPaid) = _expectSettle(items[k]);
            if (expects[k].count != 0) continue;
            AgreementMirror storage a = agreements[items[k].agreement];
            amounts[k] = _recordPaid(a, newPaid);
            a.accepted = newAccepted;
            gains[a.provider][pools[a.pool].token] += amounts[k];
        }
        VM.recordLogs();
        VM.prank(relay);
        (bool ok, bytes memory ret) = address(DRIP_FEED).call(abi.encodeCall(IDripFeed.settleBatch, (batch)));
        if (!ok) revert UnexpectedRevert("settleBatch never reverts for a bad item", ret);
        uint256[] memory paid = abi.decode(ret, (uint256[]));
        bytes4[] memory reasons = _failureReasons(VM.getRecordedLogs());
        uint256 failed;
        for (uint256 k; k < n; ++k) {
            _eq(paid[k], amounts[k], "settleBatch: each item pays what settle would");
            if (items[k].agreement != type(uint256).max) _noteSigner(items[k], expects[k].count == 0);
            if (expects[k].count == 0) continue;
            if (failed == reasons.length) revert UnexpectedSuccess("settleBatch: a bad item");
            _judge(false, abi.encodePacked(reasons[failed++]), expects[k], "settleBatch: the failed item's reason");
        }
        _eq(reasons.length, failed, "settleBatch: only bad items fail");
        if (failed != 0 && failed != n) _note("settleBatch: good and bad items together");
        uint256[2][3] memory afterBalances = _providerBalances();
        for (uint256 q; q < PROVIDERS; ++q) {
            for (uint256 t; t < 2; ++t) {
                _eq(afterBalances[q][t] - before[q][t], gains[q][t], "settleBatch pays each provider its items");
            }
        }
    }

    function _failureReasons(Vm.Log[] memory logs) private view returns (bytes4[] memory reasons) {
        reasons = new bytes4[](logs.length);
        uint256 count;
        for (uint256 j; j < logs.length; ++j) {
            if (logs[j].emitter != address(DRIP_FEED) || logs[j].topics[0] != SETTLEMENT_FAILED) continue;
            reasons[count++] = bytes4(abi.decode(logs[j].data, (bytes32)));
        }
        assembly ("memory-safe") {
            mstore(reasons, count)
        }
    }

    function _providerBalances() private view returns (uint256[2][3] memory balances) {
        for (uint256 q; q < PROVIDERS; ++q) {
            for (uint256 t; t < 2; ++t) balances[q][t] = tokens[t].balanceOf(providers[q]);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                  TIME
    //////////////////////////////////////////////////////////////*/

    /// @dev Moves the clock forward; what the contract says is payable never goes down as time passes (checked on
    /// two agreements per move: the invariants compare every agreement with the model every few calls anyway).
    function _warpTo(uint256 target) internal {
        uint256 n = agreements.length;
        uint256 first = target % n;
        uint256 second = (first + 1) % n;
        uint256 before1 = _chainPayable(first);
        uint256 before2 = _chainPayable(second);
        VM.warp(target);
        _le(before1, _chainPayable(first), "3: payable never decreases as time passes");
        _le(before2, _chainPayable(second), "3: payable never decreases as time passes");
    }
}
