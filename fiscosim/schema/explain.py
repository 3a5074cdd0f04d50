"""Validating a mapping against the schema, and turning pydantic's errors into one
:class:`~fiscosim.schema.errors.ScenarioError` line naming the field and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fiscosim.refs import did_you_mean
from fiscosim.schema.errors import (
    SCHEMA_HELP,
    Invalid,
    ScenarioError,
    choices_hint,
    kind_of,
    one_line,
    short,
    show,
)
from fiscosim.schema.limits import MAX_TEXT
from fiscosim.schema.tree import model_at, range_text

Model = TypeVar("Model", bound=BaseModel)


def validate(root: type[Model], data: Any, source: str,
             overrides: Sequence[tuple[str, str]] = ()) -> Model:
    """``data`` validated as a ``root`` (a :class:`~fiscosim.schema.scenario.Scenario`); any
    problem raises a one-line :class:`ScenarioError` naming ``source`` and the field, and the
    ``--set`` override (dotted path, text) that set it, if one did."""
    if not isinstance(data, Mapping):
        raise ScenarioError(
            source,
            "",
            f"the scenario is {kind_of(data)}, not a mapping",
            "give a mapping of scenario fields",
        )
    try:
        return root.model_validate(data)
    except ValidationError as error:
        raise to_scenario_error(error, source, overrides, root) from None


def to_scenario_error(
    error: ValidationError, source: str, overrides: Sequence[tuple[str, str]],
    root: type[BaseModel],
) -> ScenarioError:
    """The first of pydantic's errors as one line (with how many more there are)."""
    errors = error.errors(include_url=False)
    first = errors[0]
    loc = tuple(
        part for part in first["loc"] if not (isinstance(part, str) and part.startswith("~"))
    )
    ctx = first.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, Invalid):
        loc = loc + cause.where
        problem, fix = cause.problem, cause.fix
    else:
        problem, fix = _explain(first, loc, root)
    field = ".".join(str(part) for part in loc)
    for path, text in overrides:
        if field == path or field.startswith(path + ".") or path.startswith(field + "."):
            fix = f"{fix}; it was set by --set {short(text)}"
            break
    return ScenarioError(source, field or "scenario", problem, fix, more=len(errors) - 1)


def _explain(err: Mapping[str, Any], loc: tuple, root: type[BaseModel]) -> tuple[str, str]:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    shown = show(value)
    if kind == "extra_forbidden":
        model = model_at(root, loc[:-1])
        known = list(model.model_fields) if model is not None else []
        return f"unknown key {loc[-1]!r}", choices_hint(loc[-1], known, "keys")
    if kind == "invalid_key":
        return f"the key {shown} is not text", "keys are names such as 'workload'; quote it"
    if kind == "missing":
        return "required field is missing", f"add '{loc[-1] if loc else 'it'}: ...'"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return (f"{shown} is not allowed",
                f"{did_you_mean(value, choices)}use one of: {', '.join(choices)}")
    bounds = {
        "greater_than_equal": ("too small", ">=", "ge"),
        "greater_than": ("too small", ">", "gt"),
        "less_than_equal": ("too large", "<=", "le"),
        "less_than": ("too large", "<", "lt"),
    }
    if kind in bounds:
        what, op, key = bounds[kind]
        bound = ctx.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{shown} is {what}", f"use a value {op} {bound}"
    if kind in ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type"):
        whole = kind.startswith("int")
        span = range_text(loc, root)
        if isinstance(value, str):
            # Strict types: YAML gives text for anything quoted, and for 2^40 or 1,000.
            return (f"{shown} is not a {'whole ' if whole else ''}number, it is text",
                    f"write a {'whole ' if whole else ''}number without quotes"
                    + (f", {span}" if span else ""))
        if whole:
            return f"{shown} is not a whole number", f"write an integer, {span or 'e.g. 4'}"
        return f"{shown} is not a number", f"write a number, {span or 'e.g. 2.5'}"
    if kind == "finite_number":
        return f"{shown} is not a finite number", "write a finite number"
    if kind == "string_type":
        return f"{shown} is not text", "write a string; quote it if YAML reads it as a number"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return (
            f"expected a mapping, got {kind_of(value)}",
            "write 'key: value' lines indented under it",
        )
    if kind == "list_type":
        return f"expected a list, got {kind_of(value)}", "write a YAML list, e.g. [a, b]"
    if kind == "string_too_short":
        return "must not be empty", "write some text"
    if kind == "string_too_long":
        return (f"the text is {len(str(value)):,} characters long",
                f"use at most {ctx.get('max_length', MAX_TEXT):,} characters")
    if kind == "too_long":
        count = ctx.get("actual_length")
        return (f"has {count:,} items" if isinstance(count, int) else "has too many items",
                f"use at most {ctx.get('max_length'):,}")
    if kind in ("bool_type", "bool_parsing"):
        return f"{shown} is not true or false", "write true or false"
    return one_line(err.get("msg", "invalid value")), SCHEMA_HELP
