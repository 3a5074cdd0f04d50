"""The scenario schema and loader: shipped files, FISCO defaults, overrides, digests, and a
catalogue of broken files that must each fail with one clear line."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fiscosim.calibrate import write_profile
from fiscosim.node.costs import COST_FIELDS
from fiscosim.scenario import dump_yaml, load_scenario, with_overrides
from fiscosim.schema import (
    MAX_DELAY_MS,
    NodeSpec,
    ProfileCosts,
    Scenario,
    ScenarioError,
    scenario_digest,
)

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
BROKEN = sorted((Path(__file__).parent / "broken_scenarios").glob("*.yaml"))
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
MINIMAL = {"name": "t", "nodes": {"count": 4}}


def minimal(**changes) -> Scenario:
    return Scenario.from_dict({**MINIMAL, **changes})


# -- shipped scenarios -------------------------------------------------------------------------


def test_the_shipped_scenarios_are_there():
    names = {path.name for path in SCENARIOS}
    assert {
        "quickstart.yaml",
        "pbft-4-50k.yaml",
        "pbft-100-2k.yaml",
        "server-8core-lan.yaml",
    } <= names


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_loads(path):
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.sealers
    assert dump_yaml(scenario)


def test_shipped_scenarios_say_what_they_claim():
    quick = load_scenario(QUICKSTART)
    assert (quick.seed, len(quick.sealers), quick.workload.rate_tps) == (42, 4, 500.0)
    assert quick.network.latency.mean_ms == 0.5 and quick.network.bandwidth_mbps == 1000
    big = load_scenario(REPO / "scenarios" / "pbft-4-50k.yaml")
    assert big.workload.rate_tps == 50_000 and big.duration_s == 60 and big.warmup_s == 5
    assert big.nodes.profile == "server-8core" and big.network.bandwidth_mbps == 10_000
    assert big.chain.crypto_mode == "modelled"
    wide = load_scenario(REPO / "scenarios" / "pbft-100-2k.yaml")
    assert len(wide.sealers) == 100 and wide.workload.rate_tps == 2000 and wide.duration_s == 30
    lan = load_scenario(REPO / "scenarios" / "server-8core-lan.yaml")
    assert lan.nodes.profile == "server-8core" and lan.network.latency.mean_ms == 0.2


def test_scenarios_readme_lists_every_scenario():
    readme = (REPO / "scenarios" / "README.md").read_text()
    for path in SCENARIOS:
        assert path.name in readme


# -- defaults ----------------------------------------------------------------------------------


def test_defaults_are_fisco_3x():
    chain = minimal().chain
    assert chain.tx_count_limit == 1000  # docs/fisco-reference.md §2.5
    assert chain.min_seal_time_ms == 500  # §2.5
    assert chain.leader_period == 1  # §1.4
    assert chain.consensus_timeout_ms == 3000  # §1.7
    assert chain.pipeline_size == 50  # §1.6
    assert chain.block_limit == 1000  # §2.3
    assert chain.txpool_limit is None and chain.pool_limit() == 15000  # §2.2
    assert chain.tx_expiry_s == 600  # §2.2
    assert chain.crypto_suite == "secp256k1" and chain.crypto_mode == "modelled"
    scenario = minimal()
    assert (scenario.group.id, scenario.group.chain_id) == ("group0", "chain0")  # §4
    assert scenario.network.topology.kind == "full_mesh"  # §4.1


def test_count_form_names_sealers():
    scenario = minimal()
    assert scenario.node_names == ["node0", "node1", "node2", "node3"]
    assert scenario.sealers == scenario.node_names and scenario.observers == []
    assert all(spec.weight == 1 and spec.role == "sealer" for spec in scenario.nodes.specs())


def test_list_form_keeps_roles_weights_and_profiles():
    scenario = Scenario.from_dict(
        {
            "name": "t",
            "nodes": {
                "list": [
                    {"name": "a", "weight": 3},
                    {"name": "b", "profile": "server-8core"},
                    {"name": "c", "role": "observer", "profile": {"cores": 16}},
                ]
            },
        }
    )
    specs = scenario.nodes.specs()
    assert [s.weight for s in specs] == [3, 1, 1]
    assert scenario.sealers == ["a", "b"] and scenario.observers == ["c"]
    assert specs[1].profile == "server-8core"
    assert specs[2].profile.cores == 16


def test_models_are_frozen():
    scenario = minimal()
    with pytest.raises(Exception, match="frozen"):
        scenario.seed = 3  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        scenario.chain.tx_count_limit = 3  # type: ignore[misc]


def test_inline_profile_costs_match_the_cost_model():
    assert set(ProfileCosts.model_fields) == set(COST_FIELDS)


def test_regions_can_come_from_node_regions():
    scenario = Scenario.from_dict(
        {
            "name": "t",
            "nodes": {
                "list": [
                    {"name": "a", "region": "eu"},
                    {"name": "b", "region": "eu"},
                    {"name": "c", "region": "asia"},
                ]
            },
            "network": {
                "topology": {
                    "kind": "regions",
                    "latency_ms_matrix": {"eu": {"eu": 1, "asia": 90}, "asia": {"asia": 2}},
                }
            },
        }
    )
    assert scenario.network.topology.regions == {"eu": ["a", "b"], "asia": ["c"]}


# -- overrides ---------------------------------------------------------------------------------


def test_overrides_are_typed_by_the_schema():
    scenario = load_scenario(
        QUICKSTART,
        [
            "workload.rate_tps=20000",
            "chain.crypto_mode=real",
            "seed=7",
            "chain.tx_count_limit=2000",
        ],
    )
    assert scenario.workload.rate_tps == 20000.0
    assert isinstance(scenario.workload.rate_tps, float)
    assert scenario.chain.crypto_mode == "real"
    assert scenario.seed == 7 and isinstance(scenario.chain.tx_count_limit, int)


def test_override_creates_missing_sections():
    scenario = load_scenario(REPO / "scenarios" / "pbft-100-2k.yaml", ["chain.leader_period=5"])
    assert scenario.chain.leader_period == 5


def test_override_inside_a_list(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nnodes:\n  list:\n    - {name: a}\n    - {name: b}\n")
    scenario = load_scenario(path, ["nodes.list.0.weight=3", "nodes.list.1.role=observer"])
    assert [spec.weight for spec in scenario.nodes.specs()] == [3, 1]
    assert scenario.observers == ["b"]


def test_overrides_as_a_mapping():
    scenario = load_scenario(QUICKSTART, {"workload.rate_tps": 1234, "network.latency.mean_ms": 2})
    assert scenario.workload.rate_tps == 1234.0 and scenario.network.latency.mean_ms == 2.0


def test_override_lists_and_null():
    scenario = load_scenario(
        QUICKSTART,
        [
            "nodes.count=null",
            "nodes.list=[{name: x}, {name: y}, {name: z, role: observer}]",
            "workload.targets=[x, y]",
        ],
    )
    assert scenario.node_names == ["x", "y", "z"] and scenario.workload.targets == ["x", "y"]
    assert scenario.observers == ["z"]


def test_with_overrides_on_a_validated_scenario():
    base = minimal()
    changed = with_overrides(base, ["workload.rate_tps=99"])
    assert changed.workload.rate_tps == 99.0 and base.workload.rate_tps == 300.0


def test_validation_does_not_change_its_input():
    data = {
        "name": "t",
        "nodes": {"list": [{"name": "a", "region": "eu"}, {"name": "b", "region": "eu"}]},
        "network": {"topology": {"kind": "regions", "latency_ms_matrix": {"eu": {"eu": 1}}}},
    }
    snapshot = copy.deepcopy(data)
    assert Scenario.from_dict(data).network.topology.regions == {"eu": ["a", "b"]}
    assert data == snapshot
    value = [{"name": "x"}]
    load_scenario(QUICKSTART, {"nodes.count": None, "nodes.list": value})
    assert value == [{"name": "x"}]


# -- digest and dump ---------------------------------------------------------------------------


def test_digest_is_stable_and_changes_with_a_field():
    a = load_scenario(QUICKSTART)
    b = load_scenario(QUICKSTART)
    assert scenario_digest(a) == scenario_digest(b)
    assert len(scenario_digest(a)) == 64
    assert scenario_digest(a) != scenario_digest(load_scenario(QUICKSTART, ["seed=43"]))
    assert scenario_digest(a) != scenario_digest(
        load_scenario(QUICKSTART, ["chain.min_seal_time_ms=501"])
    )
    # The same value written as an int or a float is the same scenario.
    assert scenario_digest(load_scenario(QUICKSTART, ["workload.rate_tps=500.0"])) == (
        scenario_digest(a)
    )


def test_digest_depends_on_content_only():
    assert scenario_digest(minimal()) == scenario_digest(Scenario.from_dict(dict(MINIMAL)))
    assert scenario_digest(minimal()) != scenario_digest(minimal(description="x"))
    # Spelling a default out does not change the scenario.
    assert scenario_digest(minimal()) == scenario_digest(minimal(chain={"tx_count_limit": 1000}))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_dump_yaml_round_trips(path, tmp_path):
    scenario = load_scenario(path)
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(scenario))
    reloaded = load_scenario(again)
    assert reloaded == scenario
    assert scenario_digest(reloaded) == scenario_digest(scenario)


def test_dump_yaml_round_trips_a_rich_scenario(tmp_path):
    scenario = Scenario.from_dict(
        {
            "name": "rich",
            "nodes": {
                "list": [
                    {
                        "name": "a",
                        "weight": 2,
                        "profile": {"cores": 4, "costs_us": {"storage_write_per_key": 9}},
                    },
                    {"name": "b", "region": "asia"},
                    {"name": "c", "role": "observer"},
                ]
            },
            "network": {
                "topology": {
                    "kind": "regions",
                    "regions": {"eu": ["a", "c"], "asia": ["b"]},
                    "latency_ms_matrix": {"eu": {"eu": 1, "asia": 90}, "asia": {"asia": 2}},
                },
                "latency": {"distribution": "normal", "mean_ms": 1, "std_ms": 0.2},
            },
            "workload": {"targets": ["a", "b"]},
            "chain": {"execution_us_per_tx": 12.5},
        }
    )
    path = tmp_path / "rich.yaml"
    path.write_text(dump_yaml(scenario))
    assert load_scenario(path) == scenario


# -- profiles referenced by path ---------------------------------------------------------------


def calibrated(path: Path) -> Path:
    return write_profile(
        {
            "name": "my-host",
            "cpu_model": "test cpu",
            "cores": 6,
            "measured": {"by": "hand", "date": "2026-01-01"},
            "costs_us": {
                name: 1.0
                for name in (
                    "verify_secp256k1",
                    "verify_sm2",
                    "keccak256_per_kb",
                    "sm3_per_kb",
                    "msgpack_encode_per_kb",
                    "msgpack_decode_per_kb",
                )
            },
        },
        path,
    )


def test_profile_path_beside_the_scenario(tmp_path, monkeypatch):
    folder = tmp_path / "exp"
    calibrated(folder / "hosts" / "my-host.yaml")
    (folder / "s.yaml").write_text("name: s\nnodes: {count: 4, profile: hosts/my-host.yaml}\n")
    monkeypatch.chdir(tmp_path)  # not the scenario's folder: the path is found beside the file
    scenario = load_scenario(folder / "s.yaml")
    from fiscosim.node.costs import load_profile

    assert load_profile(scenario.nodes.profile).cores == 6


# -- broken scenarios --------------------------------------------------------------------------


def _header(path: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        found.setdefault(key, []).append(value)
    return found


def test_there_are_enough_broken_scenarios():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_scenario_fails_with_one_clear_line(path):
    header = _header(path)
    assert "expect" in header, f"{path.name} needs a first-line '# expect: ...' comment"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, header.get("set", []))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    for field in header.get("field", []):
        assert f": {field}: " in message, message
    assert header["expect"][0] in message, message


@pytest.mark.parametrize("fault", [
    {"kind": "loss", "rate": 0},
    {"kind": "loss", "rate": 0.0, "until_s": 2},
    {"kind": "delay", "nodes": ["node1"], "delay_ms": 0},
    {"kind": "byzantine", "nodes": ["node1"], "behaviour": "reorder", "delay_ms": 0},
    {"kind": "delay", "nodes": ["node1"], "delay_ms": MAX_DELAY_MS},
])
def test_a_zero_fault_value_is_a_value_not_a_missing_one(fault):
    # rate 0 and delay_ms 0 are meaningful (no loss, no extra delay); only None is "not given".
    scenario = minimal(faults=[{"at_s": 1, **fault}])
    assert scenario.faults[0].kind == fault["kind"]


def test_latencies_up_to_the_bound_are_accepted():
    scenario = minimal(network={"latency": {"distribution": "lognormal",
                                            "mean_ms": MAX_DELAY_MS, "std_ms": MAX_DELAY_MS}})
    assert scenario.network.latency.std_ms == MAX_DELAY_MS
    # A zero region mean is fine when nothing has to be drawn around it.
    minimal(network={"topology": {"kind": "regions", "regions": {"a": ["node0", "node1"],
                                                                  "b": ["node2", "node3"]},
                                  "latency_ms_matrix": {"a": {"a": 0, "b": 0}, "b": {"b": 0}}},
                     "latency": {"distribution": "normal", "std_ms": 1}})


def test_the_delay_bound_is_the_latency_models():
    # The schema (fiscosim/schema/limits.py) keeps its own copy so that loading a scenario
    # does not import numpy or networkx.
    from fiscosim.net.latency import MAX_LATENCY_MS

    assert MAX_DELAY_MS == MAX_LATENCY_MS


def test_a_latency_that_cannot_be_drawn_is_refused_by_the_cli(tmp_path):
    # It used to run, deliver 1,132 messages before they were sent and exit 0.
    out = tmp_path / "out"
    command = [sys.executable, "-m", "fiscosim", "run", "--set", "network.latency.std_ms=1e300",
               "--set", "network.latency.distribution=normal", "--quiet", "--json",
               "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "network.latency.std_ms: 1e+300 is too large (use a value <= 60000" in lines[0]
    assert "quickstart.yaml" in lines[0] and "Traceback" not in result.stderr
    assert result.stdout == "" and not out.exists()


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="is a folder"):
        load_scenario(tmp_path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


def test_error_attributes_and_count_of_more():
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict({"name": "t", "nodes": {"count": 0}, "seed": -1, "duration_s": 0})
    error = caught.value
    assert error.source == "<dict>" and error.field == "seed"
    assert error.more == 2 and str(error).endswith("(and 2 more)")


def test_from_dict_rejects_a_non_mapping():
    with pytest.raises(ScenarioError, match="not a mapping"):
        Scenario.from_dict(["name", "t"])


def test_node_spec_alone():
    assert NodeSpec(name="n0").role == "sealer"


def test_yaml_merge_keys_still_work(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text(
        "name: m\nnodes:\n  list:\n    - &a {name: a, weight: 2}\n    - {<<: *a, name: b}\n"
    )
    scenario = load_scenario(path)
    assert [spec.weight for spec in scenario.nodes.specs()] == [2, 2]


def test_shipped_quickstart_is_valid_yaml_with_comments():
    text = QUICKSTART.read_text()
    assert text.lstrip().startswith("#")
    assert yaml.safe_load(text)["name"] == "quickstart"


def test_the_field_reference_document_is_current():
    from fiscosim.schema import field_reference

    path = Path(__file__).resolve().parents[1] / "docs" / "scenario-reference.md"
    assert path.read_text() == field_reference(), (
        "docs/scenario-reference.md is stale: regenerate it with python -c "
        "\"from fiscosim.schema import field_reference; print(field_reference(), end='')\" "
        "> docs/scenario-reference.md"
    )
