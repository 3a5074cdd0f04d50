"""The engine's work budget: events and messages per committed block, per scenario.

For a seed, a run's events (simpy's plus the network's deliveries), messages and committed
blocks are deterministic, so the figures recorded in ``tests/budget.json`` are exact. This test
fails when a scenario's events or messages (in all, or per committed block) grow by more than
:data:`TOLERANCE` over the recorded figures: growth nobody meant goes unnoticed otherwise
(pbft-4-50k went from 348,720 to 526,547 events, pbft-100-2k from 1,758,609 to 4,573,007).

To accept a change on purpose, re-record the file and commit it with the change, saying why in
the commit message::

    python tests/test_budget.py --record

The two large scenarios run shortened (``overrides`` in the file) to keep the test short.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from fiscosim.scenario import load_simulation

ROOT = Path(__file__).resolve().parent.parent
BUDGET = Path(__file__).resolve().parent / "budget.json"
TOLERANCE = 0.05
"""Growth allowed over the recorded figures before the test fails (5 %)."""

RUNS: dict[str, list[str]] = {
    "quickstart": [],
    "pbft-4-50k": ["duration_s=6", "warmup_s=1", "drain_s=2"],
    "pbft-100-2k": ["duration_s=3", "warmup_s=1", "drain_s=1"],
    "leader-crash": [],
    "fisco2-cluster": ["duration_s=6", "warmup_s=1", "drain_s=2"],
}
"""The scenarios measured, with the overrides that shorten them (as ``fiscosim run --set``)."""

HEADER = [
    "Work budget of the simulation engine: events and messages per committed block, per scenario.",
    "Measured as: fiscosim run scenarios/<name>.yaml --quiet --json --set <each override>",
    "(summary keys events, messages_total, blocks). tests/test_budget.py fails when events or",
    "messages, in all or per committed block, grow by more than 5 % over these figures.",
    "Re-record on purpose with: python tests/test_budget.py --record",
    "and commit this file with the change that moved the figures, giving the reason in the",
    "commit message.",
]


def measure(name: str, overrides: list[str]) -> dict[str, Any]:
    """One run's figures: raw counts and per committed block."""
    simulation = load_simulation(ROOT / "scenarios" / f"{name}.yaml", overrides=overrides,
                                 check_memory=False)
    summary = simulation.run().summary
    events, messages, blocks = summary["events"], summary["messages_total"], summary["blocks"]
    return {
        "overrides": list(overrides),
        "seed": summary["seed"],
        "scenario_digest": summary["scenario_digest"],
        "blocks": blocks,
        "events": events,
        "messages": messages,
        "events_per_block": round(events / blocks, 1) if blocks else None,
        "messages_per_block": round(messages / blocks, 1) if blocks else None,
    }


def recorded() -> dict[str, Any]:
    return json.loads(BUDGET.read_text())


def over_budget(now: dict[str, Any], then: dict[str, Any]) -> list[str]:
    """The figures of ``now`` that exceed ``then``'s by more than the tolerance."""
    grown = []
    for key in ("events", "messages", "events_per_block", "messages_per_block"):
        old, new = then[key], now[key]
        if old is None or new is None:
            if (old is None) != (new is None):
                grown.append(f"{key}: {old} -> {new}")
            continue
        if new > old * (1 + TOLERANCE):
            grown.append(f"{key}: {old:,} -> {new:,} (+{(new / old - 1) * 100:.1f} %)")
    return grown


def test_budget_file_covers_the_scenarios():
    budget = recorded()
    assert set(budget["scenarios"]) == set(RUNS)
    for name, overrides in RUNS.items():
        assert budget["scenarios"][name]["overrides"] == overrides, (
            f"{name}: the overrides changed; re-record with python tests/test_budget.py --record")


@pytest.mark.parametrize("name", list(RUNS))
def test_events_and_messages_within_budget(name):
    then = recorded()["scenarios"][name]
    now = measure(name, RUNS[name])
    grown = over_budget(now, then)
    assert not grown, (
        f"{name} does more work than tests/budget.json allows: {'; '.join(grown)}. If this is "
        "meant, re-record with `python tests/test_budget.py --record`, commit tests/budget.json "
        "with the change and say why in the commit message.")


def test_figures_are_deterministic():
    first, second = measure("quickstart", []), measure("quickstart", [])
    assert first == second
    assert first["events"] > 0 and first["blocks"] > 0


def test_growth_is_caught():
    then = {"events": 1000, "messages": 100, "events_per_block": 10.0, "messages_per_block": 1.0}
    assert over_budget(dict(then), then) == []
    assert over_budget({**then, "events": 1050}, then) == []
    assert over_budget({**then, "events": 1051}, then) == ["events: 1,000 -> 1,051 (+5.1 %)"]
    assert len(over_budget({**then, "messages_per_block": 1.2}, then)) == 1
    assert over_budget({**then, "events": 500}, then) == []  # less work is never a failure


def record() -> None:
    """Rewrites tests/budget.json from fresh runs."""
    scenarios = {}
    for name, overrides in RUNS.items():
        scenarios[name] = measure(name, overrides)
        print(f"{name}: {scenarios[name]}", file=sys.stderr)
    BUDGET.write_text(json.dumps({"comment": HEADER, "tolerance": TOLERANCE,
                                  "scenarios": scenarios}, indent=2) + "\n")
    print(f"wrote {BUDGET}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] != ["--record"]:
        sys.exit("usage: python tests/test_budget.py --record")
    record()
