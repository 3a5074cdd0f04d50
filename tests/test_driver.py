"""The reference PBFT driver (fiscosim.consensus.driver): its delivery orders, network faults,
crash, restart and sync, the contract checks it makes, and docs/pbft.md's walk-through.

The PBFT tests (test_pbft*.py) use it to drive groups of cores; these check the driver itself.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from test_pbft import assert_all_committed, make_proposal

from fiscosim.consensus import (
    PBFT_TIMER,
    CommitBlock,
    Execute,
    Prepare,
    PrePrepare,
    SealRange,
    ViewChangeNeeded,
)
from fiscosim.consensus.driver import SECOND, Driver, InFlight, SafetyViolation

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_walk_through_in_docs_pbft_md_runs() -> None:
    result = doctest.testfile(str(DOCS / "pbft.md"), module_relative=False)
    assert result.failed == 0 and result.attempted > 20


def test_fifo_delivers_the_oldest_first() -> None:
    d = Driver([1] * 4, blocks=1).start()
    assert d.in_flight == [InFlight(1, SealRange(1, 1), 0)]
    assert d.step() == InFlight(1, SealRange(1, 1), 0)
    kinds = [(item.node, type(item.what)) for item in d.in_flight]
    assert kinds == [(0, PrePrepare), (2, PrePrepare), (3, PrePrepare),
                     (0, Prepare), (2, Prepare), (3, Prepare)]
    assert str(d.step()) == "node 0 gets PrePrepare for block 1 from node 1 (view 0)"
    d.settle()
    assert d.step() is None and not d.in_flight
    assert_all_committed(d, 1)


def test_a_seed_is_one_delivery_order() -> None:
    def order(seed: int) -> list[tuple[int, str]]:
        d = Driver([1] * 4, blocks=5, seed=seed).start()
        delivered = []
        while (item := d.step()) is not None:
            delivered.append((item.node, type(item.what).__name__))
        assert_all_committed(d, 5)
        return delivered

    assert order(1) == order(1)
    assert order(1) != order(2)


def test_every_commit_is_checked_against_the_first_at_its_height() -> None:
    d = Driver([1] * 4, blocks=3).start()
    d.chain[2] = (bytes(32), bytes(32))  # pretend another node stored a different block 2
    with pytest.raises(SafetyViolation, match="block 2"):
        d.settle()
    clean = Driver([1] * 4, blocks=3).start().settle()
    clean.check_safety()
    forged = make_proposal(3, leader=3, salt=1)
    clean.ledger[2][2] = CommitBlock(3, forged, b"\x01" * 32, (0, 1, 2))
    with pytest.raises(SafetyViolation, match="node 2 committed another block 3"):
        clean.check_safety()


def test_the_core_contract_is_checked() -> None:
    d = Driver([1] * 4, blocks=3).start()
    with pytest.raises(AssertionError, match="execution out of order"):
        d._apply(0, [Execute(make_proposal(2, leader=2))])
    with pytest.raises(AssertionError, match="ledger commit out of order"):
        d._apply(0, [CommitBlock(2, make_proposal(2, leader=2), bytes(32), (0, 1, 2))])


def test_loss_duplication_and_delay() -> None:
    lost = Driver([1] * 4, blocks=3, loss=1.0).start().settle()
    assert all(d == [] for d in lost.ledger) and lost.dropped == 6  # PrePrepare, Prepare × 3
    doubled = Driver([1] * 4, blocks=3, duplicate=1.0).start().settle()
    assert_all_committed(doubled, 3)
    assert doubled.events(0, "ignored") and doubled.steps > 2 * 12 * 3
    slow = Driver([1] * 4, blocks=3, delay=lambda dest, message: 10_000).start()
    assert slow.settle().committed(0) == [] and slow.later  # nothing arrives before its time
    slow.run()
    assert_all_committed(slow, 3)
    assert 0 < slow.now < SECOND and all(core.view == 0 for core in slow.cores)


@pytest.mark.parametrize("seed", range(5))
def test_random_loss_with_block_sync_still_commits(seed: int) -> None:
    d = Driver([1] * 4, blocks=10, seed=seed, loss=0.05, report_pool=True).start()
    while not d.done():
        d.settle()
        for node in d.alive():
            d.sync(node)  # a node left behind by a lost message catches up (§7)
        assert d.done() or d.advance(), "stuck"
    assert d.dropped > 0
    assert all(d.committed(node)[:10] == list(range(1, 11)) for node in range(4))
    d.check_safety()


def test_a_refused_proposal_is_not_voted_for() -> None:
    d = Driver([1] * 4, blocks=1, verify=lambda node, p: node != 0).start().settle()
    assert d.events(0, "proposal_rejected") and d.committed(0) == []
    assert all(d.committed(node) == [1] for node in (1, 2, 3))
    assert PBFT_TIMER in d.timers[0]  # its block is still in flight: it will time out


def test_restart_recovers_the_view_and_sync_the_blocks() -> None:
    d = Driver([1] * 4, blocks=8, report_pool=True).start()
    d.crash(3)  # it leads block 3
    d.settle()
    assert [len(ledger) for ledger in d.ledger] == [2, 2, 2, 0] and d.timers[3] == {}
    d.restart(3)
    assert d.cores[3].recovering
    d.sync(3)
    d.run()
    assert_all_committed(d, 8)
    assert d.events(3, "recovered") and d.events(3, "synced") and d.now == 0


def test_an_isolated_node_runs_alone_until_reconnected() -> None:
    d = Driver([1] * 4, blocks=6, report_pool=True).start()
    d.isolate(0)  # it leads block 4
    d.settle()
    assert [len(ledger) for ledger in d.ledger] == [0, 3, 3, 3]
    assert d.advance() and d.now == 3 * SECOND  # every view timer fires, node 0's too
    d.settle()
    assert [len(ledger) for ledger in d.ledger] == [0, 6, 6, 6]
    assert (0, ViewChangeNeeded(1, 1, "timeout")) in d.taken(ViewChangeNeeded)
    d.reconnect(0)
    d.sync(0)
    d.run()
    assert_all_committed(d, 6)


def test_contract_checks_hold_without_assert_statements():
    # python -O strips `assert`; the driver's checks are explicit raises, so they still fire
    import subprocess
    import sys

    code = ("from fiscosim.consensus.driver import _require, ContractViolation\n"
            "try:\n    _require(False, 'pipeline bound broken')\n"
            "except ContractViolation as e:\n    print('raised', e)\n")
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "raised pipeline bound broken"
