"""pytest-benchmark suite of the engine (run by hand, not in CI's test step).

    pytest benchmarks/test_engine_bench.py --benchmark-only

For the issue's speed targets with peak memory, run ``python benchmarks/engine_speed.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fiscosim import load_simulation

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("scenario", "overrides"),
    [
        ("quickstart.yaml", {}),
        ("pbft-4-50k.yaml", {"duration_s": 10, "warmup_s": 2, "drain_s": 2}),
        ("pbft-100-2k.yaml", {"duration_s": 5, "warmup_s": 1, "drain_s": 2}),
    ],
    ids=["quickstart", "4-sealers-50k-10s", "100-sealers-2k-5s"],
)
def test_engine_speed(benchmark, scenario, overrides):
    simulation = load_simulation(ROOT / "scenarios" / scenario, overrides=overrides)
    result = benchmark.pedantic(simulation.run, rounds=1, iterations=1)
    summary = result.summary
    benchmark.extra_info.update(
        sim_speed=summary["sim_speed"], events=summary["events"], tps=summary["tps"]
    )
    assert summary["safety"]["ok"]
