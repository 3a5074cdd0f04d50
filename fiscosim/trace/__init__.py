"""The structured event trace of a run (JSON lines), for narration and teaching.

- :mod:`fiscosim.trace.recorder` writes the file;
- :mod:`fiscosim.trace.narrate` words the PBFT core's events (the ``note`` lines' texts).
"""

from fiscosim.trace.recorder import TraceRecorder

__all__ = ["TraceRecorder"]
