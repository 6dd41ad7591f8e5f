// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title BenchERC1271Wallet
/// @notice The smallest ERC-1271 contract wallet that stands in for a Safe in the gas bench: one EOA key approves
/// digests. For local and test networks only.
contract BenchERC1271Wallet is IERC1271 {
    /// @notice The key whose ECDSA signature over a digest this wallet accepts.
    // A wallet's `signer()` getter reads better than `SIGNER()`.
    // solhint-disable-next-line immutable-vars-naming
    address public immutable signer;

    /// @param signer_ The approving key.
    constructor(address signer_) {
        signer = signer_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer ? this.isValidSignature.selector : bytes4(0);
    }
}
