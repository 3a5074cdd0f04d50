"""``--set`` overrides: ``dotted.field=value`` (the value read as YAML) or a mapping of dotted
field -> value, applied to a scenario's data before it is validated, each mistake one line."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from fiscosim.scenario.yamltext import TooBig, parse_yaml
from fiscosim.schema.errors import ScenarioError, choices_hint, kind_of, short
from fiscosim.schema.tree import step


def apply_overrides(
    root: type[BaseModel], data: dict, overrides: Sequence[str] | Mapping[str, object],
    source: str,
) -> list[tuple[str, str]]:
    """Applies overrides to ``data`` (to be validated as a ``root``) in place; returns (dotted
    path, text) of each applied."""
    if isinstance(overrides, str):
        overrides = [overrides]
    items: list[tuple[str, Any, str]] = []
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            items.append((str(key).strip(), copy.deepcopy(value), f"{key}={value}"))
    else:
        for text in overrides:
            key, sep, raw = str(text).partition("=")
            if not sep or not key.strip():
                raise ScenarioError(
                    source,
                    f"--set {short(text)}",
                    "expected FIELD=VALUE",
                    "write e.g. --set workload.rate_tps=20000",
                )
            try:
                value = parse_yaml(raw) if raw.strip() else ""
            except TooBig as error:
                raise ScenarioError(source, key.strip(), f"the --set value is {error.problem}",
                                    error.fix) from None
            except yaml.YAMLError as error:
                problem = getattr(error, "problem", None) or "invalid YAML"
                raise ScenarioError(
                    source,
                    f"--set {short(text)}",
                    f"the value is not YAML: {problem}",
                    "quote it, e.g. --set 'name=\"my run\"'",
                ) from None
            items.append((key.strip(), value, str(text)))
    applied = []
    for key, value, text in items:
        segments = key.split(".")
        _set_path(root, data, segments, value, source, text)
        applied.append((key, text))
    return applied


def _set_path(root: type[BaseModel], data: dict, segments: list[str], value: Any, source: str,
              text: str) -> None:
    where = f"--set {short(text)}"
    annotation: Any = root
    node: Any = data
    for depth, segment in enumerate(segments):
        done = ".".join(segments[:depth])
        if not segment:
            raise ScenarioError(
                source,
                where,
                "empty field name in the path",
                "write dotted names such as workload.rate_tps",
            )
        how, next_annotation = step(annotation, segment)
        if how == "unknown":
            known = list(next_annotation.model_fields)
            raise ScenarioError(
                source,
                where,
                f"unknown field {segment!r}",
                choices_hint(segment, known, f"fields of {done or 'a scenario'}"),
            )
        if how == "scalar":
            raise ScenarioError(
                source, where, f"{done} is a value, not a section", f"set {done} itself"
            )
        if how == "index-expected":
            raise ScenarioError(
                source,
                where,
                f"{done} is a list: {segment!r} is not an index",
                f"write {done}.0.<field> for its first item",
            )
        last = depth == len(segments) - 1
        if how == "index":
            if not isinstance(node, list):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} is not a list in this scenario",
                    f"give {done} as a list first",
                )
            index = int(segment)
            if not -len(node) <= index < len(node):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} has no item {index}: it has {len(node)}",
                    f"use an index 0..{len(node) - 1}",
                )
            if last:
                node[index] = value
                return
            node = node[index]
        else:
            if not isinstance(node, dict):
                raise ScenarioError(
                    source,
                    where,
                    f"{done} is {kind_of(node)}, not a section",
                    f"set {done} to a mapping first",
                )
            if last:
                node[segment] = value
                return
            child = node.get(segment)
            if child is None:
                child_how, _ = step(next_annotation, segments[depth + 1])
                if child_how == "index":
                    raise ScenarioError(
                        source,
                        where,
                        f"{'.'.join(segments[: depth + 1])} is not in this scenario",
                        "add the list to the file first",
                    )
                child = node[segment] = {}
            node = child
        annotation = next_annotation
