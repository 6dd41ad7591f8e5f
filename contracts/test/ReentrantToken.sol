// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only hostile token: once armed, every `transfer`/`transferFrom` first calls `reentryTarget` with `payload`
/// (a re-entry into DripFeed). With `bubble` the re-entry's revert is bubbled up; without it, the outcome is only
/// recorded (`reentered`, `lastReentrySucceeded`, `lastReentryReturnData`) and the transfer goes on.
contract ReentrantToken is ERC20 {
    address public reentryTarget;
    bytes public payload;
    bool public bubble;
    bool public reentered;
    bool public lastReentrySucceeded;
    bytes public lastReentryReturnData;
    bool private _inside;

    constructor() ERC20("Reentrant Token", "RET") {}

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arms the re-entry: the next transfers call `target_` with `payload_`.
    function arm(address target_, bytes calldata payload_, bool bubble_) external {
        reentryTarget = target_;
        payload = payload_;
        bubble = bubble_;
        reentered = false;
    }

    /// @notice Disarms the re-entry.
    function disarm() external {
        reentryTarget = address(0);
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transferFrom(from, to, value);
    }

    function _reenter() private {
        if (reentryTarget == address(0) || _inside) return;
        _inside = true;
        // The point of this mock is an arbitrary re-entrant call.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory data) = reentryTarget.call(payload);
        _inside = false;
        reentered = true;
        lastReentrySucceeded = ok;
        lastReentryReturnData = data;
        if (!ok && bubble) {
            assembly ("memory-safe") {
                revert(add(data, 0x20), mload(data))
            }
        }
    }
}
