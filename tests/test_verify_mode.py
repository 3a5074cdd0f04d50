"""``chain.verify_mode: batch`` (issue 21, part 5): what the batch verifier would change in a
run. The switch changes CPU time only: the cost model's batch curve, the per-node sender cache
(which rows are recovered, which are summed), the bisection under bad rows mirrored from the C
verifier, SM2 refused, the default mode's summaries untouched, and runs deterministic."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from fiscosim.crypto import secp_batch
from fiscosim.node.context import NodeContext, NodeStats
from fiscosim.node.costs import (
    BATCH_VERIFY_FIELDS,
    CostModel,
    bisection_work,
    load_profile,
    msm_points_factor,
)
from fiscosim.scenario import load_simulation
from fiscosim.schema import ScenarioError

QUICK = ["duration_s=4", "warmup_s=1", "drain_s=3", "workload.rate_tps=2000",
         "workload.accounts=200", "workload.tick_ms=100"]
"""Clients' batches of ~200 transactions: a source's batch large enough for the sum to pay
(at the default 10 ms tick they hold ~20, where it barely does)."""


def summary(*overrides: str) -> dict:
    simulation = load_simulation("scenarios/quickstart.yaml", overrides=[*QUICK, *overrides],
                                 check_memory=False)
    return simulation.run().summary


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    return {mode: summary(f"chain.verify_mode={mode}") for mode in ("recover", "batch")}


# -- the cost model ------------------------------------------------------------------------------


def model() -> CostModel:
    return CostModel(load_profile("reference-2core"), "secp256k1")


def test_batch_cost_follows_the_fitted_curve():
    costs, profile = model(), load_profile("reference-2core")
    for rows, senders in ((16, 16), (256, 64), (4096, 4096)):
        expected = (rows * profile.verify_secp256k1_batch_row
                    + msm_points_factor(rows + senders + 1) * profile.verify_secp256k1_batch_msm)
        assert abs(costs.batch_verify(rows, senders) - expected) <= 1
    # Fewer rows than the verifier batches are recovered one by one, as it does.
    small = secp_batch.MIN_BATCH - 1
    assert costs.batch_verify(small, small) == costs.verify(small)
    assert costs.batch_verify(0, 0) == 0
    # Repeated senders merge their keys: a cheaper sum; big batches beat recovery.
    assert costs.batch_verify(4096, 256) < costs.batch_verify(4096, 4096) < costs.verify(4096)


def test_bad_rows_cost_the_bisection():
    costs = model()
    clean = costs.batch_verify(1024, 1024)
    one, two, many = (costs.batch_verify(1024, 1024, bad) for bad in (1, 2, 10))
    assert clean < one < two
    assert many > costs.verify(1024)  # the bisection gave up: every row recovered, on top
    assert bisection_work(1024, 0) == (1.0, 0)


@pytest.mark.skipif(not secp_batch.available(), reason=secp_batch.backend())
@pytest.mark.parametrize("rows", [64, 256, 1024])
def test_bisection_model_matches_the_real_verifier(rows):
    """The model replays the C verifier's bisection with evenly spread bad rows; the real one,
    over bad rows at random positions, sums and recovers about as many rows on average."""
    from fiscosim.crypto import get_suite

    suite = get_suite("secp256k1")
    rng = np.random.default_rng(rows)
    keys = [suite.generate_keypair(rng) for _ in range(8)]
    owners = np.arange(rows) % len(keys)
    hashes = np.frombuffer(rng.bytes(32 * rows), np.uint8).reshape(rows, 32)
    signatures = np.frombuffer(b"".join(suite.sign(hashes[i].tobytes(), keys[o][0])
                                        for i, o in enumerate(owners)), np.uint8).reshape(rows, 65)
    pubkeys = np.frombuffer(b"".join(keys[o][1] for o in owners), np.uint8).reshape(rows, 64)
    for bad in (0, 1, 2, 5, 10):
        summed, recovered = [], []
        for _ in range(8):
            tampered = hashes.copy()
            tampered[rng.choice(rows, size=bad, replace=False), 0] ^= 1
            stats = secp_batch.verify_batch_stats(tampered, signatures, pubkeys)
            summed.append(stats["batch_rows"] / rows)
            recovered.append(stats["recovered"])
        model_summed, model_recovered = bisection_work(rows, bad)
        assert np.mean(summed) == pytest.approx(model_summed, rel=0.2), bad
        assert np.mean(recovered) == pytest.approx(model_recovered, abs=max(8, 0.25 * rows)), bad


# -- the node's sender cache ---------------------------------------------------------------------


@pytest.fixture
def sum_any(monkeypatch):
    """The cache's logic on a few rows: let the node sum batches of any size."""
    monkeypatch.setattr("fiscosim.node.context.MIN_BATCH", 1)


def fake_node(senders: list[int]) -> SimpleNamespace:
    table = SimpleNamespace(sender=np.array(senders, dtype=np.int32))
    return SimpleNamespace(shared=SimpleNamespace(table=table), costs=model(),
                           stats=NodeStats(), known_senders=np.zeros(0, dtype=bool))


def check(node: SimpleNamespace, ids: list[int], ok: list[bool] | None = None) -> int:
    verdicts = None if ok is None else np.array(ok)
    return NodeContext.batch_verify_us(node, np.array(ids), verdicts)  # type: ignore[arg-type]


def test_first_transaction_of_a_sender_is_recovered_then_its_key_is_cached(sum_any):
    node = fake_node([1, 1, 1, 2, 2, 3])
    check(node, [0, 1, 2, 3])  # senders 1, 1, 1, 2: one recovery each, two rows summed
    assert (node.stats.batch_recovered, node.stats.batch_checked, node.stats.batches) == (2, 2, 1)
    check(node, [4, 5])  # sender 2 is cached now, sender 3 is new
    assert (node.stats.batch_recovered, node.stats.batch_checked) == (3, 3)
    assert node.known_senders[[1, 2, 3]].all() and not node.known_senders[0]


def test_a_bad_first_row_does_not_fill_the_cache(sum_any):
    node = fake_node([7, 7, 7, 8])
    work = check(node, [0, 1, 2, 3], ok=[False, True, True, False])
    # sender 7: its bad first row and its good second recovered, the third summed; sender 8's
    # only row is bad and recovered; the key of 8 is never cached.
    assert (node.stats.batch_recovered, node.stats.batch_checked) == (3, 1)
    assert node.known_senders[7] and not node.known_senders[8]
    assert work == model().verify(3) + model().batch_verify(1, 1)


def test_rows_without_a_sender_are_always_recovered(sum_any):
    lonely = fake_node([-1, -1])
    check(lonely, [0, 1])  # no sender at all: nothing to cache, nothing to index
    assert lonely.stats.batch_recovered == 2 and not lonely.known_senders.any()
    node = fake_node([-1, -1, 4])
    check(node, [0, 1, 2])
    check(node, [0, 1, 2])
    assert node.stats.batch_recovered == 2 + 2 + 1 and node.stats.batch_checked == 1


def test_after_two_bad_first_rows_a_sender_is_recovered_throughout(sum_any):
    # verify_with_cache tries a sender's first row, then its second; after FIRST_ROW_ROUNDS
    # failures its remaining rows are recovered in one call, none summed.
    node = fake_node([5, 5, 5, 5, 6, 6])
    check(node, [0, 1, 2, 3, 4, 5], ok=[False, False, True, True, True, True])
    assert (node.stats.batch_recovered, node.stats.batch_checked) == (5, 1)
    assert node.known_senders[5] and node.known_senders[6]


def test_too_few_rows_to_sum_are_recovered():
    node = fake_node(list(range(8)) * 2)
    check(node, list(range(8)))  # eight new senders: eight recoveries
    check(node, list(range(8, 16)))  # all cached now, but fewer than MIN_BATCH rows
    assert secp_batch.MIN_BATCH > 8
    assert (node.stats.batch_recovered, node.stats.batch_checked, node.stats.batches) == (16, 0, 0)


# -- runs ----------------------------------------------------------------------------------------


def test_default_mode_says_nothing_of_batches(runs):
    recover = runs["recover"]
    assert "batch_verification" not in recover
    for entry in recover["costs"].values():
        if isinstance(entry, dict) and "provenance" in entry:
            assert not set(entry["provenance"]) & set(BATCH_VERIFY_FIELDS)


def test_batch_mode_charges_less_verification(runs):
    recover, batch = runs["recover"], runs["batch"]
    checks = batch["batch_verification"]
    assert checks["rows_batched"] + checks["rows_recovered"] == batch["signatures_verified"]
    # Each of the 4 nodes recovers each sender once (the workload's 200 accounts) at most.
    assert 0 < checks["rows_recovered"] <= 4 * 200
    assert checks["rows_batched"] > 10 * checks["rows_recovered"]
    provenance = next(entry["provenance"] for entry in batch["costs"].values()
                      if isinstance(entry, dict) and "provenance" in entry)
    assert set(BATCH_VERIFY_FIELDS) <= set(provenance)

    def txpool(summary: dict) -> float:
        return sum(node["lanes"].get("txpool", 0)
                   for node in summary["utilisation"]["nodes"].values())

    assert txpool(batch) < 0.8 * txpool(recover)
    # The same transactions reach the same verdicts: only CPU time changed.
    assert batch["txs_submitted"] == recover["txs_submitted"]
    assert batch["safety"]["ok"] is True


def test_batch_mode_is_deterministic(runs):
    again = summary("chain.verify_mode=batch")
    first = dict(runs["batch"])
    for volatile in ("wall_time_s", "sim_speed"):
        first.pop(volatile), again.pop(volatile)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)


def test_bad_signatures_are_rejected_alike():
    recover = summary("workload.invalid_fraction=0.05")
    batch = summary("workload.invalid_fraction=0.05", "chain.verify_mode=batch")
    assert batch["rejected_by_reason"] == recover["rejected_by_reason"]
    assert batch["rejected_by_reason"].get("InvalidSignature", 0) > 0


def test_sm2_is_refused_in_one_line():
    with pytest.raises(ScenarioError) as error:
        load_simulation("scenarios/quickstart.yaml",
                        overrides=["chain.crypto_suite=sm2", "chain.verify_mode=batch"])
    message = str(error.value)
    assert "verify_mode" in message and "secp256k1" in message and "\n" not in message.strip()


# -- real-crypto mode ----------------------------------------------------------------------------


def test_shared_verifier_in_batch_mode_gives_the_same_verdicts():
    from fiscosim.sim.verdicts import SharedVerifier
    from fiscosim.workload.corpus import build_corpus, tamper

    corpus = build_corpus("secp256k1", 96, accounts=6, seed=5, workers=1)
    ids = np.arange(96)
    batch = corpus.batch(slice(0, 96), ids=ids, submit_times=np.zeros(96, np.int64))
    tampered, _ = tamper(batch, 0.2, np.random.default_rng(1))
    per_signature = SharedVerifier("secp256k1", corpus.accounts, workers=1)
    batched = SharedVerifier("secp256k1", corpus.accounts, workers=1, batch=True)
    for rows in (slice(0, 40), slice(40, 96)):  # the second call finds its senders cached
        expected = per_signature.verdicts(tampered[rows])
        assert batched.verdicts(tampered[rows]).tolist() == expected.tolist()
    assert 0 < len(batched.sender_cache) <= 6
    assert not per_signature.verdicts(tampered).all()
    with pytest.raises(ValueError, match="secp256k1"):
        SharedVerifier("sm2", corpus.accounts, batch=True)


def test_real_crypto_run_rejects_the_same_transactions_in_batch_mode():
    real = ["chain.crypto_mode=real", "workload.invalid_fraction=0.05", "duration_s=2",
            "workload.rate_tps=1000"]
    recover = summary(*real)
    batch = summary(*real, "chain.verify_mode=batch")
    assert batch["rejected_by_reason"] == recover["rejected_by_reason"]
    assert batch["rejected_by_reason"].get("InvalidSignature", 0) > 0
    assert batch["batch_verification"]["rows_batched"] > 0


def test_batch_costs_without_batch_mode_are_said_to_do_nothing():
    inline = ["nodes.profile={base: reference-2core, costs_us: {verify_secp256k1_batch_row: 3}}"]
    simulation = load_simulation("scenarios/quickstart.yaml", overrides=inline,
                                 check_memory=False)
    warned = simulation.scenario.warnings()
    assert any("verify_secp256k1_batch_row" in line and "verify_mode: batch" in line
               for line in warned)
    batch = load_simulation("scenarios/quickstart.yaml",
                            overrides=[*inline, "chain.verify_mode=batch"], check_memory=False)
    assert not any("verify_secp256k1_batch" in line for line in batch.scenario.warnings())
