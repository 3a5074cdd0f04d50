"""Contract models: the methods a workload calls, with their accounts, state access, gas and cost.

A workload names contracts (``workload.contract``: one, or a weighted mix); each is a
:class:`ContractModel` read from a YAML file, either shipped in ``fiscosim/contracts/models/``
(:func:`shipped_contracts`) or a user's file given by its path (:func:`load_contract`).
:func:`method_table` flattens a mix into the run's :class:`MethodTable`, whose row numbers are
the method ids the transaction table records. This package imports nothing else of fiscosim.

The model file, one per contract::

    name: ParallelOk              # letters, digits, '_'; a shipped file is named <name>.yaml
    kind: solidity                # solidity (runs in FISCO's EVM) or precompiled (native C++)
    source: contracts/solidity/ParallelTransfer.sol   # where the code is (for precompiled:
                                                      # FISCO's C++ source path)
    description: >
      What the contract is and which of FISCO's workloads it stands for.
    methods:                      # in this order; a method's id follows it
      transfer:
        weight: 1                 # its share of this contract's calls (relative; 0 = never)
        accounts: 2               # account keys one call takes (0, 1 or 2), drawn by the
                                  # workload (workload.accounts, workload.account_skew)
        reads: 2                  # state slots one call reads (SLOADs, table rows) ...
        writes: 2                 # ... and writes (SSTOREs, rows set)
        parallel: true            # FISCO can run it in parallel: it declares conflict keys,
                                  # and they are its accounts; false: it runs alone
        gas: 46037                # gas of one call
        cost_us:                  # execution time of one call on one core, with provenance
          us: 26.229
          source: measured        # measured | published | assumed
          detail: how, where, on which host; or the published source; or why assumed
          state_reads: charged    # optional: charged (default) when `us` leaves out reading
                                  # state through the node's storage, so the node adds its
                                  # profile's storage_read_per_key per read; included when
                                  # `us` covers it (a whole node's execution time)

Every field is required but ``state_reads``; unknown keys are errors. A bad file raises
:class:`ContractError` (a ``ValueError``) whose message is one line naming the file, the field
and the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fiscosim.contracts.model import (
    COST_SOURCES,
    KINDS,
    MAX_ACCOUNT_SKEW,
    ContractError,
    ContractModel,
    Cost,
    Method,
    from_mapping,
    load_contract,
    parse_contract,
    shipped_contracts,
    shipped_name,
)

if TYPE_CHECKING:
    from fiscosim.contracts.table import MethodTable, method_table


def __getattr__(name: str) -> Any:
    # The method table needs numpy; loading and checking models (what loading a scenario
    # does) must not import it (tests/test_estimate.py), so the table module loads on first use.
    if name in ("MethodTable", "method_table"):
        from fiscosim.contracts import table

        return getattr(table, name)
    raise AttributeError(f"module 'fiscosim.contracts' has no attribute {name!r}")


__all__ = [
    "COST_SOURCES",
    "KINDS",
    "MAX_ACCOUNT_SKEW",
    "ContractError",
    "ContractModel",
    "Cost",
    "Method",
    "MethodTable",
    "from_mapping",
    "load_contract",
    "method_table",
    "parse_contract",
    "shipped_contracts",
    "shipped_name",
]
