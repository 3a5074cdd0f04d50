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


def test_a_task_beside_busy_cores_gets_a_fair_share_and_utilisation_counts_it():
    cpu = Cpu(2)
    assert cpu.run(0, 1000, parallelism=2, lane="txpool") == 500
    # Two threads busy on two cores: a third runnable thread gets 2/3 of a core (as CFS
    # shares them), not the end of the queue (510).
    assert cpu.run(0, 10) == 15
    assert abs(cpu.utilisation(2000) - (1000 + 10) / 4000) < 1e-9
    # ...and the pool it shared the cores with lost those 10 µs of work: 1,010 µs on two
    # cores, so the pool's next task starts at 505.
    assert cpu.run(0, 2, parallelism=2, lane="txpool") == 506


def test_parallel_work_flows_around_a_busy_core():
    # a work-stealing pool: a long serial task on one core does not hold the others back
    cpu = Cpu(4)
    assert cpu.run(0, 10_000) == 10_000  # e.g. executing a block on one core
    # Four pool threads and the long one on four cores: 0.8 of a core each (time-sliced);
    # queued on the three free cores it would take 100.
    assert cpu.run(0, 300, parallelism=4) == 94
    # A long parallel task is better off queued: on the three free cores, then on all four
    # once the long task is done, (30,000 + 300 + 10,000) / 4 after the first 300.
    assert cpu.run(0, 30_000, parallelism=4) == 10_075


def test_a_verification_backlog_slows_consensus_but_never_starves_it():
    # An overloaded node: ten seconds of verification queued on all eight cores. A PBFT
    # message (one thread) runs at once, beside it, at 8/9 of a core; the lane stays serial.
    cpu = Cpu(8)
    assert cpu.run(0, 80_000_000, parallelism=8, lane="txpool") == 10_000_000
    assert cpu.run(0, 100, lane="pbft") == 113
    assert cpu.run(0, 100, lane="pbft") == 226
    # The CPU did not get faster: the next verification batch waits for the backlog plus the
    # 200 µs that consensus took from its eight threads (25 µs each, 13 per message rounded
    # up to whole microseconds).
    assert cpu.run(0, 800, parallelism=8, lane="txpool") == 10_000_000 + 26 + 100


def test_the_cores_never_do_more_than_their_capacity():
    # Whatever mix of lanes arrives, the last task done is no earlier than all work over all
    # cores (time-slicing moves work earlier only by pushing the queue back).
    import random

    rng = random.Random(5)
    cpu = Cpu(3)
    work, last = 0, 0
    for _ in range(2000):
        amount = rng.randint(1, 400)
        work += amount
        last = max(last, cpu.run(0, amount, parallelism=rng.choice([1, 1, 3]),
                                 lane=rng.choice(["pbft", "txpool", "executor", "sync"])))
    horizon = max(last, *cpu._busy_until)
    assert horizon >= work / 3


def test_a_crash_drops_what_was_running():
    cpu = Cpu(1)
    cpu.run(0, 1000, lane="txpool")
    cpu.run(0, 10, lane="pbft")  # time-sliced
    cpu.reset(50)
    assert cpu.run(50, 10, lane="pbft") == 60
