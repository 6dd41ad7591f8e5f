// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title SpecModel
/// @notice The rules of SPEC.md the invariants judge DripFeed by, written from the SPEC's formulas and not from
/// the contract (it does not call `PayoutRule`): the payout rule, the OPEN allowance bucket, the ACCEPT notice and
/// the EIP-712 acceptance digest. Plain checked `uint256` arithmetic throughout: with 128-bit amounts and times
/// below 2^40 nothing overflows, and an overflow here would fail the campaign loudly rather than hide.
library SpecModel {
    uint256 internal constant RATE_SCALE = 1e18;
    uint256 internal constant ACCEPT_NOTICE = 3600;
    uint8 internal constant ACCEPT = 1;
    uint8 internal constant TERMINATE = 2;
    uint8 internal constant OPEN = 4;

    bytes32 internal constant ACCEPTANCE_TYPEHASH = keccak256(
        "DebitNoteAcceptance(bytes32 poolId,bytes32 agreementId,bytes32 debitNoteId,uint256 totalAccepted,uint256 deadline)"
    );
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    function max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }

    /// @notice `payable = min(budget, max(min(acceptedTotal, cap), floor))` with
    /// `cap = maxRate == 0 ? budget : upfront + maxRate * elapsed / 1e18` and `floor = streamRate * elapsed / 1e18`.
    function payableAmount(
        uint256 budget,
        uint256 upfront,
        uint256 maxRate,
        uint256 streamRate,
        uint256 acceptedTotal,
        uint256 elapsed
    ) internal pure returns (uint256) {
        uint256 cap = maxRate == 0 ? budget : upfront + (maxRate * elapsed) / RATE_SCALE;
        uint256 floor = (streamRate * elapsed) / RATE_SCALE;
        return min(budget, max(min(acceptedTotal, cap), floor));
    }

    /// @notice `openAllowanceNow = min(openAllowance, level + openRefillRate * (now - refilledAt) / 1e18)`.
    function allowanceNow(
        uint256 level,
        uint256 openAllowance,
        uint256 openRefillRate,
        uint256 refilledAt,
        uint256 nowTs
    ) internal pure returns (uint256) {
        return min(openAllowance, level + (openRefillRate * (nowTs - refilledAt)) / RATE_SCALE);
    }

    /// @notice `acceptValidUntil` after a `setGrant` at `nowTs`: the new grant's value (`validUntil` with ACCEPT, 0
    /// without), except that removing ACCEPT or moving it earlier while the old one counts keeps
    /// `max(new, min(old, now + ACCEPT_NOTICE))`.
    function nextAcceptValidUntil(
        uint256 previous,
        uint8 permissions,
        uint256 validUntil,
        uint256 nowTs
    ) internal pure returns (uint256) {
        uint256 next = permissions & ACCEPT != 0 ? validUntil : 0;
        bool counts = nowTs <= previous;
        if (counts && next < previous) return max(next, min(previous, nowTs + ACCEPT_NOTICE));
        return next;
    }

    function domainSeparator(address verifyingContract) internal view returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    DOMAIN_TYPEHASH,
                    keccak256(bytes("DripFeed")),
                    keccak256(bytes("1")),
                    block.chainid,
                    verifyingContract
                )
            );
    }

    /// @notice The EIP-712 digest of a `DebitNoteAcceptance` under DripFeed's domain at `verifyingContract`.
    function acceptanceDigest(
        address verifyingContract,
        bytes32 poolId,
        bytes32 agreementId,
        bytes32 debitNoteId,
        uint256 totalAccepted,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(ACCEPTANCE_TYPEHASH, poolId, agreementId, debitNoteId, totalAccepted, deadline)
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(verifyingContract), structHash));
    }
}
