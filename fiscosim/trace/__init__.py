"""A run's trace (``fiscosim-trace/1``, docs/trace.md), for narration and teaching.

- :mod:`fiscosim.trace.recorder` shapes the runtime's raw events into the file;
- :mod:`fiscosim.trace.events` names the format, ships its JSON Schema, reads and checks a file;
- :mod:`fiscosim.trace.narrate` words the PBFT core's events (English and Chinese,
  :mod:`fiscosim.trace.zh`); :mod:`fiscosim.trace.narration` tells a whole trace;
- :mod:`fiscosim.trace.export` writes it for Perfetto or Mermaid;
- :mod:`fiscosim.trace.lesson` places a lesson script's notes in a trace.
"""

from fiscosim.trace.recorder import TraceRecorder

__all__ = ["TraceRecorder"]
