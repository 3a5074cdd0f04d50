"""The field reference, docs/scenario-reference.md: every scenario field with its type, default,
range and meaning, generated from the schema (:func:`field_reference`)."""

from __future__ import annotations

import textwrap
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from fiscosim.schema.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_TEXT, MAX_YAML_VALUES
from fiscosim.schema.scenario import Scenario
from fiscosim.schema.tree import range_text, type_options


def field_reference() -> str:
    """Every scenario field with its type, default and meaning, as a Markdown document.

    ``docs/scenario-reference.md`` is this text; a test keeps the two equal, so the reference
    a user reads is the schema the loader applies.
    """
    lines = [
        "# Scenario fields",
        "",
        "Generated from the schema (`fiscosim.schema.field_reference()`); a test keeps it",
        "current. Every field is optional unless marked *required*; unknown keys are errors.",
        "Override any field with `--set dotted.path=value`.",
        "",
        *textwrap.wrap(
            "Every number has the range shown; a value outside it is refused with one line "
            "naming the field. Types are strict: a number in quotes is text and refused, a "
            "whole float such as `1e6` is taken for an integer. Text is at most "
            f"{MAX_TEXT:,} characters. A scenario file is a regular file of at most "
            f"{MAX_FILE_BYTES:,} bytes (1 MiB), nested at most {MAX_DEPTH} levels, with at most "
            f"{MAX_YAML_VALUES:,} keys, items and values. When a file is loaded, the run's peak "
            "memory is estimated (`fiscosim.sim.estimate`) and a run that would not fit in the "
            "memory this machine has available is refused, naming what to reduce. A setting "
            "that would do nothing is refused too (a fault after the end of the run, a field "
            "its fault kind does not read, `query_rate` without light nodes); where the run "
            "still makes sense it is a warning instead, in the report and in summary.json's "
            "`warnings` (an `until_s` after the end, a `std_ms` with a constant latency).",
            width=88),
        "",
    ]

    def range_of(info: Any) -> str:
        text = range_text(info)
        if text:
            return text
        leaf = info.annotation
        while True:
            # Into the one list or map a field may be (a name or a map: the map's values).
            containers = [option for option in type_options(leaf)
                          if get_origin(option) in (list, dict)]
            if len(containers) != 1:
                break
            leaf = get_args(containers[0])[-1]
            text = range_text(leaf)
            if text:
                return f"each {text}"
        if str in type_options(info.annotation):
            return f"at most {MAX_TEXT:,} characters"
        return ""

    def type_name(annotation: Any) -> str:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            return type_name(args[0])
        if origin is typing.Literal:
            return " or ".join(f"`{arg}`" for arg in args)
        if origin in (typing.Union, types.UnionType):
            return " or ".join(type_name(arg) for arg in args if arg is not type(None))
        if origin is list:
            return f"list of {type_name(args[0])}"
        if origin is dict:
            return f"map of {type_name(args[0])} to {type_name(args[1])}"
        names = {"ProfileSpec": "inline profile", "NodeSpec": "node (below)"}
        name = getattr(annotation, "__name__", str(annotation))
        return names.get(name, name)

    def walk(model: type[BaseModel], prefix: str, title: str) -> None:
        rows: list[str] = []
        nested: list[tuple[type[BaseModel], str, str]] = []
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            annotation = info.annotation
            child = annotation if isinstance(annotation, type) and issubclass(
                annotation, BaseModel) else None
            if info.is_required():
                default = "*required*"
            elif child is not None:
                default = "(section)"
            else:
                default = f"`{info.default!r}`" if info.default is not None else "none"
            doc = info.description or ""
            if not doc and child is not None and child.__doc__:
                doc = child.__doc__.strip().split("\n\n")[0]
            doc = " ".join(doc.split()).replace("|", "\\|")
            span = range_of(info)
            rows.append(f"| `{path}` | {type_name(annotation)} | {default} | {span} | {doc} |")
            if child is not None:
                nested.append((child, f"{path}.", path))
            bare = annotation
            while typing.get_origin(bare) is typing.Annotated:
                bare = typing.get_args(bare)[0]
            options = (bare,) if typing.get_origin(bare) is list else (
                typing.get_args(bare) or ())
            for arg in options:
                while typing.get_origin(arg) is typing.Annotated:
                    arg = typing.get_args(arg)[0]
                listed = typing.get_origin(arg) is list
                for item in typing.get_args(arg) if listed else (arg,):
                    if isinstance(item, type) and issubclass(item, BaseModel):
                        section = f"{path} items" if listed else f"{path} (inline form)"
                        nested.append((item, "", section))
        intro = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
        lines.extend([f"## {title}", "", intro, "",
                      "| field | type | default | range | meaning |", "|---|---|---|---|---|",
                      *rows, ""])
        for child, child_prefix, child_title in nested:
            walk(child, child_prefix, child_title)

    walk(Scenario, "", "scenario")
    return "\n".join(lines) + "\n"
