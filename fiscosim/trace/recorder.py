"""Records a run's events as JSON lines: one object per event, times in whole microseconds.

Every line is ``{"t": <µs>, "event": <name>, "node": <network id>, ...fields}`` in the order
events happened (simpy's order, which is deterministic), so the same scenario and seed give a
byte-identical file. ``node`` is the node's position in the scenario (node0 is 0); events of a
sealer also carry ``sealer``, its consensus index (the nodeID order, docs/fisco-reference.md §1.3),
which is the number the PBFT core's texts use ("node 1 leads blocks 1..1"); -1 for an observer.

Events: ``send`` (one per destination), ``deliver`` or ``drop`` (exactly one per send),
``note`` (the PBFT core's own words: a code, a text and fields), ``timer_set``,
``timer_fired``, ``timer_cancelled``, ``seal``, ``seal_notified``, ``fetch``, ``execute``,
``commit``, ``admitted``, ``crash``, ``restart``, ``fault``.

When tracing is off no recorder exists and the runtime checks one ``None`` per event site, so
benchmarks pay nothing for it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from fiscosim.metrics.output import create_temporary


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"cannot put {type(value).__name__} into the trace")


class TraceRecorder:
    """Streams events to ``path`` through a temporary file renamed into place by :meth:`close`."""

    def __init__(self, path: str | os.PathLike, clock: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = create_temporary(self.path)
        self._file = os.fdopen(fd, "w", buffering=1 << 20)
        self._clock = clock
        self.events = 0

    def __call__(self, event: str, fields: dict) -> None:
        line = {"t": int(self._clock.now), "event": event, **fields}
        self._file.write(json.dumps(line, default=_plain, separators=(",", ":")))
        self._file.write("\n")
        self.events += 1

    def close(self) -> Path:
        """Finishes the file and moves it to its final name (or, failing that, removes it)."""
        try:
            self._file.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return self.path

    def abort(self) -> None:
        """Drops the partial trace (a failed run leaves no result files)."""
        try:
            # A full disk fails the final flush too; the file goes anyway.
            with contextlib.suppress(OSError):
                self._file.close()
        finally:
            self._tmp.unlink(missing_ok=True)
