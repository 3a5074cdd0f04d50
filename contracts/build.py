#!/usr/bin/env python3
"""Compiles the Solidity workloads in contracts/solidity/ into contracts/artifacts/<Name>.json.

The compiler is solc-js from npm at a pinned version (:data:`SOLC_VERSION`), installed into a
temporary folder that is removed afterwards, and driven through its standard-JSON interface
with the settings in :data:`SETTINGS`. Each source file is compiled on its own, so an artifact
depends on its own source and the settings only. An artifact holds the ABI, the creation and
runtime bytecode, the method identifiers, the compiler's full version, the settings and the
SHA-256 of the source file; ``fiscosim calibrate`` deploys from these artifacts, and
tests/test_calibrate_contracts.py fails when an artifact is older than its source.

Usage (from the repository root; needs node and npm, and the npm registry)::

    python contracts/build.py              # rebuild contracts/artifacts/
    python contracts/build.py --out /tmp/x # build somewhere else (the tests compare the two)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "solidity"
BUILD = HERE / "artifacts"

SOLC_VERSION = "0.8.11"
"""FISCO BCOS 3.x's recommended (and, up to 3.2, highest supported) Solidity version."""

SETTINGS: dict = {
    # The optimizer as solc and FISCO's console tooling commonly run it: on, 200 runs (tuned
    # for code that is called often rather than deployed often).
    "optimizer": {"enabled": True, "runs": 200},
    # solc 0.8.11's default target, written out so the artifacts do not depend on it; london
    # bytecode has no PUSH0 (shanghai), so it runs on FISCO 3.x's evmone and on revm alike.
    "evmVersion": "london",
    "metadata": {"bytecodeHash": "ipfs"},
}

OUTPUTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"]

# Reads a standard-JSON input on stdin, prints {"version": ..., "output": ...} on stdout.
COMPILE_JS = """
const solc = require('solc');
let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const output = JSON.parse(solc.compile(input));
  process.stdout.write(JSON.stringify({version: solc.version(), output: output}));
});
"""


def source_sha256(path: Path) -> str:
    """Hex SHA-256 of a source file's bytes (what an artifact records as ``source_sha256``)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources() -> list[Path]:
    """The Solidity sources, one contract per file named after it."""
    return sorted(SOURCES.glob("*.sol"))


def install_solc(folder: Path) -> None:
    """Installs solc-js at :data:`SOLC_VERSION` into ``folder`` (raises RuntimeError on failure)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (install Node.js 18 or later)")
    command = [
        npm,
        "install",
        "--prefix",
        str(folder),
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
        f"solc@{SOLC_VERSION}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"npm install solc@{SOLC_VERSION} failed: {last[0]}")
    (folder / "compile.js").write_text(COMPILE_JS)


def compile_source(folder: Path, source: Path) -> dict:
    """Compiles one source with the solc-js installed in ``folder``; returns its artifact."""
    unit = source.name
    request = {
        "language": "Solidity",
        "sources": {unit: {"content": source.read_text("utf-8")}},
        "settings": {**SETTINGS, "outputSelection": {"*": {"*": OUTPUTS}}},
    }
    done = subprocess.run(
        ["node", str(folder / "compile.js")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"solc-js failed on {unit}: {done.stderr.strip()}")
    answer = json.loads(done.stdout)
    output = answer["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    for warning in output.get("errors", []):
        if warning.get("severity") != "error":
            print(warning.get("formattedMessage", warning.get("message")), file=sys.stderr)
    if errors:
        raise RuntimeError("\n".join(e.get("formattedMessage", e["message"]) for e in errors))
    name = source.stem
    contract = output["contracts"][unit][name]
    return {
        "contract": name,
        "source": f"contracts/solidity/{unit}",
        "source_sha256": source_sha256(source),
        "compiler": {
            "name": "solc-js",
            "npm": f"solc@{SOLC_VERSION}",
            "version": answer["version"],
        },
        "settings": SETTINGS,
        "abi": contract["abi"],
        "method_identifiers": contract["evm"]["methodIdentifiers"],
        "bytecode": contract["evm"]["bytecode"]["object"],
        "deployedBytecode": contract["evm"]["deployedBytecode"]["object"],
    }


def build(out: Path = BUILD) -> list[Path]:
    """Compiles every source into ``out``/<Name>.json; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="fiscosim-solc-") as tmp:
        folder = Path(tmp)
        install_solc(folder)
        for source in sources():
            artifact = compile_source(folder, source)
            target = out / f"{source.stem}.json"
            target.write_text(json.dumps(artifact, indent=1) + "\n")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BUILD, help="artifact folder")
    args = parser.parse_args(argv)
    try:
        written = build(args.out)
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
