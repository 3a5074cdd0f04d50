"""Which callbacks a run's simpy steps run, counted: where a scenario's events come from.

    python benchmarks/event_tally.py scenarios/pbft-100-2k.yaml duration_s=3 warmup_s=1 drain_s=1

Prints the summary's events, blocks, TPS and messages, then the 25 commonest callbacks of
simpy's queue with their counts (``NodeContext._if_alive``: a CPU task finishing, whatever it
was; ``Network._wake``: the network delivering what is due; ``Timer._fire``: a timer). The
network's deliveries are not simpy steps (it runs them from its own queues) and are not in the
tally; the summary's ``events`` counts them too (docs/performance.md, "Speed and memory").
Counting wraps ``CountingEnvironment.step`` and costs time: do not time a run with it.
"""

from __future__ import annotations

import collections
import json
import sys

from fiscosim import load_simulation
from fiscosim.engine import environment


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    tally: collections.Counter[str] = collections.Counter()
    step = environment.CountingEnvironment.step

    def counted(env: environment.CountingEnvironment) -> None:
        queue = env._queue
        if queue:
            event = queue[0][3]
            fn = getattr(event, "_fn", None)
            if fn is not None:
                name = getattr(fn, "__qualname__", repr(fn))
            else:
                callbacks = getattr(event, "callbacks", None) or []
                name = type(event).__name__ + ":" + ",".join(
                    getattr(c, "__qualname__", type(c).__name__) for c in callbacks[:2])
            tally[name] += 1
        step(env)

    environment.CountingEnvironment.step = counted  # type: ignore[method-assign]
    summary = load_simulation(sys.argv[1], overrides=sys.argv[2:]).run().summary
    print(json.dumps({k: summary[k] for k in ("events", "blocks", "tps", "messages_total")}))
    for name, count in tally.most_common(25):
        print(f"{count:>11,}  {name}")


if __name__ == "__main__":
    main()
