// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.11;

/// @title SmallBank: the SmallBank benchmark's six transactions over checking and saving accounts.
/// @notice Accounts are named by string. Balances are signed because SmallBank lets writeCheck
///         overdraw a checking account (with a penalty of 1). Written for fiscosim's
///         calibration; not FISCO's or Blockbench's source.
contract SmallBank {
    mapping(string => int256) private checking;
    mapping(string => int256) private saving;

    /// Deposits amount into the checking account.
    function updateBalance(string calldata account, int256 amount) external {
        checking[account] += amount;
    }

    /// Deposits amount into the saving account.
    function updateSaving(string calldata account, int256 amount) external {
        saving[account] += amount;
    }

    /// Moves amount between two checking accounts.
    function sendPayment(string calldata from, string calldata to, int256 amount) external {
        checking[from] -= amount;
        checking[to] += amount;
    }

    /// Cashes a check against the checking account; overdrawing the total costs 1 more.
    function writeCheck(string calldata account, int256 amount) external {
        int256 balance = checking[account];
        if (balance + saving[account] < amount) {
            checking[account] = balance - amount - 1;
        } else {
            checking[account] = balance - amount;
        }
    }

    /// Moves everything from's two accounts hold into to's checking account.
    function amalgamate(string calldata from, string calldata to) external {
        int256 total = checking[from] + saving[from];
        checking[from] = 0;
        saving[from] = 0;
        checking[to] += total;
    }

    /// The sum of the two accounts.
    function getBalance(string calldata account) external view returns (int256) {
        return checking[account] + saving[account];
    }
}
