"""A sweep's ``search: max_sustainable_tps``: the capacity search at every point of the plan.

For each point of the plan and each seed (``mode: per_seed``, the default) the search of
:func:`fiscosim.sim.capacity.search_capacity` brackets and bisects the offered rate (``param``,
``workload.rate_tps`` by default); ``mode: pooled`` makes a rate pass only when every seed
passes. Its probes are ordinary runs of the sweep: the point with ``param`` set to the rate,
with the same ids, run folders and cache, so a rerun replays them and a wider plan reuses them.
Each round is decided once the whole round has returned, so the answer is the same on one
worker, many, a Dask cluster, and after a resume.

Per point, ``search/<point_id>.json`` holds every search's trace and ``tables/max_tps``
one row per point: the mean of ``max_sustainable_tps`` over the seeds with its Student-t
interval, the lowest ``first_failing_tps``, the criterion that failed there
(``failed_criterion``) and the resource the run at that rate reports saturated (``bound_by``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from fiscosim.schema import ScenarioError
from fiscosim.sim.capacity import (
    CapacityResult,
    Criteria,
    SearchSettings,
    SettingsError,
    search_capacity,
)
from fiscosim.sweep.plan import PlannedRun, Point, Sweep, point_id
from fiscosim.sweep.stats import summarize

KEYS = ("param", "start", "bounds", "growth", "resolution", "round_to", "probes_per_round",
        "mode", "criteria")


def search_spec(sweep: Sweep) -> dict[str, Any] | None:
    """The sweep's ``search: {max_sustainable_tps: ...}`` block, checked; None without one."""
    block = sweep.spec.get("search")
    if block is None:
        return None
    source = sweep.source
    if not isinstance(block, dict) or set(block) != {"max_sustainable_tps"}:
        raise ScenarioError(source, "sweep.search", "expected {max_sustainable_tps: {...}}",
                            "the one search there is; see docs/sweeps.md")
    spec = block["max_sustainable_tps"] or {}
    if not isinstance(spec, dict):
        raise ScenarioError(source, "sweep.search.max_sustainable_tps", "is not a mapping",
                            "give param, start, bounds, criteria, ...")
    unknown = sorted(set(spec) - set(KEYS))
    if unknown:
        raise ScenarioError(source, f"sweep.search.max_sustainable_tps.{unknown[0]}",
                            "unknown key", "known keys: " + ", ".join(KEYS))
    param = spec.get("param", "workload.rate_tps")
    if param in sweep.params:
        raise ScenarioError(source, f"sweep.search.max_sustainable_tps.param: {param}",
                            "is also swept", "the search sets it: take it out of the plan")
    mode = spec.get("mode", "per_seed")
    if mode not in ("per_seed", "pooled"):
        raise ScenarioError(source, "sweep.search.max_sustainable_tps.mode",
                            f"{mode!r} is not per_seed or pooled", "give one of them")
    resolution = spec.get("resolution", {"relative": 0.02, "absolute": 100})
    try:
        bounds = tuple(int(b) for b in spec.get("bounds", (500, 200_000)))
        settings = SearchSettings(
            start=int(spec.get("start", 5000)), bounds=(bounds[0], bounds[1]),
            growth=float(spec.get("growth", 2.0)),
            resolution=(float(resolution.get("relative", 0.02)),
                        float(resolution.get("absolute", 100))),
            round_to=int(spec.get("round_to", 100)),
            probes_per_round=(1 if spec.get("probes_per_round", "auto") == "auto"
                              else int(spec["probes_per_round"])))
        settings.check()
        criteria = Criteria.from_mapping(spec.get("criteria") or {})
    except SettingsError as error:
        raise ScenarioError(source, f"sweep.search.max_sustainable_tps.{error.field}",
                            error.problem, error.fix) from None
    except (TypeError, ValueError, IndexError, AttributeError) as error:
        raise ScenarioError(source, "sweep.search.max_sustainable_tps",
                            f"a setting is malformed ({error})",
                            "see docs/sweeps.md for the block's fields") from None
    return {"param": param, "mode": mode, "settings": settings, "criteria": criteria,
            "auto": spec.get("probes_per_round", "auto") == "auto"}


def probe_run(sweep: Sweep, point: Point, param: str, rate: int, seed: int) -> PlannedRun:
    """The run that probes ``rate`` at ``point`` and ``seed``: an ordinary run of the sweep."""
    from fiscosim.scenario import scenario_from_data

    params = {**point.params, param: rate}
    overrides = {**point.overrides, param: rate}
    probe = Point(params, overrides)
    scenario = scenario_from_data(copy.deepcopy(sweep.base), overrides,
                                  f"{sweep.source} [{probe.label}]")
    from fiscosim.sweep.plan import _cost_hint

    return PlannedRun(probe, point_id(scenario), seed, scenario.model_copy(update={"seed": seed}),
                      _cost_hint(scenario))


def run_searches(sweep: Sweep, spec: Mapping[str, Any], slots: int,
                 execute: Callable[[list[PlannedRun]], list[dict[str, Any] | None]]
                 ) -> dict[str, list[tuple[int, CapacityResult]]]:
    """Every point's searches; ``execute(runs)`` runs (or finds done) each run and returns its
    summary (None when it failed). Returns ``{point label: [(seed, result)]}``."""
    param = spec["param"]
    settings: SearchSettings = spec["settings"]
    if spec["auto"]:
        seeds = 1 if spec["mode"] == "pooled" else len(sweep.seeds)
        settings = SearchSettings(**{**settings.__dict__,
                                     "probes_per_round": max(1, slots // max(1, seeds))})
    out: dict[str, list[tuple[int, CapacityResult]]] = {}
    for point in sweep.points:
        groups = ([[seed] for seed in sweep.seeds] if spec["mode"] == "per_seed"
                  else [list(sweep.seeds)])
        for seeds in groups:
            def probe_round(rates: list[int], seeds: list[int] = seeds,
                            point: Point = point) -> list[dict[str, Any]]:
                runs = [probe_run(sweep, point, param, rate, seed)
                        for rate in rates for seed in seeds]
                summaries = execute(runs)
                merged = []
                for i, _rate in enumerate(rates):
                    mine = summaries[i * len(seeds):(i + 1) * len(seeds)]
                    merged.append(_worst(mine))
                return merged

            result = search_capacity(probe_round, settings, spec["criteria"])
            out.setdefault(point.label, []).append((seeds[0] if len(seeds) == 1 else -1,
                                                    result))
    return out


def _worst(summaries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """One summary for a pooled probe: a failed run fails it; else the seed with the lowest
    goodput stands for all (every seed must pass)."""
    if any(s is None for s in summaries):
        return {"tps": 0.0, "send_rate_tps": 1.0}
    return min(summaries, key=lambda s: float(s.get("tps") or 0)
               / max(float(s.get("send_rate_tps") or 1), 1e-9))


def max_tps_rows(sweep: Sweep, found: Mapping[str, list[tuple[int, CapacityResult]]],
                 ci: float = 0.95) -> list[dict[str, Any]]:
    """``tables/max_tps``: one row per point (see the module docstring)."""
    rows = []
    for point in sweep.points:
        results = found.get(point.label, [])
        best = [r.max_sustainable_tps for _, r in results if r.max_sustainable_tps is not None]
        stat = summarize([float(v) for v in best], ci)
        failing = [(r.first_failing_tps, r) for _, r in results
                   if r.first_failing_tps is not None]
        lowest = min(failing, key=lambda item: item[0])[1] if failing else None
        rows.append({
            "label": point.label, **point.params, "searches": len(results),
            "max_sustainable_tps": stat.mean, "ci_low": stat.ci_low, "ci_high": stat.ci_high,
            "std": stat.std,
            "first_failing_tps": lowest.first_failing_tps if lowest else None,
            "failed_criterion": lowest.failed_criterion if lowest else None,
            "bound_by": lowest.bound_by if lowest else None,
            "non_monotone": any(r.non_monotone for _, r in results),
            "probes": sum(len(r.probes) for _, r in results),
        })
    return rows
