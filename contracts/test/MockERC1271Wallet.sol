// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @title MockERC1271Wallet
/// @notice Test-only smart-contract wallet with one owner key: it accepts an ERC-1271 signature when the ECDSA
/// signature over the hash recovers to its owner EOA, and lets the owner make arbitrary calls (so it can own a pool).
contract MockERC1271Wallet is IERC1271 {
    /// @notice The EOA whose ECDSA signatures the wallet accepts and who may make it call out.
    // `owner()` is the getter wallets conventionally expose.
    // solhint-disable-next-line immutable-vars-naming
    address public immutable owner;

    error NotWalletOwner(address caller);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    /// @notice Calls `target` with `data` as the wallet (owner only); bubbles up reverts.
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        if (msg.sender != owner) revert NotWalletOwner(msg.sender);
        return Address.functionCall(target, data);
    }
}
