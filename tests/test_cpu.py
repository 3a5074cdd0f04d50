"""The node CPU model: cores, lanes, parallel work and utilisation."""

from __future__ import annotations

from fiscosim.node.cpu import Cpu


def test_lane_serialises_its_tasks_even_with_free_cores():
    cpu = Cpu(4)
    assert cpu.run(0, 100, lane="pbft") == 100
    assert cpu.run(0, 100, lane="pbft") == 200
    assert cpu.run(0, 100) == 100  # other work uses another core


def test_parallel_work_splits_over_cores():
    cpu = Cpu(8)
    assert cpu.run(0, 800, parallelism=8) == 100
    assert cpu.run(0, 800, parallelism=16) == 200  # no more threads than cores


def test_busy_cores_delay_work_and_utilisation_counts_it():
    cpu = Cpu(2)
    assert cpu.run(0, 1000, parallelism=2) == 500
    assert cpu.run(0, 10) == 510
    assert abs(cpu.utilisation(2000) - (1000 + 10) / 4000) < 1e-9


def test_parallel_work_flows_around_a_busy_core():
    # a work-stealing pool: a long serial task on one core does not hold the others back
    cpu = Cpu(4)
    assert cpu.run(0, 10_000) == 10_000  # e.g. executing a block on one core
    assert cpu.run(0, 300, parallelism=4) == 100  # the other three share it
    assert cpu.run(0, 30_000, parallelism=4) == 10_075  # ...until the long task is done too
