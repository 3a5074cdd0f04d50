"""The schema as a tree: which field, list item or map entry a dotted path names, and a field's
range in words. Overrides, error messages and the field reference walk it from a root model
(:class:`~fiscosim.schema.scenario.Scenario`)."""

from __future__ import annotations

import types
from inspect import isclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def type_options(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Optional, unions and Annotated unwrapped)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return type_options(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [option for arg in get_args(annotation) for option in type_options(arg)]
    return [] if annotation is type(None) else [annotation]


def step(annotation: Any, segment: str | int) -> tuple[str, Any]:
    """How ``segment`` goes one level into ``annotation``: ('field'|'index'|'key', type).

    ('scalar', None) when the annotation is a value, ('unknown', model) when the segment is
    not a field of the model there.
    """
    options = type_options(annotation)
    models = [o for o in options if isclass(o) and issubclass(o, BaseModel)]
    lists = [get_args(o)[0] for o in options if get_origin(o) is list]
    dicts = [get_args(o)[1] for o in options if get_origin(o) is dict]
    text = str(segment)
    if lists and (isinstance(segment, int) or text.lstrip("-").isdigit()):
        return "index", lists[0]
    if models:
        fields = models[0].model_fields
        if text in fields:
            return "field", fields[text].annotation
        if not dicts:
            return "unknown", models[0]
    if dicts:
        return "key", dicts[0]
    if lists:
        return "index-expected", None
    return "scalar", None


def field_at(root: type[BaseModel], path: tuple) -> Any:
    """The FieldInfo (or, inside a dict or list, the item annotation) at a dotted path from
    ``root``."""
    if not path:
        return None
    annotation: Any = root
    for segment in path[:-1]:
        how, annotation = step(annotation, segment)
        if how in ("unknown", "scalar", "index-expected"):
            return None
    for option in type_options(annotation):
        if isclass(option) and issubclass(option, BaseModel):
            return option.model_fields.get(str(path[-1]))
    how, item = step(annotation, path[-1])
    return item if how in ("index", "key") else None


def bounds_of(field: Any) -> dict[str, Any]:
    """ge, gt, le, lt and max_length of a FieldInfo or an annotation (Annotated layers and the
    arms of an Optional included)."""
    found: dict[str, Any] = {}
    metadata: list[Any] = []
    annotation = field
    if isinstance(field, FieldInfo):
        metadata += field.metadata
        annotation = field.annotation
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = get_origin(current)
        if origin is Annotated:
            inner, *extra = get_args(current)
            pending.append(inner)
            for item in extra:
                metadata += item.metadata if isinstance(item, FieldInfo) else [item]
        elif origin is Union or origin is types.UnionType:
            pending += [arg for arg in get_args(current) if arg is not type(None)]
    for item in metadata:
        for key in ("ge", "gt", "le", "lt", "max_length"):
            value = getattr(item, key, None)
            if value is not None and not isinstance(value, bool):
                found[key] = value
    return found


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def range_text(where: Any, root: type[BaseModel] | None = None) -> str:
    """A field's range in words, e.g. 'from 64 to 1,048,576' ('' when it has none).

    ``where`` is a dotted path (tuple) from the model ``root``, or a FieldInfo or annotation.
    """
    if isinstance(where, tuple):
        where = field_at(root, where) if root is not None else None
    bounds = bounds_of(where)
    low = (f"from {_number(bounds['ge'])}" if "ge" in bounds else
           f"above {_number(bounds['gt'])}" if "gt" in bounds else "")
    high = (f"to {_number(bounds['le'])}" if "le" in bounds and low.startswith("from") else
            f"at most {_number(bounds['le'])}" if "le" in bounds else
            f"below {_number(bounds['lt'])}" if "lt" in bounds else "")
    if low and high:
        return f"{low} {high}" if high.startswith("to") else f"{low}, {high}"
    if low:
        return low.replace("from", "at least", 1)
    if high:
        return high
    if "max_length" in bounds:
        return f"at most {_number(bounds['max_length'])} items"
    return ""


def model_at(root: type[BaseModel], path: tuple) -> type[BaseModel] | None:
    """The model at a dotted path from ``root`` (None when the path names no model)."""
    annotation: Any = root
    for segment in path:
        how, annotation = step(annotation, segment)
        if how in ("unknown", "scalar", "index-expected"):
            return None
    models = [o for o in type_options(annotation) if isclass(o) and issubclass(o, BaseModel)]
    return models[0] if models else None
