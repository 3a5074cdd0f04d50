"""fiscosim's prediction of each reference point, set against the published figure.

:func:`compare` predicts every selected point (a run with fixed seeds, or a stage computed
with the cost model as the node runtime charges it), and returns one :class:`Row` per point:
predicted, published, their ratio, and the verdict. Nothing here is random beyond the
scenarios' and the points' own seeds, so the same file gives the same rows.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fiscosim.published.points import (
    FileSource,
    Point,
    PointsFile,
    PublishedError,
    ScenarioPrediction,
    StagePrediction,
    load_points,
)

WITHIN = "within"
OUTSIDE = "outside"
NO_HARDWARE = "no hardware stated"
"""Verdicts: a row outside its tolerance whose source states no hardware is not a failure of
the model by itself (the gap may be the hardware); its cause is named in docs/validation.md."""


@dataclass(frozen=True, slots=True)
class Row:
    """One point's outcome."""

    id: str
    kind: str
    what: str
    metric: str
    unit: str
    published: float
    predicted: float
    ratio: float
    """predicted / published."""
    tolerance: float
    within: bool
    hardware_stated: bool
    verdict: str
    """:data:`WITHIN`, :data:`OUTSIDE` or :data:`NO_HARDWARE` (outside, no hardware stated)."""
    how: str
    """How it was predicted, in a few words."""
    source: str
    note: str
    fast: bool
    """Predicted with the point's shortened run (``--fast``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict_of(ratio: float, tolerance: float, hardware_stated: bool) -> tuple[bool, str]:
    """Whether ``ratio`` is within ``tolerance`` of 1, and the verdict."""
    within = math.isfinite(ratio) and abs(ratio - 1.0) <= tolerance + 1e-12
    if within:
        return True, WITHIN
    return False, OUTSIDE if hardware_stated else NO_HARDWARE


def exit_code(rows: Iterable[Row]) -> int:
    """0 when every check row whose source states its hardware is within its tolerance,
    1 otherwise (fit rows and rows without stated hardware never fail the command)."""
    failed = any(r.kind == "check" and r.hardware_stated and not r.within for r in rows)
    return 1 if failed else 0


def _set_dotted(data: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise PublishedError(f"{where}: overrides: {dotted}: {key} is not a mapping "
                                 "(override a field inside a section)")
        node = child
    node[keys[-1]] = copy.deepcopy(value)


def _read_dotted(summary: dict[str, Any], dotted: str, where: str) -> float:
    node: Any = summary
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise PublishedError(f"{where}: predict.read: the run's summary has no {dotted!r} "
                                 "(use a key of `fiscosim run --json`'s summary, e.g. tps)")
        node = node[key]
    if not isinstance(node, (int, float)):
        raise PublishedError(f"{where}: predict.read: {dotted!r} is not a number in the summary "
                             "(name a numeric key such as latency_ms.mean)")
    return float(node)


def scenario_data(point: Point, fast: bool) -> dict[str, Any]:
    """The scenario mapping a scenario point runs: its scenario, overrides, fast overrides."""
    predict = point.predict
    assert isinstance(predict, ScenarioPrediction)
    data = copy.deepcopy(predict.scenario)
    where = f"point {point.id}"
    for dotted, value in predict.overrides.items():
        _set_dotted(data, dotted, value, where)
    if fast:
        for dotted, value in predict.fast_overrides.items():
            _set_dotted(data, dotted, value, where)
    return data


def _run_scenario(data: dict[str, Any], where: str) -> dict[str, Any]:
    # Here, not at the top: loading the points needs no numpy-heavy simulator.
    from fiscosim.schema import Scenario, ScenarioError
    from fiscosim.sim.simulation import Simulation

    try:
        scenario = Scenario.from_dict(data, where)
    except ScenarioError as error:
        raise PublishedError(str(error)) from None
    return Simulation(scenario).run().summary


def _transfer_keys(txs: int, accounts_per_call: int, accounts: int, seed: int) -> np.ndarray:
    """Each call's accounts (its conflict keys): distinct within a call, uniform over
    ``accounts``, drawn with ``seed`` (the published runs name no account distribution)."""
    rng = np.random.default_rng(seed)
    keys = np.empty((txs, accounts_per_call), dtype=np.int64)
    for column in range(accounts_per_call):
        keys[:, column] = rng.integers(0, accounts, size=txs)
    if accounts_per_call == 2:  # a transfer to oneself is not what the stress tools send
        same = keys[:, 0] == keys[:, 1]
        keys[same, 1] = (keys[same, 1] + 1) % accounts
    return keys


def stage_us(predict: StagePrediction, where: str = "point") -> float:
    """The stage's single-node time in µs (or, for ``execution_tps``, transactions a second)."""
    from fiscosim.contracts import method_table
    from fiscosim.contracts.release import release_cost_us
    from fiscosim.execution.block import execute_block
    from fiscosim.node.costs import CostModel, load_profile

    try:
        model = CostModel(load_profile(predict.profile), "secp256k1")
        table = method_table(predict.contract)
        name = f"{predict.contract}.{predict.method}"
        if name not in table.names:
            raise ValueError(f"{predict.contract} has no method {predict.method!r} "
                             f"(use one of {', '.join(table.names)})")
        method = table.method_id(name)
    except (ValueError, KeyError) as error:
        raise PublishedError(f"{where}: predict: {error}") from None
    n, size = predict.txs, predict.tx_bytes
    stage = predict.stage
    if stage == "decode":
        return float(model.decode(n * size) + model.hash(n * size))
    if stage == "verify":
        return float(model.verify(n))
    if stage == "commit":
        return float(model.storage_commit(n, n * int(table.writes[method])))
    if stage == "prepare":
        # Every transaction is already in the pool: decoded, hashed, looked up, not verified.
        return float(model.decode(n * size) + model.hash(n * size) + model.fill(n))
    costs = np.full(n, float(release_cost_us(table, predict.release)[method]))
    width = max(int(table.accounts[method]), 1)
    keys = _transfer_keys(n, width, predict.accounts, predict.seed)
    parallel = np.full(n, bool(table.parallel[method]))
    contract = np.zeros(n, dtype=np.int64)
    block = execute_block(predict.mode, costs, keys, parallel, contract, predict.threads)
    us = model.execute_block(block.us, n, n * int(table.charged_reads[method]),
                             n * int(table.writes[method]))
    if stage == "execute":
        return float(us)
    return n / us * 1e6  # execution_tps


def _how(point: Point, fast: bool) -> str:
    predict = point.predict
    if isinstance(predict, StagePrediction):
        what = {"decode": "decode+hash, 1 core", "verify": "verify, 1 core",
                "commit": "storage commit", "prepare": "decode+hash+pool lookup, 1 core",
                "execute": f"{predict.mode} on {predict.threads} thread(s)",
                "execution_tps": f"{predict.mode} on {predict.threads} thread(s)"}[predict.stage]
        release = ", FISCO 2.x's EVM" if predict.release == "2.9" else ""
        return (f"cost model: {predict.txs:,} x {predict.contract}.{predict.method}, "
                f"{predict.profile}, {what}{release}")
    sets = {**predict.overrides, **(predict.fast_overrides if fast else {})}
    shown = " ".join(f"{k}={json.dumps(v)}" for k, v in sets.items())
    base = predict.same_as or f"scenario {predict.scenario.get('name', point.id)}"
    return f"run {base}{' ' + shown if shown else ''} -> {predict.read}"


def _source(point: Point) -> str:
    source = point.source
    if isinstance(source, FileSource):
        return f"{source.repository}@{source.commit[:8]}:{source.path}"
    return f"{source.repository}#{source.issue} ({source.comment})"


def compare(points: PointsFile | None = None, *, fast: bool = False,
            only: Iterable[str] = (), kind: str | None = None,
            progress: Callable[[str], None] | None = None) -> list[Row]:
    """Predicts the selected points (all of them, or those in ``only``, of ``kind``) and
    returns their rows in the file's order. ``fast`` runs each scenario point with its
    ``fast_overrides`` (shorter runs, for CI). An unknown id in ``only`` raises
    :class:`PublishedError`."""
    points = points if points is not None else load_points()
    wanted = list(only)
    known = {p.id for p in points.points}
    unknown = [ident for ident in wanted if ident not in known]
    if unknown:
        raise PublishedError(f"--only: no point {unknown[0]!r} "
                             f"(known: {', '.join(p.id for p in points.points)})")
    chosen = [p for p in points.points
              if (not wanted or p.id in wanted) and (kind is None or p.kind == kind)]
    runs: dict[str, dict[str, Any]] = {}  # points that share a run share its summary
    rows: list[Row] = []
    for point in chosen:
        if progress is not None:
            progress(point.id)
        predict = point.predict
        if isinstance(predict, StagePrediction):
            value = stage_us(predict, f"point {point.id}")
            predicted = value if predict.stage == "execution_tps" else value / 1e3
        else:
            data = scenario_data(point, fast)
            digest = json.dumps(data, sort_keys=True, default=str)
            if digest not in runs:
                runs[digest] = _run_scenario(data, f"point {point.id}")
            predicted = _read_dotted(runs[digest], predict.read, f"point {point.id}")
        published = point.published.value
        ratio = predicted / published
        within, verdict = verdict_of(ratio, point.tolerance, point.hardware_stated)
        rows.append(Row(
            id=point.id, kind=point.kind, what=point.what, metric=point.published.metric,
            unit=point.published.unit, published=published, predicted=round(predicted, 3),
            ratio=round(ratio, 4), tolerance=point.tolerance, within=within,
            hardware_stated=point.hardware_stated, verdict=verdict, how=_how(point, fast),
            source=_source(point), note=point.note,
            fast=fast and isinstance(predict, ScenarioPrediction),
        ))  # fmt: skip
    return rows
