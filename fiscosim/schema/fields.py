"""The field types every scenario model uses: strict numbers (no booleans, no text) and the
models' shared configuration (unknown keys refused, frozen, attribute docstrings)."""

from __future__ import annotations

import numbers
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Strict

from fiscosim.schema.errors import Invalid
from fiscosim.schema.limits import MAX_TEXT


def _no_bool(value: Any) -> Any:
    # YAML reads yes/no/true/false as booleans, and pydantic would take True for 1.
    if isinstance(value, bool):
        raise Invalid(
            (), f"{str(value).lower()} is a yes/no value, not a number", "write a number"
        )
    return value


def _whole(value: Any) -> Any:
    # Strict, so that '1000' (text) is refused; but 1e6 and numpy integers are whole numbers.
    value = _no_bool(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    return value


def _real(value: Any) -> Any:
    value = _no_bool(value)
    if isinstance(value, numbers.Real) and not isinstance(value, int | float):
        return float(value)  # a numpy integer from the Python API (strict takes an int as is)
    return value


Int = Annotated[int, Strict(), BeforeValidator(_whole)]
"""A whole number: 1e6 and numpy integers are taken, text and true/false are not."""
Float = Annotated[float, Strict(), BeforeValidator(_real)]
"""A number: text and true/false are not taken."""
Bool = Annotated[bool, Strict()]

MODEL = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True,
                   str_max_length=MAX_TEXT)
"""Every model's configuration: unknown keys refused, frozen, no inf or nan, field docstrings
as descriptions (docs/scenario-reference.md), text at most :data:`MAX_TEXT` characters."""
