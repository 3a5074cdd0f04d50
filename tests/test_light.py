"""Light nodes (docs/fisco-reference.md §4.2): headers only, verified queries, forwarded
transactions.

The Merkle checks are real (fiscosim.crypto.merkle); a full node that serves forged headers or
proofs (byzantine ``forge_light``) is caught and counted, and the light node asks another.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO_ROOT

from fiscosim import Simulation
from fiscosim.chain.block import BlockHeader
from fiscosim.node.light import SIGNATURE_ENTRY_BYTES, LightHeader
from fiscosim.scenario import ScenarioError, load_scenario

LIGHT = REPO_ROOT / "scenarios" / "light-clients.yaml"


def run(*overrides: str):
    return Simulation(load_scenario(LIGHT, ["duration_s=6", "warmup_s=1", *overrides])).run()


def test_light_nodes_keep_every_header_and_little_else():
    result = run("faults=[]")
    light = result.summary["light"]
    chain = result.world.sealers[0]
    for node in result.world.light_nodes:
        assert node.height == chain.height > 5
        suite = chain.shared.suite
        for number, light_header in node.headers.items():
            header = light_header.header
            # the light node holds the chain's own headers, linked by the hashes it computed
            assert header == chain.ledger[number].block.header
            assert node.hashes[number] == header.hash(suite) == chain.ledger[number].block.hash
            assert header.parent_info[0].hash == node.hashes[number - 1]
        entry = light["nodes"][node.name]
        assert entry["forged_caught"] == 0
        assert 0 < entry["header_lag_ms"]["mean"] < 100
        # a header with 3-4 signatures: well under 1 kB, against ~80 kB for the full block
        assert entry["storage_per_block_bytes"] < 1000
        assert entry["storage_per_block_bytes"] * 50 < light["full_node_storage_per_block_bytes"]
    assert light["bytes_served_by_full_nodes"] > 0


def test_queries_are_answered_with_proofs_that_verify():
    result = run("faults=[]")
    for entry in result.summary["light"]["nodes"].values():
        assert set(entry["queries"]) == {"tx", "receipt", "block"}
        for stats in entry["queries"].values():
            assert stats["count"] > 10 and 0 < stats["mean_ms"] < 100


def test_transactions_sent_through_light_nodes_are_committed():
    result = run("faults=[]")
    table, world = result.world.table, result.world
    forwarded = sum(node.stats.forwarded_txs for node in world.light_nodes)
    assert forwarded > 0
    assert result.summary["txs_pending_at_end"] == 0
    assert (table.column("receipt_time") >= 0).all()


def test_forged_headers_and_proofs_are_caught():
    result = run("faults=[{at_s: 1, kind: byzantine, nodes: [node3], behaviour: forge_light}]")
    for node in result.world.light_nodes:
        assert node.stats.forged_caught > 0
        assert not any(header.forged for header in node.headers.values())
        assert node.height == result.world.sealers[0].height
        assert sum(len(v) for v in node.stats.query_latency_us.values()) > 30


def test_without_signature_checks_a_forged_header_gets_in():
    # FISCO's light node does not check the signature list (light.verify_signatures: false)
    result = run("light.verify_signatures=false",
                 "faults=[{at_s: 0.5, kind: byzantine, nodes: [node3], behaviour: forge_light}]")
    stored_forged = [h for node in result.world.light_nodes for h in node.headers.values()
                     if h.forged]
    assert stored_forged


def test_real_crypto_proofs_use_the_signed_transactions_hashes(tmp_path, monkeypatch):
    monkeypatch.setenv("FISCOSIM_CACHE", str(tmp_path / "corpus"))
    result = run("faults=[]", "chain.crypto_mode=real", "duration_s=3")
    world = result.world
    node = world.light_nodes[0]
    assert sum(len(v) for v in node.stats.query_latency_us.values()) > 0
    shared = world.sealers[0].shared
    ids = np.arange(3)
    rows = world.table.corpus_row[ids]
    assert (shared.tx_hashes(ids) == world.real.corpus.hashes[rows]).all()
    # and the headers' transaction roots are over those hashes
    from fiscosim.chain.block import txs_root

    entry = world.sealers[0].ledger[1]
    assert entry.block.header.txs_root == txs_root(shared.tx_hashes(entry.proposal.tx_ids),
                                                   shared.suite)


def _header_size(sealers: int, signers: int) -> int:
    header = BlockHeader(number=1, sealer_list=tuple(bytes([i % 256]) * 64
                                                     for i in range(sealers)),
                         consensus_weights=(1,) * sealers)
    return len(header.encode()) + SIGNATURE_ENTRY_BYTES * signers


def test_header_size_grows_with_sealers_and_signatures():
    small, large = _header_size(4, 3), _header_size(100, 67)
    assert small < 800 < 10_000 < large


def test_a_served_header_is_the_encoded_header_and_its_signature_list():
    result = run("faults=[]", "duration_s=2")
    entry = result.world.sealers[0].ledger[1]
    served = LightHeader.of(entry)
    assert served.size() == len(entry.block.header.encode()) + SIGNATURE_ENTRY_BYTES * len(
        entry.signers)


def test_a_light_node_cannot_be_byzantine():
    with pytest.raises(ScenarioError, match="light node"):
        load_scenario(LIGHT, ["faults=[{at_s: 1, kind: byzantine, nodes: [light0],"
                              " behaviour: silent}]"])


def test_light_nodes_in_groups():
    result = Simulation(load_scenario(REPO_ROOT / "scenarios" / "quickstart.yaml", [
        "duration_s=4", "nodes.count=5", "workload.query_rate=20",
        "groups=[{id: a, sealers: [node0, node1, node2, node3], light: [node4]},"
        " {id: b, sealers: [node0, node1, node2, node3]}]"])).run()
    a = result.summary["groups"]["a"]
    assert a["light"]["nodes"]["node4"]["height"] == a["blocks"]
    assert result.summary["groups"]["b"]["light"] is None


def test_headers_carry_the_merkle_root_when_light_nodes_read_it():
    from fiscosim.chain.block import txs_root

    with_light = run("faults=[]", "duration_s=2").world
    shared = with_light.sealers[0].shared
    entry = with_light.sealers[0].ledger[1]
    assert entry.block.header.txs_root == txs_root(shared.tx_hashes(entry.proposal.tx_ids),
                                                   shared.suite)
    # without a reader the proposal's digest of the transactions stands in (node/execution.py)
    plain = Simulation(load_scenario(REPO_ROOT / "scenarios" / "quickstart.yaml",
                                     ["duration_s=3"])).run().world
    entry = plain.sealers[0].ledger[1]
    assert not plain.sealers[0].shared.merkle_roots
    assert entry.block.header.txs_root == entry.proposal.hash
