"""Loading scenario files and building a run from one.

The schema, what a scenario is, lives in :mod:`fiscosim.schema`; this package reads one from a
file or a shipped scenario's name (:mod:`.library`: ``load_simulation("quickstart")``;
:func:`describe_scenarios` lists them), applying ``--set`` overrides (:func:`load_scenario`;
:mod:`.overrides`, :mod:`.yamltext`), changes a validated one (:func:`with_overrides`), writes
one back (:func:`dump_yaml`) and builds a run from a file or a name (:func:`load_simulation`).
It sits at the top of the package: after validating a scenario it checks that the run fits in
memory (:mod:`fiscosim.sim.estimate`). A mistake is one line that names the file, the field and
the fix::

    scenarios/x.yaml: workload.rate_tps: -5 is too small (use a value >= 0)
    scenarios/x.yaml: wrkload: unknown key 'wrkload' (did you mean 'workload'? known keys: ...)

**Limits.** A scenario file must be a regular file of at most :data:`MAX_FILE_BYTES`, nested at
most :data:`MAX_DEPTH` levels, with at most :data:`MAX_YAML_VALUES` keys, items and scalars
(aliases counted as often as they are used). So every input is refused in one line before
anything large is built; what the schema's ranges allow together is bounded by the run's memory
estimate (:mod:`fiscosim.sim.estimate`), checked when a scenario file is loaded.

>>> load_scenario("no/such/scenario.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
fiscosim.schema.errors.ScenarioError: no/such/scenario.yaml: no such file (check the path; ...)
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from fiscosim.contracts import shipped_name
from fiscosim.node.costs import shipped_profiles
from fiscosim.scenario.library import (
    ScenarioInfo,
    first_comment,
    resolve_scenario,
    shipped_scenarios,
)
from fiscosim.scenario.overrides import apply_overrides
from fiscosim.scenario.yamltext import ScenarioDumper, TooBig, parse_yaml
from fiscosim.schema import (
    ChainConfig,
    GroupConfig,
    LatencyConfig,
    NetworkConfig,
    NodesConfig,
    NodeSpec,
    ProfileCosts,
    ProfileSpec,
    Scenario,
    ScenarioError,
    TopologyConfig,
    WorkloadConfig,
    field_reference,
    scenario_digest,
)
from fiscosim.schema.errors import kind_of
from fiscosim.schema.explain import validate
from fiscosim.schema.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_YAML_VALUES
from fiscosim.schema.workload import CONTRACT_ALIASES

if TYPE_CHECKING:
    from fiscosim.sim.simulation import Simulation


_NOT_REGULAR = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _read_text(source: str, file: Path) -> str:
    """The file's text, refused unless a regular file of at most :data:`MAX_FILE_BYTES`."""

    def refusekind_of(mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise ScenarioError(
                source, "", "is a folder, not a file", "give the path of a .yaml scenario file"
            )
        if not stat.S_ISREG(mode):
            what = _NOT_REGULAR.get(stat.S_IFMT(mode), "not a regular file")
            raise ScenarioError(source, "", f"is {what}, not a regular file",
                                "give the path of a .yaml scenario file")

    def refuse_size(size: int) -> None:
        raise ScenarioError(
            source, "", f"the file is {size:,} bytes, over the 1 MiB limit of a scenario file",
            "a scenario is a few KB: keep long notes and data out of it")

    try:
        # stat first: opening a FIFO for reading would wait for a writer, forever.
        info = os.stat(file)
        refusekind_of(info.st_mode)
        if info.st_size > MAX_FILE_BYTES:
            refuse_size(info.st_size)
        # O_NONBLOCK: should the path have become a FIFO since, the open still returns.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as handle:
            refusekind_of(os.fstat(handle.fileno()).st_mode)
            data = handle.read(MAX_FILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise ScenarioError(
            source, "", "no such file",
            "check the path; 'fiscosim scenarios' lists the shipped scenarios, by name"
        ) from None
    except OSError as error:
        raise ScenarioError(
            source, "", f"cannot read the file: {error.strerror or error}", "check its permissions"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        refuse_size(len(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(
            source,
            "",
            f"not UTF-8 text ({error.reason} at byte {error.start})",
            "save the file as UTF-8",
        ) from None


def load_scenario(
    path: str | Path,
    overrides: Sequence[str] | Mapping[str, object] = (),
    *,
    check_memory: bool = True,
) -> Scenario:
    """Reads a scenario YAML file, applies ``overrides`` and validates it.

    ``path`` is a file's path or a shipped scenario's name (``"quickstart"``; an existing file
    beats a name, :func:`~fiscosim.scenario.library.resolve_scenario`); errors name it as given.
    ``overrides`` are ``"dotted.field=value"`` strings as ``fiscosim run --set`` takes them
    (the value is read as YAML, so ``20000`` is a number and ``[a, b]`` a list; ``null``
    removes an optional field), or a mapping of dotted field -> value. List items are
    addressed by index: ``nodes.list.0.weight=3``. Relative profile paths are looked up
    beside the scenario file first. Any problem raises :class:`ScenarioError`.

    ``check_memory``: also refuse a run whose estimated peak memory does not fit in what this
    machine has available (:func:`fiscosim.sim.estimate.check_fits`); turn it off to inspect a
    scenario without running it (``fiscosim run --dry-run``).
    """
    source = str(path)
    file = resolve_scenario(path)
    data = read_scenario_data(path)
    if "sweep" in data:
        # A sweep file: its base scenario, once (fiscosim sweep runs the plan,
        # docs/sweeps.md); the base is this file, or the one its base: names.
        del data["sweep"]
        base = data.pop("base", None)
        if isinstance(base, str):
            file = file.parent / base
            data = read_scenario_data(file)
            data.pop("sweep", None)
    applied = apply_overrides(Scenario, data, overrides, source)
    resolve_relative_paths(data, file.parent)
    scenario = validate(Scenario, data, source, applied)
    if check_memory:
        try:
            from fiscosim.sim.estimate import check_fits
        except ImportError:
            # A stand-in estimator without the check (tests of --dry-run use one): no check.
            return scenario
        check_fits(scenario, source, applied)
    return scenario


def read_scenario_data(path: str | Path) -> dict:
    """A scenario file (or a shipped scenario's name) read as YAML into a mapping, not yet
    validated; a problem raises :class:`ScenarioError` naming the file."""
    source = str(path)
    file = resolve_scenario(path)
    text = _read_text(source, file)
    try:
        data = parse_yaml(text)
    except TooBig as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(source, where, error.problem, error.fix) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        context_mark = getattr(error, "context_mark", None)
        if (
            context
            and context_mark is not None
            and mark is not None
            and (context_mark.line != mark.line)
        ):
            context = f"{context} that starts at line {context_mark.line + 1}"
        what = f"YAML syntax error: {problem}" + (f", {context}" if context else "")
        raise ScenarioError(source, where, what, "fix the YAML at that line") from None
    if data is None:
        raise ScenarioError(
            source,
            "",
            "the file is empty",
            "write a scenario with at least 'name:' and 'nodes:', see scenarios/quickstart.yaml",
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            source,
            "",
            f"the top level is {kind_of(data)}, not a mapping",
            "write 'key: value' lines such as 'name: demo', see scenarios/quickstart.yaml",
        )
    return data


def resolve_relative_paths(data: dict, folder: Path) -> None:
    """Rewrites the profile and contract model paths of scenario ``data`` that exist beside
    a scenario file in ``folder`` to those files."""
    _resolve_profile_paths(data, folder)
    _resolve_contract_paths(data, folder)


def scenario_from_data(data: dict, overrides: Sequence[str] | Mapping[str, object] = (),
                       source: str = "<dict>", *, check_memory: bool = True) -> Scenario:
    """Scenario ``data`` (as :func:`read_scenario_data` gives, paths resolved) with
    ``overrides`` applied, validated; with ``check_memory`` also checked to fit in this
    machine's memory. ``data`` is changed in place."""
    applied = apply_overrides(Scenario, data, overrides, source)
    scenario = validate(Scenario, data, source, applied)
    if check_memory:
        from fiscosim.sim.estimate import check_fits

        check_fits(scenario, source, applied)
    return scenario


def _resolve_profile_paths(data: dict, folder: Path) -> None:
    """Rewrites relative profile paths that exist beside the scenario file to that file."""
    nodes = data.get("nodes")
    if not isinstance(nodes, dict):
        return
    holders = [nodes]
    if isinstance(nodes.get("list"), list):
        holders += [spec for spec in nodes["list"] if isinstance(spec, dict)]
    shipped = set(shipped_profiles())
    for holder in holders:
        for owner, key in ((holder, "profile"), (holder.get("profile"), "base")):
            if not isinstance(owner, dict):
                continue
            ref = owner.get(key)
            if not isinstance(ref, str) or ref in shipped or Path(ref).is_absolute():
                continue
            beside = folder / ref
            if beside.is_file():
                owner[key] = str(beside)


def _resolve_contract_paths(data: dict, folder: Path) -> None:
    """Rewrites relative contract model paths (``workload.contract``, one or a mix's keys) that
    exist beside the scenario file to that file."""
    holders = [data.get("workload")]
    if isinstance(data.get("groups"), list):
        holders += [group.get("workload") for group in data["groups"] if isinstance(group, dict)]

    def beside(ref: object) -> object:
        if (not isinstance(ref, str) or Path(ref).is_absolute() or shipped_name(ref) is not None
                or ref.lower() in CONTRACT_ALIASES):
            return ref
        path = folder / ref
        return str(path) if path.is_file() else ref

    for workload in holders:
        if not isinstance(workload, dict):
            continue
        contract = workload.get("contract")
        if isinstance(contract, str):
            workload["contract"] = beside(contract)
        elif isinstance(contract, dict):
            renamed = {beside(ref): weight for ref, weight in contract.items()}
            if len(renamed) == len(contract):
                workload["contract"] = renamed


def with_overrides(scenario: Scenario, overrides: Sequence[str] | Mapping[str, object],
                   source: str | None = None) -> Scenario:
    """A new scenario: ``scenario`` with ``overrides`` applied, ``dotted.field=value`` strings
    (the value read as YAML) or a mapping of dotted field -> value, as :func:`load_scenario`
    takes them.

    >>> from fiscosim.schema import NodesConfig
    >>> s = Scenario(name="demo", nodes=NodesConfig(count=4))
    >>> with_overrides(s, ["workload.rate_tps=20000"]).workload.rate_tps
    20000.0
    """
    where = source or f"<scenario {scenario.name}>"
    data = scenario.model_dump(mode="json", exclude_none=True)
    applied = apply_overrides(type(scenario), data, overrides, where)
    return validate(type(scenario), data, where, applied)


def dump_yaml(scenario: Scenario) -> str:
    """The scenario as YAML that loads back to an equal scenario."""
    data = scenario.model_dump(mode="json", exclude_none=True)
    for name in scenario.chain.unused_fields():  # refused if written back (2.x)
        data["chain"].pop(name, None)
    return yaml.dump(data, Dumper=ScenarioDumper, sort_keys=False, allow_unicode=True)


def load_simulation(
    path: str | Path,
    seed: int | None = None,
    overrides: Sequence[str] | Mapping[str, object] = (),
    check_memory: bool = True,
) -> Simulation:
    """Loads and validates ``path``, a scenario file or a shipped scenario's name
    (:func:`load_scenario`), into a run ready to start; ``seed`` and ``overrides`` replace
    scenario fields::

        from fiscosim import load_simulation

        result = load_simulation("quickstart", seed=7,
                                 overrides={"workload.rate_tps": 2000}).run()

    The overrides, as given (``seed`` apart), are recorded in summary.json and manifest.json.
    With ``check_memory`` a run whose estimated peak memory exceeds what this machine has
    free is refused (:func:`fiscosim.sim.estimate.check_fits`)."""
    # Here, not at the top: loading a scenario imports no numpy, and a simulation does.
    from fiscosim.sim.simulation import Simulation

    if isinstance(overrides, Mapping):
        given = [f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                 for k, v in overrides.items()]
        overrides = dict(overrides)
        if seed is not None:
            overrides["seed"] = seed
    else:
        given = [str(text) for text in overrides]
        overrides = list(overrides) + ([f"seed={seed}"] if seed is not None else [])
    simulation = Simulation(load_scenario(path, overrides, check_memory=check_memory))
    simulation.overrides = given
    return simulation


def describe_scenarios() -> list[ScenarioInfo]:
    """Every shipped scenario, loaded (no memory check) for its description and node count.

    >>> info = {s.name: s for s in describe_scenarios()}["quickstart"]
    >>> info.nodes, info.roles, info.error
    (4, {'sealer': 4}, None)
    """
    infos = []
    for name, path in shipped_scenarios().items():
        try:
            scenario = load_scenario(path, check_memory=False)
        except ScenarioError as error:
            infos.append(ScenarioInfo(name, first_comment(path), None, {}, None, path,
                                      str(error)))
            continue
        specs = scenario.nodes.specs()
        roles: dict[str, int] = {}
        for spec in specs:
            roles[spec.role] = roles.get(spec.role, 0) + 1
        infos.append(ScenarioInfo(name, scenario.description or first_comment(path),
                                  len(specs), roles, len(scenario.group_specs()), path))
    return infos


__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_YAML_VALUES",
    "ChainConfig",
    "GroupConfig",
    "LatencyConfig",
    "NetworkConfig",
    "NodeSpec",
    "NodesConfig",
    "ProfileCosts",
    "ProfileSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioInfo",
    "TopologyConfig",
    "WorkloadConfig",
    "describe_scenarios",
    "dump_yaml",
    "field_reference",
    "load_scenario",
    "load_simulation",
    "read_scenario_data",
    "resolve_relative_paths",
    "resolve_scenario",
    "scenario_digest",
    "scenario_from_data",
    "shipped_scenarios",
    "with_overrides",
]
