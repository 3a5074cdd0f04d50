"""A sweep's plan: the ``sweep:`` block of a scenario file read, checked and expanded into runs.

A sweep file is a scenario with a ``sweep:`` block, or a file whose ``base:`` names the
scenario (relative to the sweep file) beside its ``sweep:`` block. The plan is
``grid`` (a cartesian product) × each ``zip`` group (lists moving in lock-step, one axis) ×
``cases`` (one more axis, ``case``, each a label and its overrides) − ``exclude``, run at every
seed (``repeat: N`` gives the scenario's seed + 0..N−1; ``seeds:`` a list). Keys are the
dotted fields ``fiscosim run --set`` takes. Every point is validated as a scenario before
anything runs, so a bad key or value is one line naming the file and the key, and nothing is
written.

Identity (docs/sweeps.md): ``point_id`` is the first 12 hex digits of the SHA-256 of the
point's resolved scenario (validated, defaults filled, canonical JSON, seed left out) and the
model epoch; ``run_id`` is ``<point_id>-s<seed>``. A run's results are valid as long as its id
is: a change to the base scenario, a default or the model (a new ``MODEL_EPOCH``) gives new ids.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fiscosim.schema import Scenario, ScenarioError
from fiscosim.version import MODEL_EPOCH

MAX_RUNS = 10_000
"""A plan larger than this is refused unless confirmed (``--yes``)."""
SWEEP_KEYS = ("name", "repeat", "seeds", "grid", "zip", "cases", "exclude", "metrics", "plots",
              "search", "ci")
DEFAULT_CI = 0.95
"""The confidence level of the tables' intervals when neither ``sweep.ci`` nor ``--ci`` gives
one."""
GENERATORS = ("linspace", "logspace", "range")


@dataclass(frozen=True)
class Point:
    """One combination of the plan's axes: ``params`` (dotted key or ``case`` -> value, the
    table's columns) and ``overrides`` (what is applied to the base scenario)."""

    params: dict[str, Any]
    overrides: dict[str, Any]

    @functools.cached_property
    def label(self) -> str:
        return ",".join(f"{key}={_text(value)}" for key, value in self.params.items())


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: a point at a seed, with its resolved scenario and identity."""

    point: Point
    point_id: str
    seed: int
    scenario: Scenario
    cost_hint: float

    @property
    def run_id(self) -> str:
        return f"{self.point_id}-s{self.seed}"


@dataclass
class Sweep:
    """A sweep file read: its spec, base scenario data and the expanded plan."""

    source: str
    name: str
    base: dict[str, Any]
    folder: Path
    spec: dict[str, Any]
    params: list[str]
    points: list[Point] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    runs: list[PlannedRun] = field(default_factory=list)
    until: dict[str, Any] | None = None
    """``repeat: {min, max, until: {metric, ci_rel}}``: the first ``min`` seeds are planned;
    a point gets ``min`` more (up to ``max``) while its interval is wider than the rule."""

    @property
    def metrics(self) -> list[str] | None:
        return self.spec.get("metrics")

    @property
    def ci(self) -> float:
        """The confidence level of the tables' intervals (``sweep.ci``, checked when read)."""
        return float(self.spec.get("ci", DEFAULT_CI))

    def resolved_spec(self) -> dict[str, Any]:
        """The sweep as resolved from the file and the command line (written to sweep.yaml)."""
        spec = {key: value for key, value in self.spec.items() if key not in ("repeat", "seeds")}
        spec["name"] = self.name
        if self.until is not None:
            spec["repeat"] = copy.deepcopy(self.spec["repeat"])
            # the seeds stay the scenario's seed + 0.. (the base keeps its seed)
        else:
            spec["seeds"] = list(self.seeds)
        return {**copy.deepcopy(self.base), "sweep": spec}


def read_sweep(path: str | Path, *, sets: Sequence[str] = (), grid: Sequence[str] = (),
               zips: Sequence[str] = (), repeat: int | None = None,
               seeds: str | None = None, ci: float | None = None,
               check_memory: bool = True) -> Sweep:
    """Reads the sweep file ``path`` and expands its plan (the module docstring).

    ``sets``: ``FIELD=VALUE`` overrides of the base scenario; ``grid``/``zips``: ``KEY=V1,V2``
    axes added from the command line (a zip flag's keys move together); ``repeat``/``seeds``
    (``"1-5"`` or ``"1,2,7"``) replace the file's; ``ci`` (``--ci``) replaces ``sweep.ci``, the
    confidence level of the tables. ``check_memory`` False skips checking that each point
    fits in this machine's memory (reading a sweep's folder runs nothing). Problems raise
    :class:`ScenarioError`."""
    from fiscosim.scenario import read_scenario_data, resolve_relative_paths

    source = str(path)
    data = read_scenario_data(path)
    spec = data.pop("sweep", None)
    base_ref = data.pop("base", None)
    folder = Path(path).resolve().parent
    if spec is None:
        raise ScenarioError(source, "sweep", "the file has no sweep: block",
                            "add one (docs/sweeps.md), or run it with fiscosim run")
    if not isinstance(spec, dict):
        raise ScenarioError(source, "sweep", "is not a mapping",
                            "write e.g. 'sweep: {repeat: 3, grid: {nodes.count: [4, 7]}}'")
    if base_ref is not None:
        if data:
            extra = sorted(data)[0]
            raise ScenarioError(source, extra, "a sweep file with base: holds only base: and "
                                "sweep:", f"move {extra} into the base scenario or a --set")
        if not isinstance(base_ref, str):
            raise ScenarioError(source, "base", "is not a path", "write base: scenario.yaml")
        base_path = (folder / base_ref) if not Path(base_ref).is_absolute() else Path(base_ref)
        data = read_scenario_data(base_path)
        data.pop("sweep", None)
        folder = base_path.resolve().parent
    unknown = sorted(set(spec) - set(SWEEP_KEYS))
    if unknown:
        raise ScenarioError(source, f"sweep.{unknown[0]}", "unknown key",
                            "known keys: " + ", ".join(SWEEP_KEYS))
    spec = copy.deepcopy(spec)
    grid_spec = _mapping(spec.get("grid") or {}, source, "sweep.grid")
    zip_spec = spec.get("zip") or []
    if not isinstance(zip_spec, list):
        raise ScenarioError(source, "sweep.zip", "is not a list of groups",
                            "write zip: [{a.b: [1, 2], c.d: [3, 4]}]")
    for flag in grid:
        key, values = _flag(flag, source, "--grid")
        grid_spec[key] = values
    if zips:
        # The command line's --zip flags form one group together.
        merged: dict[str, Any] = {}
        for flag in zips:
            key, values = _flag(flag, source, "--zip")
            merged[key] = values
        zip_spec = [*zip_spec, merged]
    spec["grid"] = grid_spec
    spec["zip"] = zip_spec
    if ci is not None:
        spec["ci"] = ci
    if "ci" in spec:
        spec["ci"] = check_ci(spec["ci"], source, "--ci" if ci is not None else "sweep.ci")
    axes = _axes(spec, source)
    params = [key for axis in axes for key in axis[0]]
    seen: set[str] = set()
    for key in params:
        if key in seen:
            raise ScenarioError(source, f"sweep: {key}", "is swept twice",
                                "keep it in one of grid, zip or cases")
        seen.add(key)
    name = spec.get("name") or data.get("name") or Path(path).stem
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ScenarioError(source, "sweep.name", f"{name!r} is not a folder name",
                            "use letters, digits, - and _")
    sweep = Sweep(source=source, name=name, base=data, folder=folder, spec=spec, params=params)
    if sets:
        from fiscosim.scenario import apply_overrides

        apply_overrides(Scenario, sweep.base, list(sets), source)
    # Files the scenario names beside itself (profiles, contract models) as absolute paths,
    # so that the resolved plan (sweep.yaml) runs from anywhere.
    resolve_relative_paths(sweep.base, folder)
    sweep.points = _expand(axes, _exclusions(spec, params, source))
    if not sweep.points:
        raise ScenarioError(source, "sweep", "the plan is empty (exclude removes every point)",
                            "loosen exclude or add values")
    if isinstance(spec.get("repeat"), dict) and repeat is None and seeds is None:
        sweep.until = _until(spec["repeat"], sweep.base, source)
        sweep.seeds = sweep.until["pool"][:sweep.until["min"]]
    else:
        sweep.seeds = _seeds(spec, sweep.base, repeat, seeds, source)
    sweep.runs = _plan(sweep, check_memory)
    return sweep


def check_ci(value: Any, source: str, where: str) -> float:
    """A confidence level: a number strictly between 0 and 1, or one line naming ``where``."""
    if (not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value)
            or not 0 < value < 1):
        raise ScenarioError(source, where, f"{value!r} is not a confidence level",
                            "give a number between 0 and 1, e.g. 0.95")
    return float(value)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def _mapping(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(source, where, "is not a mapping of keys to lists of values",
                            "write e.g. 'grid: {nodes.count: [4, 7, 10]}'")
    return dict(value)


def _flag(text: str, source: str, flag: str) -> tuple[str, list[Any]]:
    from fiscosim.scenario.yamltext import parse_yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip() or not raw.strip():
        raise ScenarioError(source, f"{flag} {text}", "expected KEY=V1,V2,...",
                            f"write e.g. {flag} nodes.count=4,7,10")
    values = [parse_yaml(part.strip()) for part in raw.split(",")]
    return key.strip(), values


def _values(key: str, spec: Any, source: str, where: str) -> list[Any]:
    """An axis' values: a list, or a generator ``{linspace|logspace|range: [...]}``."""
    if isinstance(spec, list):
        if not spec:
            raise ScenarioError(source, where, "has no values", "give at least one")
        return spec
    if isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in GENERATORS:
        kind, args = next(iter(spec.items()))
        if (not isinstance(args, list) or len(args) not in (2, 3)
                or not all(isinstance(a, int | float) and not isinstance(a, bool)
                           for a in args)):
            raise ScenarioError(source, where, f"{kind} needs [start, stop, count or step]",
                                f"write e.g. {{{kind}: [1, 50, 3]}}")
        if kind == "range":
            start, stop, *rest = args
            step = rest[0] if rest else 1
            if step == 0:
                raise ScenarioError(source, where, "range step is 0", "use a non-zero step")
            count = max(0, math.ceil((stop - start) / step))
            values = [start + i * step for i in range(count)]
        else:
            if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
                raise ScenarioError(source, where, f"{kind} needs [start, stop, count]",
                                    "the count is a whole number >= 1")
            start, stop, count = args
            step = (stop - start) / (count - 1) if count > 1 else 0.0
            values = [start + i * step for i in range(count)]
            if kind == "logspace":
                values = [10.0 ** v for v in values]
            values = [round(v, 12) for v in values]
            values = [int(v) if float(v).is_integer() and all(
                isinstance(a, int) for a in args[:2]) and kind == "linspace" else v
                for v in values]
        if not values:
            raise ScenarioError(source, where, f"{kind} {args} gives no values",
                                "check start, stop and step")
        return values
    raise ScenarioError(source, where, "is neither a list nor a generator",
                        "write a list, or {linspace: [a, b, n]}, {logspace: [a, b, n]}, "
                        "{range: [a, b, step]}")


def _axes(spec: dict[str, Any], source: str) -> list[tuple[list[str], list[tuple]]]:
    """The plan's axes, each ``(keys, rows)``: a row gives each key a value."""
    axes: list[tuple[list[str], list[tuple]]] = []
    for key, values in spec["grid"].items():
        where = f"sweep.grid.{key}"
        axes.append(([str(key)], [(v,) for v in _values(key, values, source, where)]))
    for i, group in enumerate(spec["zip"]):
        where = f"sweep.zip.{i}"
        group = _mapping(group, source, where)
        if not group:
            raise ScenarioError(source, where, "is empty", "give keys with lists of values")
        columns = {key: _values(key, values, source, f"{where}.{key}")
                   for key, values in group.items()}
        lengths = {key: len(values) for key, values in columns.items()}
        if len(set(lengths.values())) != 1:
            text = ", ".join(f"{key}: {n}" for key, n in lengths.items())
            raise ScenarioError(source, where, f"lists of unequal lengths ({text})",
                                "a zip group's lists move together: give them equal lengths")
        keys = list(columns)
        axes.append((keys, list(zip(*columns.values(), strict=True))))
    cases = spec.get("cases")
    if cases is not None:
        if not isinstance(cases, list) or not cases:
            raise ScenarioError(source, "sweep.cases", "is not a non-empty list",
                                "write cases: [{label: a}, {label: b, faults: [...]}]")
        labels = []
        for i, case in enumerate(cases):
            if not isinstance(case, dict) or not isinstance(case.get("label"), str):
                raise ScenarioError(source, f"sweep.cases.{i}", "has no label",
                                    "give each case a label: and its overrides")
            labels.append(case["label"])
        if len(set(labels)) != len(labels):
            raise ScenarioError(source, "sweep.cases", "two cases share a label",
                                "give each case its own label")
        axes.append((["case"], [(case,) for case in cases]))
    return axes


def _exclusions(spec: dict[str, Any], params: list[str], source: str) -> list[dict[str, Any]]:
    exclude = spec.get("exclude") or []
    if not isinstance(exclude, list):
        raise ScenarioError(source, "sweep.exclude", "is not a list",
                            "write exclude: [{nodes.count: 16, network.latency.mean_ms: 50}]")
    for i, rule in enumerate(exclude):
        if not isinstance(rule, dict) or not rule:
            raise ScenarioError(source, f"sweep.exclude.{i}", "is not a mapping of values",
                                "write {key: value, ...} with swept keys")
        for key in rule:
            if key not in params:
                raise ScenarioError(source, f"sweep.exclude.{i}.{key}", "is not swept",
                                    "swept keys: " + ", ".join(params))
    return exclude


def _expand(axes: list[tuple[list[str], list[tuple]]],
            exclude: list[dict[str, Any]]) -> list[Point]:
    points = []
    for combination in itertools.product(*(rows for _, rows in axes)):
        params: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for (keys, _), row in zip(axes, combination, strict=True):
            for key, value in zip(keys, row, strict=True):
                if key == "case":
                    params["case"] = value["label"]
                    overrides.update({k: v for k, v in value.items() if k != "label"})
                else:
                    params[key] = value
                    overrides[key] = value
        if any(all(_same(params[key], value) for key, value in rule.items())
               for rule in exclude):
            continue
        points.append(Point(params, overrides))
    return points


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or a == b
    return a == b


def _seeds(spec: dict[str, Any], base: dict[str, Any], repeat: int | None, seeds: str | None,
           source: str) -> list[int]:
    if seeds is not None:
        return _parse_seeds(seeds, source)
    first = base.get("seed", 1)
    if not isinstance(first, int) or isinstance(first, bool):
        first = 1  # the scenario's own validation names the problem
    if repeat is not None:
        if repeat < 1:
            raise ScenarioError(source, "--repeat", f"{repeat} runs per point",
                                "use 1 or more")
        return [first + i for i in range(repeat)]
    if "seeds" in spec:
        values = spec["seeds"]
        if (not isinstance(values, list) or not values
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                           for v in values)):
            raise ScenarioError(source, "sweep.seeds", "is not a list of whole numbers >= 0",
                                "write seeds: [11, 12, 13]")
        if len(set(values)) != len(values):
            raise ScenarioError(source, "sweep.seeds", "repeats a seed", "list each seed once")
        if "repeat" in spec:
            raise ScenarioError(source, "sweep.repeat", "is given with seeds:",
                                "give one of repeat: and seeds:")
        return list(values)
    count = spec.get("repeat", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_RUNS:
        raise ScenarioError(source, "sweep.repeat", f"{count!r} is not a count of seeds",
                            f"use a whole number from 1 to {MAX_RUNS:,}")
    return [first + i for i in range(count)]


def _until(block: dict[str, Any], base: dict[str, Any], source: str) -> dict[str, Any]:
    """``repeat: {min: 3, max: 20, until: {metric: tps, ci_rel: 0.02}}`` checked: seeds are
    added a batch of ``min`` at a time while the metric's interval half-width exceeds
    ``ci_rel`` × |mean| (ns-3 SEM's conditional runner, decided per batch so that it is
    deterministic)."""
    where = "sweep.repeat"
    unknown = sorted(set(block) - {"min", "max", "until"})
    if unknown:
        raise ScenarioError(source, f"{where}.{unknown[0]}", "unknown key",
                            "known keys: min, max, until")
    low, high = block.get("min", 3), block.get("max", 20)
    until = block.get("until")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) \
            or not 2 <= low <= high <= MAX_RUNS:
        raise ScenarioError(source, where, f"min {low!r}, max {high!r}",
                            f"give whole numbers with 2 <= min <= max <= {MAX_RUNS:,}")
    if (not isinstance(until, dict) or set(until) != {"metric", "ci_rel"}
            or not isinstance(until["metric"], str)
            or not isinstance(until["ci_rel"], int | float) or isinstance(until["ci_rel"], bool)
            or not until["ci_rel"] > 0):
        raise ScenarioError(source, f"{where}.until", "needs metric: and ci_rel: (above 0)",
                            "write until: {metric: tps, ci_rel: 0.02}")
    first = base.get("seed", 1)
    first = first if isinstance(first, int) and not isinstance(first, bool) else 1
    return {"min": low, "max": high, "metric": until["metric"],
            "ci_rel": float(until["ci_rel"]), "pool": [first + i for i in range(high)]}


def more_seeds(sweep: Sweep, point: Point, done: int) -> list[int]:
    """The next batch of seeds of ``point`` under ``repeat.until`` when it has ``done``
    seeds (the pool's first ``done``): up to ``min`` more, none past ``max``."""
    assert sweep.until is not None
    pool = sweep.until["pool"]
    return pool[done:min(len(pool), done + sweep.until["min"])]


def runs_at(sweep: Sweep, point: Point, seeds: Sequence[int]) -> list[PlannedRun]:
    """``point``'s runs at ``seeds`` (the plan's identity and scenario)."""
    model = next(run for run in sweep.runs if run.point is point)
    return [PlannedRun(point, model.point_id, seed,
                       model.scenario.model_copy(update={"seed": seed}), model.cost_hint)
            for seed in seeds]


def _parse_seeds(text: str, source: str) -> list[int]:
    values: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            if sep:
                values += list(range(int(lo), int(hi) + 1))
            else:
                values.append(int(lo))
    except ValueError:
        raise ScenarioError(source, f"--seeds {text}", "is not a list of seeds",
                            "write e.g. --seeds 1-5 or --seeds 1,2,7") from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise ScenarioError(source, f"--seeds {text}", "gives no seeds, a negative or a repeat",
                            "write e.g. --seeds 1-5")
    return values


def resolved_json(scenario: Scenario) -> str:
    """The scenario as canonical JSON (defaults filled, keys sorted), without its seed."""
    data = scenario.model_dump(mode="json")
    data.pop("seed", None)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def point_id(scenario: Scenario, model_epoch: int | None = None) -> str:
    """The id of a point: its resolved scenario (seed aside) and the model epoch (this
    fiscosim's unless given), hashed."""
    epoch = MODEL_EPOCH if model_epoch is None else model_epoch
    text = f"{resolved_json(scenario)}\nmodel_epoch={epoch}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _plan(sweep: Sweep, check_memory: bool = True) -> list[PlannedRun]:
    from fiscosim.scenario import scenario_from_data

    runs = []
    ids: dict[str, str] = {}
    for point in sweep.points:
        data = copy.deepcopy(sweep.base)
        where = f"{sweep.source} [{point.label}]"
        try:
            scenario = scenario_from_data(data, point.overrides, where,
                                          check_memory=check_memory)
        except ScenarioError as error:
            raise _attributed(error, sweep, point) from None
        pid = point_id(scenario)
        if pid in ids:
            raise ScenarioError(sweep.source, "sweep", f"points {ids[pid]} and {point.label} "
                                "are the same scenario", "remove one of the values")
        ids[pid] = point.label
        cost = _cost_hint(scenario)
        for seed in sweep.seeds:
            runs.append(PlannedRun(point, pid, seed, scenario.model_copy(update={"seed": seed}),
                                   cost))
    return runs


_SET_BY = re.compile(r"; it was set by --set ([^=]+)=.*$")


def _origins(sweep: Sweep, point: Point) -> dict[str, str]:
    """Where each of ``point``'s overrides comes from in the sweep file: ``sweep.grid.KEY``,
    ``sweep.zip[I].KEY`` or ``sweep.cases[I] (LABEL)`` (a case's fields win, as in
    :func:`_expand`)."""
    origins = {str(key): f"sweep.grid.{key}" for key in sweep.spec.get("grid") or {}}
    for i, group in enumerate(sweep.spec.get("zip") or []):
        origins.update({str(key): f"sweep.zip[{i}].{key}" for key in group})
    label = point.params.get("case")
    for i, case in enumerate(sweep.spec.get("cases") or []):
        if case.get("label") == label:
            origins.update({str(key): f"sweep.cases[{i}] ({label})"
                            for key in case if key != "label"})
    return {key: where for key, where in origins.items() if key in point.overrides}


def _attributed(error: ScenarioError, sweep: Sweep, point: Point) -> ScenarioError:
    """A point's validation error told as the sweep file's mistake: the axis or case whose
    override is wrong, and the field, instead of the ``--set`` that carried it::

        s.yaml: sweep.cases[1] (crash-leader): faults.0.at_s: -3 is too small (use >= 0)

    An error no override caused (two values that do not fit together, memory) keeps the
    point's label."""
    field, fix = error.field, error.fix
    key = None
    if field.startswith("--set "):  # the override's path itself is wrong
        key = field[len("--set "):].partition("=")[0]
        field = key
    else:
        match = _SET_BY.search(fix)
        if match is not None:
            key = match.group(1)
            fix = fix[:match.start()]
    origin = _origins(sweep, point).get(key) if key is not None else None
    if origin is None:
        return error
    # a case names its index and label, then the field; an axis is its key (when that is the
    # field at fault) or its key, then the field inside it
    field = f"{origin}: {field}" if origin.startswith("sweep.cases[") or field != key else origin
    return ScenarioError(sweep.source, field, error.problem, fix, more=error.more)


def _cost_hint(scenario: Scenario) -> float:
    """Nodes² × simulated seconds × offered rate (relative cost for scheduling only)."""
    nodes = len(scenario.nodes.specs())
    seconds = scenario.duration_s + scenario.drain_s
    rate = sum(group.workload.rate_tps for group in scenario.group_specs()) or 1.0
    return float(nodes * nodes * seconds * max(rate, 1.0))


def order_runs(runs: Sequence[PlannedRun], observed: Mapping[str, float] | None = None
               ) -> list[PlannedRun]:
    """The order runs are fed in: seed-major (a first seed of every point comes first), then
    the longest first within a seed (LPT), by observed wall time per point when known, else by
    ``cost_hint``."""
    observed = observed or {}
    seeds = sorted({run.seed for run in runs})
    rank = {seed: i for i, seed in enumerate(seeds)}
    position = {}
    for run in runs:
        position.setdefault(run.seed, {}).setdefault(run.point_id, len(position[run.seed]))

    def key(run: PlannedRun) -> tuple:
        cost = observed.get(run.point_id, run.cost_hint)
        return (rank[run.seed], -cost, position[run.seed][run.point_id])

    return sorted(runs, key=key)
