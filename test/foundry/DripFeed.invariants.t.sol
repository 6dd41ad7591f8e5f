// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDripFeed} from "../../contracts/interfaces/IDripFeed.sol";

import {Handler} from "./handlers/Handler.sol";
import {World} from "./handlers/World.sol";
import {Cheats, InvariantTargets} from "./utils/Cheats.sol";

/// @title InvariantCampaign
/// @notice The invariant campaign: forge calls the handler's actions in random sequences (several owners, grantees
/// and providers, two tokens, signatures from EOAs and ERC-1271 wallets, time jumps onto every boundary) and checks
/// SPEC invariants 1-5 and the protocol 1.1 rules every `check_interval` calls. DripFeed is the viaIR build of
/// contracts/DripFeed.sol, deployed from its artifact as Hardhat deploys it. Two concrete campaigns with different
/// starting worlds run side by side (forge runs test contracts in parallel, one per core).
abstract contract InvariantCampaign is Cheats, InvariantTargets {
    Handler internal handler;

    function _variant() internal pure virtual returns (uint256);

    function setUp() public {
        VM.warp(1_750_000_000);
        handler = new Handler(IDripFeed(VM.deployCode("contracts/DripFeed.sol:DripFeed")));
        handler.bootstrap(_variant());
        _targetSelectors(address(handler), handler.actions());
    }

    /// @notice SPEC invariants 1-5 and the protocol 1.1 rules, one function so that one campaign checks them all
    /// (forge runs a campaign of its own for each invariant function). The handler also checks, at every call, the
    /// rules that concern one call: its outcome, every party's balance, what settle, claim and release pay.
    function invariant_spec() public {
        // 1, 2, 3, 5, the ACCEPT notice of 1.1, and the mirror's every figure (see `World.checkInvariants`).
        handler.checkInvariants();
        // 4: the owner can withdraw exactly the free balance of every pool, and not one unit more.
        try handler.probeWithdrawAll() {
            revert("probeWithdrawAll must end by reverting ProbeDone");
        } catch (bytes memory reason) {
            if (bytes4(reason) != World.ProbeDone.selector) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}

/// @notice Starts from an EOA's pool of the plain token and a wallet's pool of the USDT-like token.
contract DripFeedInvariantsA is InvariantCampaign {
    function _variant() internal pure override returns (uint256) {
        return 0;
    }
}

/// @notice Starts from an EOA's pool of the USDT-like token and a wallet's pool of the plain token.
contract DripFeedInvariantsB is InvariantCampaign {
    function _variant() internal pure override returns (uint256) {
        return 1;
    }
}
