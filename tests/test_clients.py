"""Open-loop clients, one tick at a time (fiscosim.workload.clients), without a simulation.

A client's batches are checked column by column in the real run-wide table: how many
transactions a tick brings (the rate, its fractional carry, Poisson draws), the ids it takes,
and what each transaction's row says (submit time, size, sender, nonce, block limit, RPC node,
tampering, the signed corpus row), which node each batch goes to, and that all of it is a
function of the client's seed.
"""

from __future__ import annotations

import numpy as np
import pytest

from fiscosim.node.txtable import TxTable
from fiscosim.workload.clients import SDK_BLOCK_LIMIT_RANGE, OpenLoopClient, emit_tick

TICK_US = 10_000  # 10 ms, the scenario default
WRITTEN = ("submit_time", "size", "sender", "nonce", "nonce_owner", "block_limit", "rpc_node",
           "corpus_row", "tampered")
"""The columns a client writes."""


def make_client(index: int = 0, rate_tps: float = 500.0, arrivals: str = "constant",
                targets: tuple[int, ...] = (0,), tx_size: int = 300, accounts: int = 50,
                seed: int = 1, invalid_fraction: float = 0.0, corpus=None) -> OpenLoopClient:
    return OpenLoopClient(index=index, rate_tps=rate_tps, arrivals=arrivals,
                          targets=list(targets), tx_size=tx_size, accounts=accounts,
                          rng=np.random.default_rng(seed), invalid_fraction=invalid_fraction,
                          corpus=corpus)


def heights(**by_node: int):
    """``height_of`` for emit_tick: node ``n<i>`` at the given height, any other at 0."""
    return lambda target: by_node.get(f"n{target}", 0)


def run_ticks(clients, ticks: int, table: TxTable | None = None, tick_us: int = TICK_US,
              height_of=None, start_us: int = 0):
    """Emits ``ticks`` ticks at start_us + tick_us, + 2·tick_us, ...; returns (table, batches by
    tick, as lists of (target, ids))."""
    table = table if table is not None else TxTable(capacity=16)
    height_of = height_of or heights()
    out = []
    for k in range(1, ticks + 1):
        out.append(emit_tick(clients, tick_us, start_us + k * tick_us, table, height_of))
    return table, out


# --- how many per tick ---------------------------------------------------------------------


def test_constant_arrivals_carry_the_fraction_over_to_later_ticks():
    # 250 tx/s in 10 ms ticks: 2.5 a tick, so 2, 3, 2, 3, ... (the half carried over)
    client = make_client(rate_tps=250)
    assert [client.arrivals_in(TICK_US) for _ in range(8)] == [2, 3, 2, 3, 2, 3, 2, 3]
    # 30 tx/s: 0.3 a tick, the first one in the 4th tick (0.3, 0.6, 0.9, 1.2)
    slow = make_client(rate_tps=30)
    assert [slow.arrivals_in(TICK_US) for _ in range(4)] == [0, 0, 0, 1]


@pytest.mark.parametrize("rate_tps, tick_us", [(30, 10_000), (333, 10_000), (1234.5, 2_500),
                                               (50_000, 1_000)])
def test_constant_arrivals_never_fall_a_whole_transaction_behind_the_rate(rate_tps, tick_us):
    client = make_client(rate_tps=rate_tps)
    ticks = 5_000
    expected = rate_tps * tick_us / 1e6 * ticks
    sent = sum(client.arrivals_in(tick_us) for _ in range(ticks))
    # the carry keeps the remainder: behind by less than one transaction, up to the float
    # rounding of the carry (0.3 added ten times is 2.9999999999999996: one short), never ahead
    assert -1e-6 < expected - sent <= 1 + 1e-6


def test_poisson_arrivals_average_the_rate_and_vary():
    client = make_client(rate_tps=500, arrivals="poisson", seed=3)
    counts = np.array([client.arrivals_in(TICK_US) for _ in range(4_000)])
    # mean 5 a tick; the sample mean's standard deviation is sqrt(5/4000) ≈ 0.035
    assert counts.mean() == pytest.approx(5.0, abs=0.2)
    assert counts.var() == pytest.approx(5.0, rel=0.15)  # a Poisson draw: variance = mean
    assert counts.min() == 0 and counts.max() >= 12


def test_a_tick_brings_the_rate_through_emit_tick_too():
    client = make_client(rate_tps=250, targets=(0,))
    table, ticks = run_ticks([client], 6)
    assert [sum(len(ids) for _, ids in tick) for tick in ticks] == [2, 3, 2, 3, 2, 3]
    assert table.count == 15
    # a tick with no arrival sends no batch (not an empty one)
    idle = make_client(rate_tps=30)
    _, ticks = run_ticks([idle], 4)
    assert [len(tick) for tick in ticks] == [0, 0, 0, 1]


# --- ids and rows --------------------------------------------------------------------------


def test_ids_are_dense_and_taken_from_the_table():
    table = TxTable(capacity=16)
    table.allocate(7)  # someone else's transactions came first
    client = make_client(rate_tps=1_900, targets=(2,))  # 19 a tick: the table has to grow
    _, ticks = run_ticks([client], 5, table=table)
    ids = np.concatenate([ids for tick in ticks for _, ids in tick])
    assert ids.dtype == np.int64
    assert ids.tolist() == list(range(7, 7 + 5 * 19))
    assert table.count == 7 + 5 * 19
    # the 7 rows allocated before are untouched
    assert (table.submit_time[:7] == -1).all() and (table.rpc_node[:7] == -1).all()


def test_each_row_says_when_what_who_and_where():
    table = TxTable(capacity=16)
    client = make_client(rate_tps=800, targets=(3,), tx_size=321, accounts=17, seed=9)
    for k, now in enumerate((10_000, 20_000, 30_000)):
        height = 42 + k  # the chain moves on: the limit follows the target's height
        (target, ids), = emit_tick([client], TICK_US, now, table, heights(n3=height))
        assert target == 3 and len(ids) == 8
        assert (table.submit_time[ids] == now).all()
        assert (table.size[ids] == 321).all()
        assert (table.rpc_node[ids] == 3).all()
        assert (table.nonce_owner[ids] == ids).all()  # a fresh nonce: its own owner
        assert (table.block_limit[ids] == height + SDK_BLOCK_LIMIT_RANGE).all()
        assert (table.corpus_row[ids] == -1).all()  # modelled crypto: no corpus row
        assert not table.tampered[ids].any()
    assert table.block_limit[:24].tolist() == [542] * 8 + [543] * 8 + [544] * 8
    senders = table.column("sender")
    assert senders.min() >= 0 and senders.max() < 17 and len(set(senders.tolist())) > 5
    nonces = table.column("nonce")
    assert (nonces >= 0).all() and len(set(nonces.tolist())) == 24


def test_the_block_limit_is_the_target_nodes_height_plus_the_sdk_range():
    assert SDK_BLOCK_LIMIT_RANGE == 500  # FISCO's Java and C++ SDKs
    table = TxTable()
    clients = [make_client(index=0, rate_tps=300, targets=(0,)),
               make_client(index=1, rate_tps=300, targets=(1,), seed=2)]
    (_, ticks) = run_ticks(clients, 1, table=table, height_of=heights(n0=10, n1=200))
    by_target = dict(ticks[0])
    assert set(by_target) == {0, 1}
    assert (table.block_limit[by_target[0]] == 510).all()
    assert (table.block_limit[by_target[1]] == 700).all()
    assert (table.rpc_node[by_target[0]] == 0).all() and (table.rpc_node[by_target[1]] == 1).all()


# --- targets -------------------------------------------------------------------------------


def test_targets_are_taken_in_turn_from_the_clients_index():
    client = make_client(index=1, rate_tps=100, targets=(4, 5, 6))  # one a tick
    _, ticks = run_ticks([client], 7)
    assert [tick[0][0] for tick in ticks] == [5, 6, 4, 5, 6, 4, 5]
    other = make_client(index=0, rate_tps=100, targets=(4, 5, 6))
    _, ticks = run_ticks([other], 3)
    assert [tick[0][0] for tick in ticks] == [4, 5, 6]


def test_a_tick_without_arrivals_does_not_move_the_turn():
    client = make_client(index=0, rate_tps=50, targets=(7, 8))  # one every other tick
    table, ticks = run_ticks([client], 8)
    sent = [(k, tick[0][0]) for k, tick in enumerate(ticks) if tick]
    assert sent == [(1, 7), (3, 8), (5, 7), (7, 8)]
    assert table.rpc_node[: table.count].tolist() == [7, 8, 7, 8]


def test_clients_sending_to_one_node_in_a_tick_share_one_batch():
    a = make_client(index=0, rate_tps=300, targets=(2,), tx_size=100, seed=1)  # 3 a tick
    b = make_client(index=1, rate_tps=500, targets=(2,), tx_size=200, seed=2)  # 5 a tick
    table, ticks = run_ticks([a, b], 2)
    for k, tick in enumerate(ticks):
        (target, ids), = tick
        assert target == 2
        assert ids.tolist() == list(range(8 * k, 8 * k + 8))
        # each client fills its own slice, in client order
        assert table.size[ids].tolist() == [100] * 3 + [200] * 5
    assert table.rpc_node[:16].tolist() == [2] * 16
    assert len(set(table.column("nonce").tolist())) == 16  # each from its own stream


def test_clients_sending_to_different_nodes_send_one_batch_each():
    clients = [make_client(index=i, rate_tps=200, targets=(0, 1, 2), seed=i) for i in range(3)]
    _, ticks = run_ticks(clients, 3)
    # client i starts at target i: every tick, one batch to each of the three nodes
    for k, tick in enumerate(ticks):
        assert sorted(target for target, _ in tick) == [0, 1, 2]
        assert [target for target, _ in tick] == [(i + k) % 3 for i in range(3)]
        assert all(len(ids) == 2 for _, ids in tick)


def test_a_client_needs_a_target():
    with pytest.raises(ValueError, match="at least one target"):
        make_client(targets=())


# --- seeds -------------------------------------------------------------------------------


def columns_for(seed: int, ticks: int = 30) -> dict[str, np.ndarray]:
    clients = [make_client(index=i, rate_tps=700, arrivals="poisson", targets=(0, 1, 2),
                           seed=seed * 10 + i, invalid_fraction=0.1) for i in range(2)]
    table, _ = run_ticks(clients, ticks)
    return {name: table.column(name).copy() for name in WRITTEN}


def test_the_same_seed_gives_the_same_columns_and_another_seed_others():
    one, two, other = columns_for(4), columns_for(4), columns_for(5)
    for name in WRITTEN:
        assert np.array_equal(one[name], two[name]), name
    n = min(len(one["nonce"]), len(other["nonce"]))
    assert not np.array_equal(one["nonce"][:n], other["nonce"][:n])
    assert not np.array_equal(one["sender"][:n], other["sender"][:n])


# --- tampering and the signed corpus -------------------------------------------------------


@pytest.mark.parametrize("fraction, low, high", [(0.0, 0.0, 0.0), (0.25, 0.22, 0.28),
                                                 (1.0, 1.0, 1.0)])
def test_invalid_fraction_tampers_that_share_of_the_transactions(fraction, low, high):
    client = make_client(rate_tps=2_000, invalid_fraction=fraction, seed=8)  # 20 a tick
    table, _ = run_ticks([client], 200)
    tampered = table.column("tampered")
    assert tampered.size == 4_000
    assert low <= tampered.mean() <= high


def test_tampering_leaves_a_ticks_senders_and_nonces_alone():
    # the tampering draw comes after the tick's senders and nonces
    clean, _ = run_ticks([make_client(rate_tps=1_000, seed=2)], 1)
    dirty, _ = run_ticks([make_client(rate_tps=1_000, seed=2, invalid_fraction=0.5)], 1)
    assert np.array_equal(clean.column("sender"), dirty.column("sender"))
    assert np.array_equal(clean.column("nonce"), dirty.column("nonce"))
    assert dirty.column("tampered").any() and not clean.column("tampered").any()


@pytest.fixture(scope="module")
def corpus():
    from fiscosim.workload.corpus import build_corpus

    return build_corpus("secp256k1", 48, accounts=8, seed=3, workers=1)


def test_a_real_crypto_client_takes_row_i_of_the_corpus_for_id_i(corpus):
    client = make_client(rate_tps=1_000, targets=(1,), tx_size=999, corpus=corpus)
    table = TxTable(capacity=16)
    table.allocate(5)
    _, ticks = run_ticks([client], 3, table=table, height_of=heights(n1=3))
    ids = np.concatenate([ids for tick in ticks for _, ids in tick])
    assert ids.tolist() == list(range(5, 35))
    assert (table.corpus_row[ids] == ids).all()
    assert np.array_equal(table.size[ids], corpus.sizes[ids])
    assert np.array_equal(table.sender[ids], corpus.senders[ids])
    assert not (table.size[ids] == 999).any()  # the corpus's encoded size, not tx_size
    assert (table.block_limit[ids] == 503).all() and (table.rpc_node[ids] == 1).all()


def test_a_run_that_outgrows_its_corpus_is_refused(corpus):
    client = make_client(rate_tps=2_000, corpus=corpus)  # 20 a tick, the corpus has 48
    table = TxTable()
    run_ticks([client], 2, table=table)
    with pytest.raises(RuntimeError, match="signed corpus has 48 transactions"):
        run_ticks([client], 1, table=table)
