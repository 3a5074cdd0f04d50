// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.11;

/// @title CpuHeavy: CPU-bound work with a size parameter and no storage access.
/// @notice The shape of the stress tools' CPU-heavy workload: the cost grows with size while
///         state stays untouched, so it isolates the interpreter's cost from storage's.
///         Written for fiscosim's calibration; not FISCO's source.
contract CpuHeavy {
    /// Sorts size pseudo-random numbers (drawn from seed) in memory with quicksort and returns
    /// a checksum of the sorted array.
    function sort(uint256 size, uint256 seed) external pure returns (uint256) {
        uint256[] memory data = new uint256[](size);
        uint256 state = seed;
        for (uint256 i = 0; i < size; i++) {
            // A 64-bit linear congruential generator (Knuth's MMIX constants).
            unchecked {
                state = state * 6364136223846793005 + 1442695040888963407;
            }
            data[i] = state >> 192;
        }
        if (size > 1) {
            quickSort(data, 0, int256(size - 1));
        }
        uint256 checksum = 0;
        for (uint256 i = 0; i < size; i++) {
            unchecked {
                checksum = checksum * 31 + data[i];
            }
        }
        return checksum;
    }

    /// Hashes seed rounds times with keccak256, each round over the previous digest.
    function hashRounds(uint256 rounds, bytes32 seed) external pure returns (bytes32) {
        bytes32 digest = seed;
        for (uint256 i = 0; i < rounds; i++) {
            digest = keccak256(abi.encodePacked(digest, i));
        }
        return digest;
    }

    function quickSort(uint256[] memory data, int256 left, int256 right) private pure {
        int256 i = left;
        int256 j = right;
        uint256 pivot = data[uint256(left + (right - left) / 2)];
        while (i <= j) {
            while (data[uint256(i)] < pivot) {
                i++;
            }
            while (pivot < data[uint256(j)]) {
                j--;
            }
            if (i <= j) {
                (data[uint256(i)], data[uint256(j)]) = (data[uint256(j)], data[uint256(i)]);
                i++;
                j--;
            }
        }
        if (left < j) {
            quickSort(data, left, j);
        }
        if (i < right) {
            quickSort(data, i, right);
        }
    }
}
