// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDripFeed} from "../../contracts/interfaces/IDripFeed.sol";

import {Handler} from "./handlers/Handler.sol";
import {Cheats} from "./utils/Cheats.sol";

/// @title HandlerCoverage
/// @notice Guards the campaign against passing vacuously: one long random sequence of the handler's actions must
/// reach every outcome the invariants are about (each call both succeeding and being refused, a grantee settling
/// inside its ACCEPT notice and refused after it, ERC-1271 signers, a release that pays the provider first, mixed
/// batches). A handler change that stops reaching one of them fails here, naming it.
contract HandlerCoverageTest is Cheats {
    uint256 private constant SEQUENCES = 32;
    uint256 private constant DEPTH = 250;

    error NeverReached(string outcome);

    function test_handlersReachEveryOutcome() public {
        string[30] memory expected = _expected();
        uint256[30] memory reached;
        for (uint256 sequence; sequence < SEQUENCES; ++sequence) {
            Handler handler = _runSequence(sequence);
            for (uint256 k; k < expected.length; ++k) reached[k] += handler.outcomes(expected[k]);
        }
        for (uint256 k; k < expected.length; ++k) if (reached[k] == 0) revert NeverReached(expected[k]);
    }

    /// @dev One sequence as the campaign runs it: a fresh deployment, the bootstrap, then `DEPTH` random actions.
    function _runSequence(uint256 sequence) private returns (Handler handler) {
        VM.warp(1_750_000_000);
        handler = new Handler(IDripFeed(VM.deployCode("contracts/DripFeed.sol:DripFeed")));
        handler.bootstrap(sequence % 2);
        bytes4[] memory actions = handler.actions();
        for (uint256 i; i < DEPTH; ++i) {
            uint256 r = uint256(keccak256(abi.encode("coverage", sequence, i)));
            bytes memory data = abi.encodePacked(
                actions[r % actions.length],
                abi.encode(_word(r, 1), _word(r, 2), _word(r, 3), _word(r, 4), _word(r, 5))
            );
            // Extra argument words are ignored by actions that take fewer.
            (bool ok, bytes memory reason) = address(handler).call(data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }

    function _expected() private pure returns (string[30] memory) {
        return
            [
                "createPool: ok",
                "createPool again: refused",
                "fund: ok",
                "fund: refused",
                "withdraw: ok",
                "withdraw: refused",
                "setGrant: ok",
                "setGrant: refused",
                "openAgreement: ok",
                "openAgreement: refused",
                "increaseBudget: ok",
                "increaseBudget: refused",
                "terminate: ok",
                "terminate: refused",
                "release: ok",
                "release: refused",
                "claim: ok",
                "claim: refused",
                "settle: ok",
                "settle: refused",
                "settle: ERC-1271 signer ok",
                "settle: ERC-1271 signer refused",
                "settle: grantee inside its ACCEPT notice",
                "settle: grantee refused after its ACCEPT notice",
                "release: paid the provider first",
                "release: at once (provider)",
                "settleBatch: good and bad items together",
                "multicall: provider settles or claims, then terminates: ok",
                "multicall: fund and open: ok",
                "multicall: reverts whole: refused"
            ];
    }

    function _word(uint256 r, uint256 k) private pure returns (uint256) {
        return uint256(keccak256(abi.encode(r, k)));
    }
}
