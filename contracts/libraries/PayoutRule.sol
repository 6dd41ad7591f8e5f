// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title PayoutRule
/// @notice The SPEC's payout rule and the OPEN allowance bucket as pure functions of plain values, so they can be
/// tested alone against the shared vectors and reused by every code path that pays.
library PayoutRule {
    /// @dev Rates are scaled by this factor (base units per second x 1e18).
    uint256 internal constant RATE_SCALE = 1e18;

    /// @notice What the provider may have been paid in total after `elapsed` seconds.
    /// @dev `payable = min(budget, max(min(acceptedTotal, cap), floor))` with
    /// `cap = maxRate == 0 ? budget : upfront + maxRate * elapsed / 1e18` and `floor = streamRate * elapsed / 1e18`.
    /// All inputs are at most 128 bits and `elapsed` at most 40 bits, so no product exceeds 168 bits.
    function payableAmount(
        uint256 budget,
        uint256 upfront,
        uint256 maxRate,
        uint256 streamRate,
        uint256 acceptedTotal,
        uint256 elapsed
    ) internal pure returns (uint256 amount) {
        uint256 cap;
        // Unchecked: with the documented bounds the product is below 2^168 and the sum below 2^169. Every caller
        // passes stored 128-bit terms and a 40-bit time difference.
        unchecked {
            cap = maxRate == 0 ? budget : upfront + (maxRate * elapsed) / RATE_SCALE;
        }
        amount = acceptedTotal < cap ? acceptedTotal : cap;
        if (streamRate != 0) {
            uint256 floor = floorAmount(streamRate, elapsed);
            if (floor > amount) amount = floor;
        }
        if (amount > budget) amount = budget;
    }

    /// @notice The stream floor after `elapsed` seconds: `streamRate * elapsed / 1e18`.
    /// @dev Unchecked for the same bounds: a 128-bit rate times a 40-bit time is below 2^168.
    function floorAmount(uint256 streamRate, uint256 elapsed) internal pure returns (uint256) {
        unchecked {
            return (streamRate * elapsed) / RATE_SCALE;
        }
    }

    /// @notice `payableAmount` when the cap cannot bind (no cap, or `acceptedTotal <= floor`), where it reduces to
    /// `min(budget, max(acceptedTotal, floor))` and needs neither `upfront` nor `maxRate`.
    function uncappedAmount(uint256 budget, uint256 floor, uint256 acceptedTotal) internal pure returns (uint256) {
        uint256 amount = acceptedTotal > floor ? acceptedTotal : floor;
        return amount < budget ? amount : budget;
    }

    /// @notice The OPEN allowance a grantee can spend now:
    /// `min(openAllowance, level + openRefillRate * (now - refilledAt) / 1e18)`.
    function allowanceNow(
        uint256 level,
        uint256 openAllowance,
        uint256 openRefillRate,
        uint256 secondsSinceRefill
    ) internal pure returns (uint256 available) {
        available = level + (openRefillRate * secondsSinceRefill) / RATE_SCALE;
        if (available > openAllowance) available = openAllowance;
    }
}
