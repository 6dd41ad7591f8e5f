// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice The few forge cheatcodes this suite uses, declared here instead of depending on forge-std (which no
/// registry this project installs from serves in an official build).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 newTimestamp) external;
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
    function label(address account, string calldata newLabel) external;
    function deployCode(string calldata artifactPath) external returns (address deployed);
}

/// @notice Gives a contract the cheatcode handle, at the address forge reserves for it.
abstract contract Cheats {
    Vm internal constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
}

/// @notice What forge reads from an invariant test to choose its targets (the ABI forge-std's `StdInvariant` exposes).
abstract contract InvariantTargets {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    FuzzSelector[] private _targetedSelectors;

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function _targetSelectors(address target, bytes4[] memory selectors) internal {
        _targetedContracts.push(target);
        _targetedSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }
}
