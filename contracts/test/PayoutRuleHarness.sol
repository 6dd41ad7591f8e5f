// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PayoutRule} from "../libraries/PayoutRule.sol";

/// @title PayoutRuleHarness
/// @notice Test-only: exposes the `PayoutRule` library's internal pure functions so that tests can check them
/// alone against `test/vectors/payout-rule.json` and the TypeScript model.
contract PayoutRuleHarness {
    /// @notice `PayoutRule.payableAmount`.
    function payableAmount(
        uint256 budget,
        uint256 upfront,
        uint256 maxRate,
        uint256 streamRate,
        uint256 acceptedTotal,
        uint256 elapsed
    ) external pure returns (uint256) {
        return PayoutRule.payableAmount(budget, upfront, maxRate, streamRate, acceptedTotal, elapsed);
    }

    /// @notice `PayoutRule.allowanceNow`.
    function allowanceNow(
        uint256 level,
        uint256 openAllowance,
        uint256 openRefillRate,
        uint256 secondsSinceRefill
    ) external pure returns (uint256) {
        return PayoutRule.allowanceNow(level, openAllowance, openRefillRate, secondsSinceRefill);
    }
}
