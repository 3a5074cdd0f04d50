"""The format of the reference-point file (``points.yaml``) and reading it.

A point is one figure FISCO BCOS published, with where it was published (repository, commit,
path and a short quote, or an issue and its comment), the conditions its source states, the
figure, a relative tolerance, whether it is a **fit** row (a per-stage figure a cost may be
calibrated on) or a **check** row (an end-to-end figure no cost may be fitted to), and how
fiscosim predicts it (:class:`ScenarioPrediction` or :class:`StagePrediction`). The file is
validated completely before anything runs; a mistake is one line naming the field::

    points.yaml: points[2] (id fisco2-x): tolerance: Input should be greater than 0
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    ValidationError,
    model_validator,
)

from fiscosim.refs import yaml_problem

SCHEMA_VERSION = 1
"""The version of the format this code reads (``schema_version`` in the file)."""

SHIPPED = "points.yaml"
"""The shipped file, package data of :mod:`fiscosim.published`."""

Sha = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]


class PublishedError(ValueError):
    """A reference-point file that cannot be used: one line, ``where: field: problem``."""


class _Strict(BaseModel):
    # Unknown keys are refused (a typo would otherwise drop a condition silently); frozen, as
    # a point never changes once read.
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSource(_Strict):
    """A figure in a file of a repository, at one commit."""

    repository: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
    commit: Sha
    path: Text
    quote: Text


class IssueSource(_Strict):
    """A figure in a comment of a GitHub issue (an issue has no commit)."""

    repository: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
    issue: Annotated[int, Field(gt=0)]
    url: Annotated[str, StringConstraints(pattern=r"^https://github\.com/")]
    comment: Text
    quote: Text


class Conditions(_Strict):
    """What the source states about the run; "not stated" where it says nothing."""

    fisco_version: Text
    nodes: Text
    hardware: Text
    network: Text
    workload: Text
    clients: Text
    measured: Text


class Published(_Strict):
    """The published figure."""

    metric: Literal["tps", "latency_ms", "stage_ms", "block_interval_ms", "txs_per_block"]
    value: Annotated[float, Field(gt=0)]
    unit: Text
    range: tuple[float, float] | None = None
    """Where the source gives a range, its ends; ``value`` is then its middle."""


class ScenarioPrediction(_Strict):
    """Predicted by a run: ``scenario`` (a complete scenario, as a scenario file holds it)
    with ``overrides`` (dotted field -> value), and ``fast_overrides`` on top for ``--fast``;
    ``read`` is the summary's key, dotted (``latency_ms.mean``)."""

    scenario: dict[str, Any]
    overrides: dict[str, Any] = {}
    fast_overrides: dict[str, Any] = {}
    read: Annotated[str, StringConstraints(pattern=r"^[a-z_]+(\.[a-z0-9_]+)*$")]
    same_as: str | None = None
    """The repository's scenario file that ``scenario`` equals (the package ships none)."""


class StagePrediction(_Strict):
    """Predicted by the cost model, as the node runtime charges a block of ``txs`` calls of
    ``contract``.``method`` (``tx_bytes`` each) on a ``profile`` node:

    - ``decode``: decoding and hashing the transactions, one core;
    - ``verify``: recovering every sender, one core;
    - ``execute``: the block's execution in ``mode`` on ``threads`` executor threads
      (fiscosim.execution), plus receipts and roots;
    - ``commit``: writing the block and its state changes;
    - ``prepare``: decoding a proposal that carries the transactions, hashing them and
      finding them in the pool (every one there, so none is verified again);
    - ``execution_tps``: ``txs`` over the ``execute`` time.
    """

    stage: Literal["decode", "verify", "execute", "commit", "prepare", "execution_tps"]
    profile: Text
    contract: Text
    method: Text
    txs: Annotated[int, Field(gt=0, le=100_000)]
    tx_bytes: Annotated[int, Field(gt=0, le=1_000_000)] = 300
    mode: Literal["serial", "dag", "pte"] = "serial"
    threads: Annotated[int, Field(gt=0, le=256)] = 1
    accounts: Annotated[int, Field(ge=2, le=10_000_000)] = 10_000
    seed: Annotated[int, Field(ge=0)] = 1
    """Draws the transfers' accounts (their conflicts decide the DAG's levels)."""
    release: Literal["2.9", "3.x"] = "3.x"
    """The release whose executor runs the calls: '2.9' charges 2.x's EVM for Solidity
    (:mod:`fiscosim.contracts.release`)."""


# Without a discriminator pydantic tries each member of a union and reports every failure;
# the key that says which one the author meant decides it, so an error names one field. The
# tags are the class names, which the error's location leaves out (:func:`_where`).
def _source_kind(data: Any) -> str:
    issue = isinstance(data, IssueSource) or (isinstance(data, dict) and "issue" in data)
    return "IssueSource" if issue else "FileSource"


def _prediction_kind(data: Any) -> str:
    stage = isinstance(data, StagePrediction) or (isinstance(data, dict) and "stage" in data)
    return "StagePrediction" if stage else "ScenarioPrediction"


class Point(_Strict):
    """One published figure, with its source and how fiscosim predicts it."""

    id: Id
    kind: Literal["fit", "check"]
    what: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    source: Annotated[Annotated[FileSource, Tag("FileSource")]
                      | Annotated[IssueSource, Tag("IssueSource")],
                      Discriminator(_source_kind)]
    conditions: Conditions
    hardware_stated: bool
    published: Published
    tolerance: Annotated[float, Field(gt=0, le=10)]
    predict: Annotated[Annotated[ScenarioPrediction, Tag("ScenarioPrediction")]
                       | Annotated[StagePrediction, Tag("StagePrediction")],
                       Discriminator(_prediction_kind)]
    note: str = ""
    """Why the prediction is what it is, where the table needs a word (docs/validation.md)."""


class PointsFile(_Strict):
    """The whole file: its format version and its points, ids unique."""

    schema_version: Literal[1]
    points: Annotated[list[Point], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_ids(self) -> PointsFile:
        seen: set[str] = set()
        for point in self.points:
            if point.id in seen:
                raise ValueError(f"two points have the id {point.id!r} (give each its own)")
            seen.add(point.id)
        return self


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """A pydantic location as the file's field, naming a point by its id as well."""
    parts: list[str] = []
    index = 0
    while index < len(loc):
        part = loc[index]
        if part == "points" and index + 1 < len(loc) and isinstance(loc[index + 1], int):
            number = int(loc[index + 1])
            points = data.get("points") if isinstance(data, dict) else None
            ident = None
            if isinstance(points, list) and number < len(points) and isinstance(points[number],
                                                                                 dict):
                ident = points[number].get("id")
            parts.append(f"points[{number}]" + (f" (id {ident})" if ident else ""))
            index += 2
            continue
        # pydantic names the member of a union it tried ("FileSource"); the reader wrote none.
        if isinstance(part, str) and part[:1].isupper():
            index += 1
            continue
        parts.append(str(part))
        index += 1
    head, rest = (parts[0], parts[1:]) if parts and parts[0].startswith("points[") else ("", parts)
    field = ".".join(rest)
    return ": ".join(p for p in (head, field) if p)


def parse_points(text: str, where: str = SHIPPED) -> PointsFile:
    """Validates the text of a points file; any problem raises :class:`PublishedError`."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        at, problem = yaml_problem(error)
        line = f"line {at}: " if at is not None else ""
        raise PublishedError(f"{where}: {line}YAML syntax error: {problem} "
                             "(fix the YAML at that line)") from None
    if not isinstance(data, dict):
        raise PublishedError(f"{where}: the top level is not a mapping "
                             "(write 'schema_version: 1' and 'points:')")
    try:
        return PointsFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = _where(data, tuple(first.get("loc", ())))
        message = first.get("msg", "invalid").removeprefix("Value error, ")
        more = len(error.errors()) - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise PublishedError(f"{where}: {field + ': ' if field else ''}{message}{tail}") from None


def load_points(path: str | Path | None = None) -> PointsFile:
    """The shipped reference points, or those of the file at ``path``."""
    if path is None:
        text = resources.files("fiscosim.published").joinpath(SHIPPED).read_text("utf-8")
        return parse_points(text, SHIPPED)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as error:
        raise PublishedError(f"{path}: cannot read the file: {error.strerror or error} "
                             "(check the path)") from None
    return parse_points(text, str(path))
