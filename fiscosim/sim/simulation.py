"""Running a scenario: the Python API behind ``fiscosim run``, for scripts and notebooks::

    from fiscosim import load_simulation

    result = load_simulation("scenarios/quickstart.yaml", seed=7,
                             overrides={"workload.rate_tps": 2000}).run()
    result.summary["tps"], result.summary["latency_ms"]["p99"]
    result.blocks.to_pandas()          # one row per committed block (needs pandas)
    result.write("results/quickstart")  # summary.json, blocks.csv, manifest.json
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fiscosim.metrics.blocks import BlockLog
from fiscosim.metrics.output import (
    blocks_csv,
    json_text,
    package_versions,
    provenance,
    write_results,
)
from fiscosim.metrics.summary import WALL_CLOCK_KEYS, summarise, summarise_groups
from fiscosim.schema import Scenario, scenario_digest
from fiscosim.sim.world import World, build_world


class BlockTable:
    """The committed blocks as columns; ``to_pandas()`` when pandas is installed."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns["number"]) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def to_pandas(self) -> Any:  # a pandas.DataFrame; pandas is optional
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas() needs pandas: pip install pandas") from error
        return pd.DataFrame(self.columns)

    def to_csv(self) -> str:
        return blocks_csv(self.columns)


@dataclass
class Result:
    """A finished run: the summary dict, the block table and the world (for inspection)."""

    summary: dict[str, Any]
    blocks: BlockTable
    manifest: dict[str, Any]
    world: World
    trace_path: Path | None = None
    """Where the run's trace was written (``run(trace=PATH)``); None for ``trace=True`` (kept
    in memory) or no trace."""
    _trace: Any = None

    @property
    def trace(self) -> Any:
        """The run's trace (a :class:`fiscosim.trace.viewer.ViewableTrace`: header, records,
        ``to_html(path)`` and a notebook view), from ``run(trace=True)`` or read from
        ``run(trace=PATH)``'s file."""
        if self._trace is None:
            if self.trace_path is None:
                raise ValueError("this run recorded no trace: run it with trace=True (kept in "
                                 "memory) or trace=PATH")
            from fiscosim.trace.events import read_trace

            self._trace = read_trace(self.trace_path)
        if not hasattr(self._trace, "to_html"):
            from fiscosim.trace.viewer import viewable

            self._trace = viewable(self._trace)
        return self._trace

    def deterministic_summary(self) -> dict[str, Any]:
        """The summary without wall-clock fields: identical for the same scenario and seed."""
        return {k: v for k, v in self.summary.items() if k not in WALL_CLOCK_KEYS}

    def write(self, out_dir: str | Path) -> list[Path]:
        """Writes summary.json, blocks.csv and manifest.json atomically into ``out_dir``."""
        return write_results(
            out_dir,
            {
                "summary.json": json_text(self.summary),
                "blocks.csv": self.blocks.to_csv(),
                "manifest.json": json_text(self.manifest),
            },
        )


class Simulation:
    """A scenario ready to run. Build it from a validated :class:`Scenario`, or from a file
    with :func:`fiscosim.scenario.load_simulation`."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._world: World | None = None
        self.overrides: list[str] = []
        """The ``FIELD=VALUE`` overrides applied to the file (``seed`` given apart not among
        them): listed in summary.json and manifest.json, counted in the scenario's name."""
        self.command_line: list[str] | None = None
        """The command line that ran this (``fiscosim run`` sets it); None from the API."""

    @property
    def world(self) -> World | None:
        """The world of the current (or last) run, from the moment it is built; None before.

        A ``progress`` callback may use it to look at the run, or to put a probe on its clock
        (:func:`fiscosim.engine.clock.schedule`), as ``fiscosim fuzz`` does at a fault's heal.
        """
        return self._world

    @property
    def sim_time_s(self) -> float:
        """Simulated seconds reached by the current (or last) run; 0 before one starts.

        Read after a run was stopped (Ctrl-C, a --timeout) to say how far it got.
        """
        return self._world.env.now / 1e6 if self._world is not None else 0.0

    def run(
        self,
        trace: str | Path | bool | None = None,
        progress: Callable[[float, float], None] | None = None,
    ) -> Result:
        """Runs the scenario to its end. ``trace``: a path records the run's trace there
        (``fiscosim-trace/1``, docs/trace.md); ``True`` records it in memory, as
        ``result.trace``.

        ``progress(simulated_s, total_s)`` is called as the run advances (about 100 times).
        """
        from fiscosim.sim.realcrypto import real_crypto

        scenario = self.scenario
        if trace is True:
            import tempfile

            with tempfile.TemporaryDirectory(prefix="fiscosim-trace-") as folder:
                result = self.run(Path(folder) / "run.trace.jsonl", progress)
                result.trace  # read into memory before the file goes  # noqa: B018
                result.trace_path = None
            return result
        if trace is False:
            trace = None
        if trace is not None and scenario.network.votes == "aggregate":
            from fiscosim.net.aggregate import TRACE_REFUSED

            raise ValueError(TRACE_REFUSED)
        recorder = None

        def trace_factory(env):
            nonlocal recorder
            from fiscosim.trace.recorder import TraceRecorder

            recorder = TraceRecorder(trace, env)
            return recorder

        self._world = None
        real = real_crypto(scenario)  # before the clock starts: signing is set-up, not the run
        started = time.perf_counter()
        # The recorder's temporary file exists from build_world on: anything that stops the
        # run before close() (an error, Ctrl-C, the CLI's --timeout or SIGTERM) must drop it.
        try:
            world = build_world(
                scenario,
                trace_factory=trace_factory if trace is not None else None,
                real=real,
            )
            self._world = world
            if recorder is not None:
                from fiscosim.sim.tracing import (
                    members,
                    safety_checks,
                    state_function,
                    trace_header,
                )

                recorder.attach(trace_header(world), world.names, state_function(world),
                                members(world), safety_checks(world))
            # A run allocates millions of short-lived objects (messages, events) and makes few
            # reference cycles; at the default threshold of 700 allocations the cycle collector
            # took about a third of a 100-node run. Results do not depend on it.
            thresholds = gc.get_threshold()
            gc.set_threshold(100_000, 50, 50)
            try:
                _drive(world, progress)
            finally:
                gc.set_threshold(*thresholds)
        except BaseException:
            if recorder is not None:
                recorder.abort()
            raise
        wall = time.perf_counter() - started
        if recorder is not None:
            recorder.close()
        digest = scenario_digest(scenario)
        if len(world.groups) == 1:
            summary = summarise(world, wall, digest, self.overrides)
            blocks = BlockTable(world.blocks.columns())
        else:
            summary = summarise_groups(world, wall, digest, self.overrides)
            blocks = BlockTable(_group_blocks(world))
        manifest = {
            "seed": scenario.seed,
            "scenario_digest": digest,
            "scenario": scenario.model_dump(mode="json"),
            "versions": package_versions(),
            **provenance(self.command_line, self.overrides),
        }
        return Result(summary, blocks, manifest, world,
                      Path(trace) if trace is not None else None)


def _group_blocks(world: World) -> dict[str, np.ndarray]:
    """Every group's committed blocks, one table, with a leading ``group`` column."""
    parts = [(group.group_id, group.blocks.columns()) for group in world.groups]
    names = list(parts[0][1])
    columns: dict[str, np.ndarray] = {
        "group": np.array([gid for gid, cols in parts for _ in range(len(cols["number"]))],
                          dtype=object)}
    for name in names:
        columns[name] = np.concatenate([cols[name] for _, cols in parts])
    return columns


def _drive(world: World, progress: Callable[[float, float], None] | None) -> None:
    from fiscosim.faults.injector import schedule_faults

    env = world.env
    for group in world.groups:
        for node in group.nodes:
            node.start()
    schedule_faults(world)
    for group in world.groups:
        env.process(group.client_loop())
        if group.query_rng is not None:
            env.process(group.query_loop())
    end = world.end_us
    if progress is None:
        env.run(until=end)
        return
    step = max(1, end // 100)
    t = 0
    while t < end:
        t = min(end, t + step)
        env.run(until=t)
        progress(t / 1e6, end / 1e6)


__all__ = ["BlockLog", "BlockTable", "Result", "Simulation"]
