// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice Lifecycle of an agreement: `None` (never opened), `Active`, `Terminated` (claim window running or
/// passed), `Released` (unpaid budget returned to the pool; final).
enum Status {
    None,
    Active,
    Terminated,
    Released
}

/// @notice The economic terms of one agreement, fixed at opening (only `budget` can grow, by `increaseBudget`).
/// @dev Rates are token base units per second scaled by 1e18, so that slow streams of low-decimal tokens keep
/// their precision (0.01 USDC/h is 2 777 777 777 777 777 777).
struct Terms {
    /// @dev Locked from the pool's free balance; the ceiling of everything the provider can ever be paid.
    uint128 budget;
    /// @dev Payable from the first second, on top of the rate cap (covers the Golem start price).
    uint128 upfront;
    /// @dev Cap on what acceptances can unlock: `upfront + maxRate * elapsed / 1e18`; 0 means no cap.
    uint128 maxRate;
    /// @dev Floor payable with no acceptance at all: `streamRate * elapsed / 1e18`; 0 means none.
    uint128 streamRate;
    /// @dev Golem `debit-note.interval-sec`, 120..900 seconds.
    uint32 debitNoteInterval;
    /// @dev Golem `payment-timeout-sec`, 1..86400 seconds: the claim window kept open after termination.
    uint32 paymentTimeout;
}

/// @notice A pool as returned by `getPool`. Free balance is `balance - locked`.
struct Pool {
    address owner;
    IERC20 token;
    uint256 balance;
    uint256 locked;
}

/// @notice An agreement as returned by `getAgreement`.
/// @dev A memory-only view struct whose field order the SPEC fixes; storage uses packed records in DripFeed.
// solhint-disable-next-line gas-struct-packing
struct Agreement {
    address provider;
    Status status;
    uint40 startedAt;
    uint40 terminatedAt;
    Terms terms;
    uint256 paid;
    uint256 acceptedTotal;
}

/// @notice The EIP-712 message a requestor (or its ACCEPT grantee) signs to accept a Golem debit note.
/// @dev `totalAccepted` is cumulative over the whole agreement, so accepting a note accepts all earlier ones and
/// replaying an old acceptance can never pay twice.
struct DebitNoteAcceptance {
    bytes32 poolId;
    bytes32 agreementId;
    bytes32 debitNoteId;
    uint256 totalAccepted;
    uint256 deadline;
}

/// @notice One item of `settleBatch`.
struct SignedAcceptance {
    DebitNoteAcceptance acceptance;
    address signer;
    bytes signature;
}
