// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MockGLM
/// @notice A GLM-like token (18 decimals, EIP-2612 permit) for local and test networks only, with an open faucet.
contract MockGLM is ERC20, ERC20Permit {
    constructor() ERC20("Golem Network Token (test)", "GLM") ERC20Permit("Golem Network Token (test)") {}

    /// @notice Mints `amount` to `to`: anyone may, this is a test token.
    /// @param to Recipient.
    /// @param amount Base units.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
