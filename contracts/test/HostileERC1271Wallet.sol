// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";

/// @title HostileERC1271Wallet
/// @notice Test-only contract wallet whose ERC-1271 check misbehaves: it lies (returns the magic value for any
/// hash and signature), reverts, burns all the gas it is given, or answers the magic selector with non-zero padding.
/// Its deployer can make it call anything, so it can own a DripFeed pool.
contract HostileERC1271Wallet is IERC1271 {
    enum Mode {
        Lie,
        Revert,
        BurnGas,
        DirtyMagic
    }

    address public immutable CONTROLLER;
    Mode public mode;

    error NotController();
    error Refused();

    constructor(Mode mode_) {
        CONTROLLER = msg.sender;
        mode = mode_;
    }

    /// @notice Changes the misbehaviour.
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Calls `target` with `data` as this wallet (controller only), bubbling a revert.
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != CONTROLLER) revert NotController();
        bool ok;
        // A wallet forwards arbitrary calls.
        // solhint-disable-next-line avoid-low-level-calls
        (ok, result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        Mode current = mode;
        if (current == Mode.Revert) revert Refused();
        if (current == Mode.BurnGas) {
            // Consume every unit of gas forwarded, like an endless loop would, but in one opcode (fast tests).
            assembly ("memory-safe") {
                invalid()
            }
        }
        if (current == Mode.DirtyMagic) {
            // The magic selector followed by non-zero padding: valid nowhere (the whole word must match).
            assembly ("memory-safe") {
                mstore(0, or(shl(224, 0x1626ba7e), 1))
                return(0, 32)
            }
        }
        return IERC1271.isValidSignature.selector;
    }
}
