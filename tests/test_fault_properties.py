"""Whole simulated runs under random fault schedules (hypothesis): safety, liveness, determinism.

Each example is a short run (``DURATION_S`` simulated seconds, 150 TPS from 2 clients, no
warm-up or drain, as ``fiscosim fuzz`` runs them) of n ∈ {4, 7, 10} sealers in which at most
f = ⌊(n−1)/3⌋ nodes are faulty: each is crashed, cut off by a partition, delayed or slowed for a
window, or byzantine for a window (equivocating, silent, withholding or forging). On top of
that the network may be split in two (either side may hold more than f
nodes) and may lose messages for a window. Hypothesis draws the schedule, in the scenario's
``faults:`` format (``FaultSpec``), and shrinks a failing one to a minimal schedule.

For liveness every fault is undone by half of the run (``until_s`` <= duration/2), as in
``fiscosim.sim.fuzz.random_faults``; for safety faults may also last to the end. Partitions
replace one another (``Network.partition``) and any heal heals them all, so overlapping
partitions only ever shorten a cut.

Runs are derandomized (the same examples every time, no example database), so CI sees the same
schedules on every run; a failure prints its ``@reproduce_failure`` blob. The default example
counts keep the file near a minute of wall time on two cores. The ``slow`` variants (more
examples, longer runs) need ``FISCOSIM_SLOW=1`` as well as the marker: ``slow`` is registered in
pyproject.toml but not deselected by default (CI runs plain ``pytest``)::

    FISCOSIM_SLOW=1 python -m pytest -m slow tests/test_fault_properties.py
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscosim.chain.config import max_faulty
from fiscosim.faults.behaviours import BEHAVIOURS
from fiscosim.sim.fuzz import fuzz_scenario
from fiscosim.sim.simulation import Simulation

SIZES = [4, 7, 10]
RATE_TPS = 150.0
# A 16 s run heals by 8 s. The slowest recovery seen after the last heal is ≈ 7 s: a node's
# ViewChange sent while it is one block behind is rejected (committed below ours) and only the
# next, backed-off timer (3 s × 1.5) sends it again (docs/faults.md: FISCO re-sends a
# ViewChange only on a timeout). 16 s leaves room for that before the run ends.
DURATION_S = 16.0
SLOW_DURATION_S = 30.0
# Examples per n for each test in the default run (n = 10 runs take ≈ 1 s each).
SAFETY_EXAMPLES = 10
LIVENESS_EXAMPLES = 10
DETERMINISM_EXAMPLES = 4
SLOW_EXAMPLES = 60
# Most blocks an up node may trail the highest ledger when the run stops: the block being
# committed at that instant may have reached only some nodes (no drain). Every node was level
# in the ~1,500 exploratory runs, but a cut between two nodes' commits of one block is legal.
MAX_LAG_BLOCKS = 1

slow_enabled = pytest.mark.skipif(
    not os.environ.get("FISCOSIM_SLOW"), reason="long variant: set FISCOSIM_SLOW=1 to run it"
)


def ci_settings(examples: int) -> settings:
    """Reproducible settings: a fixed sequence of examples, no database, no deadline."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    print_blob=True)


@st.composite
def schedules(draw: st.DrawFn, n: int, duration_s: float, heal: bool = True) -> list[dict]:
    """A fault schedule for n sealers: up to f faulty nodes, each crashed, cut off, delayed,
    slowed or byzantine (any behaviour of ``fiscosim.faults.byzantine``), plus maybe a network
    split and a loss window. With ``heal`` every fault is undone by
    ``duration_s / 2``; without, a fault may also start later and last to the end."""
    names = [f"node{i}" for i in range(n)]
    heal_by = duration_s / 2
    f = max_faulty([1] * n)

    def window() -> dict[str, float]:
        latest = heal_by if heal else duration_s
        start = round(draw(st.floats(0.5, latest * 0.8)), 3)
        if not heal and draw(st.booleans()):
            return {"at_s": start}  # never undone
        return {"at_s": start, "until_s": round(draw(st.floats(start + 0.2, latest)), 3)}

    faults: list[dict] = []
    for name in draw(st.lists(st.sampled_from(names), max_size=f, unique=True)):
        kind = draw(st.sampled_from(["crash", "partition", "delay", "slow", "byzantine"]))
        fault: dict[str, Any] = {"kind": kind, **window()}
        if kind == "byzantine":
            fault["behaviour"] = draw(st.sampled_from(BEHAVIOURS))
        if kind == "partition":
            fault["groups"] = [[name]]  # cut off from everyone else
        else:
            fault["nodes"] = [name]
        if kind == "delay":
            fault["delay_ms"] = round(draw(st.floats(5, 500)), 1)
        elif kind == "slow":
            fault["factor"] = round(draw(st.floats(2, 50)), 1)
        faults.append(fault)
    if draw(st.booleans()):
        side = draw(st.lists(st.sampled_from(names), min_size=1, max_size=n - 1, unique=True))
        faults.append({"kind": "partition", "groups": [sorted(side)], **window()})
    if draw(st.booleans()):
        rate = round(draw(st.floats(0.01, 0.3)), 3)
        faults.append({"kind": "loss", "rate": rate, **window()})
    return faults


seeds = st.integers(0, 2**32 - 1)


def simulate(n: int, seed: int, faults: list[dict], duration_s: float = DURATION_S) -> Any:
    """One run, on the network ``fiscosim fuzz`` uses."""
    return Simulation(fuzz_scenario(seed, n, duration_s, RATE_TPS, faults)).run()


def assert_safe(result: Any) -> None:
    safety = result.summary["safety"]
    assert safety["ok"], safety["violations"]
    assert safety["violations"] == []


def assert_live(result: Any, duration_s: float) -> None:
    heal_by = duration_s / 2
    assert all(fault.until_s is not None and fault.until_s <= heal_by
               for fault in result.world.scenario.faults)
    # fuzz.run_one's liveness: a block first committed in the last duration − heal_by − 1 s
    window_start_us = (heal_by + 1) * 1e6
    commits = [row.first_commit_us for row in result.world.blocks.committed_rows()]
    assert any(t >= window_start_us for t in commits), (
        f"no block committed after {heal_by + 1} s; the last at {max(commits, default=0) / 1e6} s"
    )
    # and every node that is up is (nearly) level with the highest ledger: block sync caught
    # up the restarted and cut-off ones
    assert all(node.up for node in result.world.nodes)  # every crash was undone
    byzantine = result.world.scenario.byzantine_nodes()
    heights = {node.name: node.height for node in result.world.nodes
               if node.name not in byzantine}
    top = max(heights.values())
    behind = {name: height for name, height in heights.items() if height < top - MAX_LAG_BLOCKS}
    assert not behind, f"nodes more than {MAX_LAG_BLOCKS} block behind height {top}: {behind}"


@pytest.mark.parametrize("n", SIZES)
@ci_settings(SAFETY_EXAMPLES)
@given(seed=seeds, data=st.data())
def test_safety_holds_under_any_fault_schedule(n: int, seed: int, data: st.DataObject) -> None:
    """Safety: with at most f faulty nodes, a network split and message loss, healed or lasting
    to the end, no two nodes ever commit different blocks at one height (``summary["safety"]``
    is ok with no violations)."""
    faults = data.draw(schedules(n, DURATION_S, heal=False), label="faults")
    assert_safe(simulate(n, seed, faults))


@pytest.mark.parametrize("n", SIZES)
@ci_settings(LIVENESS_EXAMPLES)
@given(seed=seeds, data=st.data())
def test_liveness_returns_once_faults_heal(n: int, seed: int, data: st.DataObject) -> None:
    """Liveness: once every fault is undone (by half of the run), blocks are committed again in
    the last duration/2 − 1 s of the run, and every node ends within ``MAX_LAG_BLOCKS`` of the
    highest ledger (and safety still holds)."""
    faults = data.draw(schedules(n, DURATION_S), label="faults")
    result = simulate(n, seed, faults)
    assert_safe(result)
    assert_live(result, DURATION_S)


@pytest.mark.parametrize("n", SIZES)
@ci_settings(DETERMINISM_EXAMPLES)
@given(seed=seeds, data=st.data())
def test_same_schedule_and_seed_same_summary(n: int, seed: int, data: st.DataObject) -> None:
    """Determinism: one fault schedule and seed run twice give the same summary (wall-clock
    fields aside, ``deterministic_summary``) and the same block table."""
    faults = data.draw(schedules(n, DURATION_S, heal=False), label="faults")
    first, second = simulate(n, seed, faults), simulate(n, seed, faults)
    assert first.deterministic_summary() == second.deterministic_summary()
    assert first.blocks.to_csv() == second.blocks.to_csv()


@pytest.mark.slow
@slow_enabled
@pytest.mark.parametrize("n", SIZES)
@ci_settings(SLOW_EXAMPLES)
@given(seed=seeds, data=st.data())
def test_safety_and_liveness_long_runs(n: int, seed: int, data: st.DataObject) -> None:
    """Safety and liveness as above, over more examples and longer runs (faults up to 15 s)."""
    faults = data.draw(schedules(n, SLOW_DURATION_S), label="faults")
    result = simulate(n, seed, faults, SLOW_DURATION_S)
    assert_safe(result)
    assert_live(result, SLOW_DURATION_S)
