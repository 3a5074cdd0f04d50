"""The package's layers: the import-linter contract in pyproject.toml holds, and covers the package.

A module imports only from its own layer or the layers below it (docs/architecture.md). The
contract is ``[[tool.importlinter.contracts]]`` in pyproject.toml; function-level imports count
as much as module-level ones. The layer table in docs/architecture.md is generated from the
contract and the packages' docstrings; after changing either, regenerate it with::

    python tests/test_layers.py --write
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fiscosim"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
BEGIN = "<!-- layers:begin -->"
END = "<!-- layers:end -->"
OUTSIDE_LAYERS = {"__init__", "__main__", "refs", "version"}
"""Top-level modules no layer holds: the package's entry points, its version constants and
the "did you mean" helpers every layer's errors use, which import nothing of the package."""


def contracts() -> list[dict]:
    """The import-linter contracts of pyproject.toml: the package's layers, and node/'s."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]


def contract_layers() -> list[list[str]]:
    """The contract's layers, top first; each a list of the packages in it."""
    (layers,) = [c["layers"] for c in contracts() if c["id"] == "layers"]
    return [[name.strip() for name in re.split(r"[|:]", layer)] for layer in layers]


def first_sentence(module: str) -> str:
    """The first sentence of a package's or module's docstring."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    text = " ".join(doc.split("\n\n")[0].split()).replace("``", "`")
    match = re.match(r"(.+?\.)(\s|$)", text)
    return (match.group(1) if match else text).rstrip(".") + "."


def layer_table() -> str:
    """The Markdown table docs/architecture.md shows between its layer markers."""
    layers = contract_layers()
    rows = ["| layer | package | what it owns (its docstring) |", "|---|---|---|"]
    for number, layer in zip(range(len(layers), 0, -1), layers, strict=True):
        for name in layer:
            path = PACKAGE.joinpath(*name.split(".")[1:])
            shown = f"`fiscosim/{name.split('.', 1)[1]}{'/' if path.is_dir() else '.py'}`"
            rows.append(f"| {number} | {shown} | {first_sentence(name)} |")
    return (f"{BEGIN}\n<!-- Generated from pyproject.toml's import-linter contract by "
            f"`python tests/test_layers.py --write`; do not edit by hand. -->\n\n"
            + "\n".join(rows) + f"\n\n{END}")


def test_the_layers_contract_holds(capsys):
    from importlinter import cli

    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    report = capsys.readouterr().out
    assert code == 0, f"an import crosses the layers of pyproject.toml's contract:\n{report}"
    ids = {c["id"] for c in contracts()}
    assert {"layers", "node-stages"} <= ids, ids
    assert f"{len(ids)} kept, 0 broken" in report


def test_no_module_imports_itself_through_others():
    """No import cycle between modules, function-level imports included (the layers contract
    rules out cycles between packages, not inside one)."""
    import grimp

    graph = grimp.build_graph("fiscosim", cache_dir=None)
    cycles = sorted({tuple(sorted((importer, imported)))
                     for importer in graph.modules
                     for imported in graph.find_modules_directly_imported_by(importer)
                     if graph.chain_exists(importer=imported, imported=importer)})
    assert cycles == [], f"modules that import each other (directly or through others): {cycles}"


def test_every_top_level_module_is_in_a_layer():
    in_layers = {name.split(".")[1] for layer in contract_layers() for name in layer}
    present = {path.stem if path.is_file() else path.name
               for path in PACKAGE.iterdir()
               if (path.suffix == ".py" or (path / "__init__.py").is_file())}
    assert present - in_layers - OUTSIDE_LAYERS == set(), (
        "a package or module of fiscosim/ is in no layer: add it to the contract in "
        "pyproject.toml (or, if it imports nothing of the package, to OUTSIDE_LAYERS)")
    assert in_layers <= present, f"the contract names what does not exist: {in_layers - present}"


@pytest.mark.parametrize("name", sorted(OUTSIDE_LAYERS - {"__init__", "__main__"}))
def test_modules_outside_the_layers_import_nothing_of_the_package(name):
    tree = ast.parse((PACKAGE / f"{name}.py").read_text())
    imported = [node.module for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [m for m in imported if m.split(".")[0] == "fiscosim"]


def test_the_architecture_page_shows_the_contract():
    text = ARCHITECTURE.read_text()
    start, end = text.find(BEGIN), text.find(END)
    assert 0 <= start < end, f"docs/architecture.md lacks the {BEGIN} ... {END} markers"
    assert text[start:end + len(END)] == layer_table(), (
        "docs/architecture.md's layer table is stale: python tests/test_layers.py --write")


def write() -> None:
    text = ARCHITECTURE.read_text()
    start, end = text.find(BEGIN), text.find(END)
    if not 0 <= start < end:
        sys.exit(f"docs/architecture.md lacks the {BEGIN} ... {END} markers")
    ARCHITECTURE.write_text(text[:start] + layer_table() + text[end + len(END):])
    print(f"wrote the layer table into {ARCHITECTURE}", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_layers.py --write")
    write()
