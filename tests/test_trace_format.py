"""The fiscosim-trace/1 format: every record against the shipped JSON Schema, the structure
(dense ids, monotone time, one receive or drop per destination of each send, quorums naming
earlier votes), byte-identical files for a seed, the message counts a lecture quotes
((n - 1)(3n + 1) per block: 39 at n = 4, 132 at n = 7), and the exports keeping every pair."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from fiscosim import load_simulation
from fiscosim.cli import main
from fiscosim.trace.events import (
    CONSENSUS_TYPES,
    SCHEMA,
    check_structure,
    json_schema,
    pairs,
    read_trace,
)
from fiscosim.trace.export import pairs_of, to_mermaid, to_perfetto
from fiscosim.trace.narration import Filters, narrate_trace

jsonschema = pytest.importorskip("jsonschema")

VOTES = ("PrePrepare", "Prepare", "Commit", "CheckPoint")


def record(tmp_path: Path, name: str, scenario: str = "teach/normal4", **overrides) -> Path:
    path = tmp_path / name
    load_simulation(scenario, overrides=overrides).run(trace=path)
    return path


@pytest.fixture(scope="module")
def normal4(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("trace"), "normal4.trace.jsonl")


@pytest.fixture(scope="module")
def crash7(tmp_path_factory) -> Path:
    """Seven sealers, one crashed at 0.5 s: drops, view changes, a fault, a node record."""
    return record(tmp_path_factory.mktemp("trace"), "crash7.trace.jsonl", "leader-crash",
                  duration_s=3, drain_s=1, **{"workload.rate_tps": 100,
                                              "faults": [{"at_s": 0.5, "kind": "crash",
                                                          "nodes": ["node3"]}]})


def validate(path: Path) -> list[str]:
    validator = jsonschema.Draft202012Validator(json_schema())
    trace = read_trace(path)
    problems = [f"{r.get('id', 'run')}: {e.message}" for r in [trace.header, *trace.records]
                for e in validator.iter_errors(r)]
    return problems + check_structure(trace)


def test_the_shipped_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(json_schema())


@pytest.mark.parametrize("which", ["normal4", "crash7"])
def test_every_record_validates_and_the_structure_holds(which, request):
    path = request.getfixturevalue(which)
    assert validate(path) == []
    kinds = Counter(r["ev"] for r in read_trace(path).records)
    assert {"send", "recv", "quorum", "pbft", "state", "timer", "exec", "ledger",
            "check", "end"} <= set(kinds)
    if which == "crash7":
        assert kinds["drop"] > 0 and kinds["node"] == 1 and kinds["fault"] == 1


def test_the_schema_and_the_checks_can_fail(normal4, tmp_path):
    lines = normal4.read_text().splitlines()
    validator = jsonschema.Draft202012Validator(json_schema())
    send = next(json.loads(x) for x in lines if '"ev":"send"' in x)
    assert not list(validator.iter_errors(send))
    assert list(validator.iter_errors({**send, "t": 1.5}))  # float time
    assert list(validator.iter_errors({**send, "dst": []}))
    assert list(validator.iter_errors({**send, "colour": "red"}))  # unknown field
    # a receive dropped from the file: its send has one destination unanswered
    recv = next(i for i, x in enumerate(lines) if '"ev":"recv"' in x)
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text("\n".join(lines[:recv] + lines[recv + 1:]) + "\n")
    problems = check_structure(read_trace(damaged))
    assert any("recv or drop records" in p for p in problems)
    assert any("expected" in p for p in problems)  # the ids are no longer dense


def test_same_seed_same_bytes_and_gzip_holds_the_same(normal4, tmp_path):
    again = record(tmp_path, "again.trace.jsonl")
    assert again.read_bytes() == normal4.read_bytes()
    zipped = record(tmp_path, "again.trace.jsonl.gz")
    assert gzip.decompress(zipped.read_bytes()) == normal4.read_bytes()
    assert zipped.read_bytes() == record(tmp_path, "third.trace.jsonl.gz").read_bytes()
    other = record(tmp_path, "seed2.trace.jsonl", seed=2)
    assert other.read_bytes() != normal4.read_bytes()


def test_a_send_is_stamped_when_it_leaves(normal4):
    # normal4's links take 20 ms: every copy arrives at least that long after its send
    gaps = [arrival["t"] - send["t"] for send, arrival in pairs(read_trace(normal4).records)]
    assert gaps and min(gaps) >= 20_000 and max(gaps) < 21_000


def test_a_trace_in_memory_equals_the_file(normal4, tmp_path):
    result = load_simulation("teach/normal4").run(trace=True)
    assert result.trace_path is None
    on_disk = read_trace(normal4)
    assert result.trace.header == on_disk.header and result.trace.records == on_disk.records
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError, match="trace=True"):
        _ = load_simulation("teach/normal4").run().trace
    from_file = load_simulation("teach/normal4").run(trace=tmp_path / "t.jsonl")
    assert from_file.trace.records == on_disk.records


def test_the_header_names_groups_and_nodes_in_index_order(normal4):
    trace = read_trace(normal4)
    header = trace.header
    assert header["schema"] == SCHEMA and header["time_unit"] == "us"
    (group,) = header["groups"]
    assert group["n"] == 4 and group["f"] == 1 and group["quorum"] == 3
    assert group["leader_period"] == 1 and group["timeout_ms"] == 3000
    assert sorted(group["sealers"]) == ["node0", "node1", "node2", "node3"]
    for node in header["nodes"]:
        assert group["sealers"][node["idx"][group["id"]]] == node["id"]
        assert node["role"] == "sealer" and node["weight"] == 1


def block_pairs(path: Path) -> dict[int, Counter]:
    by_block: dict[int, Counter] = {}
    for send, arrival in pairs(read_trace(path).records):
        if send["type"] in VOTES and arrival["ev"] == "recv":
            by_block.setdefault(send["blk"], Counter())[send["type"]] += 1
    return by_block


@pytest.mark.parametrize("n, per_block", [(4, 39), (7, 132)])
def test_a_block_takes_n_minus_1_times_3n_plus_1_messages(tmp_path, n, per_block):
    path = record(tmp_path, f"n{n}.trace.jsonl", **{"nodes.count": n})
    committed = {r["blk"] for r in read_trace(path).records if r["ev"] == "ledger"}
    assert len(committed) >= 2
    counts = block_pairs(path)
    for blk in committed:
        assert counts[blk] == Counter({"PrePrepare": n - 1, "Prepare": n * (n - 1),
                                       "Commit": n * (n - 1), "CheckPoint": n * (n - 1)}), blk
        assert sum(counts[blk].values()) == per_block == (n - 1) * (3 * n + 1)


def test_a_quorum_names_the_votes_it_counted(normal4):
    trace = read_trace(normal4)
    records = trace.by_id()
    phase_type = {"prepared": "Prepare", "committed": "Commit", "checkpointed": "CheckPoint"}
    quorums = [r for r in trace.records if r["ev"] == "quorum"]
    assert quorums
    for quorum in quorums:
        assert len(quorum["from"]) + quorum["own"] == len(quorum["voters"]), quorum
        senders = set()
        for ident in quorum["from"]:
            send = records[ident]
            assert send["ev"] == "send" and send["id"] < quorum["id"]
            assert send["type"] == phase_type[quorum["phase"]] and send["blk"] == quorum["blk"]
            # another node's vote: it reached this node before the quorum
            assert send["src"] != quorum["node"]
            assert any(r["ev"] == "recv" and r["of"] == ident and r["node"] == quorum["node"]
                       and r["id"] < quorum["id"] for r in trace.records)
            senders.add(send["src"])
        assert senders | ({quorum["node"]} if quorum["own"] else set()) == set(quorum["voters"])
        assert quorum["weight"] >= quorum["need"] == 3


def test_two_groups_sharing_nodes_count_their_own_votes(tmp_path):
    path = record(tmp_path, "groups.trace.jsonl", "two-groups-shared-nodes", duration_s=2,
                  warmup_s=0.5, drain_s=1)
    trace = read_trace(path)
    assert validate(path) == []
    records = trace.by_id()
    quorums = [r for r in trace.records if r["ev"] == "quorum"]
    assert {q["g"] for q in quorums} == {g["id"] for g in trace.groups()}
    for quorum in quorums:
        sends = [records[i] for i in quorum["from"]]
        assert len(sends) + quorum["own"] == len(quorum["voters"]), quorum
        assert all(s["g"] == quorum["g"] and s["blk"] == quorum["blk"] for s in sends), quorum


def test_state_records_only_on_change(crash7):
    last: dict[str, dict] = {}
    views = set()
    for r in read_trace(crash7).records:
        if r["ev"] != "state":
            continue
        body = {k: v for k, v in r.items() if k not in ("id", "t")}
        assert last.get(r["node"]) != body
        last[r["node"]] = body
        views.add(r.get("view"))
    assert len(views - {None}) >= 2  # the crash moved the survivors to a new view
    assert last["node3"]["up"] is False


def test_no_transaction_gossip_in_the_trace(crash7):
    types = {r["type"] for r in read_trace(crash7).records if r["ev"] == "send"}
    assert "TxPush" not in types
    assert set(CONSENSUS_TYPES) - {"NewView"} <= types | {"ViewChange"}


@pytest.mark.parametrize("fmt", ["perfetto", "mermaid"])
def test_exports_keep_every_send_receive_pair(normal4, crash7, fmt):
    for path in (normal4, crash7):
        trace = read_trace(path)
        expected = sorted((s["id"], a["id"]) for s, a in pairs(trace.records))
        exported = to_perfetto(trace) if fmt == "perfetto" else to_mermaid(trace)
        if fmt == "perfetto":
            exported = json.loads(json.dumps(exported))
        assert pairs_of(exported, fmt) == expected
    # a block range keeps exactly that block's pairs
    trace = read_trace(normal4)
    want = sorted((s["id"], a["id"]) for s, a in pairs(trace.records) if s.get("blk") == 1)
    assert pairs_of(to_mermaid(trace, (1, 1)), "mermaid") == want


def test_narration_filters(normal4):
    trace = read_trace(normal4)
    everything = narrate_trace(trace)
    assert any("proposes block 1" in line for line in everything)
    commits = narrate_trace(trace, Filters(types=Filters.parse_types("C")))
    assert commits and all("Commit(" in line for line in commits)
    block2 = narrate_trace(trace, Filters(blocks=(2, 2)))
    assert block2 and not any("blk 1," in line or "block 1 " in line for line in block2)
    node0 = narrate_trace(trace, Filters(nodes=frozenset({"node0"})))
    assert node0 and len(node0) < len(everything)
    label = f"sealer {trace.index_of()['node0']} (node0)"
    # its own steps, and the broadcasts that reach it (every sender's, at n = 4)
    assert all(line[16:].startswith((label, "*")) for line in node0 if "▶" not in line)
    assert any("▶" in line and not line[16:].startswith(label) for line in node0)
    late = narrate_trace(trace, Filters(time_ms=(10_000.0, 20_000.0)))
    assert all("check" in line or "holds" in line for line in late)
    columns = narrate_trace(trace, columns=True)
    assert len(columns) == len(everything) + 1  # a header line naming the columns


def test_narration_in_chinese_tells_the_same_lines(normal4):
    trace = read_trace(normal4)
    english, chinese = narrate_trace(trace), narrate_trace(trace, lang="zh")
    assert len(chinese) == len(english)
    for en, zh in zip(english, chinese, strict=True):
        assert en[:14] == zh[:14]  # the same time stamps, line by line
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), zh
    with pytest.raises(ValueError, match="en, zh"):
        narrate_trace(trace, lang="fr")


def test_the_command_line_narrates_exports_and_checks(normal4, tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["trace", "narrate", str(normal4), "--types", "PP",
                                  "--blocks", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.count("PrePrepare(blk 1") == 1
    out = tmp_path / "x.perfetto.json"
    result = runner.invoke(main, ["trace", "export", str(normal4), "--to", "perfetto",
                                  "-o", str(out)])
    assert result.exit_code == 0 and json.loads(out.read_text())["traceEvents"]
    result = runner.invoke(main, ["trace", "check", str(normal4)])
    assert result.exit_code == 0 and "valid" in result.output
    truncated = tmp_path / "cut.jsonl"
    truncated.write_text(normal4.read_text()[:-40])
    result = runner.invoke(main, ["trace", "narrate", str(truncated)])
    assert result.exit_code == 2
    assert "line" in result.output and "truncated" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(main, ["trace", "narrate", str(normal4), "--lang", "zh",
                                  "--blocks", "1", "--types", "PP"])
    assert result.exit_code == 0 and "PrePrepare(区块 1" in result.output
    result = runner.invoke(main, ["trace", "narrate", str(normal4), "--node", "nodeX"])
    assert result.exit_code == 2 and "nodeX" in result.output
