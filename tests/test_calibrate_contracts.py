"""The Solidity workloads and their committed build artifacts (contracts/build.py).

A fast check that every artifact was built from the current source (its recorded SHA-256), and
a slow one (``FISCOSIM_SLOW=1 pytest -m slow``) that rebuilds them with solc-js from npm into
a temporary folder and compares the bytecode byte for byte.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import pytest
from conftest import REPO_ROOT

CONTRACTS = REPO_ROOT / "contracts"
EXPECTED = {"ParallelTransfer", "HelloWorld", "KvTable", "CpuHeavy", "SmallBank"}


def _build_module():
    spec = importlib.util.spec_from_file_location("contracts_build", CONTRACTS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def _artifacts() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in build.BUILD.glob("*.json")}


def test_every_source_has_an_artifact_and_no_artifact_is_orphaned():
    sources = {path.stem for path in build.sources()}
    assert sources == EXPECTED
    assert set(_artifacts()) == sources


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_artifact_was_built_from_the_current_source(name):
    artifact = _artifacts()[name]
    source = CONTRACTS / "solidity" / f"{name}.sol"
    assert artifact["source"] == f"contracts/solidity/{name}.sol"
    assert artifact["source_sha256"] == build.source_sha256(source), (
        f"contracts/artifacts/{name}.json is stale: {source.name} changed since it was built "
        "(run python contracts/build.py)"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_artifact_records_the_compiler_and_settings(name):
    artifact = _artifacts()[name]
    assert artifact["compiler"]["npm"] == f"solc@{build.SOLC_VERSION}"
    assert artifact["compiler"]["version"].startswith(build.SOLC_VERSION + "+commit.")
    assert artifact["settings"] == build.SETTINGS
    assert artifact["abi"] and artifact["method_identifiers"]
    for key in ("bytecode", "deployedBytecode"):
        assert len(artifact[key]) > 100 and bytes.fromhex(artifact[key])


def test_contracts_are_ours_and_not_fiscos_dag_precompile():
    readme = (CONTRACTS / "README.md").read_text()
    assert "DagTransfer" in readme and "precompiled" in readme
    for source in build.sources():
        assert "SPDX-License-Identifier: Apache-2.0" in source.read_text()


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("FISCOSIM_SLOW"), reason="slow: set FISCOSIM_SLOW=1 (.ci/run does)"
)
def test_rebuild_reproduces_the_committed_bytecode(tmp_path):
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed: cannot rebuild the contracts with solc-js")
    try:
        build.build(tmp_path)
    except RuntimeError as error:
        if "npm install" in str(error):
            pytest.skip(f"the npm registry is not reachable here: {error}")
        raise
    committed = _artifacts()
    for path in sorted(tmp_path.glob("*.json")):
        rebuilt = json.loads(path.read_text())
        for key in ("bytecode", "deployedBytecode", "abi", "source_sha256", "compiler"):
            assert rebuilt[key] == committed[path.stem][key], (path.stem, key)
