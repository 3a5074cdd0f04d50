// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.11;

/// @title ParallelTransfer: the account-transfer workload of FISCO's stress tools (ParallelOk-like).
/// @notice Balances live in one mapping keyed by account name, so a transfer reads and writes two
///         storage slots and two transfers conflict exactly when they share an account name.
///         Written for fiscosim's calibration; not FISCO's source.
contract ParallelTransfer {
    mapping(string => uint256) private balances;

    /// Sets an account's balance (the stress tools' "add user" step).
    function set(string calldata name, uint256 num) external {
        balances[name] = num;
    }

    /// The balance of an account (zero for an unknown name).
    function balanceOf(string calldata name) external view returns (uint256) {
        return balances[name];
    }

    /// Moves num from one account to another; reverts when the payer has too little.
    function transfer(string calldata from, string calldata to, uint256 num) external {
        uint256 available = balances[from];
        require(available >= num, "insufficient balance");
        balances[from] = available - num;
        balances[to] += num;
    }
}
