// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.11;

/// @title KvTable: CRUD on a key/value table keyed by string, the shape of FISCO's table workload.
/// @notice FISCO's own table lives in a precompiled contract; this one keeps rows in a mapping so
///         that the same create/read/update/delete pattern runs as plain EVM storage. A row has
///         two fields, a name and a count. Each write returns the number of rows it affected, as
///         FISCO's table interface does. Written for fiscosim's calibration; not FISCO's source.
contract KvTable {
    struct Row {
        string name;
        uint256 count;
        bool exists;
    }

    mapping(string => Row) private rows;
    uint256 public size;

    /// Adds a row; returns 1, or 0 when the key is already there.
    function insert(string calldata key, string calldata name, uint256 count)
        external
        returns (int256)
    {
        Row storage row = rows[key];
        if (row.exists) {
            return 0;
        }
        row.name = name;
        row.count = count;
        row.exists = true;
        size += 1;
        return 1;
    }

    /// The row under key: whether it exists, its name and its count.
    function select(string calldata key)
        external
        view
        returns (bool, string memory, uint256)
    {
        Row storage row = rows[key];
        return (row.exists, row.name, row.count);
    }

    /// Replaces both fields of an existing row; returns 1, or 0 when there is no such row.
    function update(string calldata key, string calldata name, uint256 count)
        external
        returns (int256)
    {
        Row storage row = rows[key];
        if (!row.exists) {
            return 0;
        }
        row.name = name;
        row.count = count;
        return 1;
    }

    /// Deletes the row under key; returns 1, or 0 when there is no such row.
    function remove(string calldata key) external returns (int256) {
        if (!rows[key].exists) {
            return 0;
        }
        delete rows[key];
        size -= 1;
        return 1;
    }
}
