"""The structured event trace of a run (JSON lines), for narration and teaching."""

from fiscosim.trace.recorder import TraceRecorder

__all__ = ["TraceRecorder"]
