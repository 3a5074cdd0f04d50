"""Naming things back to the user: the "did you mean" hint of a one-line error, whether a
reference to a shipped data file (a profile, a contract model) is a name or a path, and where
a YAML file is broken.

Standard library only, so that every layer may use it (scenario loading stays free of numpy).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from pathlib import Path


def did_you_mean(word: object, choices: Sequence[str]) -> str:
    """``"did you mean 'x'? "`` for the choice closest to ``word``, or ``""``.

    >>> did_you_mean("sever-8core", ["reference-2core", "server-8core"])
    "did you mean 'server-8core'? "
    >>> did_you_mean("zzz", ["reference-2core"])
    ''
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def looks_like_name(ref: object, text: str) -> bool:
    """Whether ``ref`` (given as ``text``), which is no existing file, was meant as a shipped
    name rather than a path: a string without a folder separator or a YAML suffix.

    >>> looks_like_name("DagTransfer", "DagTransfer"), looks_like_name("my/T.yaml", "my/T.yaml")
    (True, False)
    """
    return (isinstance(ref, str) and "/" not in text and os.sep not in text
            and Path(text).suffix.lower() not in (".yaml", ".yml"))


def yaml_problem(error: BaseException) -> tuple[int | None, str]:
    """The 1-based line and the problem of a YAML parse error (PyYAML's ``problem_mark`` and
    ``problem``), for a one-line message; the line is None when PyYAML gives none.

    >>> class Mark:
    ...     line = 4
    >>> class Broken(Exception):
    ...     problem_mark, problem = Mark(), "mapping values are not allowed here"
    >>> yaml_problem(Broken())
    (5, 'mapping values are not allowed here')
    """
    mark = getattr(error, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    return line, getattr(error, "problem", None) or "invalid YAML"


__all__ = ["did_you_mean", "looks_like_name", "yaml_problem"]
