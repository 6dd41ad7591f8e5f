// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BlocklistToken
/// @notice Test-only USDC-like token with a blocklist: transfers to or from a blocked account revert.
contract BlocklistToken is ERC20 {
    mapping(address account => bool) public blocked;

    error Blocked(address account);

    constructor() ERC20("Blocklist Token", "BLT") {}

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Blocks or unblocks `account` (anyone may, this is a test token).
    function setBlocked(address account, bool value) external {
        blocked[account] = value;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blocked[from]) revert Blocked(from);
        if (blocked[to]) revert Blocked(to);
        super._update(from, to, value);
    }
}
