"""Can simpy's public API drive the simulator as fast as the simpy adapter's private path?

    python benchmarks/simpy_api.py                        # both scenarios, 3 runs each
    python benchmarks/simpy_api.py --runs 5 pbft-100-2k   # one scenario, 5 runs
    python benchmarks/simpy_api.py --variants private,public,public-schedule,public-drain

Two ways to put the simulator's work on simpy's clock, A/B in one process:

- **private** (A, what fiscosim ships): :mod:`fiscosim.engine.simpy_adapter`. ``schedule`` pushes
  a slotted ``(time, NORMAL, eid, call)`` entry straight into ``env._queue``; the network's
  delivery loop (``Network._drain``) moves ``env._now`` to the next arrival itself while no simpy
  event is due first, so simpy steps once per wake, not once per arrival time.
- **public** (B): only ``env.schedule(event, priority, delay)``, ``env.now`` and a small
  ``simpy.Event`` subclass per callback (built like simpy's own ``Timeout``: ``env``,
  ``callbacks``, ``_ok``, ``_value``). The clock can only move by ``env.step``, so the delivery
  loop stops at every new arrival time and schedules a simpy event for it (``env.peek()`` cannot
  help: knowing nothing comes first is no use without moving the clock).
  ``public-schedule`` and ``public-drain`` swap in one half each, to see where the cost is.

The public variants are swapped in by replacing ``schedule_call`` wherever a fiscosim module
bound it (``from ... import schedule``) and ``Network._drain`` / ``Network._add_wake`` on the
class, and swapped back after each run. Runs are interleaved (A, B, A, B, ...) so that a shared,
noisy machine slows both alike; the median of each variant's runs is compared. Both variants
must give the same run: the deterministic summaries are compared, apart from ``events``, which
counts simpy steps (the public path steps once per arrival time).

Wall time is the whole ``load_simulation(...).run()``: load, build, run, summary; the CPU time
of the process over the same span is printed beside it (less disturbed by other work on a
shared machine, though not immune: caches and SMT siblings are shared too). One untimed warm-up
run first imports everything a run imports lazily.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from heapq import heappop, heappush, heapreplace
from pathlib import Path
from typing import Any

import simpy
from simpy.core import NORMAL

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fiscosim.engine import simpy_adapter  # noqa: E402
from fiscosim.net import network as network_module  # noqa: E402
from fiscosim.net.network import Network  # noqa: E402

SCENARIOS = {
    "pbft-4-50k": ("scenarios/pbft-4-50k.yaml", []),
    "pbft-100-2k": ("scenarios/pbft-100-2k.yaml", ["duration_s=3", "warmup_s=1", "drain_s=1"]),
}
WARM_UP = ("scenarios/quickstart.yaml", ["duration_s=2", "warmup_s=1", "drain_s=1"])
VARIANTS = {
    # name: (public schedule, public drain)
    "private": (False, False),
    "public": (True, True),
    "public-schedule": (True, False),
    "public-drain": (False, True),
}
NOT_COMPARED = ("events", "wall_time_s", "sim_speed")
"""Summary keys the variants may differ in: simpy steps, and the host's wall clock."""


# -- the public-API path ---------------------------------------------------------------------
class _PublicCall(simpy.Event):
    """``fn(*args)`` as a simpy event: what simpy's own ``Timeout`` sets, and the call."""

    def __init__(self, env: simpy.Environment, fn: Callable[..., Any], args: tuple) -> None:
        self.env = env
        self.callbacks = [self._fire]
        self._ok = True
        self._value = None
        self._fn = fn
        self._args = args

    def _fire(self, _event: simpy.Event) -> None:
        self._fn(*self._args)


def public_schedule(env: simpy.Environment, at_us: int, fn: Callable[..., Any], *args: Any) -> None:
    """``schedule_call`` through ``env.schedule``: same (time, NORMAL, insertion) order."""
    now = env.now
    env.schedule(_PublicCall(env, fn, args), NORMAL, at_us - now if at_us > now else 0)


def _public_add_wake(self: Network, at: int) -> None:
    heappush(self._wakes, at)
    public_schedule(self.env, at, self._wake)


def _public_drain(self: Network) -> None:
    """``Network._drain`` without moving the clock: delivers what is due now, then schedules a
    simpy event (a wake) at the next arrival time."""
    env = self.env
    heap = self._heap
    now = env.now
    self._draining = True
    try:
        while heap:
            entry = heap[0]
            at = entry[0]
            if at > now:
                break  # only env.step may move the clock: a wake at ``at``
            if at < now:
                raise RuntimeError(network_module._overdue(entry, now))
            item = entry[2]
            if item.__class__ is network_module._Link:
                waiting = item.queue
                packet = waiting.popleft()
                if waiting:
                    head = waiting[0]
                    heapreplace(heap, (head.arrival, head.seq, item))
                else:
                    heappop(heap)
            else:
                packet = item
                heappop(heap)
            self._arrive(packet)
    finally:
        self._draining = False
        if heap:
            at = heap[0][0]
            wakes = self._wakes
            if not wakes or at < wakes[0]:
                self._add_wake(at if at >= now else now)


@contextmanager
def variant(name: str) -> Iterator[int]:
    """Swaps in the variant's implementations; yields how many bindings were swapped."""
    public_schedule_on, public_drain_on = VARIANTS[name]
    swaps: list[tuple[Any, str, Any, Any]] = []  # (where, name, original, replacement)
    if public_schedule_on:
        for module_name, module in list(sys.modules.items()):
            if module is None or not module_name.startswith("fiscosim"):
                continue
            for attr, value in list(vars(module).items()):
                if value is simpy_adapter.schedule_call:
                    swaps.append((module, attr, value, public_schedule))
    if public_drain_on:
        swaps += [(Network, "_drain", Network.__dict__["_drain"], _public_drain),
                  (Network, "_add_wake", Network.__dict__["_add_wake"], _public_add_wake)]
    try:
        for where, attr, _, replacement in swaps:
            setattr(where, attr, replacement)
        yield len(swaps)
    finally:
        for where, attr, original, _ in reversed(swaps):
            setattr(where, attr, original)


# -- running ---------------------------------------------------------------------------------
def run_scenario(path: str, overrides: list[str]) -> Any:
    from fiscosim.scenario import load_simulation

    return load_simulation(ROOT / path, overrides=overrides, check_memory=False).run()


def timed(path: str, overrides: list[str], name: str) -> tuple[float, float, dict]:
    """One run of ``name``: (wall s, CPU s of this process, summary)."""
    gc.collect()
    with variant(name) as swapped:
        if name != "private" and not swapped:
            raise RuntimeError(f"variant {name}: nothing was swapped in")
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_scenario(path, overrides)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    return wall, cpu, result.summary


def machine() -> str:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as info:
            text = info.read()
        cpu = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                    if line.startswith("model name")), cpu)
        cpu += ", AVX-512" if "avx512" in text else ", no AVX-512"
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"simpy {simpy_adapter.simpy_version()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"default: {' '.join(SCENARIOS)}")
    parser.add_argument("--runs", type=int, default=3, help="runs of each variant (default 3)")
    parser.add_argument("--variants", default="private,public",
                        help=f"comma-separated, first is the baseline: {', '.join(VARIANTS)}")
    args = parser.parse_args()
    names = args.variants.split(",")
    scenarios = args.scenarios or list(SCENARIOS)
    for scenario in scenarios:
        if scenario not in SCENARIOS:
            parser.error(f"unknown scenario {scenario!r}")
    for name in names:
        if name not in VARIANTS:
            parser.error(f"unknown variant {name!r}")
    print(f"# {machine()}")
    run_scenario(*WARM_UP)
    for scenario in scenarios:
        path, overrides = SCENARIOS[scenario]
        walls: dict[str, list[float]] = {name: [] for name in names}
        cpus: dict[str, list[float]] = {name: [] for name in names}
        events: dict[str, int] = {}
        reference: dict | None = None
        for index in range(args.runs):
            for name in names:
                wall, cpu, summary = timed(path, overrides, name)
                walls[name].append(wall)
                cpus[name].append(cpu)
                events[name] = summary.get("events", -1)
                compared = {k: v for k, v in summary.items() if k not in NOT_COMPARED}
                if reference is None:
                    reference = compared
                elif compared != reference:
                    differing = sorted(k for k in set(compared) | set(reference)
                                       if compared.get(k) != reference.get(k))
                    raise SystemExit(f"{scenario}: variant {name} changed the run: {differing}")
                print(f"  {scenario} run {index + 1} {name:16s} wall {wall:7.2f} s, "
                      f"CPU {cpu:7.2f} s", flush=True)
        base = statistics.median(walls[names[0]])
        cpu_base = statistics.median(cpus[names[0]])
        for name in names:
            median = statistics.median(walls[name])
            cpu_median = statistics.median(cpus[name])
            print(json.dumps({
                "scenario": scenario, "overrides": overrides, "variant": name,
                "walls_s": [round(w, 2) for w in walls[name]], "median_s": round(median, 2),
                "vs_" + names[0] + "_pct": round((median / base - 1) * 100, 1),
                "cpu_s": [round(c, 2) for c in cpus[name]], "cpu_median_s": round(cpu_median, 2),
                "cpu_vs_" + names[0] + "_pct": round((cpu_median / cpu_base - 1) * 100, 1),
                "events": events[name],
            }), flush=True)


if __name__ == "__main__":
    main()
