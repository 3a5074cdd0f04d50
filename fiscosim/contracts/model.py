"""Contract models: what a contract's methods take and cost, read from one YAML file each.

A model (:class:`ContractModel`) is data, not code: for each method, its share of the
contract's calls, how many account keys a call takes, the state slots it reads and writes,
whether FISCO BCOS can run it in parallel, its gas and its execution cost with where that
figure comes from (:class:`Cost`). :func:`load_contract` reads a shipped model by name or a
user's model from a path and checks every field; a bad file raises :class:`ContractError`,
one line naming the file, the field and the fix. The file format is described in the
package's docstring (:mod:`fiscosim.contracts`).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from fiscosim.refs import did_you_mean, looks_like_name, yaml_problem

KINDS = ("precompiled", "solidity")
"""Where a contract's code runs: FISCO's native C++ (``precompiled``) or its EVM."""
COST_SOURCES = ("measured", "published", "assumed")
"""Where a cost figure comes from: measured on a named host, published by FISCO BCOS (or
derived from a published figure, said how), or assumed (said why)."""
MAX_ACCOUNTS = 2
"""Account keys one call may take: none, one (a balance, a row) or two (a transfer)."""
MAX_SLOTS = 10_000
"""Reads or writes of one call at most (the table's columns are int16)."""
MAX_METHODS = 1_000
"""Methods of one contract at most."""
MAX_FILE_BYTES = 1 << 20
"""A model file is at most 1 MiB."""
MAX_ACCOUNT_SKEW = 4.0
"""The largest Zipf exponent of a workload's account draws (``workload.account_skew``): at 4
the first account already takes 92 % of the draws (1/ζ(4)), so larger exponents change
nothing a run could show."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_TOP_KEYS = ("name", "kind", "source", "description", "methods")
_METHOD_KEYS = ("weight", "accounts", "reads", "writes", "parallel", "gas", "cost_us")
_COST_KEYS = ("us", "source", "detail")
_COST_OPTIONAL = ("state_reads",)
STATE_READS = ("charged", "included")
"""Whether a method's ``cost_us`` leaves out reading its state through the node's storage
(``charged``, the default: the node adds its profile's ``storage_read_per_key`` for each of
the method's ``reads``; an EVM measured on in-memory state) or already covers it
(``included``: a figure derived from a whole node's execution time)."""
_MODELS = "models"


class ContractError(ValueError):
    """A contract reference or model file that cannot be used. ``str()`` is one line:
    ``<file>: <field>: <what is wrong> (<the fix>)``.

    >>> str(ContractError("my.yaml", "methods.set.accounts", "3 is too many", "use 0, 1 or 2"))
    'my.yaml: methods.set.accounts: 3 is too many (use 0, 1 or 2)'
    """

    def __init__(self, where: str, field: str, problem: str, fix: str) -> None:
        self.where = _one_line(where)
        self.field = _one_line(field)
        self.problem = _one_line(problem)
        self.fix = _one_line(fix)
        parts = [part for part in (self.where, self.field, self.problem) if part]
        super().__init__(": ".join(parts) + (f" ({self.fix})" if self.fix else ""))


@dataclass(frozen=True)
class Cost:
    """A method's execution cost on one core, in µs, with its provenance."""

    us: float
    source: str
    """``measured``, ``published`` or ``assumed`` (:data:`COST_SOURCES`)."""
    detail: str
    """How, where and on which host it was measured, or the published source, or why the
    assumption."""
    state_reads: str = "charged"
    """:data:`STATE_READS`: ``charged`` when the figure leaves out reading state through the
    node's storage (the node charges each read), ``included`` when it covers them."""


@dataclass(frozen=True)
class Method:
    """One method of a contract model (the fields of the model file, described in the package
    docstring)."""

    name: str
    weight: float
    """Its share of this contract's calls in a workload (relative to the other methods')."""
    accounts: int
    """Account keys a call takes (0, 1 or 2), drawn by the workload."""
    reads: int
    """State slots (EVM storage slots, table rows) one call reads."""
    writes: int
    """State slots one call writes."""
    parallel: bool
    """FISCO can run it in parallel: its conflict keys are declared, and they are its
    accounts. False: it runs alone, conflicting with every other transaction."""
    gas: int
    cost: Cost


@dataclass(frozen=True)
class ContractModel:
    """A contract and its methods, in the order of the model file."""

    name: str
    kind: str
    """``precompiled`` or ``solidity`` (:data:`KINDS`)."""
    source: str
    """Where its code is: a Solidity file of this repository, or FISCO's C++ source path."""
    description: str
    methods: tuple[Method, ...]

    def method(self, name: str) -> Method:
        """The method called ``name`` (KeyError if there is none)."""
        for method in self.methods:
            if method.name == name:
                return method
        raise KeyError(f"{self.name} has no method {name!r}")


# -- references: shipped names and paths -------------------------------------------------------


@functools.cache
def _shipped() -> dict[str, str]:
    """Shipped model name -> file name, from ``fiscosim/contracts/models/*.yaml``."""
    folder = resources.files("fiscosim.contracts").joinpath(_MODELS)
    names = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            names[entry.name[: -len(".yaml")]] = entry.name
    return dict(sorted(names.items(), key=lambda item: item[0].lower()))


def shipped_contracts() -> list[str]:
    """The names of the shipped models, sorted.

    >>> shipped_contracts()
    ['CpuHeavy', 'DagTransfer', 'HelloWorld', 'KvTable', 'ParallelOk', 'SmallBank']
    """
    return list(_shipped())


def shipped_name(ref: str) -> str | None:
    """The shipped model ``ref`` names (exactly, or in another case), or None.

    >>> shipped_name("dagtransfer"), shipped_name("Nope")
    ('DagTransfer', None)
    """
    if ref in _shipped():
        return ref
    folded = {name.lower(): name for name in _shipped()}
    return folded.get(ref.lower())


def load_contract(ref: str | os.PathLike) -> ContractModel:
    """A contract model: a shipped one by name (exact, or in another case) or a user's from
    the path of its YAML file.

    Raises :class:`ContractError` (a ``ValueError``) with one line naming the file, the field
    and the fix when the name is unknown, the file is missing or a field is wrong.

    >>> model = load_contract("ParallelOk")
    >>> model.kind, [m.name for m in model.methods]
    ('solidity', ['set', 'transfer', 'balanceOf'])
    >>> model.method("transfer").accounts, model.method("transfer").cost.source
    (2, 'measured')
    """
    if isinstance(ref, str):
        name = shipped_name(ref)
        if name is not None:
            return _load_shipped(name)
    elif not isinstance(ref, os.PathLike):
        raise ContractError(
            "contract", "", f"{type(ref).__name__} is not a contract reference",
            f"give a shipped name ({', '.join(shipped_contracts())}) or the path of a "
            "contract model YAML",
        )
    text = os.fspath(ref)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    path = Path(text).expanduser()
    if path.is_file():
        stat = path.stat()
        return _load_file(str(path.resolve()), text, stat.st_mtime_ns, stat.st_size)
    if path.exists():
        raise ContractError(text, "", "not a file", "give the path of a contract model YAML")
    shipped = ", ".join(shipped_contracts())
    if looks_like_name(ref, text):
        hint = did_you_mean(text, shipped_contracts())
        raise ContractError(
            "contract", "", f"unknown contract {text!r}",
            f"{hint}use a shipped model: {shipped}; or the path of a contract model YAML, "
            "see contracts/README.md",
        )
    raise ContractError(
        text, "", "no such contract model file",
        f"check the path, or use a shipped model: {shipped}",
    )


@functools.cache
def _load_shipped(name: str) -> ContractModel:
    file = _shipped()[name]
    text = resources.files("fiscosim.contracts").joinpath(_MODELS, file).read_text("utf-8")
    return parse_contract(text, f"fiscosim/contracts/models/{file}")


@functools.lru_cache(maxsize=64)
def _load_file(resolved: str, shown: str, _mtime: int, size: int) -> ContractModel:
    # Keyed by modification time and size too, so that a rewritten file is read again.
    if size > MAX_FILE_BYTES:
        raise ContractError(shown, "", f"the file has {size:,} bytes, over the 1 MiB limit",
                            "a contract model is a few KB: check the path")
    try:
        text = Path(resolved).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ContractError(shown, "", f"cannot read the file ({error})",
                            "check the path and that it is UTF-8 text") from None
    return parse_contract(text, shown)


# -- parsing and checking ----------------------------------------------------------------------


def parse_contract(text: str, where: str = "<contract>") -> ContractModel:
    """A contract model from a model file's text; ``where`` names the file in errors.

    >>> parse_contract('''
    ... name: Counter
    ... kind: solidity
    ... source: contracts/solidity/Counter.sol
    ... description: One counter.
    ... methods:
    ...   increment:
    ...     {weight: 1, accounts: 0, reads: 1, writes: 1, parallel: false, gas: 26000,
    ...      cost_us: {us: 15, source: assumed, detail: like HelloWorld.set}}
    ... ''').methods[0].cost.us
    15.0
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        line, problem = yaml_problem(error)
        at = f"line {line}" if line is not None else ""
        raise ContractError(where, at, f"YAML error: {problem}", "fix the YAML") from None
    return from_mapping(data, where)


def from_mapping(data: Any, where: str = "<contract>") -> ContractModel:
    """A contract model from a mapping in the model file's format (checked as a file is)."""
    if not isinstance(data, Mapping):
        raise ContractError(where, "", f"the top level is {_kind_of(data)}, not a mapping",
                            "write name, kind, source, description and methods, see "
                            "contracts/README.md")
    _exact_keys(data, _TOP_KEYS, where, "")
    name = _text(data["name"], where, "name")
    if not _NAME.match(name):
        raise ContractError(where, "name", f"{name!r} is not a valid contract name",
                            "use letters, digits and '_', starting with a letter or '_', "
                            "at most 64 characters")
    kind = data["kind"]
    if kind not in KINDS:
        raise ContractError(where, "kind", f"{_show(kind)} is not a kind of contract",
                            f"use {' or '.join(KINDS)}")
    source = _text(data["source"], where, "source")
    description = _text(data["description"], where, "description")
    methods_in = data["methods"]
    if not isinstance(methods_in, Mapping) or not methods_in:
        raise ContractError(where, "methods", f"{_kind_of(methods_in)} is not a mapping of "
                            "methods", "give at least one method: 'methods: {name: {...}}'")
    if len(methods_in) > MAX_METHODS:
        raise ContractError(where, "methods", f"{len(methods_in):,} methods",
                            f"give at most {MAX_METHODS:,}")
    methods = tuple(_method(mname, fields, where) for mname, fields in methods_in.items())
    if sum(method.weight for method in methods) <= 0:
        raise ContractError(where, "methods", "every method's weight is 0",
                            "give at least one method a weight above 0")
    return ContractModel(name, kind, source, description, methods)


def _method(name: Any, fields: Any, where: str) -> Method:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ContractError(where, f"methods.{name}", f"{_show(name)} is not a valid method name",
                            "use letters, digits and '_', starting with a letter or '_'")
    at = f"methods.{name}"
    if not isinstance(fields, Mapping):
        raise ContractError(where, at, f"{_kind_of(fields)} is not a mapping",
                            f"give {', '.join(_METHOD_KEYS)}")
    _exact_keys(fields, _METHOD_KEYS, where, at)
    weight = _number(fields["weight"], where, f"{at}.weight")
    if weight < 0:
        raise ContractError(where, f"{at}.weight", f"{_show(weight)} is negative",
                            "give the method's share of the contract's calls, 0 or more")
    accounts = _whole(fields["accounts"], where, f"{at}.accounts")
    if not 0 <= accounts <= MAX_ACCOUNTS:
        raise ContractError(where, f"{at}.accounts", f"{accounts} is not 0, 1 or 2",
                            "give the account keys one call takes: 0, 1 or 2")
    reads = _count(fields["reads"], where, f"{at}.reads", MAX_SLOTS)
    writes = _count(fields["writes"], where, f"{at}.writes", MAX_SLOTS)
    parallel = fields["parallel"]
    if not isinstance(parallel, bool):
        raise ContractError(where, f"{at}.parallel", f"{_show(parallel)} is not true or false",
                            "write true when FISCO can run it in parallel (declared conflict "
                            "keys), else false")
    gas = _count(fields["gas"], where, f"{at}.gas", 1 << 62)
    cost = _cost(fields["cost_us"], where, f"{at}.cost_us")
    return Method(name, weight, accounts, reads, writes, parallel, gas, cost)


def _cost(value: Any, where: str, at: str) -> Cost:
    if not isinstance(value, Mapping):
        raise ContractError(where, at, f"{_kind_of(value)} is not a mapping",
                            "write {us: <µs per call>, source: measured|published|assumed, "
                            "detail: <how, where, which host>}")
    _exact_keys(value, _COST_KEYS, where, at, _COST_OPTIONAL)
    us = _number(value["us"], where, f"{at}.us")
    if us < 0:
        raise ContractError(where, f"{at}.us", f"{_show(us)} is negative",
                            "give the µs one call takes on one core, 0 or more")
    source = value["source"]
    if source not in COST_SOURCES:
        raise ContractError(where, f"{at}.source", f"{_show(source)} is not a kind of source",
                            f"use {', '.join(COST_SOURCES)}")
    detail = _text(value["detail"], where, f"{at}.detail")
    state_reads = value.get("state_reads", "charged")
    if state_reads not in STATE_READS:
        raise ContractError(where, f"{at}.state_reads", f"{_show(state_reads)} is not "
                            f"{' or '.join(STATE_READS)}",
                            "write included when us already covers reading state through the "
                            "node's storage, else charged (the default)")
    return Cost(us, source, detail, state_reads)


def _exact_keys(data: Mapping, keys: tuple[str, ...], where: str, at: str,
                optional: tuple[str, ...] = ()) -> None:
    """Every key of ``data`` is one of ``keys`` or ``optional``, and every one of ``keys`` is
    there."""
    known = keys + optional
    for key in data:
        if key not in known:
            raise ContractError(where, f"{at}.{key}" if at else str(key),
                                f"unknown key {_show(key)}",
                                f"{did_you_mean(key, known)}known keys: "
                                f"{', '.join(known)}")
    for key in keys:
        if key not in data:
            raise ContractError(where, f"{at}.{key}" if at else key, "required field is missing",
                                f"add '{key}: ...' (contracts/README.md)")


def _text(value: Any, where: str, at: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ContractError(where, at, f"{_kind_of(value)} is not text", "write some text")
    return value.strip()


def _number(value: Any, where: str, at: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(where, at, f"{_kind_of(value)} is not a number", "write a number")
    if not math.isfinite(value):
        raise ContractError(where, at, f"{value} is not a finite number", "write a number")
    return float(value)


def _whole(value: Any, where: str, at: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(where, at, f"{_kind_of(value)} is not a whole number",
                            "write a whole number")
    return value


def _count(value: Any, where: str, at: str, limit: int) -> int:
    count = _whole(value, where, at)
    if not 0 <= count <= limit:
        raise ContractError(where, at, f"{count} is out of range", f"give 0 to {limit:,}")
    return count


def _kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return _show(value)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _one_line(text: str, limit: int = 1000) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
