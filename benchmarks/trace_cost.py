"""What a trace costs, counted in instructions: a short ``pbft-4-50k`` run without a trace and
with one, and the interpreter's start and imports alone, each under valgrind's callgrind
(instruction counts do not move with the machine's load, unlike seconds on a shared VM).

    python benchmarks/trace_cost.py                 # this checkout
    python benchmarks/trace_cost.py --tree /tmp/old # another checkout (a git worktree)

Each measurement is a fresh ``python -c`` under ``valgrind --tool=callgrind``; the run is
``duration_s=2, warmup_s=0.5, drain_s=0.5`` of ``scenarios/pbft-4-50k.yaml`` from ``--tree``.
Prints the three counts, the run's own share (total minus start-up) with and without a trace,
and the trace's records. Takes about 10 minutes on a 2-core machine. A benchmark: nothing is
asserted. Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = """
import sys
sys.path.insert(0, {tree!r})
from fiscosim import load_simulation
sim = load_simulation({tree!r} + "/scenarios/pbft-4-50k.yaml",
                      overrides={{"duration_s": 2, "warmup_s": 0.5, "drain_s": 0.5}})
import fiscosim.sim.simulation, fiscosim.metrics.summary
{action}
"""


def instructions(code: str, folder: Path) -> tuple[int, str]:
    """The instruction count of ``python -c code`` and what it printed."""
    out = folder / "callgrind.out"
    done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                           sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=folder)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1)), done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]),
                        help="the checkout whose fiscosim runs [default: this one]")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    tree = str(Path(args.tree).resolve())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        trace = folder / "run.trace.jsonl"
        start, _ = instructions(RUN.format(tree=tree, action="print('loaded')"), folder)
        plain, events = instructions(RUN.format(
            tree=tree, action="print(sim.run().summary['events'])"), folder)
        traced, traced_events = instructions(RUN.format(
            tree=tree, action=f"print(sim.run(trace={str(trace)!r}).summary['events'])"),
            folder)
        records = sum(1 for _ in trace.open()) - 1
        size = trace.stat().st_size
    run_plain, run_traced = plain - start, traced - start
    print(f"tree {tree}")
    print(f"start-up and imports: {start / 1e6:,.0f} M instructions")
    print(f"run without a trace:  {plain / 1e6:,.0f} M ({run_plain / 1e6:,.0f} M the run; "
          f"{events} events)")
    print(f"run with a trace:     {traced / 1e6:,.0f} M ({run_traced / 1e6:,.0f} M the run; "
          f"{traced_events} events; {records:,} records, {size / 1e3:,.0f} KB)")
    print(f"the trace costs {run_traced / run_plain - 1:+.1%} of the run")
    print(json.dumps({"start": start, "plain": plain, "traced": traced, "records": records,
                      "bytes": size}))


if __name__ == "__main__":
    main()
