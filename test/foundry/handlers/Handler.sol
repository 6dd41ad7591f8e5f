// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IDripFeed} from "../../../contracts/interfaces/IDripFeed.sol";
import {Terms} from "../../../contracts/types/DataTypes.sol";
import {NoReturnToken} from "../../../contracts/test/NoReturnToken.sol";

import {SpecModel} from "../model/SpecModel.sol";
import {Actions} from "./Actions.sol";

/// @dev `Multicall` is not part of `IDripFeed`.
interface IMulticall {
    function multicall(bytes[] calldata data) external returns (bytes[] memory results);
}

/// @title Handler
/// @notice The entry points forge calls with random inputs. Together they cover every state-changing function of
/// DripFeed; each turns its inputs into one call (valid most of the time, with a deliberate fault some of the
/// time), and the `Actions` it calls predict the outcome from the SPEC, make the call and update the mirror.
contract Handler is Actions {
    bytes32 private constant PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );

    constructor(IDripFeed dripFeed) Actions(dripFeed) {}

    /// @notice Two pools, funded, with grants and an agreement each, so that every sequence starts where money
    /// moves. Variant 0: an EOA's pool of the plain token and the wallet's of the USDT-like one; variant 1: the other
    /// EOA's pool of the USDT-like token and the wallet's of the plain one, with other grants and terms.
    function bootstrap(uint256 variant) external {
        uint8 accept = SpecModel.ACCEPT;
        if (variant == 0) {
            _createPool(0, 0, keccak256("bootstrap-0"));
            _createPool(2, 1, keccak256("bootstrap-1"));
            _fund(0, owners[0].account, 1e24);
            _fund(1, owners[2].account, 1e24);
            _setGrant(0, 0, owners[0].account, accept | SpecModel.TERMINATE, block.timestamp + 7 days, 0, 0);
            _setGrant(1, 2, owners[2].account, accept | SpecModel.OPEN, block.timestamp + 3 days, 1e23, 1e18);
            _openAgreement(0, owners[0].account, _fresh("agreement"), 0, Terms(1e21, 1e19, 1e34, 0, 120, 3600));
            _openAgreement(1, owners[2].account, _fresh("agreement"), 1, Terms(5e20, 0, 0, 3e33, 300, 86_400));
        } else {
            _createPool(1, 1, keccak256("bootstrap-2"));
            _createPool(2, 0, keccak256("bootstrap-3"));
            _fund(0, owners[1].account, 1e12);
            _fund(1, owners[2].account, 1e24);
            _setGrant(0, 1, owners[1].account, accept | SpecModel.OPEN, block.timestamp + 1 days, 1e10, 1e20);
            _setGrant(1, 2, owners[2].account, accept | SpecModel.TERMINATE, type(uint40).max, 0, 0);
            _openAgreement(0, owners[1].account, _fresh("agreement"), 2, Terms(1e9, 1e8, 1e22, 5e21, 900, 1));
            _openAgreement(1, owners[2].account, _fresh("agreement"), 0, Terms(1e22, 1e22, 0, 0, 120, 600));
        }
    }

    /// @notice The actions forge calls (every external function below).
    function actions() external pure returns (bytes4[] memory selectors) {
        selectors = new bytes4[](18);
        selectors[0] = this.createPool.selector;
        selectors[1] = this.fund.selector;
        selectors[2] = this.fundWithPermit.selector;
        selectors[3] = this.withdraw.selector;
        selectors[4] = this.setGrant.selector;
        selectors[5] = this.openAgreement.selector;
        selectors[6] = this.increaseBudget.selector;
        selectors[7] = this.terminate.selector;
        selectors[8] = this.release.selector;
        selectors[9] = this.claim.selector;
        selectors[10] = this.sign.selector;
        selectors[11] = this.settle.selector;
        selectors[12] = this.settleHeld.selector;
        selectors[13] = this.settleBatch.selector;
        selectors[14] = this.multicall.selector;
        selectors[15] = this.warp.selector;
        selectors[16] = this.warpToBoundary.selector;
        selectors[17] = this.donate.selector;
    }

    /*//////////////////////////////////////////////////////////////
                                 POOLS
    //////////////////////////////////////////////////////////////*/

    function createPool(uint256 ownerSeed, uint256 tokenSeed, uint256 reuseSeed) external {
        uint256 o = ownerSeed % OWNERS;
        if (reuseSeed % 8 == 0) {
            // A salt this owner already used: `PoolExists`.
            for (uint256 p; p < pools.length; ++p) {
                if (pools[p].owner != o) continue;
                Expect memory e;
                _expect(e, true, IDripFeed.PoolExists.selector);
                _call(
                    owners[o].account,
                    abi.encodeCall(IDripFeed.createPool, (tokens[tokenSeed % 2], pools[p].salt)),
                    e,
                    "createPool again"
                );
                return;
            }
        }
        if (pools.length >= MAX_POOLS) return;
        _createPool(o, tokenSeed % 2, _fresh("salt"));
    }

    /// @notice Anyone tops up a pool (the owner, a relay, a stranger); an amount of 0 must be refused.
    function fund(uint256 poolSeed, uint256 amountSeed, uint256 fromSeed) external {
        uint256 p = poolSeed % pools.length;
        uint256 kind = fromSeed % 5;
        address from =
            kind < 2
                ? _ownerOf(p).account
                : kind == 2
                    ? relay
                    : stranger.account;
        uint256 amount = kind == 4 ? 0 : _amount(amountSeed);
        _fund(p, from, amount);
    }

    /// @notice `fundWithPermit` by an account that never approved DripFeed: a valid permit, a permit a front-runner
    /// already submitted (still funds), or a bad one (refused for want of allowance). The USDT-like token has no
    /// permit: an approval made beforehand funds, none refuses.
    function fundWithPermit(uint256 poolSeed, uint256 amountSeed, uint256 modeSeed) external {
        uint256 p = poolSeed % pools.length;
        uint256 amount = _amount(amountSeed);
        uint256 mode = modeSeed % 3;
        address from = permitFunder.account;
        _mint(pools[p].token, from, amount);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = (27, bytes32(modeSeed), bytes32(amountSeed));
        Expect memory e;
        if (pools[p].token == 0) {
            bytes32 digest = keccak256(
                abi.encodePacked(
                    "\x19\x01",
                    GLM.DOMAIN_SEPARATOR(),
                    keccak256(abi.encode(PERMIT_TYPEHASH, from, address(DRIP_FEED), amount, GLM.nonces(from), deadline))
                )
            );
            (v, r, s) = VM.sign(mode == 2 ? stranger.key : permitFunder.key, digest);
            if (mode == 1) {
                VM.prank(relay);
                GLM.permit(from, address(DRIP_FEED), amount, deadline, v, r, s);
            }
            _expect(e, mode == 2, IERC20Errors.ERC20InsufficientAllowance.selector);
        } else {
            if (mode != 2) {
                VM.prank(from);
                USDT.approve(address(DRIP_FEED), amount);
            }
            _expect(e, mode == 2, NoReturnToken.InsufficientAllowance.selector);
        }
        _fundFrom(
            p,
            from,
            amount,
            abi.encodeCall(IDripFeed.fundWithPermit, (pools[p].id, amount, deadline, v, r, s)),
            e
        );
        _eq(_tokenOf(p).allowance(from, address(DRIP_FEED)), 0, "a permit's allowance is used up exactly");
    }

    /// @notice The owner takes some or all of the free balance; more than free, a zero amount or recipient, or any
    /// other caller must be refused.
    function withdraw(uint256 poolSeed, uint256 amountSeed, uint256 modeSeed) external {
        uint256 p = poolSeed % pools.length;
        uint256 free = _free(p);
        uint256 mode = modeSeed % 6;
        address caller = _ownerOf(p).account;
        address to = _split(modeSeed, 8) % 2 == 0 ? caller : stranger.account;
        uint256 amount = _bound(amountSeed, 1, free == 0 ? 1 : free);
        if (mode == 1) amount = free;
        else if (mode == 2) amount = free + _bound(amountSeed, 1, 1e24);
        else if (mode == 3) caller = _anyoneBut(p, _split(modeSeed, 16));
        else if (mode == 4) amount = 0;
        else if (mode == 5) to = address(0);
        _withdraw(p, caller, amount, to);
    }

    /*//////////////////////////////////////////////////////////////
                                 GRANTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Grants every combination of ACCEPT, TERMINATE and OPEN (0 revokes), with validities around now, the
    /// notice length and far away, and OPEN buckets with and without refill; sometimes by someone else than the owner
    /// or with unknown permission bits.
    function setGrant(
        uint256 poolSeed,
        uint256 granteeSeed,
        uint256 permissionsSeed,
        uint256 validSeed,
        uint256 bucketSeed
    ) external {
        // Half the time the pool of an agreement, where a grant has something to act on.
        uint256 p =
            poolSeed % 2 == 0 ? poolSeed % pools.length : agreements[_split(poolSeed, 1) % agreements.length].pool;
        address caller = bucketSeed % 10 == 0 ? _anyoneBut(p, _split(bucketSeed, 8)) : _ownerOf(p).account;
        uint8 permissions = uint8(permissionsSeed % 8);
        if (_split(permissionsSeed, 8) % 16 == 0) permissions |= uint8(8 << (_split(permissionsSeed, 16) % 5));
        uint256 openAllowance = bucketSeed % 3 == 0 ? 0 : _bound(_split(bucketSeed, 16), 1, 1e24);
        uint256 refillRate =
            _split(bucketSeed, 32) % 2 == 0 ? 0 : (openAllowance * 1e18) / _bound(bucketSeed, 1, 7 days);
        if (refillRate > type(uint128).max) refillRate = type(uint128).max;
        uint256 g = granteeSeed % GRANTEES;
        if (_split(granteeSeed, 8) % 3 == 0) {
            // Take ACCEPT away from the grantee whose acceptances count longest: the notice case.
            g = _latestAcceptor(p);
            permissions &= ~SpecModel.ACCEPT;
        }
        _setGrant(p, g, caller, permissions, _validUntil(validSeed), openAllowance, refillRate);
    }

    /*//////////////////////////////////////////////////////////////
                               AGREEMENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Opens an agreement as the owner, a grantee (with or without OPEN, within or beyond its bucket) or a
    /// stranger, with valid terms of every shape, or with one fault: invalid terms, a used id, too large a budget.
    function openAgreement(uint256 poolSeed, uint256 callerSeed, uint256 termsSeed, uint256 faultSeed) external {
        if (agreements.length >= MAX_AGREEMENTS) return;
        uint256 p = poolSeed % pools.length;
        (address caller, uint256 limit) = _opener(p, callerSeed);
        Terms memory terms = _terms(termsSeed, limit == 0 ? 1 : limit);
        uint256 fault = faultSeed % 12;
        bytes32 id = _fresh("agreement");
        uint256 provider = _split(termsSeed, 100) % PROVIDERS;
        if (fault == 0) {
            terms = _breakTerms(terms, _split(faultSeed, 8));
        } else if (fault == 1) {
            uint256 existing = _agreementOfPool(p, _split(faultSeed, 8));
            if (existing < agreements.length) id = agreements[existing].id;
        } else if (fault == 2) {
            terms.budget = uint128(_free(p) + _bound(_split(faultSeed, 8), 1, 1e24));
        }
        if (fault == 0 && _split(faultSeed, 40) % 8 == 0) {
            // The provider may not be the pool's owner nor zero.
            _openAgreementTo(p, caller, id, _split(faultSeed, 48) % 2 == 0 ? address(0) : _ownerOf(p).account, terms);
            return;
        }
        _openAgreement(p, caller, id, provider, terms);
    }

    function increaseBudget(uint256 agreementSeed, uint256 callerSeed, uint256 amountSeed) external {
        uint256 i = agreementSeed % agreements.length;
        uint256 p = agreements[i].pool;
        (address caller, uint256 limit) = _opener(p, callerSeed);
        uint256 amount = amountSeed % 10 == 0 ? 0 : _bound(_split(amountSeed, 8), 1, limit == 0 ? 1 : limit);
        if (amountSeed % 10 == 1) amount = _free(p) + 1;
        _increaseBudget(i, caller, amount);
    }

    /// @notice Terminates as the owner, a grantee (with or without TERMINATE), the provider, or someone else.
    function terminate(uint256 agreementSeed, uint256 callerSeed) external {
        uint256 i = agreementSeed % agreements.length;
        uint256 p = agreements[i].pool;
        uint256 kind = callerSeed % 5;
        address caller =
            kind == 0
                ? _ownerOf(p).account
                : kind == 1
                    ? grantees[_split(callerSeed, 8) % GRANTEES].account
                    : kind == 2
                        ? providers[agreements[i].provider]
                        : kind == 3
                            ? stranger.account
                            : relay;
        _terminate(i, caller);
    }

    /// @notice Anyone releases; before the claim window ends (or while active, or twice) it must be refused.
    function release(uint256 agreementSeed, uint256 callerSeed) external {
        uint256 i = agreementSeed % agreements.length;
        _release(i, callerSeed % 2 == 0 ? relay : stranger.account);
    }

    /// @notice Anyone claims for the provider; with nothing owed it must be refused.
    function claim(uint256 agreementSeed, uint256 callerSeed) external {
        uint256 i = agreementSeed % agreements.length;
        uint256 kind = callerSeed % 3;
        _claim(
            i,
            kind == 0
                ? relay
                : kind == 1
                    ? providers[agreements[i].provider]
                    : stranger.account
        );
    }

    /*//////////////////////////////////////////////////////////////
                              ACCEPTANCES
    //////////////////////////////////////////////////////////////*/

    /// @notice A signer (owner, grantee, wallet, stranger, or a forgery) signs an acceptance that someone holds to
    /// submit later: after time passes, after its signer lost ACCEPT, after its deadline.
    function sign(uint256 agreementSeed, uint256 signerSeed, uint256 totalSeed, uint256 deadlineSeed) external {
        Held memory h = _acceptance(_toAccept(agreementSeed), signerSeed, totalSeed, deadlineSeed);
        _hold(h);
    }

    /// @notice Signs and submits at once.
    function settle(uint256 agreementSeed, uint256 signerSeed, uint256 totalSeed, uint256 deadlineSeed) external {
        Held memory h = _acceptance(_toAccept(agreementSeed), signerSeed, totalSeed, deadlineSeed);
        if (deadlineSeed % 7 == 0) _hold(h);
        _settle(h, _split(totalSeed, 200) % 2 == 0 ? relay : providers[agreements[h.agreement].provider]);
    }

    /// @notice Submits (again) an acceptance signed earlier.
    function settleHeld(uint256 heldSeed) external {
        if (held.length == 0) return;
        _settle(held[heldSeed % held.length], relay);
    }

    /// @notice One to four items: held acceptances, fresh ones, and items for agreements that do not exist. Bad
    /// items fail alone with their reason; the others settle.
    function settleBatch(uint256 seed, uint256 countSeed) external {
        uint256 n = 1 + (countSeed % 4);
        Held[] memory items = new Held[](n);
        for (uint256 k; k < n; ++k) {
            seed = _next(seed);
            uint256 source = seed % 5;
            if (source == 0 && held.length != 0) items[k] = held[_split(seed, 8) % held.length];
            else if (source == 1) items[k] = _unknownAgreementItem(seed);
            else
                items[k] = _acceptance(
                    _toAccept(_split(seed, 8)),
                    _split(seed, 16),
                    _split(seed, 64),
                    _split(seed, 128)
                );
        }
        _settleBatch(items);
    }

    /// @notice Several calls in one transaction: a provider settles or claims and then terminates (the SPEC's exit);
    /// an owner funds and opens in one go; and a batch with one unauthorized call reverts whole.
    function multicall(uint256 agreementSeed, uint256 recipeSeed) external {
        uint256 recipe = recipeSeed % 3;
        if (recipe == 0) _providerExit(agreementSeed % agreements.length, _split(recipeSeed, 8));
        else if (recipe == 1) _fundAndOpen(agreementSeed % pools.length, _split(recipeSeed, 8));
        else _atomicMulticall(agreementSeed % agreements.length);
    }

    /*//////////////////////////////////////////////////////////////
                                  TIME
    //////////////////////////////////////////////////////////////*/

    /// @notice Moves the clock by a second, minutes, an hour or up to a day (claim windows last up to a day, the
    /// ACCEPT notice an hour).
    function warp(uint256 secondsSeed) external {
        uint256 kind = secondsSeed % 4;
        uint256 limit =
            kind == 0
                ? 1
                : kind == 1
                    ? 300
                    : kind == 2
                        ? 1 hours
                        : 1 days;
        _warpTo(block.timestamp + _bound(_split(secondsSeed, 8), 1, limit));
    }

    /// @notice Jumps onto a boundary or one second past it: a claim window's end, a grant's `validUntil`, an ACCEPT
    /// notice's end, a held acceptance's deadline, the moment a rate cap or a stream floor reaches the budget.
    function warpToBoundary(uint256 seed) external {
        uint256 target = _boundary(seed);
        if (target <= block.timestamp || target > block.timestamp + 30 days) target = block.timestamp + 1;
        _warpTo(target);
    }

    /// @notice Someone sends tokens to DripFeed outside any pool: they belong to no pool and move nothing.
    function donate(uint256 tokenSeed, uint256 amountSeed) external {
        uint256 t = tokenSeed % 2;
        uint256 amount = _amount(amountSeed);
        _mint(t, stranger.account, amount);
        VM.prank(stranger.account);
        if (t == 0) GLM.transfer(address(DRIP_FEED), amount);
        else USDT.transfer(address(DRIP_FEED), amount);
        donated[t] += amount;
    }

    /*//////////////////////////////////////////////////////////////
                            INPUT SHAPING
    //////////////////////////////////////////////////////////////*/

    function _amount(uint256 seed) private pure returns (uint256) {
        // Mostly small and mid-sized amounts, sometimes a single base unit.
        uint256 kind = seed % 4;
        if (kind == 0) return 1;
        if (kind == 1) return _bound(_split(seed, 8), 1, 1e6);
        return _bound(_split(seed, 8), 1, 1e24);
    }

    /// @dev Somebody who is not the pool's owner.
    function _anyoneBut(uint256 p, uint256 seed) private view returns (address) {
        uint256 kind = seed % 4;
        if (kind == 0) return grantees[_split(seed, 8) % GRANTEES].account;
        if (kind == 1) return providers[_split(seed, 8) % PROVIDERS];
        if (kind == 2) return owners[(pools[p].owner + 1) % OWNERS].account;
        return stranger.account;
    }

    /// @dev Who opens (or raises a budget): mostly the owner, else a grantee or a stranger; and the largest budget
    /// that caller could lock (free balance, and a grantee's bucket).
    function _opener(uint256 p, uint256 seed) private view returns (address caller, uint256 limit) {
        uint256 kind = seed % 4;
        limit = _free(p);
        if (kind < 2) return (_ownerOf(p).account, limit);
        if (kind == 3) return (stranger.account, limit);
        uint256 g = _split(seed, 8) % GRANTEES;
        uint256 bucket = _allowanceNow(p, g);
        return (grantees[g].account, bucket < limit ? bucket : limit);
    }

    function _validUntil(uint256 seed) private view returns (uint256) {
        uint256 kind = seed % 8;
        uint256 nowTs = block.timestamp;
        if (kind < 3) return nowTs + _bound(_split(seed, 8), 60, 30 days);
        if (kind == 3) return nowTs;
        if (kind == 4) return nowTs - _bound(_split(seed, 8), 1, 1 days);
        if (kind == 5) return nowTs + _bound(_split(seed, 8), 0, 2 * SpecModel.ACCEPT_NOTICE);
        if (kind == 6) return type(uint40).max;
        return nowTs + _bound(_split(seed, 8), 1, 600);
    }

    /// @dev Valid terms of one of four shapes (no cap nor floor, cap, floor, both) with `budget <= limit`; rates that
    /// reach the budget within a second up to a week, and now and then the largest rate there is.
    function _terms(uint256 seed, uint256 limit) private pure returns (Terms memory t) {
        uint256 budget = _bound(seed, 1, limit);
        t.budget = uint128(budget);
        seed = _next(seed);
        uint256 shape = seed % 4;
        uint256 duration = seed % 5 == 0 ? 1 : _bound(_split(seed, 8), 1, 7 days);
        uint256 rate = (budget * 1e18) / duration;
        if (rate > type(uint128).max || _split(seed, 64) % 16 == 0) rate = type(uint128).max;
        if (shape == 1 || shape == 3) {
            t.maxRate = uint128(rate);
            t.upfront = uint128(_bound(_split(seed, 80), 0, budget / 4));
        } else {
            t.upfront = uint128(_bound(_split(seed, 80), 0, budget));
        }
        if (shape == 2) t.streamRate = uint128(rate / _bound(_split(seed, 120), 1, 4));
        if (shape == 3) t.streamRate = uint128((uint256(t.maxRate) * _bound(_split(seed, 120), 0, 100)) / 100);
        t.debitNoteInterval = uint32(_bound(_split(seed, 160), 120, 900));
        uint256 timeoutKind = _split(seed, 176) % 4;
        t.paymentTimeout =
            timeoutKind == 0
                ? 1
                : timeoutKind == 1
                    ? 86_400
                    : uint32(_bound(_split(seed, 180), 1, 86_400));
    }

    /// @dev One rule of the terms' validation broken.
    function _breakTerms(Terms memory t, uint256 seed) private pure returns (Terms memory) {
        uint256 kind = seed % 7;
        if (kind == 0) t.budget = 0;
        else if (kind == 1) t.upfront = t.budget + 1;
        else if (kind == 2) (t.maxRate, t.streamRate) = (1, 2);
        else if (kind == 3) t.debitNoteInterval = 119;
        else if (kind == 4) t.debitNoteInterval = 901;
        else if (kind == 5) t.paymentTimeout = 0;
        else t.paymentTimeout = 86_401;
        return t;
    }

    /// @dev An agreement of pool `p` (index), or `agreements.length` when it has none.
    function _agreementOfPool(uint256 p, uint256 seed) private view returns (uint256) {
        uint256 n = agreements.length;
        for (uint256 k; k < n; ++k) {
            uint256 i = (seed + k) % n;
            if (agreements[i].pool == p) return i;
        }
        return n;
    }

    /// @dev An acceptance of agreement `i`: signer, total and deadline chosen around the interesting values.
    function _acceptance(
        uint256 i,
        uint256 signerSeed,
        uint256 totalSeed,
        uint256 deadlineSeed
    ) private returns (Held memory h) {
        AgreementMirror storage a = agreements[i];
        h.agreement = i;
        (h.poolId, h.agreementId) = (pools[a.pool].id, a.id);
        h.debitNoteId = _fresh("debit-note");
        uint256 kind = totalSeed % 6;
        if (kind == 0) h.total = a.accepted + _bound(_split(totalSeed, 8), 1, a.budget);
        else if (kind == 1) h.total = _bound(_split(totalSeed, 8), 0, a.accepted);
        else if (kind == 2) h.total = type(uint256).max;
        else if (kind == 3) h.total = a.accepted + _bound(_split(totalSeed, 8), 1, 1000);
        else if (kind == 4) h.total = a.budget;
        else h.total = _bound(_split(totalSeed, 8), 0, 2 * a.budget);
        uint256 deadlineKind = deadlineSeed % 5;
        if (deadlineKind == 0) h.deadline = block.timestamp - _bound(_split(deadlineSeed, 8), 1, 3600);
        else if (deadlineKind == 1) h.deadline = block.timestamp;
        else h.deadline = block.timestamp + _bound(_split(deadlineSeed, 8), 1, 2 days);
        uint256 key;
        (h.signer, key, h.forged) = _signer(a.pool, signerSeed);
        h.signature = _sign(key, _digest(h));
    }

    /// @dev Owner (EOA or wallet), a grantee (EOA or wallet), a stranger, or a forgery claiming to be the owner.
    function _signer(uint256 p, uint256 seed) private view returns (address signer, uint256 key, bool forged) {
        uint256 kind = seed % 8;
        if (kind < 2) return (_ownerOf(p).account, _ownerOf(p).key, false);
        if (kind < 6) {
            // A grantee picked by the seed, or one whose ACCEPT was taken away and whose notice runs (else the one
            // whose ACCEPT lasts longest in this pool).
            uint256 pick = kind == 2 ? _split(seed, 8) % GRANTEES : _noticeHolder(p);
            Actor storage g = grantees[pick];
            return (g.account, g.key, false);
        }
        if (kind == 6) return (stranger.account, stranger.key, false);
        return (_ownerOf(p).account, stranger.key, true);
    }

    /// @dev The grantee whose acceptances for pool `p` settle longest (a revoked one inside its notice, often).
    function _latestAcceptor(uint256 p) private view returns (uint256 best) {
        for (uint256 g = 1; g < GRANTEES; ++g) {
            if (grants[p][g].acceptValidUntil > grants[p][best].acceptValidUntil) best = g;
        }
    }

    /// @dev The agreement an acceptance is for: any, or (a third of the time) one in a pool where a grantee's ACCEPT
    /// notice runs, so that acceptances signed inside the notice are common enough to be judged.
    function _toAccept(uint256 seed) private view returns (uint256) {
        uint256 n = agreements.length;
        uint256 i = seed % n;
        if (_split(seed, 1) % 3 != 0) return i;
        for (uint256 k; k < n; ++k) {
            uint256 j = (i + k) % n;
            uint256 g = _noticeHolder(agreements[j].pool);
            if (
                !_grantAllows(agreements[j].pool, g, SpecModel.ACCEPT) &&
                block.timestamp <= grants[agreements[j].pool][g].acceptValidUntil
            ) return j;
        }
        return i;
    }

    /// @dev A grantee of pool `p` whose grant no longer allows ACCEPT but whose notice runs (else the latest acceptor).
    function _noticeHolder(uint256 p) private view returns (uint256) {
        for (uint256 g; g < GRANTEES; ++g) {
            bool inNotice = block.timestamp <= grants[p][g].acceptValidUntil;
            if (inNotice && !_grantAllows(p, g, SpecModel.ACCEPT)) return g;
        }
        return _latestAcceptor(p);
    }

    function _hold(Held memory h) private {
        if (held.length < MAX_HELD) {
            held.push(h);
        } else {
            held[heldNext] = h;
            heldNext = (heldNext + 1) % MAX_HELD;
        }
    }

    /// @dev An owner-signed acceptance of an agreement id no pool has.
    function _unknownAgreementItem(uint256 seed) private returns (Held memory h) {
        uint256 p = _split(seed, 8) % pools.length;
        h.agreement = type(uint256).max;
        h.poolId = pools[p].id;
        h.agreementId = _fresh("unknown");
        h.debitNoteId = bytes32(p);
        h.total = _bound(_split(seed, 16), 1, 1e24);
        h.deadline = block.timestamp + 1 hours;
        h.signer = _ownerOf(p).account;
        h.signature = _sign(_ownerOf(p).key, _digest(h));
    }

    /// @dev The next boundary (half the time) or a random one within a day, plus 0 or 1 second: 0 when none is ahead.
    function _boundary(uint256 seed) private view returns (uint256) {
        uint256[] memory ahead = _boundaries();
        if (ahead.length == 0) return 0;
        uint256 nearest = type(uint256).max;
        for (uint256 k; k < ahead.length; ++k) if (ahead[k] < nearest) nearest = ahead[k];
        uint256 target = ahead[_split(seed, 1) % ahead.length];
        if (seed % 2 == 0 || target > block.timestamp + 1 days) target = nearest;
        return target + (_split(seed, 2) % 2);
    }

    /// @dev Every moment ahead at which a rule changes its answer: claim windows' ends, grants' `validUntil`, ACCEPT
    /// notices' ends, held acceptances' deadlines, and when a rate cap or a stream floor reaches the budget.
    function _boundaries() private view returns (uint256[] memory ahead) {
        ahead = new uint256[](agreements.length + pools.length * GRANTEES * 2 + held.length);
        uint256 n;
        for (uint256 i; i < agreements.length; ++i) n = _push(ahead, n, _agreementBoundary(agreements[i]));
        for (uint256 p; p < pools.length; ++p) {
            for (uint256 g; g < GRANTEES; ++g) {
                n = _push(ahead, n, grants[p][g].validUntil);
                n = _push(ahead, n, grants[p][g].acceptValidUntil);
            }
        }
        for (uint256 k; k < held.length; ++k) n = _push(ahead, n, held[k].deadline);
        assembly ("memory-safe") {
            mstore(ahead, n)
        }
    }

    function _push(uint256[] memory list, uint256 n, uint256 t) private view returns (uint256) {
        if (t <= block.timestamp) return n;
        list[n] = t;
        return n + 1;
    }

    function _agreementBoundary(AgreementMirror storage a) private view returns (uint256) {
        if (a.status == TERMINATED) return a.terminatedAt + a.paymentTimeout;
        if (a.status != ACTIVE) return 0;
        // When the cap, or else the floor, reaches the budget (rounded up).
        if (a.maxRate != 0 && a.budget > a.upfront) {
            return a.startedAt + ((a.budget - a.upfront) * 1e18 + a.maxRate - 1) / a.maxRate;
        }
        if (a.streamRate != 0) return a.startedAt + (a.budget * 1e18 + a.streamRate - 1) / a.streamRate;
        return 0;
    }

    /*//////////////////////////////////////////////////////////////
                               MULTICALL
    //////////////////////////////////////////////////////////////*/

    /// @dev The provider claims what it is owed, or settles an owner-signed acceptance, and terminates, in one
    /// transaction (when there is nothing to claim or settle, it only terminates).
    function _providerExit(uint256 i, uint256 seed) private {
        AgreementMirror storage a = agreements[i];
        if (a.status != ACTIVE) return;
        (bytes[] memory calls, uint256 newAccepted, uint256 newPaid) = _exitCalls(i, seed);
        IERC20 token = _tokenOf(a.pool);
        address provider = providers[a.provider];
        uint256 before = token.balanceOf(provider);
        Expect memory none;
        _callMulticall(provider, calls, none, "multicall: provider settles or claims, then terminates");
        uint256 amount = _recordPaid(a, newPaid);
        a.accepted = newAccepted;
        _eq(token.balanceOf(provider) - before, amount, "multicall: the provider is paid");
        (a.status, a.terminatedAt, a.byProvider) = (TERMINATED, block.timestamp, true);
    }

    function _exitCalls(
        uint256 i,
        uint256 seed
    ) private returns (bytes[] memory calls, uint256 newAccepted, uint256 newPaid) {
        AgreementMirror storage a = agreements[i];
        uint256 p = a.pool;
        uint256 owed = _claimable(a);
        (newAccepted, newPaid) = (a.accepted, a.paid + owed);
        Held memory h;
        (h.agreement, h.poolId, h.agreementId) = (i, pools[p].id, a.id);
        (h.debitNoteId, h.total, h.deadline) = (
            _fresh("debit-note"),
            a.accepted + _bound(seed, 1, a.budget),
            block.timestamp
        );
        (h.signer, h.signature) = (_ownerOf(p).account, _sign(_ownerOf(p).key, _digest(h)));
        (Expect memory e, uint256 settledAccepted, uint256 settledPaid) = _expectSettle(h);
        calls = new bytes[](2);
        if (owed != 0 && seed % 2 == 0) {
            calls[0] = abi.encodeCall(IDripFeed.claim, (pools[p].id, a.id));
        } else if (e.count == 0) {
            calls[0] = abi.encodeCall(IDripFeed.settle, (_item(h).acceptance, h.signer, h.signature));
            (newAccepted, newPaid) = (settledAccepted, settledPaid);
        } else {
            calls = new bytes[](1);
            newPaid = a.paid;
        }
        calls[calls.length - 1] = abi.encodeCall(IDripFeed.terminate, (pools[p].id, a.id));
    }

    /// @dev The owner funds and opens an agreement of the new money in one transaction.
    function _fundAndOpen(uint256 p, uint256 seed) private {
        if (agreements.length >= MAX_AGREEMENTS) return;
        address owner = _ownerOf(p).account;
        uint256 amount = _amount(seed);
        _mint(pools[p].token, owner, amount);
        Terms memory terms = _terms(_next(seed), _free(p) + amount);
        bytes32 id = _fresh("agreement");
        uint256 provider = seed % PROVIDERS;
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeCall(IDripFeed.fund, (pools[p].id, amount));
        calls[1] = abi.encodeCall(IDripFeed.openAgreement, (pools[p].id, id, providers[provider], terms));
        Expect memory none;
        _callMulticall(owner, calls, none, "multicall: fund and open");
        pools[p].balance += amount;
        pools[p].funded += amount;
        _recordOpened(p, id, provider, terms);
    }

    /// @dev A stranger's multicall whose second call is a withdrawal it may not make: the whole call reverts, so
    /// the claim before it must not have happened either (the invariants check nothing moved).
    function _atomicMulticall(uint256 i) private {
        AgreementMirror storage a = agreements[i];
        uint256 p = a.pool;
        bytes[] memory calls = new bytes[](2);
        calls[0] = abi.encodeCall(IDripFeed.claim, (pools[p].id, a.id));
        calls[1] = abi.encodeCall(IDripFeed.withdraw, (pools[p].id, 1, stranger.account));
        Expect memory e;
        _expect(e, true, IDripFeed.NotPoolOwner.selector);
        _expect(e, _claimable(a) == 0, IDripFeed.NothingToSettle.selector);
        _callMulticall(stranger.account, calls, e, "multicall: reverts whole");
    }

    function _callMulticall(address from, bytes[] memory calls, Expect memory e, string memory what) private {
        VM.prank(from);
        (bool ok, bytes memory ret) = address(DRIP_FEED).call(abi.encodeCall(IMulticall.multicall, (calls)));
        _judge(ok, ret, e, what);
        _note(string.concat(what, ok ? ": ok" : ": refused"));
    }
}
