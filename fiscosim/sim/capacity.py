"""The highest sustainable rate of a scenario: bracketing and bisection over whole runs.

``fiscosim capacity`` and the sweep's ``search: max_sustainable_tps`` block (docs/capacity.md,
SWEEPS.md §8) both use :func:`search_capacity`. A *probe* is one ordinary run of the scenario
at a fixed offered rate; it **passes** when every :class:`Criteria` holds over its measured
window (goodput ratio, a latency percentile, backlog growth, rejected ratio). The search:

1. **Bracket.** Probe ``start``. On a pass, multiply by ``growth`` until a probe fails or the
   upper bound is reached; on a fail, divide until a probe passes or the lower bound is reached.
2. **Refine.** Bisect (lo, hi) on the ``round_to`` lattice until
   ``hi - lo <= max(relative * lo, absolute)`` or no lattice point is left between them.

Each round's probes are decided only once the whole round has returned. With
``probes_per_round`` k > 1 a round probes, besides the next point of the sequential search, the
points the search would probe next whichever way the probes go (the next k points of the
bracketing sequence; the first k midpoints of the bisection tree, breadth first). The search
then walks the same path as with k = 1, reading results from the cache of probes: so the answer
is identical for every k and every number of workers, and after a resume that replays cached
probes. Only the number of rounds changes.

The reported answer is then read off *all* the probes: ``first_failing_tps`` is the lowest rate
that failed and ``max_sustainable_tps`` the highest pass below it. For a model whose pass/fail
is monotone in the rate this is the end of the walk; a pass seen above a fail sets
``non_monotone`` and keeps the answer conservative.

The search knows nothing of how a probe runs: it takes ``probe_round(rates) -> summaries``.
:func:`capacity_of` builds one from a validated :class:`~fiscosim.schema.Scenario` that runs
the probes in a pool of processes.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from fiscosim.schema import Scenario, ScenarioError
from fiscosim.schema.limits import MAX_TPS

ProbeRound = Callable[[list[int]], Iterable[Mapping[str, Any]]]
"""Runs one round of probes: the offered rates → their summaries (summary.json's dict), in the
same order; an iterator may yield them as they complete."""

LATENCY_KEYS = ("p50", "p95", "p99", "mean", "max")
"""The ``latency_ms`` figures of a summary that a latency criterion may bound."""


class SettingsError(ValueError):
    """A search setting or criterion out of range; ``field`` names it (``bounds``,
    ``criteria.latency_ms.p95``...), ``fix`` says what to give instead."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(f"{field}: {problem} ({fix})")
        self.field, self.problem, self.fix = field, problem, fix


# -- criteria ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A probe's criteria: ``failing`` lists the criteria that failed (in the order of
    :meth:`Criteria.names`), ``values`` each criterion's measured value (None: the summary
    does not give it, so the criterion was not evaluated; those are in ``skipped``)."""

    passed: bool
    failing: tuple[str, ...]
    values: dict[str, float | None]
    skipped: tuple[str, ...]

    @property
    def failed(self) -> str | None:
        """The first failing criterion, or None."""
        return self.failing[0] if self.failing else None


@dataclass(frozen=True)
class Criteria:
    """What a probe must show over its measured window (after warm-up) to be sustainable.

    ``goodput_ratio``: committed TPS / offered TPS, at least. ``latency_ms``: the
    ``latency_percentile`` of the commit latency, at most. ``backlog_growth``: the slope of the
    pending backlog over the window divided by the offered rate, at most. ``rejected_ratio``:
    rejected transactions (a full txpool...) / submitted, at most. None turns a criterion off.
    """

    goodput_ratio: float | None = 0.98
    latency_ms: float | None = 2000.0
    latency_percentile: str = "p95"
    backlog_growth: float | None = 0.01
    rejected_ratio: float | None = 0.001

    def names(self) -> list[str]:
        """The criteria in force, in the order they are checked and reported."""
        names = ["goodput_ratio", f"latency_ms.{self.latency_percentile}", "backlog_growth",
                 "rejected_ratio"]
        return [name for name in names if self.threshold(name) is not None]

    def threshold(self, name: str) -> float | None:
        if name.startswith("latency_ms."):
            return self.latency_ms if name == f"latency_ms.{self.latency_percentile}" else None
        return getattr(self, name)

    def as_dict(self) -> dict[str, float]:
        """``{name: threshold}``, as a sweep's ``criteria:`` block writes them."""
        return {name: self.threshold(name) for name in self.names()}  # type: ignore[misc]

    def with_(self, name: str, value: float | None) -> Criteria:
        """These criteria with ``name`` (as :meth:`names` spells it, e.g. ``latency_ms.p99``)
        set to ``value`` (None: off); raises :class:`SettingsError` for a bad name or value."""
        where = f"criteria.{name}"
        known = ["goodput_ratio", *(f"latency_ms.{k}" for k in LATENCY_KEYS), "backlog_growth",
                 "rejected_ratio"]
        if name not in known:
            raise SettingsError(where, "unknown criterion",
                                "use one of " + ", ".join(known))
        if value is not None:
            if not math.isfinite(value) or value < 0:
                raise SettingsError(where, f"{value!r} is not a number >= 0",
                                    "give a number >= 0, or off")
            if name == "goodput_ratio" and value > 1:
                raise SettingsError(where, f"{value:g} is above 1",
                                    "give a ratio of committed to offered TPS <= 1, e.g. 0.98")
        if name.startswith("latency_ms."):
            return replace(self, latency_ms=value, latency_percentile=name.split(".", 1)[1])
        return replace(self, **{name: value})

    @classmethod
    def from_mapping(cls, values: Mapping[str, float | None]) -> Criteria:
        """Criteria from a ``criteria:`` block; the defaults for those it leaves out."""
        criteria = cls()
        for name, value in values.items():
            criteria = criteria.with_(str(name), None if value is None else float(value))
        return criteria

    def evaluate(self, summary: Mapping[str, Any], offered: float) -> Verdict:
        """The verdict on one run's ``summary`` at the nominal ``offered`` rate.

        The goodput ratio divides by the rate the clients really sent in the window
        (``send_rate_tps``), so that Poisson noise in the arrivals is not counted as lost
        goodput; the nominal rate stands in when the summary has none.

        >>> c = Criteria()
        >>> v = c.evaluate({"tps": 900, "send_rate_tps": 1000, "latency_ms": {"p95": 300},
        ...                 "txs_submitted": 10, "txs_rejected": 0}, 1000)
        >>> v.passed, v.failing, v.skipped
        (False, ('goodput_ratio',), ('backlog_growth',))
        """
        sent = float(summary.get("send_rate_tps") or 0) or float(offered)
        submitted = int(summary.get("txs_submitted") or 0)
        latency = summary.get("latency_ms") or {}
        saturation = summary.get("saturation") or {}
        measured: dict[str, float | None] = {
            "goodput_ratio": float(summary.get("tps") or 0) / sent if sent > 0 else None,
            f"latency_ms.{self.latency_percentile}": latency.get(self.latency_percentile),
            "backlog_growth": saturation.get("backlog_growth"),
            "rejected_ratio": (int(summary.get("txs_rejected") or 0) / submitted
                               if submitted else 0.0),
        }
        values: dict[str, float | None] = {}
        failing, skipped = [], []
        for name in self.names():
            value = measured[name]
            values[name] = None if value is None else round(float(value), 6)
            if value is None:
                skipped.append(name)
                continue
            limit = self.threshold(name)
            assert limit is not None
            ok = value >= limit if name == "goodput_ratio" else value <= limit
            if not ok:
                failing.append(name)
        return Verdict(not failing, tuple(failing), values, tuple(skipped))


# -- settings and results ----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchSettings:
    """How the search moves (SWEEPS.md §8). Rates are whole transactions per second."""

    start: int = 5000
    bounds: tuple[int, int] = (500, 200_000)
    growth: float = 2.0
    resolution: tuple[float, float] = (0.02, 100)
    """(relative, absolute): the search stops when hi - lo <= max(relative * lo, absolute)."""
    round_to: int = 100
    """Probes land on multiples of this (the bounds apart), so repeated searches reuse runs."""
    probes_per_round: int = 1

    def check(self) -> None:
        """Raises :class:`SettingsError` for a setting out of range."""
        low, high = self.bounds
        if not (1 <= low < high <= MAX_TPS):
            raise SettingsError("bounds", f"[{low}, {high}] is not 1 <= low < high <= "
                                f"{MAX_TPS:,.0f}",
                                "give two rates, low below high, e.g. 500,200000")
        if not low <= self.start <= high:
            raise SettingsError("start", f"{self.start} is outside the bounds [{low}, {high}]",
                                "give a start inside the bounds, or widen them")
        if not (math.isfinite(self.growth) and self.growth > 1):
            raise SettingsError("growth", f"{self.growth!r} is not above 1",
                                "give a factor above 1, e.g. 2")
        relative, absolute = self.resolution
        if not (math.isfinite(relative) and 0 <= relative < 1 and absolute >= 0):
            raise SettingsError("resolution", f"({relative!r}, {absolute!r}) is out of range",
                                "give a relative resolution in [0, 1) and an absolute one "
                                ">= 0, e.g. 0.02,100")
        if not 1 <= self.round_to <= high - low:
            raise SettingsError("round_to", f"{self.round_to} is not between 1 and the width "
                                f"of the bounds ({high - low})", "give a step such as 100")
        if self.probes_per_round < 1:
            raise SettingsError("probes_per_round", f"{self.probes_per_round} is below 1",
                                "give a whole number >= 1")


@dataclass(frozen=True)
class Probe:
    """One run of the search: its offered ``rate``, verdict and what it reports."""

    rate: int
    passed: bool
    failing: tuple[str, ...]
    values: dict[str, float | None]
    skipped: tuple[str, ...]
    tps: float
    offered_tps: float
    bound_by: str | None
    utilisation_max: dict[str, Any] | None
    sim_s: float
    wall_s: float
    round: int

    @property
    def failed(self) -> str | None:
        return self.failing[0] if self.failing else None


@dataclass
class CapacityResult:
    """What a search found (see the module docstring).

    ``max_sustainable_tps`` is None when even the lower bound failed; ``first_failing_tps`` is
    None when the upper bound passed; ``limit`` then says which bound ended the search.
    ``failed_criterion``, its value and threshold, ``bound_by`` and ``utilisation_max`` are the
    probe's at ``first_failing_tps``. ``not_evaluated`` lists the criteria no probe's summary
    could evaluate (such a criterion holds by default)."""

    max_sustainable_tps: int | None
    first_failing_tps: int | None
    failed_criterion: str | None
    failed_value: float | None
    failed_threshold: float | None
    bound_by: str | None
    utilisation_max: dict[str, Any] | None
    non_monotone: bool
    converged: bool
    limit: str | None
    rounds: int
    probes: list[Probe]
    settings: SearchSettings
    criteria: Criteria
    not_evaluated: tuple[str, ...] = ()
    failing_at_hi: tuple[str, ...] = field(default=())

    def as_dict(self, wall: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``wall=False`` leaves out the wall-clock figures, which alone
        differ between two searches of the same scenario."""
        data = asdict(self)
        data["criteria"] = self.criteria.as_dict()
        data["settings"]["bounds"] = list(self.settings.bounds)
        data["settings"]["resolution"] = {"relative": self.settings.resolution[0],
                                          "absolute": self.settings.resolution[1]}
        for probe in data["probes"]:
            probe["failed"] = probe["failing"][0] if probe["failing"] else None
            if not wall:
                del probe["wall_s"]
        return data


# -- the search --------------------------------------------------------------------------------


class _Lattice:
    """The rates the search may probe: multiples of ``step`` inside the bounds, and the bounds."""

    def __init__(self, settings: SearchSettings) -> None:
        self.step = settings.round_to
        self.low, self.high = settings.bounds
        self.relative, self.absolute = settings.resolution

    def round(self, rate: float) -> int:
        # Half up rather than Python's half-to-even: the nearer multiple, as people round.
        return min(max(math.floor(rate / self.step + 0.5) * self.step, self.low), self.high)

    def inside(self, lo: int, hi: int) -> tuple[int, int] | None:
        """The first and last lattice points strictly between lo and hi, or None."""
        first = (lo // self.step + 1) * self.step
        last = ((hi - 1) // self.step) * self.step
        return (first, last) if first <= last else None

    def converged(self, lo: int, hi: int) -> bool:
        return hi - lo <= max(self.relative * lo, self.absolute) or self.inside(lo, hi) is None

    def middle(self, lo: int, hi: int) -> int:
        first, last = self.inside(lo, hi)  # type: ignore[misc]
        return min(max(math.floor((lo + hi) / 2 / self.step + 0.5) * self.step, first),
                   last)

    def upwards(self, start: int, growth: float) -> list[int]:
        """start, start × growth, ... (each on the lattice and above the last), then the
        upper bound."""
        rates = [start]
        while rates[-1] < self.high:
            rate = rates[-1]
            rates.append(min(max(self.round(rate * growth), rate + self.step), self.high))
        return rates

    def downwards(self, start: int, growth: float) -> list[int]:
        rates = [start]
        while rates[-1] > self.low:
            rate = rates[-1]
            rates.append(max(min(self.round(rate / growth), rate - self.step), self.low))
        return rates


def probe_of(rate: int, summary: Mapping[str, Any], criteria: Criteria, round_: int) -> Probe:
    """The :class:`Probe` record of one run's summary at ``rate``."""
    verdict = criteria.evaluate(summary, rate)
    utilisation = summary.get("utilisation")
    return Probe(
        rate=rate, passed=verdict.passed, failing=verdict.failing, values=verdict.values,
        skipped=verdict.skipped, tps=float(summary.get("tps") or 0),
        offered_tps=float(summary.get("send_rate_tps") or 0),
        bound_by=summary.get("bound_by"),
        utilisation_max=(utilisation.get("max") if isinstance(utilisation, Mapping) else None),
        sim_s=float(summary.get("sim_time_s") or 0), wall_s=float(summary.get("wall_time_s") or 0),
        round=round_)


def search_capacity(probe_round: ProbeRound, settings: SearchSettings | None = None,
                    criteria: Criteria | None = None,
                    on_probe: Callable[[Probe], None] | None = None) -> CapacityResult:
    """The highest rate at which a probe passes ``criteria`` (see the module docstring).

    ``probe_round(rates)`` runs a round (at most ``settings.probes_per_round`` rates, none run
    before) and returns or yields their summaries in order; ``on_probe`` is told of each probe
    as its summary arrives. Deterministic: the same probe results give the same answer, for
    every ``probes_per_round``.

    >>> toy = lambda rates: [{"tps": min(r, 12_345), "send_rate_tps": r} for r in rates]
    >>> result = search_capacity(toy, SearchSettings(start=5000, round_to=100),
    ...                          Criteria(latency_ms=None, backlog_growth=None))
    >>> result.max_sustainable_tps, result.first_failing_tps, result.failed_criterion
    (12500, 12700, 'goodput_ratio')
    """
    settings = settings or SearchSettings()
    criteria = criteria or Criteria()
    settings.check()
    lattice = _Lattice(settings)
    k = settings.probes_per_round
    cache: dict[int, Probe] = {}
    probes: list[Probe] = []
    rounds = 0

    def run(rates: Iterable[int]) -> None:
        nonlocal rounds
        todo: list[int] = []
        for rate in rates:  # a lazy stream: the bisection tree is only walked as far as needed
            if rate not in cache and rate not in todo:
                todo.append(rate)
                if len(todo) == k:
                    break
        if not todo:
            return
        rounds += 1
        for rate, summary in zip(todo, probe_round(todo), strict=True):
            probe = probe_of(rate, summary, criteria, rounds)
            cache[rate] = probe
            probes.append(probe)
            if on_probe is not None:
                on_probe(probe)

    def walk(sequence: list[int], stop_when_passed: bool) -> int | None:
        """The first rate of ``sequence`` (after its first) whose probe passes (or fails), k
        uncached ones probed per round; None when none does."""
        for i, rate in enumerate(sequence[1:], start=1):
            if rate not in cache:
                run(r for r in sequence[i:] if r not in cache)
            if cache[rate].passed == stop_when_passed:
                return rate
        return None

    def bisection_round(lo: int, hi: int) -> Iterator[int]:
        """The bisection tree's midpoints below (lo, hi), breadth first: the first is the
        point the search probes next, the next two those it probes after either outcome..."""
        queue = deque([(lo, hi)])
        while queue:
            a, b = queue.popleft()
            if lattice.converged(a, b):
                continue
            middle = lattice.middle(a, b)
            yield middle
            queue.extend(((a, middle), (middle, b)))

    start = lattice.round(settings.start)
    run([start])
    lo: int | None
    hi: int | None
    if cache[start].passed:
        lo, hi = start, None
        hi = walk(lattice.upwards(start, settings.growth), stop_when_passed=False)
        if hi is not None:
            passes = [r for r in lattice.upwards(start, settings.growth) if r < hi]
            lo = passes[-1]
        else:
            lo = settings.bounds[1]
    else:
        lo, hi = None, start
        lo = walk(lattice.downwards(start, settings.growth), stop_when_passed=True)
        if lo is not None:
            fails = [r for r in lattice.downwards(start, settings.growth) if r > lo]
            hi = fails[-1]
        else:
            hi = settings.bounds[0]
    if lo is not None and hi is not None:
        while not lattice.converged(lo, hi):
            middle = lattice.middle(lo, hi)
            if middle not in cache:
                # Only uncached midpoints, so that a resumed search's round is the same size.
                run(r for r in bisection_round(lo, hi) if r not in cache)
            if cache[middle].passed:
                lo = middle
            else:
                hi = middle
    return _result(cache, probes, rounds, settings, criteria, lattice)


def _result(cache: dict[int, Probe], probes: list[Probe], rounds: int,
            settings: SearchSettings, criteria: Criteria, lattice: _Lattice) -> CapacityResult:
    """The answer read off every probe: the lowest failing rate and the highest pass below."""
    fails = sorted(rate for rate, probe in cache.items() if not probe.passed)
    passes = sorted(rate for rate, probe in cache.items() if probe.passed)
    hi = fails[0] if fails else None
    below = [rate for rate in passes if hi is None or rate < hi]
    lo = below[-1] if below else None
    non_monotone = bool(fails and passes and passes[-1] > fails[0])
    at_hi = cache[hi] if hi is not None else None
    limit = None
    if hi is None:
        limit = "upper_bound"
    elif lo is None:
        limit = "lower_bound"
    failed = at_hi.failed if at_hi is not None else None
    skipped_everywhere = tuple(
        name for name in criteria.names() if all(name in p.skipped for p in probes))
    return CapacityResult(
        max_sustainable_tps=lo,
        first_failing_tps=hi,
        failed_criterion=failed,
        failed_value=at_hi.values.get(failed) if at_hi is not None and failed else None,
        failed_threshold=criteria.threshold(failed) if failed else None,
        bound_by=at_hi.bound_by if at_hi is not None else None,
        utilisation_max=at_hi.utilisation_max if at_hi is not None else None,
        non_monotone=non_monotone,
        converged=lo is not None and hi is not None and lattice.converged(lo, hi),
        limit=limit,
        rounds=rounds,
        probes=probes,
        settings=settings,
        criteria=criteria,
        not_evaluated=skipped_everywhere,
        failing_at_hi=at_hi.failing if at_hi is not None else (),
    )


# -- probes as runs of a scenario --------------------------------------------------------------


def check_searchable(scenario: Scenario, source: str = "") -> None:
    """Raises :class:`ScenarioError` unless the search can set ``scenario``'s offered rate:
    an open-loop workload (``closed`` sends as receipts come back, whatever the rate; and
    ``sdk_demo``'s rate is a cap on a fixed count), the same one in every group."""
    source = source or f"<scenario {scenario.name}>"
    if scenario.workload.mode != "open":
        raise ScenarioError(
            source, "workload.mode",
            f"the capacity search sets workload.rate_tps, which mode {scenario.workload.mode} "
            "does not offer as a steady rate", "use --set workload.mode=open")
    for g, group in enumerate(scenario.groups or []):
        if group.workload is not None:
            raise ScenarioError(
                source, f"groups.{g}.workload",
                "the capacity search sets workload.rate_tps, which a group's own workload "
                "does not follow", "remove the group's own workload, or search one group alone")


def with_rate(scenario: Scenario, rate: float) -> Scenario:
    """``scenario`` offering ``rate`` transactions per second (workload.rate_tps)."""
    # A copy, not a re-validation: rate_tps is range-checked by the search's bounds, and a
    # round trip through a dict would have to know which fields a 2.x chain refuses back.
    workload = scenario.workload.model_copy(update={"rate_tps": float(rate)})
    return scenario.model_copy(update={"workload": workload})


def _run_probe(scenario: Scenario, rate: int) -> dict[str, Any]:
    from fiscosim.sim.simulation import Simulation

    simulation = Simulation(with_rate(scenario, rate))
    simulation.overrides = [f"workload.rate_tps={rate}"]  # named in the summary's label
    return simulation.run().summary


def _quiet_worker() -> None:
    # Ctrl-C goes to the whole process group: the parent stops the search in one line, and
    # the workers must not each print a KeyboardInterrupt traceback first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def scenario_probes(scenario: Scenario, workers: int = 1,
                    source: str = "") -> Iterator[ProbeRound]:
    """A context of ``probe_round`` running ``scenario`` at each rate, ``workers`` at a time.

    Each probe's memory is checked first (:func:`~fiscosim.sim.estimate.check_fits`, with the
    machine's free memory shared by the workers): a probe that would not fit raises
    :class:`ScenarioError` naming ``workload.rate_tps``.
    """
    from fiscosim.sim.estimate import available_bytes, check_fits

    check_searchable(scenario, source)
    free = available_bytes()
    share = None if free is None else free // max(workers, 1)

    def checked(rates: list[int]) -> None:
        for rate in rates:
            setting = f"workload.rate_tps={rate}"
            try:
                check_fits(with_rate(scenario, rate), source or f"<scenario {scenario.name}>",
                           [("workload.rate_tps", setting)], available=share)
            except ScenarioError as error:
                raise ScenarioError(error.source, error.field,
                                    f"the probe at {rate:,} TPS on {workers} worker"
                                    f"{'s' if workers != 1 else ''}: {error.problem}",
                                    error.fix, error.more) from None

    if workers <= 1:
        def serial(rates: list[int]) -> Iterator[dict[str, Any]]:
            checked(rates)
            for rate in rates:
                yield _run_probe(scenario, rate)

        yield serial
        return
    import multiprocessing as mp
    from functools import partial

    # fork: the workers inherit the loaded profiles and contracts; one task per child, so that
    # the memory of a large overloaded run goes back to the system when it ends.
    with mp.get_context("fork").Pool(workers, initializer=_quiet_worker,
                                     maxtasksperchild=1) as pool:
        def parallel(rates: list[int]) -> Iterator[dict[str, Any]]:
            checked(rates)
            yield from pool.imap(partial(_run_probe, scenario), rates)

        yield parallel


def capacity_of(scenario: Scenario, settings: SearchSettings | None = None,
                criteria: Criteria | None = None, workers: int | None = None,
                on_probe: Callable[[Probe], None] | None = None,
                source: str = "") -> CapacityResult:
    """The capacity search on ``scenario`` (validated, overrides applied), its probes run in
    ``workers`` processes [default: every core this process may use]. ``settings`` with
    ``probes_per_round`` 0 take one probe per worker."""
    workers = workers or len(os.sched_getaffinity(0))
    settings = settings or SearchSettings()
    if settings.probes_per_round == 0:
        settings = replace(settings, probes_per_round=workers)
    settings.check()
    with scenario_probes(scenario, workers, source) as probe_round:
        return search_capacity(probe_round, settings, criteria, on_probe)


def summary_line(result: CapacityResult) -> str:
    """The answer in one sentence."""
    if result.limit == "upper_bound":
        return (f"every probe passed up to the upper bound: at least "
                f"{result.max_sustainable_tps:,} TPS is sustainable (raise the bounds)")
    if result.limit == "lower_bound":
        return (f"even the lower bound {result.first_failing_tps:,} TPS failed on "
                f"{result.failed_criterion} (lower the bounds)")
    return (f"max sustainable {result.max_sustainable_tps:,} TPS; "
            f"{result.first_failing_tps:,} TPS fails on {result.failed_criterion}")
