"""The methods of a run as columns: a workload's contract mix flattened into one table.

:func:`method_table` takes a mix ``{contract ref: weight}`` and lists every method of every
contract in it, in mix order and then model order; a method's row number is its id, the value
the transaction table's ``method`` column holds (int16). Each column is a numpy array indexed
by method id, so the executor and the metrics look a block's methods up with array indexing
(docs/architecture.md rule 2), and :meth:`MethodTable.draw` draws a batch of calls by inverse
CDF over :attr:`MethodTable.probability`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fiscosim.contracts.model import ContractError, ContractModel, load_contract

MAX_MIX = 100
"""Contracts in one mix at most."""


@dataclass(frozen=True, eq=False)
class MethodTable:
    """The run's methods, flattened over the workload's contract mix; index = method id."""

    names: tuple[str, ...]
    """``Contract.method`` per method."""
    contract: np.ndarray
    """int16: the index in :attr:`contracts` of each method's contract."""
    contracts: tuple[ContractModel, ...]
    probability: np.ndarray
    """float64: a method's share of all calls (the contract's share of the mix times the
    method's share of its contract's calls); sums to 1."""
    cost_us: np.ndarray
    """float64: µs per call on one core (:attr:`fiscosim.contracts.Cost.us`)."""
    gas: np.ndarray
    """int64: gas per call."""
    accounts: np.ndarray
    """int8: account keys per call (0, 1 or 2)."""
    reads: np.ndarray
    """int16: state slots read per call."""
    charged_reads: np.ndarray
    """int16: the reads the node charges its storage read cost for (the method's ``reads``
    unless its cost already covers them, :attr:`fiscosim.contracts.Cost.state_reads`)."""
    writes: np.ndarray
    """int16: state slots written per call."""
    parallel: np.ndarray
    """bool: FISCO can run it in parallel (its conflict keys are its accounts)."""

    def __post_init__(self) -> None:
        cumulative = np.cumsum(self.probability)
        cumulative /= cumulative[-1]
        cumulative[-1] = 1.0
        cumulative.flags.writeable = False
        object.__setattr__(self, "_cumulative", cumulative)
        called = np.flatnonzero(self.probability > 0)
        object.__setattr__(self, "only", int(called[0]) if len(called) == 1 else -1)
        object.__setattr__(self, "most_accounts", int(self.accounts[called].max()))
        object.__setattr__(self, "least_accounts", int(self.accounts[called].min()))

    only: int = field(init=False)
    """The id of the one method with all the probability, or -1 when several share it."""
    most_accounts: int = field(init=False)
    """The most account keys a method that may be drawn takes (0, 1 or 2)."""
    least_accounts: int = field(init=False)
    """The fewest account keys a method that may be drawn takes."""

    def __len__(self) -> int:
        return len(self.names)

    def method_id(self, name: str) -> int:
        """The id of method ``Contract.method`` (ValueError if the table has none)."""
        return self.names.index(name)

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` method ids (int16) drawn with :attr:`probability` from ``rng``.

        One uniform number per call, mapped by inverse CDF (:meth:`ids`); a table whose
        probability is all one method's draws no random numbers. A method of probability 0 is
        never drawn.

        >>> table = method_table({"SmallBank": 1})
        >>> ids = table.draw(np.random.default_rng(1), 6000)
        >>> ids.dtype, sorted(set(ids.tolist())) == list(range(6))
        (dtype('int16'), True)
        """
        if self.only >= 0:
            return np.full(count, self.only, dtype=np.int16)
        return self.ids(rng.random(count))

    def ids(self, uniform: np.ndarray) -> np.ndarray:
        """The method ids (int16) of uniform numbers in [0, 1), by inverse CDF."""
        # The last cumulative value is exactly 1 and uniform < 1, so every index is in range;
        # side="right" skips methods whose cumulative value equals the one before (p = 0).
        return np.searchsorted(self._cumulative, uniform, side="right").astype(np.int16)


def method_table(mix: Mapping[str, float] | str | os.PathLike) -> MethodTable:
    """The methods of a contract mix ``{contract ref: weight}`` (a shipped name or a model
    file's path, and its share of the calls), as a :class:`MethodTable`.

    A single reference stands for ``{ref: 1}``. A weight must be above 0; the weights are
    normalised. Raises :class:`ContractError` for a bad reference, model or weight.

    >>> table = method_table({"DagTransfer": 3, "HelloWorld": 1})
    >>> table.names[:3]
    ('DagTransfer.userAdd', 'DagTransfer.userTransfer', 'DagTransfer.userBalance')
    >>> [round(float(p), 3) for p in table.probability]
    [0.0, 0.75, 0.0, 0.25, 0.0]
    """
    if isinstance(mix, str | os.PathLike):
        mix = {os.fspath(mix): 1.0}
    if not isinstance(mix, Mapping) or not mix:
        raise ContractError("contract mix", "", "no contract is given",
                            "give {contract: weight}, e.g. {DagTransfer: 1}")
    if len(mix) > MAX_MIX:
        raise ContractError("contract mix", "", f"{len(mix):,} contracts",
                            f"mix at most {MAX_MIX}")
    models: list[ContractModel] = []
    shares: list[float] = []
    seen: dict[str, str] = {}
    for ref, weight in mix.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
            raise ContractError("contract mix", str(ref), f"weight {weight!r} is not above 0",
                                "give each contract a share above 0, or leave it out")
        model = load_contract(ref)
        if model.name in seen:
            raise ContractError("contract mix", str(ref),
                                f"names contract {model.name} again (also {seen[model.name]!r})",
                                "name each contract once, with its total weight")
        seen[model.name] = str(ref)
        models.append(model)
        shares.append(float(weight))
    total = sum(shares)
    names, contract, probability = [], [], []
    rows = []
    for index, (model, share) in enumerate(zip(models, shares, strict=True)):
        weights = sum(method.weight for method in model.methods)
        for method in model.methods:
            names.append(f"{model.name}.{method.name}")
            contract.append(index)
            probability.append(share / total * method.weight / weights)
            rows.append(method)
    if len(rows) > np.iinfo(np.int16).max:
        raise ContractError("contract mix", "", f"{len(rows):,} methods",
                            "mix contracts with at most 32,767 methods in all")

    def column(values: list, dtype: type) -> np.ndarray:
        array = np.array(values, dtype=dtype)
        array.flags.writeable = False
        return array

    return MethodTable(
        names=tuple(names),
        contract=column(contract, np.int16),
        contracts=tuple(models),
        probability=column(probability, np.float64),
        cost_us=column([m.cost.us for m in rows], np.float64),
        gas=column([m.gas for m in rows], np.int64),
        accounts=column([m.accounts for m in rows], np.int8),
        reads=column([m.reads for m in rows], np.int16),
        charged_reads=column([m.reads if m.cost.state_reads == "charged" else 0 for m in rows],
                             np.int16),
        writes=column([m.writes for m in rows], np.int16),
        parallel=column([m.parallel for m in rows], np.bool_),
    )
