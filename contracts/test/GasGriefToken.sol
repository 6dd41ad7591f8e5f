// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title GasGriefToken
/// @notice Test-only hostile token: a transfer to the account set with `setVictim` consumes every unit of gas it is
/// given, as an endless loop would (one `invalid` opcode, so tests stay fast).
contract GasGriefToken is ERC20 {
    address public victim;

    constructor() ERC20("Gas Grief Token", "GGT") {}

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Transfers to `account` will burn all their gas.
    function setVictim(address account) external {
        victim = account;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (to == victim && to != address(0)) {
            assembly ("memory-safe") {
                invalid()
            }
        }
        super._update(from, to, value);
    }
}
