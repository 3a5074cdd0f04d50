"""One-line scenario errors: :class:`ScenarioError`, what validators raise, and the helpers
that keep a message one short line (quoting input, suggesting a close match)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fiscosim.refs import did_you_mean

SCHEMA_HELP = "see scenarios/README.md and fiscosim/schema/"
"""The fix of an error no rule explains better."""


class ScenarioError(Exception):
    """A scenario that cannot be loaded. ``str()`` is one line:
    ``<file>: <dotted.field>: <what is wrong> (<the fix>)``.

    >>> str(ScenarioError("s.yaml", "chain.block_limit", "6000 is too large", "use <= 5000"))
    's.yaml: chain.block_limit: 6000 is too large (use <= 5000)'
    """

    def __init__(self, source: str, field: str, problem: str, fix: str = "", more: int = 0) -> None:
        self.source = one_line(source)
        self.field = one_line(field)
        self.problem = one_line(problem)
        self.fix = one_line(fix)
        self.more = more
        """How many further problems the validator found (only the first is described)."""
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [part for part in (self.source, self.field, self.problem) if part]
        text = ": ".join(parts)
        if self.fix:
            text += f" ({self.fix})"
        if self.more:
            text += f" (and {self.more} more)"
        return text


def one_line(text: str, limit: int = 1000) -> str:
    # Parts can quote the input (an unknown key, a path): a huge one must not make a huge line.
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Invalid(ValueError):
    """Raised by our validators: a sub-path (relative to the model), the problem and the fix."""

    def __init__(self, where: str | int | tuple, problem: str, fix: str) -> None:
        if isinstance(where, str):
            where = tuple(part for part in where.split(".") if part)
        elif isinstance(where, int):
            where = (where,)
        self.where: tuple = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} ({fix})")



def short(text: str, limit: int = 60) -> str:
    """An override as quoted in a message: a 10 MB --set value must not make a 10 MB line."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({show(value)})"
    return type(value).__name__


def choices_hint(value: Any, choices: Sequence[str], what: str) -> str:
    hint = did_you_mean(value, choices)
    shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
    return f"{hint}known {what}: {shown}"



def split_fix(message: str) -> tuple[str, str]:
    """'what (fix)' -> ('what', 'fix'), matching the last parenthesis."""
    if message.endswith(")"):
        depth = 0
        for i in range(len(message) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(message[i], 0)
            if depth == 0:
                return message[:i].rstrip(), message[i + 1 : -1]
    return message, SCHEMA_HELP
