// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FalseReturnToken
/// @notice Test-only hostile token: once `setFailing(true)`, `transfer` and `transferFrom` return `false` without
/// moving anything or reverting. SafeERC20 must treat that as a failure.
contract FalseReturnToken is ERC20 {
    bool public failing;

    constructor() ERC20("False Return Token", "FRT") {}

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Switches the silent failures on or off.
    function setFailing(bool value) external {
        failing = value;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (failing) return false;
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (failing) return false;
        return super.transferFrom(from, to, value);
    }
}
