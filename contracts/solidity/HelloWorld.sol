// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.11;

/// @title HelloWorld: one string in storage, the smallest state-changing workload.
/// @notice Written for fiscosim's calibration; not FISCO's source.
contract HelloWorld {
    string private message;

    constructor() {
        message = "Hello, World!";
    }

    /// Replaces the stored string.
    function set(string calldata value) external {
        message = value;
    }

    /// The stored string.
    function get() external view returns (string memory) {
        return message;
    }
}
