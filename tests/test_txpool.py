"""The txpool's FISCO admission rules, pending queue, sealing and removal (docs/fisco-reference.md
§2.2–2.5)."""

from __future__ import annotations

import numpy as np
import pytest

from fiscosim.node.messages import BatchFacts
from fiscosim.node.txpool import REJECT_CODES, Reject, TxPool, TxState
from fiscosim.node.txtable import TxTable


def table_with(n: int, block_limit: int = 500, submit: int = 0) -> tuple[TxTable, np.ndarray]:
    table = TxTable()
    ids = table.allocate(n)
    table.submit_time[ids] = submit
    table.size[ids] = 300
    table.nonce_owner[ids] = ids
    table.block_limit[ids] = block_limit
    return table, ids


def admit(pool: TxPool, ids, ok=None, height=0, now=0, facts=None):
    """Both steps of admission at once: the gate (duplicates, pool limit), then the rest."""
    ok = np.ones(len(ids), bool) if ok is None else ok
    passed, full = pool.gate(ids, facts)
    admitted, reasons = pool.admit(ids, ok, height, now, facts, full, passed)
    assert pool.reserved == 0
    return admitted, np.full(len(ids), -1, np.int16) if reasons is None else reasons


def reason_names(reasons):
    return [None if r < 0 else list(Reject)[r].name for r in reasons]


def test_admits_and_rejects_duplicates():
    table, ids = table_with(5)
    pool = TxPool(table)
    admitted, reasons = admit(pool, ids)
    assert list(admitted) == list(ids) and (reasons < 0).all()
    assert pool.pending == 5 and len(pool) == 5
    admitted, reasons = admit(pool, ids[:2])
    assert len(admitted) == 0
    assert reason_names(reasons) == ["AlreadyInTxPool"] * 2
    assert pool.rejections() == {"AlreadyInTxPool": 2}


def test_invalid_signatures_are_rejected_by_name():
    table, ids = table_with(4)
    pool = TxPool(table)
    ok = np.array([True, False, True, False])
    admitted, reasons = admit(pool, ids, ok)
    assert list(admitted) == [0, 2]
    assert reason_names(reasons) == [None, "InvalidSignature", None, "InvalidSignature"]
    assert pool.states(ids).tolist() == [1, 4, 1, 4]


def test_block_limit_window():
    # valid iff height < blockLimit <= height + block_limit (docs/fisco-reference.md §2.3)
    table, ids = table_with(4)
    table.block_limit[ids] = [10, 11, 1010, 1011]
    pool = TxPool(table, block_limit=1000)
    _, reasons = admit(pool, ids, height=10)
    assert reason_names(reasons) == ["BlockLimitCheckFail", None, None, "BlockLimitCheckFail"]


def test_nonce_replay_in_pool_and_recent_blocks():
    table, ids = table_with(4)
    pool = TxPool(table, block_limit=1000)
    admit(pool, ids[:1])
    table.nonce_owner[ids[1]] = ids[0]  # same nonce as a pooled tx
    _, reasons = admit(pool, ids[1:2])
    assert reason_names(reasons) == ["NonceCheckFail"]
    # once the owner is committed in a recent block, a replay still fails...
    pool.remove_committed(ids[:1])
    table.commit_block[ids[0]] = 5
    table.nonce_owner[ids[2]] = ids[0]
    _, reasons = admit(pool, ids[2:3], height=5)
    assert reason_names(reasons) == ["NonceCheckFail"]
    # ...and passes once that block left the block_limit window
    table.nonce_owner[ids[3]] = ids[0]
    table.block_limit[ids[3]] = 2000
    _, reasons = admit(pool, ids[3:4], height=1005)
    assert reason_names(reasons) == [None]


def test_committed_transactions_are_already_in_chain():
    table, ids = table_with(2)
    pool = TxPool(table)
    admit(pool, ids)
    pool.remove_committed(ids)
    assert len(pool) == 0
    _, reasons = admit(pool, ids)
    assert reason_names(reasons) == ["TxAlreadyInChain"] * 2


def test_pool_limit_refuses_submissions_not_imports():
    # docs/fisco-reference.md §2.2: every submitted transaction (RPC or push) meets the limit;
    # a proposal's missing transactions are imported whatever the count.
    table, ids = table_with(10)
    pool = TxPool(table, limit=6)
    admitted, reasons = admit(pool, ids[:8])
    assert len(admitted) == 6
    assert reason_names(reasons)[6:] == ["TxPoolIsFull"] * 2
    assert pool.states(ids[6:8]).tolist() == [TxState.UNKNOWN] * 2  # no trace of them
    pool.mark_sealed(ids[6:])  # in a proposal: imported
    assert len(pool) == 10


def test_take_is_fifo_limited_and_skips_sealed_elsewhere():
    table, ids = table_with(10)
    pool = TxPool(table)
    admit(pool, ids[:6])
    admit(pool, ids[6:])
    pool.mark_sealed(ids[2:4])  # in another leader's proposal
    taken = pool.take(5, next_block=1, now=0)
    assert taken.tolist() == [0, 1, 4, 5, 6]
    assert pool.take(100, next_block=1, now=0).tolist() == [7, 8, 9]
    assert pool.pending == 0 and pool.sealed == 10
    assert len(pool.take(100, next_block=1, now=0)) == 0


def test_take_drops_expired_and_out_of_window():
    table, ids = table_with(3, block_limit=500)
    table.submit_time[ids[0]] = -700_000_000
    table.block_limit[ids[1]] = 3
    pool = TxPool(table, expiry_us=600_000_000)
    admit(pool, ids, height=0)
    taken = pool.take(10, next_block=4, now=0)
    assert taken.tolist() == [2]
    assert pool.rejections() == {"BlockLimitCheckFail": 1, "TransactionPoolTimeout": 1}
    assert pool.pending == 0


def test_missing_and_mark_sealed_imports():
    table, ids = table_with(6)
    pool = TxPool(table)
    admit(pool, ids[:3])
    assert pool.missing(ids).tolist() == [3, 4, 5]
    pool.mark_sealed(ids)
    assert pool.pending == 0 and pool.sealed == 6
    assert (pool.states(ids) == TxState.SEALED).all()


@pytest.mark.parametrize("reason", list(Reject))
def test_every_reason_has_a_code(reason):
    assert list(Reject)[REJECT_CODES[reason]] is reason


def facts_of(table: TxTable, ids: np.ndarray) -> BatchFacts:
    limits = table.block_limit[ids]
    clean = not table.tampered[ids].any() and bool((table.nonce_owner[ids] == ids).all())
    return BatchFacts(int(ids[0]), len(ids), clean, int(limits.min()), int(limits.max()))


@pytest.mark.parametrize("limit", [60, None])
@pytest.mark.parametrize("seed", range(20))
def test_batch_facts_shortcut_changes_no_outcome(seed, limit):
    # The same random stream of batches, admitted with and without BatchFacts, must leave
    # the two pools in identical states with identical verdicts; some batches are still being
    # verified (between gate and admit) when the next arrives.
    rng = np.random.default_rng(seed)
    table = TxTable()
    pools = [TxPool(table, limit=limit, block_limit=50),
             TxPool(table, limit=limit, block_limit=50)]
    waiting: list[list] = [[], []]
    for pool in pools:
        pool.last = None
    for step in range(30):
        n = int(rng.integers(1, 12))
        ids = table.allocate(n)
        table.nonce_owner[ids] = ids
        if rng.random() < 0.2 and table.count > n:
            table.nonce_owner[ids[0]] = int(rng.integers(0, ids[0]))
        table.tampered[ids] = rng.random(n) < 0.05
        table.block_limit[ids] = rng.integers(step, step + 60, size=n)
        facts = facts_of(table, ids)
        height = step
        resend = ids if rng.random() < 0.2 else None
        take = int(rng.integers(1, 10)) if rng.random() < 0.3 else 0
        later = rng.random() < 0.3
        for pool, use_facts, queue in zip(pools, (False, True), waiting, strict=True):
            ok = None if facts.clean else ~table.tampered[ids]
            given = facts if use_facts else None
            queue.append((ids, ok, given, *pool.gate(ids, given)))
            while queue and not (later and len(queue) == 1):
                ids_, ok_, given_, passed, full = queue.pop(0)
                got = pool.admit(ids_, ok_, height, 0, given_, full, passed)
                pool.last = (got[0].tolist(), None if got[1] is None else got[1].tolist())
            if resend is not None:
                passed, full = pool.gate(resend, given)
                pool.admit(resend, None, height, 0, given, full, passed)
            if take:
                pool.take(take, step + 1, 0)
            if limit is not None:
                assert len(pool) + pool.reserved <= limit
        assert pools[0].last == pools[1].last
        assert pools[0].reserved == pools[1].reserved
        assert np.array_equal(pools[0].state, pools[1].state)
        assert (pools[0].pending, pools[0].sealed) == (pools[1].pending, pools[1].sealed)
        assert np.array_equal(pools[0].rejected, pools[1].rejected)


def test_unseal_returns_an_abandoned_proposal_to_the_front():
    table, ids = table_with(6)
    pool = TxPool(table)
    admit(pool, ids)
    first = pool.take(3, next_block=1, now=0)
    pool.unseal(np.concatenate([first, ids[5:]]))  # ids[5] is pending: left alone
    assert pool.pending == 6 and pool.sealed == 0
    assert pool.take(6, next_block=1, now=0).tolist() == [0, 1, 2, 3, 4, 5]


def test_an_id_in_two_queue_chunks_is_taken_once():
    # accepted from another leader's proposal (mark_sealed), then unsealed by a view change:
    # the id is now both in its first chunk and at the front of the queue
    table, ids = table_with(4)
    pool = TxPool(table)
    admit(pool, ids)
    pool.mark_sealed(ids[:2])
    pool.unseal(ids[:2])
    taken = pool.take(10, next_block=1, now=0)
    assert sorted(taken.tolist()) == [0, 1, 2, 3] and len(taken) == 4
    assert pool.pending == 0 and pool.sealed == 4
