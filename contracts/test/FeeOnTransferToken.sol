// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice Test-only hostile token: every transfer between two accounts burns 1% of the amount, so the receiver
/// gets less than was sent. DripFeed must refuse it (`UnsupportedToken`).
contract FeeOnTransferToken is ERC20 {
    uint256 private constant FEE_BPS = 100;

    constructor() ERC20("Fee On Transfer", "FOT") {}

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * FEE_BPS) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
