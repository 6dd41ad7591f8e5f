// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title NoReturnToken
/// @notice Test-only USDT-like token: `transfer`, `transferFrom` and `approve` return nothing (not even `bool`),
/// and failures revert. DripFeed must work with it through SafeERC20.
contract NoReturnToken {
    // ERC-20 metadata getters must keep their lower-case ABI names.
    // solhint-disable const-name-snakecase
    string public constant name = "No Return Token";
    string public constant symbol = "NRT";
    uint8 public constant decimals = 6;
    // solhint-enable const-name-snakecase

    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    uint256 public totalSupply;

    // The standard ERC-20 event signatures (the value is never indexed).
    // solhint-disable gas-indexed-events
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    // solhint-enable gas-indexed-events

    error InsufficientAllowance();
    error InsufficientBalance();

    /// @notice Mints `amount` to `to` (open faucet, test only).
    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// @notice Like USDT: no return value.
    function approve(address spender, uint256 amount) external {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }

    /// @notice Like USDT: no return value.
    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    /// @notice Like USDT: no return value.
    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < amount) revert InsufficientAllowance();
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        if (balanceOf[from] < amount) revert InsufficientBalance();
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
