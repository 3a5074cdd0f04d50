"""The ``fiscosim`` command line: run scenarios, benchmark the verification core, calibrate.

Commands print a short rich report; ``--json`` makes the last printed line one JSON object that
scripts can parse. Every error is one line on stderr, ``error: <file or option>: <problem>
(<fix>)``, never a traceback or click's usage block; exit codes are in :data:`EXIT_CODES`.
A run writes its result files and its trace atomically and, stopped or failing, writes none.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

import click
from rich.console import Console
from rich.table import Table

from fiscosim.crypto.suite import SUITE_NAMES
from fiscosim.version import __version__

console = Console(stderr=False)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNSAFE = 3
EXIT_TIMEOUT = 124
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
EXIT_CODES = {
    EXIT_OK: "the run finished (and safety held)",
    EXIT_FAILED: "fiscosim fuzz: a run lost liveness; fiscosim compare-published: a check "
                 "row is outside its tolerance",
    EXIT_USAGE: "bad input: a scenario, an option, an --out or --trace path",
    EXIT_UNSAFE: "safety violated (two honest nodes committed different blocks)",
    EXIT_TIMEOUT: "stopped by --timeout (as timeout(1) exits)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (SIGINT; 128 + 2)",
    EXIT_TERMINATED: "terminated by SIGTERM (128 + 15)",
}
"""Exit codes of every command, shown by ``fiscosim run --help`` and docs/cli.md."""

RESULT_FILES = ("summary.json", "blocks.csv", "manifest.json")


# -- one-line errors ---------------------------------------------------------------------------


class Failure(click.ClickException):
    """An error a command reports itself: one line ``error: <message>`` and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _clause(text: str) -> str:
    """click's sentence ("Got unexpected extra argument.") as a clause after "error: "."""
    text = _one_line(text).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


def _bounds(kind: click.IntRange | click.FloatRange) -> str:
    low = None if kind.min is None else f"{'>' if kind.min_open else '>='} {kind.min:g}"
    high = None if kind.max is None else f"{'<' if kind.max_open else '<='} {kind.max:g}"
    return " and ".join(part for part in (low, high) if part)


def _fix_for(param: click.Parameter | None) -> str:
    """What to write instead, from the parameter's type ('' where click's message says it)."""
    kind = param.type if param is not None else None
    fix = getattr(kind, "fix", "")
    if fix:
        return fix
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        noun = "a whole number" if isinstance(kind, click.IntRange) else "a number"
        return f"give {noun} {_bounds(kind)}".rstrip()
    if isinstance(kind, click.types.IntParamType):
        return "give a whole number"
    if isinstance(kind, click.types.FloatParamType):
        return "give a number"
    return ""


def _param_name(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def usage_line(error: click.UsageError) -> str:
    """click's usage error as one line: ``error: <option>: <problem> (<fix>)``."""
    command = error.ctx.command_path if error.ctx is not None else "fiscosim"
    help_hint = f"see '{command} --help'"
    name, fix = "", ""
    if isinstance(error, click.BadParameter) and not isinstance(error, click.MissingParameter):
        if error.param is not None:
            name, fix = _param_name(error.param), _fix_for(error.param)
        elif isinstance(error.param_hint, str):
            name = error.param_hint
        problem = error.message
    elif isinstance(error, click.NoSuchOption):
        name, problem = error.option_name, "no such option"
        if error.possibilities:
            fix = "did you mean " + " or ".join(error.possibilities) + "?"
    elif isinstance(error, click.exceptions.NoSuchCommand):
        name, problem = error.command_name, "no such command"
        if error.possibilities:
            fix = "did you mean " + " or ".join(error.possibilities) + "?"
    elif isinstance(error, click.BadOptionUsage):
        name, problem = error.option_name, error.message.replace(f"'{error.option_name}' ", "")
    else:
        problem = error.format_message()
    problem = _clause(problem)
    fix = f"{fix} {help_hint}" if fix.endswith("?") else "; ".join(filter(None, (fix, help_hint)))
    return "error: " + (f"{name}: " if name else "") + f"{problem} ({fix})"


class _Interrupted(click.ClickException):
    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


class OneLineErrors(click.Group):
    """A click group whose every error, in any of its commands, is one line on stderr.

    click prints a usage error as its usage block, a hint and the message, and Ctrl-C as a
    blank line and "Aborted!" with exit code 1; scripts and people read one line better, so
    :meth:`main` runs click in non-standalone mode and reports the errors itself.
    """

    group_class = type  # sub-groups (bench) are OneLineErrors too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # click would print a blank line before "Aborted!"; catching it first avoids that.
            raise _Interrupted() from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()  # plain "fiscosim" or "fiscosim bench": the help, as click shows it
            sys.exit(error.exit_code)
        except click.UsageError as error:
            click.echo(usage_line(error), err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            click.echo(f"error: {_one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


class Duration(click.ParamType):
    """A wall-clock duration: ``90`` or ``90s`` (seconds), ``5m``, ``1.5h``; in seconds."""

    name = "duration"
    fix = "give seconds or a number with a unit: 90, 90s, 5m, 1h"
    _UNITS: ClassVar[dict[str | None, int]] = {None: 1, "s": 1, "m": 60, "h": 3600}

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        else:
            match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([smh])?\s*", str(value).lower())
            if match is None:
                self.fail(f"{value!r} is not a duration", param, ctx)
            seconds = float(match[1]) * self._UNITS[match[2]]
        if not (math.isfinite(seconds) and 0 < seconds <= 1e7):
            self.fail(f"{value!r} is not in 0 < duration <= 10,000,000 s", param, ctx)
        return seconds


# -- the group ---------------------------------------------------------------------------------


@click.group("fiscosim", cls=OneLineErrors,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fiscosim")
def main() -> None:
    """fiscosim: a simulator of FISCO BCOS-style consortium blockchains.

    "fiscosim run" runs a scenario, a file or a shipped scenario's name (quickstart by
    default; "fiscosim scenarios" lists them), and prints a report; "fiscosim bench verify"
    measures the real signature-verification core against FISCO BCOS 3.0's 50,000 TPS.
    Errors are one line on stderr; "fiscosim run --help" lists the exit codes.
    """


DEFAULT_SCENARIO = "quickstart"
"""The shipped scenario a command runs without a SCENARIO argument."""

_LOCAL_DEFAULT = Path("scenarios") / f"{DEFAULT_SCENARIO}.yaml"


def _default_scenario() -> Path:
    """./scenarios/quickstart.yaml where there is one (a clone, or a user's copy of the
    folder, as before names), else the shipped quickstart scenario."""
    if _LOCAL_DEFAULT.is_file():
        return _LOCAL_DEFAULT
    from fiscosim.scenario import ScenarioError, resolve_scenario

    try:
        return resolve_scenario(DEFAULT_SCENARIO)
    except ScenarioError as error:
        raise Failure(str(error)) from None


def _scenario_arg(scenario: str | None) -> tuple[str | Path, Path]:
    """A command's SCENARIO argument: what to load (the argument as given, so that errors
    name it as the user wrote it; the default's file) and the file it names. Raises
    :class:`Failure` (one line, exit code 2) for neither a file nor a shipped scenario."""
    if scenario is None:
        path = _default_scenario()
        return path, path
    from fiscosim.scenario import ScenarioError, resolve_scenario

    try:
        return scenario, resolve_scenario(scenario)
    except ScenarioError as error:
        raise Failure(str(error)) from None


def _has_sweep(path: Path) -> bool:
    """Whether the scenario file holds a sweep: block (then ``run`` runs its base once)."""
    from fiscosim.scenario import ScenarioError, read_scenario_data

    try:
        return "sweep" in read_scenario_data(path)
    except ScenarioError:
        return False


# -- run: the paths it writes, checked before it starts ----------------------------------------


def _missing_folders(folder: Path) -> tuple[list[Path], Path]:
    """The folders a run would have to create for ``folder`` (deepest first) and the nearest
    one that exists."""
    missing = []
    while not os.path.lexists(folder):
        missing.append(folder)
        folder = folder.parent
    return missing, folder


def _probe(folder: Path, missing: bool) -> None:
    """Creates and removes a temporary entry in ``folder``: the only sure test of writing
    (permissions, read-only mounts, /proc, root's exemptions all answer here)."""
    from fiscosim.metrics.output import create_temporary, temporary_name

    if missing:  # the run will create a folder here
        probe = temporary_name(folder / "probe")
        probe.mkdir()
        probe.rmdir()
    else:
        fd, tmp = create_temporary(folder / "probe")
        os.close(fd)
        tmp.unlink()


def check_out_folder(out: str) -> list[Path]:
    """Checks that ``--out`` can take the result files; returns the folders it would create.

    Raises :class:`Failure` (one line) for a file, a device, a path under a file or a folder
    that cannot be written, before the run rather than after it.
    """
    folder = Path(out)
    fix = "give a folder for summary.json, blocks.csv and manifest.json"
    try:
        missing, existing = _missing_folders(folder)
        if not existing.is_dir():
            where = "" if existing == folder else f"{out}: "
            raise Failure(f"--out: {where}{existing} is not a folder ({fix})")
        for name in RESULT_FILES:
            if not missing and (folder / name).is_dir():
                raise Failure(f"--out: {folder / name} is a folder, where the run writes a file "
                              f"(remove it or choose another --out)")
        _probe(existing, bool(missing))
    except OSError as error:
        raise Failure(f"--out: cannot write into {out}: {error.strerror or error} "
                      f"(choose a writable folder)") from None
    return missing


def check_trace_file(trace: str, scenario: Path, out: str | None,
                     option: str = "--trace", example: str = "trace.jsonl") -> list[Path]:
    """Checks that ``--trace`` (or ``option``, another file a run writes) can be written;
    returns the folders it would create."""
    path = Path(trace)
    fix = f"give a file name such as {example}"
    try:
        if path.is_dir():
            raise Failure(f"{option}: {trace} is a folder ({fix})")
        if os.path.lexists(path) and not path.is_file():
            raise Failure(f"{option}: {trace} is not a regular file ({fix})")
        resolved = path.resolve()
        if resolved == scenario.resolve():
            raise Failure(f"{option}: {trace} is the scenario file ({fix})")
        if out is not None and resolved in {(Path(out) / name).resolve() for name in RESULT_FILES}:
            raise Failure(f"{option}: {trace} is one of the files --out writes ({fix})")
        missing, existing = _missing_folders(path.parent)
        if not existing.is_dir():
            raise Failure(f"{option}: {trace}: {existing} is not a folder ({fix})")
        _probe(existing, bool(missing))
    except OSError as error:
        raise Failure(f"{option}: cannot write {trace}: {error.strerror or error} "
                      f"(choose a writable path)") from None
    return missing


# -- run: stopping cleanly ---------------------------------------------------------------------


class _Stop(BaseException):
    """Raised in the main thread by SIGINT, SIGTERM or the --timeout alarm during a run.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` in the
    simulation swallows it; the writers' ``except BaseException`` clean-ups all run.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class RunGuard:
    """Turns SIGINT, SIGTERM and a wall-clock alarm into :class:`_Stop` while it is armed.

    Disarmed (once the results are written), a signal is only remembered: the run is complete,
    and an exception then could only turn written results into a failed run. SIGTERM's
    default would kill the process at once and leave the temporaries behind.
    """

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s
        self.armed = False
        self.late: int | None = None
        self._saved: dict[int, Any] = {}
        self._outer_timer: tuple[float, float] = (0.0, 0.0)
        self._started = 0.0

    def __enter__(self) -> RunGuard:
        if threading.current_thread() is not threading.main_thread():
            # Python runs signal handlers in the main thread only.
            if self.timeout_s is not None:
                raise Failure("--timeout: works only in the main thread of a process "
                              "(run fiscosim as a command, or without --timeout)")
            return self
        # A signal the parent set to be ignored (nohup, a background job) stays ignored.
        signals = [s for s in (signal.SIGINT, signal.SIGTERM)
                   if signal.getsignal(s) is not signal.SIG_IGN]
        if self.timeout_s is not None:
            signals.append(signal.SIGALRM)
        for signum in signals:
            self._saved[signum] = signal.signal(signum, self._handle)
        self.armed = True
        if self.timeout_s is not None:
            self._started = time.monotonic()
            self._outer_timer = signal.setitimer(signal.ITIMER_REAL, self.timeout_s)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.armed:
            self.late = signum
            return
        self.armed = False  # a second Ctrl-C must not cut the clean-up short
        raise _Stop(signum)

    def disarm(self) -> None:
        self.armed = False
        if signal.SIGALRM in self._saved:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, *exc: object) -> None:
        self.disarm()
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()
        # A caller's own alarm (pytest-timeout, an embedding program) resumes where it was.
        delay, interval = self._outer_timer
        if delay > 0:
            left = delay - (time.monotonic() - self._started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns


@contextlib.contextmanager
def _nothing_left(out: str | None, trace: str | None, created: list[Path],
                  html: str | None = None) -> Iterator[None]:
    """On any failure inside, removes what the run wrote: a trace (or viewer) already renamed
    into place, this process's temporaries and the folders it created (only if empty)."""
    files = [Path(name) for name in (trace, html) if name is not None]
    before = [_stat(path) for path in files]
    try:
        yield
    except BaseException:
        from fiscosim.metrics.output import remove_stale_temporaries

        # The writers remove their own files when stopped; this catches a stop that came
        # between a file's creation and its writer's try (and a trace closed just before it).
        for path, stat in zip(files, before, strict=True):
            if _stat(path) not in (None, stat):
                path.unlink(missing_ok=True)
            remove_stale_temporaries(path.parent, own=True)
        if out is not None:
            remove_stale_temporaries(out, own=True)
        for folder in sorted(created, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


# -- run ---------------------------------------------------------------------------------------


def _exit_codes_epilog() -> str:
    rows = "\n".join(f"  {code:<4} {what}" for code, what in EXIT_CODES.items()
                     if code != EXIT_FAILED)
    return ("Every error is one line on stderr; a run that fails or is stopped writes no "
            "files.\n\n\b\nExit codes:\n" + rows)


def _dry_run(simulation: Any, path: Path, quiet: bool, as_json: bool) -> None:
    """Prints the resolved scenario's size and what running it is expected to need."""
    from fiscosim.schema import scenario_digest
    from fiscosim.sim.estimate import estimate_run

    scenario = simulation.scenario
    groups = scenario.group_specs()
    counts = {role: sum(len(getattr(g, role)) for g in groups)
              for role in ("sealers", "observers", "light")}
    nodes = len(scenario.nodes.specs())
    offered = round(sum(g.workload.rate_tps for g in groups) * scenario.duration_s)
    estimate = estimate_run(scenario)
    if not quiet:
        roles = ", ".join(f"{n} {role}" for role, n in counts.items() if n)
        # click.echo, not rich: a pipe would get these lines wrapped at 80 columns.
        click.echo(f"scenario {scenario.name} ({path}) is valid: {nodes} nodes ({roles}), "
                   f"{len(groups)} group{'s' if len(groups) != 1 else ''}, "
                   f"{scenario.duration_s:g} s of workload + {scenario.drain_s:g} s drain, "
                   f"{offered:,} transactions offered")
        click.echo(f"estimate: {estimate.describe()}")
        from fiscosim.schema import ScenarioError
        from fiscosim.sim.estimate import check_fits

        try:
            check_fits(scenario, str(path))
        except ScenarioError as error:
            click.echo(f"a run would be refused: {error} (or run with --no-memory-check)")
    if as_json:
        sys.stdout.write(json.dumps({
            "dry_run": True, "scenario": scenario.name,
            "scenario_digest": scenario_digest(scenario), "seed": scenario.seed,
            "nodes": nodes, **counts, "groups": len(groups),
            "duration_s": scenario.duration_s, "drain_s": scenario.drain_s,
            "offered_txs": offered, "events": estimate.events,
            "peak_bytes": estimate.peak_bytes,
        }) + "\n")


@main.command(epilog=_exit_codes_epilog())
@click.argument("scenario", required=False, type=click.Path())
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Replace the scenario's seed."
)
@click.option("--out", metavar="FOLDER", default=None,
              help="Write summary.json, blocks.csv and manifest.json into this folder.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a scenario field, e.g. --set workload.rate_tps=20000 (repeatable).")
@click.option("--trace", metavar="FILE", default=None,
              help="Record the run's trace into FILE (fiscosim-trace/1, docs/trace.md: "
                   "consensus messages, quorums, timers, execution, ledger; FILE.gz is "
                   "compressed); read it with fiscosim trace narrate.")
@click.option("--html", metavar="FILE", default=None,
              help="Write the run's offline HTML viewer (docs/viewer.md) into FILE; a lesson "
                   "scenario (teach/...) brings its lesson's notes and questions.")
@click.option("--json", "as_json", is_flag=True, help="End with the summary as one JSON line.")
@click.option("--quiet", is_flag=True, help="No progress bar and no report table.")
@click.option("--dry-run", is_flag=True,
              help="Validate the scenario and the --out/--trace paths, print the run's size "
                   "(nodes, events, memory) and exit without running.")
@click.option("--timeout", type=Duration(), default=None, metavar="DURATION",
              help="Stop a run that takes longer than this (wall clock: 90, 90s, 5m, 1h); "
                   "exit code 124, no files written.")
@click.option("--no-memory-check", is_flag=True,
              help="Run even when the estimated peak memory exceeds what this machine has "
                   "free (the estimate ignores swap).")
def run(scenario: str | None, seed: int | None, out: str | None, overrides: tuple[str, ...],
        trace: str | None, html: str | None, as_json: bool, quiet: bool, dry_run: bool,
        timeout: float | None, no_memory_check: bool) -> None:
    """Run a scenario and print a report.

    SCENARIO is a scenario file or the name of a shipped scenario ("fiscosim scenarios" lists
    them; an existing file beats a name) [default: quickstart].
    """
    from fiscosim.metrics.output import remove_stale_temporaries
    from fiscosim.metrics.report import print_report
    from fiscosim.scenario import ScenarioError, load_simulation

    given, path = _scenario_arg(scenario)
    try:
        # A dry run shows the estimate of a run the memory check would refuse, and says so.
        simulation = load_simulation(given, seed=seed, overrides=list(overrides),
                                     check_memory=not (no_memory_check or dry_run))
    except ScenarioError as error:
        raise Failure(str(error)) from None
    simulation.command_line = list(sys.argv)  # for manifest.json
    for warning in simulation.scenario.warnings():
        click.echo(f"warning: {given}: {warning}", err=True)
    if _has_sweep(path):
        click.echo(f"note: {given} holds a sweep: block; this runs its base scenario once "
                   f"(run the sweep with: fiscosim sweep {given})", err=True)
    # Everything that can be checked is checked before the run, not found after it.
    created = check_out_folder(out) if out is not None else []
    if (trace is not None or html is not None) \
            and simulation.scenario.network.votes == "aggregate":
        from fiscosim.net.aggregate import TRACE_REFUSED

        raise Failure(f"{given}: {TRACE_REFUSED}")
    if trace is not None:
        created += check_trace_file(trace, path, out)
    lesson = None
    if html is not None:
        created += check_trace_file(html, path, out, "--html", "run.html")
        if trace is not None and Path(html).resolve() == Path(trace).resolve():
            raise Failure(f"--html: {html} is the --trace file (give another name)")
        lesson = _lesson_of(path)
    if dry_run:
        _dry_run(simulation, path, quiet, as_json)
        return
    # Temporaries of killed runs (SIGKILL leaves them) in the folders this run writes.
    for folder in ([Path(out)] if out is not None else []) + (
            [Path(trace).parent] if trace is not None else []) + (
            [Path(html).parent] if html is not None else []):
        remove_stale_temporaries(folder)
    # the trace goes to --trace's file, or stays in memory for --html alone
    record: str | bool | None = trace if trace is not None else (True if html else None)
    total = simulation.scenario.duration_s + simulation.scenario.drain_s
    phase = "run"
    with RunGuard(timeout) as guard:
        try:
            with _nothing_left(out, trace, created, html):
                if quiet or total < 5:
                    result = simulation.run(trace=record)
                else:
                    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

                    with Progress(TextColumn("simulating"), BarColumn(),
                                  TextColumn("{task.completed:.1f}/{task.total:.1f} s simulated"),
                                  TimeElapsedColumn(), console=console, transient=True) as bar:
                        task = bar.add_task("run", total=total)
                        result = simulation.run(
                            trace=record,
                            progress=lambda done, _total: bar.update(task, completed=done))
                phase = "write"
                if out is not None:
                    result.write(out)
                if html is not None:
                    phase = "html"
                    _write_viewer(result, html, lesson)
                guard.disarm()
        except _Stop as stop:
            at = f"at simulated t = {simulation.sim_time_s:.1f} s"
            if stop.signum == signal.SIGALRM:
                raise Failure(f"stopped after the --timeout of {timeout:g} s {at}; "
                              "no files written", EXIT_TIMEOUT) from None
            if stop.signum == signal.SIGTERM:
                raise Failure(f"terminated by SIGTERM {at}; no files written",
                              EXIT_TERMINATED) from None
            raise Failure(f"interrupted {at}; no files written", EXIT_INTERRUPTED) from None
        except OSError as error:
            # A disk that fills up, a folder removed under the run: the writers are atomic and
            # _nothing_left removed the rest, so there are no partial files to mention.
            culprit = Path(error.filename) if error.filename else None
            if phase == "write":
                what = f"--out: cannot write into {out}"
            elif phase == "html":
                what = f"--html: cannot write {html}"
            elif trace is not None and (culprit is None or culprit.parent == Path(trace).parent):
                what = f"--trace: cannot write {trace}"
            else:  # not one of ours: a profile, the corpus cache
                raise Failure(f"{culprit or 'a file'}: {error.strerror or error} (check the "
                              "path and its permissions; no files written)") from None
            raise Failure(f"{what}: {error.strerror or error} (choose a writable path; "
                          "no files written)") from None
        if not quiet:
            # A pipe or a file gets the whole table on 140 columns rather than a wrapped 80.
            report = console if console.is_terminal else Console(width=140)
            print_report(result.summary, report)
            if out is not None:
                console.print(f"results: {out}/summary.json, blocks.csv, manifest.json")
            if trace is not None:
                console.print(f"trace: {trace}")
            if html is not None:
                console.print(f"viewer: {html}"
                              + (f" (lesson: {lesson})" if lesson is not None else ""))
        if as_json:
            sys.stdout.write(json.dumps(result.summary, sort_keys=False) + "\n")
    if result.summary["safety"]["ok"] is False:
        raise Failure("SAFETY VIOLATED: " + result.summary["safety"]["violations"][0],
                      EXIT_UNSAFE)


def _lesson_of(scenario: Path) -> Path | None:
    """The lesson script beside a scenario file (``normal4.yaml`` → ``normal4.lesson.yaml``)."""
    for suffix in (".yaml", ".yml"):
        candidate = scenario.with_name(scenario.stem + ".lesson" + suffix)
        if candidate.is_file():
            return candidate
    return None


def _write_viewer(result: Any, html: str, lesson: Path | None) -> None:
    """``--html``: the run's viewer, with the lesson's notes placed in its trace."""
    from fiscosim.trace.lesson import LessonError, load_lesson
    from fiscosim.trace.viewer import MAX_EVENTS, write_html

    trace = result.trace
    notes = None
    if lesson is not None:
        try:
            notes = load_lesson(lesson).place(trace)
        except LessonError as error:
            raise Failure(f"--html: {error}") from None
    if len(trace.records) > MAX_EVENTS:
        click.echo(f"warning: --html: the trace has {len(trace.records):,} records; the viewer "
                   f"shows the first {MAX_EVENTS:,} (run fewer blocks, e.g. --set "
                   "duration_s=..., or export a part with fiscosim trace export --blocks A:B)",
                   err=True)
    write_html(trace, html, notes)


_ROLE_NOUNS = {"sealer": "sealer", "observer": "observer", "light": "light node"}


@main.command("scenarios")
@click.option("--json", "as_json", is_flag=True,
              help="Print the list as one JSON line (name, description, nodes, roles, groups, "
                   "path) instead of the table.")
def scenarios_command(as_json: bool) -> None:
    """List the shipped scenarios, run by name.

    "fiscosim run NAME" (and capacity, corpus) takes a name from this list from any folder;
    a file of that name in the working folder comes first. In a clone of the repository the
    files are its scenarios/ folder.
    """
    from rich.markup import escape

    from fiscosim.scenario import describe_scenarios
    from fiscosim.scenario.library import scenario_folder

    infos = describe_scenarios()
    folder = scenario_folder()
    if as_json:
        click.echo(json.dumps({"folder": None if folder is None else str(folder),
                               "scenarios": [info.as_dict() for info in infos]},
                              ensure_ascii=False))
        return
    if not infos:
        raise Failure("this installation has no shipped scenarios (reinstall fiscosim; "
                      "'fiscosim run FILE' runs a scenario file)", EXIT_FAILED)
    # Every file is NAME.yaml in one folder: the caption says which, not a column of paths
    # that would squeeze the descriptions (--json has each path).
    table = Table(title="fiscosim's ready scenarios: fiscosim run NAME",
                  caption=f"from {folder}{os.sep}NAME.yaml", caption_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("nodes", no_wrap=True)
    table.add_column("description")
    for info in infos:
        if info.error is not None:
            nodes, about = "?", f"[red]does not load:[/] {escape(info.error)}"
        else:
            nodes = ", ".join(f"{count} {_ROLE_NOUNS.get(role, role)}{'s' if count != 1 else ''}"
                              for role, count in info.roles.items())
            if info.groups and info.groups > 1:
                nodes += f" ({info.groups} groups)"
            about = escape(info.description)
        table.add_row(escape(info.name), nodes, about)
    # A pipe or a file gets the whole table on 140 columns rather than a wrapped 80.
    (console if console.is_terminal else Console(width=140)).print(table, highlight=False)


@main.command()
@click.argument("scenario", required=False, type=click.Path())
@click.option("--suite", type=click.Choice(SUITE_NAMES), default=None,
              help="Crypto suite [default: the scenario's, else secp256k1].")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Transactions to sign [default: what the scenario needs, else 100,000].")
@click.option("--accounts", type=click.IntRange(min=1), default=None,
              help="Distinct senders [default: the scenario's, else 1,000].")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a scenario field, as for 'fiscosim run'.")
def corpus(scenario: str | None, suite: str | None, count: int | None, accounts: int | None,
           overrides: tuple[str, ...]) -> None:
    """Sign a corpus of transactions once, for real-crypto runs (cached on disk).

    With a SCENARIO (a file or a shipped scenario's name), signs what its real-crypto run
    needs; "fiscosim run" would build the same corpus on first use. The cache is
    $FISCOSIM_CACHE or ~/.cache/fiscosim/corpus.
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from fiscosim.scenario import ScenarioError, load_scenario
    from fiscosim.sim.realcrypto import CORPUS_SEED, corpus_size_for
    from fiscosim.workload.corpus import default_cache_dir, load_or_build

    chain_id, group_id = "chain0", "group0"
    if scenario is not None:
        try:
            loaded = load_scenario(scenario, list(overrides))
        except ScenarioError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        suite = suite or loaded.chain.crypto_suite
        count = count or corpus_size_for(loaded)
        accounts = accounts or loaded.workload.accounts
        chain_id, group_id = loaded.group.chain_id, loaded.group.id
    suite, count, accounts = suite or "secp256k1", count or 100_000, accounts or 1000
    started = time.perf_counter()
    with Progress(TextColumn(f"signing {suite}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("sign", total=count)
        built = load_or_build(suite, count, accounts=accounts, seed=CORPUS_SEED,
                              chain_id=chain_id, group_id=group_id,
                              progress=lambda done, total: bar.update(task, completed=done))
    elapsed = time.perf_counter() - started
    console.print(f"corpus: {len(built):,} {suite} transactions by {accounts:,} accounts in "
                  f"{default_cache_dir()} ({elapsed:.1f} s)")


@main.command()
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Random fault schedules to run (seeds SEED, SEED+1, ...).")
@click.option("--nodes", type=click.IntRange(min=4), default=4, show_default=True,
              help="Sealers per run (at most f = (n-1)//3 of them faulty).")
@click.option("--duration", type=click.FloatRange(min=4), default=20.0, show_default=True,
              help="Simulated seconds per run; faults heal by half of it.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="First seed.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes [default: every core].")
@click.option("--byzantine", is_flag=True,
              help="Faulty nodes may also be byzantine (equivocate, stay silent, forge, ...).")
@click.option("--loss", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0,
              show_default=True,
              help="Steady message loss on every link for the whole run (besides the faults).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=200.0,
              show_default=True, help="Offered load, transactions per second.")
@click.option("--chain-version", default=None, metavar="RELEASE",
              help="The FISCO BCOS release modelled, as chain.version takes it ('2.9', "
                   "'3.4'...'3.16') [default: the scenario default, '3.7'].")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def fuzz(runs: int, nodes: int, duration: float, seed: int, workers: int | None,
         byzantine: bool, loss: float, rate: float, chain_version: str | None,
         as_json: bool) -> None:
    """Run random fault schedules; report every seed that breaks safety or liveness.

    Also reports how long the chain went without a block after the last fault healed (the
    stall no fault explains), as percentiles over the runs. A run fails when it breaks safety,
    commits nothing in the last part of the run, or stalls after the heal for longer than
    twice the view timeout then in force (backed off by the faults). Exit code 1 when any run
    fails, 3 when any run breaks safety.
    """
    import os
    import time

    import numpy as np
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from fiscosim.schema import ScenarioError
    from fiscosim.sim.fuzz import fuzz as fuzz_runs
    from fiscosim.sim.fuzz import fuzz_scenario

    try:  # a release name is checked before any run starts
        fuzz_scenario(seed, nodes, duration, rate, [], loss, chain_version)
    except ScenarioError as error:
        fix = f" ({error.fix})" if error.fix else ""
        raise Failure(f"--chain-version {chain_version!r}: {error.problem}{fix}") from None
    workers = workers or len(os.sched_getaffinity(0))
    started = time.perf_counter()
    with Progress(TextColumn("fuzzing"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("fuzz", total=runs)
        outcomes = fuzz_runs(runs, nodes, duration, seed, workers,
                             progress=lambda done: bar.update(task, completed=done),
                             byzantine=byzantine, rate_tps=rate, loss_rate=loss,
                             chain_version=chain_version)
    elapsed = time.perf_counter() - started
    unsafe = [o for o in outcomes if not o.safe]
    stuck = [o for o in outcomes if o.safe and not o.live]
    slow = [o for o in outcomes if o.safe and o.live and not o.stall_within_bound]
    setting = f"{nodes} sealers, {duration:g} s each, {rate:g} TPS" + (
        f", {loss:g} loss" if loss else "")
    table = Table(title=f"fiscosim fuzz: {runs} runs of {setting}")
    for column in ("seed", "result", "blocks", "max stall (s)", "after heal (s)", "faults"):
        table.add_column(column)
    for outcome in (unsafe + stuck + slow)[:30]:
        result = ("SAFETY VIOLATED" if not outcome.safe else "no liveness" if not outcome.live
                  else f"slow: > 2 × {outcome.timeout_at_heal_s:g} s")
        table.add_row(str(outcome.seed), result, str(outcome.blocks),
                      f"{outcome.max_stall_s:.2f}", f"{outcome.stall_after_heal_s:.2f}",
                      "; ".join(f"{f['kind']}@{f['at_s']}" for f in outcome.faults))
    if unsafe or stuck or slow:
        console.print(table)
    after = np.array([o.stall_after_heal_s for o in outcomes])
    quantiles = {name: round(float(np.quantile(after, q)), 3)
                 for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))}
    worst = max(outcomes, key=lambda o: (o.stall_after_heal_s, -o.seed))
    console.print(f"{runs} runs in {elapsed:.1f} s on {workers} workers: {len(unsafe)} unsafe, "
                  f"{len(stuck)} without liveness after the faults healed, {len(slow)} stalled "
                  "after the heal for longer than twice the backed-off view timeout")
    console.print("longest stall after the last heal (s): "
                  + ", ".join(f"{k} {v:g}" for k, v in quantiles.items())
                  + f" (seed {worst.seed})")
    if as_json:
        sys.stdout.write(json.dumps({
            "runs": runs, "nodes": nodes, "duration_s": duration, "byzantine": byzantine,
            "rate_tps": rate, "loss_rate": loss, "wall_s": round(elapsed, 2),
            "workers": workers, "unsafe_seeds": [o.seed for o in unsafe],
            "stuck_seeds": [o.seed for o in stuck], "slow_seeds": [o.seed for o in slow],
            "stall_after_heal_s": quantiles, "worst_stall_seed": worst.seed,
            "stalls_after_heal_s": {str(o.seed): o.stall_after_heal_s for o in outcomes
                                    if o.stall_after_heal_s > 3.0}}) + "\n")
    if unsafe:
        sys.exit(3)
    if stuck or slow:
        sys.exit(1)


@main.group()
def bench() -> None:
    """Measure the real cryptographic core on this machine."""


@bench.command("verify")
@click.option(
    "--suite",
    type=click.Choice(SUITE_NAMES),
    default="secp256k1",
    show_default=True,
    help="secp256k1 (FISCO's default) or sm2 (guomi mode).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Cores to use [default: every core this process may run on].",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="Distinct signatures per verify_batch call.",
)
@click.option(
    "--mode",
    type=click.Choice(["processes", "threads"]),
    default="processes",
    show_default=True,
    help="Worker kind of the pool.",
)
@click.option(
    "--backend",
    default=None,
    help="Force a backend (sm2: crypto_mb, ipp, fallback or tables) [default: fastest available].",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Minimum measuring time of the core.",
)
@click.option(
    "--paths",
    is_flag=True,
    help="Also measure every verification path side by side, whatever --suite: secp256k1 "
    "recovery on 1 and --workers workers; the batch verifier behind a sender cache (warm, "
    "cold, 256 repeated senders, 1/4/16 bad signatures; warm also sharded over --workers); "
    "SM2 with each backend available here on 1 and --workers workers. The paths share "
    "--seconds in alternation, 3 rounds each at least (one round of all of them takes about "
    "2.5 s at batch 4,096 on 2 cores): --paths adds about 12 s there, 4-5 s of it signing "
    "the corpora.",
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_verify(
    suite: str,
    workers: int | None,
    batch: int,
    mode: str,
    backend: str | None,
    seconds: float,
    paths: bool,
    as_json: bool,
) -> None:
    """Verified signatures per second of the batch core against the 50,000 TPS target."""
    from fiscosim.crypto.throughput import measure_paths, measure_verify

    try:
        with console.status(f"measuring {suite} verification on {workers or 'all'} cores..."):
            result = measure_verify(suite, workers, batch, mode, min_seconds=seconds,
                                    backend=backend)  # fmt: skip
            side_by_side = (measure_paths(workers, batch, mode, min_seconds=seconds)
                            if paths else None)  # fmt: skip
    except (ValueError, RuntimeError) as error:
        raise click.UsageError(str(error)) from None
    table = Table(title=f"fiscosim bench verify — {result.suite}", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("backend", result.backend)
    table.add_row("workers × mode", f"{result.workers} × {result.mode}")
    table.add_row("batch", f"{result.batch:,}")
    table.add_row("core: verified signatures/s", f"{result.verifications_per_s:,.0f}")
    table.add_row("single-core native reference/s", f"{result.single_core_per_s:,.0f}")
    table.add_row("parallel efficiency", f"{result.parallel_efficiency:.3f}")
    if result.address_overhead is not None:
        table.add_row("recover → address overhead", f"{result.address_overhead:.1%}")
    table.add_row("target (FISCO BCOS 3.0)", f"{result.target_per_s:,}/s")
    table.add_row("ratio to target", f"{result.target_ratio:.2f}×")
    table.add_row("cores this rate needs for the target", str(result.cores_for_target))
    table.add_row("machine", f"{result.cpu_model}, {result.cpu_count} cores")
    console.print(table)
    report = result.as_dict()
    if side_by_side is not None:
        paths_table = Table(title="verification paths, side by side (secp256k1 and sm2)",
                            show_header=True)
        for column in ("path", "verified/s", "batch", "senders", "bad", "workers"):
            paths_table.add_column(column, justify="left" if column == "path" else "right",
                                   no_wrap=column == "path")
        for figure in side_by_side.paths:
            paths_table.add_row(figure.path, f"{figure.verified_per_s:,.0f}",
                                f"{figure.batch:,}", f"{figure.senders:,}", str(figure.bad),
                                str(figure.workers))
        console.print(paths_table)
        if not side_by_side.measured:
            console.print(f"batch paths not measured: {side_by_side.batch_backend}")
        else:
            console.print(f"batch backend: {side_by_side.batch_backend}")
        for name, why in side_by_side.sm2_unavailable.items():
            console.print(f"sm2 {name}: not available: {why}")
        report |= side_by_side.as_dict()
    if as_json:
        sys.stdout.write(json.dumps(report, sort_keys=False) + "\n")


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    default="hardware-profile.yaml",
    show_default=True,
    help="Where to write the profile (written atomically).",
)
@click.option("--name", default=None, help="Profile name [default: this host's CPU model].")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    help="Minimum measuring time of each crypto and msgpack figure, split over its repeats.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1, max=1000),
    default=5,
    show_default=True,
    help="Measure every figure this many times; the profile keeps the median.",
)
@click.option(
    "--cores",
    type=click.IntRange(min=1, max=256),
    default=None,
    help="Cores of the target machine, written as the profile's cores [default: this host's].",
)
@click.option(
    "--evm/--no-evm",
    default=True,
    show_default=True,
    help="Measure the Solidity workloads in revm (needs the calibrate extra).",
)
@click.option(
    "--storage/--no-storage",
    default=True,
    show_default=True,
    help="Measure RocksDB block commits and reads (needs the calibrate extra).",
)
@click.option(
    "--evm-batch",
    type=click.IntRange(min=4, max=100_000),
    default=200,
    show_default=True,
    help="Calls per batch of each contract method (CPU-heavy methods run fewer).",
)
@click.option(
    "--storage-block-txs",
    type=click.IntRange(min=1, max=100_000),
    default=1000,
    show_default=True,
    help="Transactions per measured block (4 changed keys each, plus 6 per block).",
)
@click.option(
    "--storage-dir",
    type=click.Path(file_okay=False, exists=True, writable=True),
    default=None,
    help="Folder for the temporary RocksDB (removed afterwards) [default: the system's "
    "temporary folder]; put it on the disk a node would use.",
)
def calibrate(out: str, name: str | None, seconds: float, repeats: int, cores: int | None,
              evm: bool, storage: bool, evm_batch: int, storage_block_txs: int,
              storage_dir: str | None) -> None:  # fmt: skip
    """Measure this host's per-core costs and write a hardware profile (YAML).

    Every figure is measured --repeats times; the profile keeps the median and records min,
    max, a noise flag and the backend that ran (docs/profiles.md). With the calibrate extra
    it also measures Solidity workloads in revm and block commits in RocksDB.
    """
    from fiscosim.calibrate import calibrate_host, write_profile

    try:  # before minutes of measuring, not after them
        _, existing = _missing_folders(Path(out).parent)
        if not existing.is_dir():
            raise Failure(f"--out: {out}: {existing} is not a folder "
                          "(give a file path such as profiles/this-host.yaml)")
        _probe(existing, existing != Path(out).parent)
    except OSError as error:
        raise Failure(f"--out: cannot write {out}: {error.strerror or error} "
                      "(choose a writable path)") from None
    with console.status("calibrating...") as status:
        profile = calibrate_host(
            name=name, min_seconds=seconds, repeats=repeats, cores=cores, evm=evm,
            storage=storage, evm_batch=evm_batch, storage_block_txs=storage_block_txs,
            storage_dir=storage_dir,
            progress=lambda what: status.update(f"calibrating: {what}..."),
        )  # fmt: skip
    try:
        path = write_profile(profile, out)
    except OSError as error:
        raise Failure(f"--out {out}: cannot write the profile ({error.strerror or error}; "
                      "choose a writable path)") from None  # fmt: skip
    measured = profile["measured"]
    table = Table(title=f"hardware profile {profile['name']!r} → {path} "
                        f"(cores {profile['cores']}, {repeats} runs each)")  # fmt: skip
    table.add_column("cost (one core)")
    table.add_column("µs median", justify="right")
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    table.add_column("backend")
    for key, record in measured["provenance"].items():
        flag = " [red]noisy[/]" if record["noisy"] else ""
        backend = record["backend"] + (" [yellow](fallback)[/]" if record.get("fallback") else "")
        table.add_row(key, f"{record['median']:.3f}{flag}", f"{record['min']:.3f}",
                      f"{record['max']:.3f}", backend)  # fmt: skip
    console.print(table)
    if "evm" in measured:
        info = measured["evm_info"]
        evm_table = Table(title=f"contracts in {info['engine']}: per call, median")
        for column in ("contract", "method", "µs", "gas", "state"):
            evm_table.add_column(column, justify="right" if column in ("µs", "gas") else "left",
                                 overflow="fold")  # fmt: skip
        for contract, methods in measured["evm"].items():
            for index, (method, record) in enumerate(methods.items()):
                flag = " [red]noisy[/]" if record["noisy"] else ""
                evm_table.add_row(contract if index == 0 else "", method,
                                  f"{record['us']:.2f}{flag}", f"{record['gas']:,}",
                                  record["state"])  # fmt: skip
        console.print(evm_table)
        console.print(f"call floor (no code): {info['call_floor_us']['median']:.2f} µs; "
                      f"{info['compiler']}")  # fmt: skip
    if "storage" in measured:
        st = measured["storage"]
        block = st["block"]
        store_table = Table(title=f"{st['engine']} on {st['filesystem']}: a block of "
                                  f"{block['txs']:,} transactions, {block['keys']:,} keys")
        store_table.add_column("figure")
        store_table.add_column("µs median", justify="right")
        for key in ("prepare_us_per_key", "commit_us_per_key", "read_us_per_key",
                    "prepare_us_per_block", "commit_us_per_block", "prepare_commit_us_per_tx"):
            noisy = st["runs"].get(key, {}).get("noisy")
            store_table.add_row(key, f"{st[key]:,}" + (" [red]noisy[/]" if noisy else ""))
        console.print(store_table)
    for line in measured["warnings"]:
        console.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)




# -- fiscosim capacity (issue 16, part 2): its command goes below this line -------------------


class _RatePair(click.ParamType):
    """Two numbers ``A,B`` (``--bounds 500,200000``, ``--resolution 0.02,100``)."""

    name = "pair"

    def __init__(self, fix: str, whole: bool) -> None:
        self.fix = fix
        self.whole = whole

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        parts = str(value).replace(":", ",").split(",")
        try:
            numbers = tuple(float(part.strip().replace("_", "")) for part in parts)
        except ValueError:
            numbers = ()
        if len(numbers) != 2 or not all(math.isfinite(n) for n in numbers) or (
                self.whole and not all(n == int(n) for n in numbers)):
            self.fail(f"{value!r} is not two {'whole ' if self.whole else ''}numbers A,B",
                      param, ctx)
        return numbers  # type: ignore[return-value]


class _CriterionSetting(click.ParamType):
    """``NAME=VALUE``: a criterion of the capacity search and its threshold (``off``: none)."""

    name = "criterion"
    fix = ("give NAME=VALUE with NAME one of goodput_ratio, latency_ms.p50|p95|p99|mean|max, "
           "backlog_growth, rejected_ratio and VALUE a number or off")

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> tuple[str, float | None]:
        if isinstance(value, tuple):
            return value
        name, sep, text = str(value).partition("=")
        text = text.strip().lower()
        if not sep or not name.strip():
            self.fail(f"{value!r} is not NAME=VALUE", param, ctx)
        if text in ("off", "none", "null"):
            return name.strip(), None
        try:
            return name.strip(), float(text)
        except ValueError:
            self.fail(f"{text!r} is not a number", param, ctx)


class _PerRound(click.ParamType):
    """A whole number >= 1, or ``auto`` (one probe per worker)."""

    name = "count"
    fix = "give a whole number >= 1, or auto"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        if str(value).strip().lower() == "auto":
            return 0
        try:
            count = int(str(value))
        except ValueError:
            count = 0
        if count < 1:
            self.fail(f"{value!r} is not a whole number >= 1 or auto", param, ctx)
        return count


_SETTING_OPTIONS = {"start": "--start", "bounds": "--bounds", "growth": "--growth",
                    "resolution": "--resolution", "round_to": "--round-to",
                    "probes_per_round": "--probes-per-round"}


def _probe_line(probe: Any) -> str:
    """One probe as it completes: rate, verdict, the criteria's values, wall time."""
    shown = []
    for name, value in probe.values.items():
        if value is None:
            continue
        text = f"{value:,.0f} ms" if name.startswith("latency_ms.") else f"{value:.4g}"
        shown.append(f"{name.replace('latency_ms.', 'latency ')} {text}")
    verdict = "pass" if probe.passed else "FAIL (" + ", ".join(probe.failing) + ")"
    bound = f", bound by {probe.bound_by}" if probe.bound_by else ""
    return (f"probe {probe.rate:>9,} TPS: {verdict}; committed {probe.tps:,.0f} TPS; "
            + "; ".join(shown) + f"{bound} [{probe.wall_s:.1f} s]")


@main.command()
@click.argument("scenario", required=False, type=click.Path())
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a scenario field, as for 'fiscosim run' (e.g. --set duration_s=10 "
                   "for shorter probes).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Replace the scenario's seed (every probe runs with it).")
@click.option("--start", type=click.IntRange(min=1), default=None,
              help="First rate probed [default: the scenario's workload.rate_tps].")
@click.option("--bounds", type=_RatePair("give two whole rates LOW,HIGH, e.g. 500,200000",
                                         whole=True),
              default="500,200000", show_default=True, metavar="LOW,HIGH",
              help="The rates the search stays within.")
@click.option("--growth", type=click.FloatRange(min=1, min_open=True, max=1000), default=2.0,
              show_default=True, help="Bracketing factor: the rate is multiplied (divided) by "
                                      "this until a probe fails (passes).")
@click.option("--resolution", type=_RatePair("give RELATIVE,ABSOLUTE, e.g. 0.02,100",
                                             whole=False),
              default="0.02,100", show_default=True, metavar="REL,ABS",
              help="Stop when first failing - max sustainable <= max(REL x max sustainable, "
                   "ABS).")
@click.option("--round-to", type=click.IntRange(min=1), default=100, show_default=True,
              help="Probed rates are multiples of this.")
@click.option("--criterion", "criteria", multiple=True, type=_CriterionSetting(),
              metavar="NAME=VALUE",
              help="Change a criterion: goodput_ratio=0.98 (at least), latency_ms.p95=2000, "
                   "backlog_growth=0.01, rejected_ratio=0.001 (at most); VALUE off drops it "
                   "(repeatable).")
@click.option("--probes-per-round", type=_PerRound(), default="auto", show_default=True,
              help="Probes run at once per round (auto: one per worker); the answer is the "
                   "same for every value.")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
              help="Processes running probes [default: every core].")
@click.option("--json", "as_json", is_flag=True, help="End with the result as one JSON line.")
def capacity(scenario: str | None, overrides: tuple[str, ...], seed: int | None,
             start: int | None, bounds: tuple[float, float], growth: float,
             resolution: tuple[float, float], round_to: int,
             criteria: tuple[tuple[str, float | None], ...], probes_per_round: int,
             workers: int | None, as_json: bool) -> None:
    """Find the highest sustainable offered rate of a scenario (a file or a shipped scenario's
    name) [default: quickstart] by bracketing and bisection over whole runs (docs/capacity.md).

    A probe is a run at one workload.rate_tps; it passes when, over the measured window,
    goodput (committed / offered TPS) >= 0.98, latency p95 <= 2000 ms, the backlog grows by
    at most 1 % of the offered rate and at most 0.1 % of transactions are rejected. Prints
    the highest passing rate, the first failing one, the criterion it failed and the
    resource that saturated.
    """
    from fiscosim.scenario import ScenarioError, load_scenario
    from fiscosim.sim.capacity import (
        Criteria,
        SearchSettings,
        SettingsError,
        capacity_of,
        check_searchable,
        summary_line,
    )

    chosen = Criteria()
    for name, value in criteria:
        try:
            chosen = chosen.with_(name, value)
        except SettingsError as error:
            raise Failure(f"--criterion {name}: {error.problem} ({error.fix})") from None
    given, path = _scenario_arg(scenario)
    try:
        loaded = load_scenario(given, list(overrides) + ([f"seed={seed}"] if seed is not None
                                                         else []))
        check_searchable(loaded, str(given))
    except ScenarioError as error:
        raise Failure(str(error)) from None
    for warning in loaded.warnings():
        click.echo(f"warning: {given}: {warning}", err=True)
    workers = workers or len(os.sched_getaffinity(0))
    low, high = int(bounds[0]), int(bounds[1])
    if start is None:  # the scenario's own rate, inside the bounds
        start = min(max(round(loaded.workload.rate_tps), low), high)
    settings = SearchSettings(
        start=start, bounds=(low, high), growth=growth,
        resolution=(resolution[0], resolution[1]),
        round_to=round_to, probes_per_round=probes_per_round or workers)
    try:
        settings.check()
    except SettingsError as error:
        raise Failure(f"{_SETTING_OPTIONS[error.field]}: {error.problem} ({error.fix})") from None
    per_probe = loaded.duration_s + loaded.drain_s
    # click.echo, not rich, for the lines: a pipe would get them wrapped at 80 columns.
    click.echo(
        f"capacity of {loaded.name} ({path}): workload.rate_tps from {settings.start:,} within "
        f"[{low:,}, {high:,}], x{growth:g}, to max({resolution[0]:g} x rate, "
        f"{resolution[1]:g}) on multiples of {round_to:,}; {settings.probes_per_round} probe"
        f"{'s' if settings.probes_per_round != 1 else ''} per round on {workers} worker"
        f"{'s' if workers != 1 else ''}; each probe simulates {per_probe:g} s "
        f"({loaded.warmup_s:g} s warm-up)")
    started = time.perf_counter()
    try:
        result = capacity_of(loaded, settings, chosen, workers=workers, source=str(given),
                             on_probe=lambda p: click.echo(_probe_line(p)))
    except ScenarioError as error:
        raise Failure(f"{error} (or lower the upper --bounds, or run fewer -j workers)") from None
    elapsed = time.perf_counter() - started
    table = Table(title=f"fiscosim capacity — {loaded.name}", show_header=False)
    table.add_column("figure")
    table.add_column("value")
    table.add_row("max sustainable rate",
                  "none within the bounds" if result.max_sustainable_tps is None
                  else f"{result.max_sustainable_tps:,} TPS"
                  + (" (the upper bound)" if result.limit == "upper_bound" else ""))
    table.add_row("first failing rate", "none within the bounds"
                  if result.first_failing_tps is None else f"{result.first_failing_tps:,} TPS")
    if result.failed_criterion is not None:
        at_hi = next(p for p in result.probes if p.rate == result.first_failing_tps)
        table.add_row("failed criterion",
                      f"{result.failed_criterion} = {result.failed_value:g} (limit "
                      f"{result.failed_threshold:g})"
                      + (f"; also {', '.join(result.failing_at_hi[1:])}"
                         if len(result.failing_at_hi) > 1 else "")
                      + f"; committed {at_hi.tps:,.0f} TPS")
    if result.first_failing_tps is not None:
        table.add_row("saturated resource", result.bound_by or "not reported by this run")
    if result.utilisation_max:
        use = result.utilisation_max
        table.add_row("busiest resource", f"{use.get('resource')} ({use.get('kind')}): "
                      f"{float(use.get('utilisation') or 0):.1%} busy")
    sim_s = sum(p.sim_s for p in result.probes)
    table.add_row("probes", f"{len(result.probes)} in {result.rounds} rounds; {sim_s:,.0f} s "
                  f"simulated in {elapsed:.1f} s wall")
    if result.not_evaluated:
        table.add_row("not evaluated", ", ".join(result.not_evaluated)
                      + " (these runs do not report it)")
    if result.non_monotone:
        table.add_row("non-monotone", "a probe passed above a failing rate; the answer is the "
                      "highest pass below the lowest failing rate")
    # A pipe or a file gets the whole table on 140 columns rather than a wrapped 80.
    (console if console.is_terminal else Console(width=140)).print(table)
    click.echo(summary_line(result))
    if as_json:
        sys.stdout.write(json.dumps({**result.as_dict(), "scenario": loaded.name,
                                     "workers": workers, "wall_s": round(elapsed, 3)}) + "\n")


# -- fiscosim compare-published (issue 16, part 3): its command goes below this line ----------


def _figure(value: float) -> str:
    """A figure for the table: whole numbers with separators, small ones with decimals."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


@main.command("compare-published", epilog=(
    "Exit codes: 0 every check row whose source states its hardware is within its tolerance; "
    "1 one is outside (the table says which); 2 bad input (an option, a points file). Fit rows "
    "and rows whose source states no hardware never change the exit code. docs/validation.md."))
@click.option("--fast", is_flag=True,
              help="Shortened runs (each point's fast_overrides), for CI: a few seconds.")
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Only this point (repeatable).")
@click.option("--kind", type=click.Choice(["fit", "check"]), default=None,
              help="Only fit rows (per-stage figures) or check rows (end-to-end figures).")
@click.option("--points", "points_file", metavar="FILE", default=None,
              help="Another reference-point file [default: the shipped points.yaml].")
@click.option("--json", "as_json", is_flag=True, help="End with the rows as one JSON line.")
def compare_published(fast: bool, only: tuple[str, ...], kind: str | None,
                      points_file: str | None, as_json: bool) -> None:
    """Predict FISCO BCOS's published performance figures and compare.

    Runs the versioned reference points shipped with fiscosim (fiscosim/published/points.yaml:
    each figure's source, conditions, tolerance, and whether it is a fit row, a per-stage
    figure costs may be calibrated on, or a check row, an end-to-end figure nothing is fitted
    to) and prints predicted against published with their ratio. This does not check a
    scenario file: `fiscosim run --dry-run` does.
    """
    from fiscosim.published import PublishedError, compare, exit_code, load_points

    try:
        points = load_points(points_file)
        with console.status("predicting...") as status:
            rows = compare(points, fast=fast, only=only, kind=kind,
                           progress=lambda ident: status.update(f"predicting {ident}..."))
    except PublishedError as error:
        raise Failure(str(error)) from None
    code = exit_code(rows)
    if as_json:
        click.echo(json.dumps({"fast": fast, "exit_code": code,
                               "rows": [row.to_dict() for row in rows]}, ensure_ascii=False))
        sys.exit(code)
    title = "FISCO BCOS's published figures, predicted" + (" (--fast: shortened runs)"
                                                           if fast else "")
    table = Table(title=title)
    # Output to a file or a pipe is a log: as wide as the table needs. A narrow terminal gets
    # no "what" column (wrapped into it, the table is unreadable), and folds the ids.
    out = console if console.is_terminal else Console(width=160)
    wide = out.width >= 150
    for column in ("id", "kind", "what", "published", "predicted", "ratio", "tolerance",
                   "verdict"):
        if column == "what" and not wide:
            continue
        right = column in ("published", "predicted", "ratio", "tolerance")
        # The figures never wrap (a narrow terminal folds the ids instead).
        table.add_column(column, justify="right" if right else "left", overflow="fold",
                         no_wrap=column in ("kind", "published", "predicted", "ratio",
                                            "tolerance", "verdict"),
                         min_width=12 if column == "id" else None)
    colours = {"within": "green", "outside": "red", "no hardware stated": "yellow"}
    for row in rows:
        cells = [row.id, row.kind, row.what, f"{_figure(row.published)} {row.unit}",
                 f"{_figure(row.predicted)} {row.unit}", f"{row.ratio:.2f}",
                 f"±{row.tolerance:.0%}", f"[{colours[row.verdict]}]{row.verdict}[/]"]
        table.add_row(*(cells if wide else cells[:2] + cells[3:]))
    out.print(table)
    checks = [row for row in rows if row.kind == "check" and row.hardware_stated]
    outside = [row.id for row in checks if not row.within]
    if outside:
        console.print(f"[red]{len(outside)} of {len(checks)} check rows outside their "
                      f"tolerance:[/] {', '.join(outside)} (docs/validation.md names the "
                      "causes)", highlight=False, soft_wrap=True)
    elif checks:
        console.print(f"[green]all {len(checks)} check rows within their tolerance[/]")
    sys.exit(code)



# -- sweep -------------------------------------------------------------------------------------


def _sweep_exit(code: int) -> None:
    if code:
        sys.exit(code)


class _SweepGroup(OneLineErrors):
    """``fiscosim sweep FILE`` is ``fiscosim sweep run FILE``: a first argument that names no
    subcommand is the sweep file."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@main.group("trace")
def trace_group() -> None:
    """Read a run's trace (fiscosim-trace/1, docs/trace.md): "narrate" tells it as text,
    "export" writes it for Perfetto or Mermaid, "check" validates it. Record one with
    "fiscosim run SCENARIO --trace FILE"."""


def _read_trace_or_fail(path: str) -> Any:
    from fiscosim.trace.events import TraceError, read_trace

    if not Path(path).is_file():
        raise Failure(f"{path}: no such file (record one with fiscosim run SCENARIO --trace "
                      f"{path})")
    try:
        return read_trace(path)
    except TraceError as error:
        raise Failure(str(error)) from None
    except (OSError, UnicodeDecodeError, EOFError) as error:
        raise Failure(f"{path}: cannot read it as a trace: {error}") from None


def _range_option(text: str | None, option: str, kind: type) -> Any:
    from fiscosim.trace.narration import parse_range

    if text is None:
        return None
    try:
        return parse_range(text, kind)
    except ValueError as error:
        raise Failure(f"{option}: {error}") from None


@trace_group.command("narrate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--node", "nodes", multiple=True, metavar="NAME",
              help="Only what concerns this node (repeatable): its steps, its sends and what "
                   "reaches it.")
@click.option("--types", metavar="LIST", default=None,
              help="Only these messages, e.g. PP,P,C,CP or PrePrepare,ViewChange.")
@click.option("--blocks", metavar="A:B", default=None, help="Only blocks A to B (3, 3:5, 3:).")
@click.option("--time", "time_ms", metavar="A:B", default=None,
              help="Only from A to B ms of simulated time.")
@click.option("--group", default=None, help="The group to tell (default: the first).")
@click.option("--recv", is_flag=True, help="Also a line per message received.")
@click.option("--timers", is_flag=True, help="Also timers set and cancelled (fired ones are "
                                             "always told).")
@click.option("--columns", is_flag=True, help="One column per node.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="English, or Simplified Chinese (简体中文).")
@click.option("--lesson", type=click.Path(dir_okay=False), default=None,
              help="A lesson script, a file or a shipped lesson's name (teach/normal4): its "
                   "notes, questions and answers between the lines.")
def trace_narrate(file: str, nodes: tuple[str, ...], types: str | None, blocks: str | None,
                  time_ms: str | None, group: str | None, recv: bool, timers: bool,
                  columns: bool, lang: str, lesson: str | None) -> None:
    """Tell a trace FILE as text: one line per protocol step, in the PBFT core's own words."""
    from fiscosim.trace.narration import Filters, narrate_trace

    trace = _read_trace_or_fail(file)
    known = {n["id"] for n in trace.header.get("nodes", [])}
    unknown = [n for n in nodes if n not in known]
    if unknown:
        raise Failure(f"--node: {', '.join(unknown)} is not a node of {file} (its nodes: "
                      f"{', '.join(sorted(known))})")
    groups = [g["id"] for g in trace.groups()]
    if group is not None and group not in groups:
        raise Failure(f"--group: {group} is not a group of {file} ({', '.join(groups)})")
    filters = Filters(nodes=frozenset(nodes) or None,
                      types=Filters.parse_types(types) if types else None,
                      blocks=_range_option(blocks, "--blocks", int),
                      time_ms=_range_option(time_ms, "--time", float), recv=recv,
                      timers=timers)
    notes: list[dict[str, Any]] = []
    if lesson is not None:
        from fiscosim.scenario.library import shipped_lessons
        from fiscosim.trace.lesson import LessonError, load_lesson

        shipped = shipped_lessons()
        if not Path(lesson).exists() and lesson not in shipped:
            raise Failure(f"--lesson: {lesson}: neither a file nor a shipped lesson (shipped: "
                          f"{', '.join(shipped) or 'none'})")
        try:
            notes = load_lesson(lesson if Path(lesson).exists() else shipped[lesson]).place(trace)
        except LessonError as error:
            raise Failure(str(error)) from None
    for line in narrate_trace(trace, filters, lang=lang, columns=columns, group=group,
                              notes=notes):
        click.echo(line)


@trace_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "fmt", type=click.Choice(["perfetto", "mermaid"]), required=True,
              help="perfetto: Chrome trace JSON (ui.perfetto.dev); mermaid: a sequence diagram.")
@click.option("--blocks", metavar="A:B", default=None, help="Only blocks A to B.")
@click.option("-o", "--output", metavar="FILE", default=None,
              help="Write here (default: standard output).")
def trace_export(file: str, fmt: str, blocks: str | None, output: str | None) -> None:
    """Write a trace FILE in another tool's format; every send/receive pair is kept."""
    import json

    from fiscosim.trace.export import to_mermaid, to_perfetto

    trace = _read_trace_or_fail(file)
    span = _range_option(blocks, "--blocks", int)
    text = (json.dumps(to_perfetto(trace, span), separators=(",", ":")) + "\n"
            if fmt == "perfetto" else to_mermaid(trace, span))
    if output is None:
        click.echo(text, nl=False)
        return
    from fiscosim.metrics.output import write_results

    target = Path(output)
    if target.is_dir():
        raise Failure(f"-o: {output} is a folder (give a file name such as trace.json)")
    try:
        write_results(target.parent, {target.name: text})
    except OSError as error:
        raise Failure(f"-o: cannot write {output}: {error.strerror or error}") from None


@trace_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def trace_check(file: str) -> None:
    """Check a trace FILE: every record against the shipped JSON Schema (needs jsonschema),
    ids, times, and one receive or drop per destination of each send. Exit 1 on a problem."""
    from fiscosim.trace.events import check_structure, json_schema

    trace = _read_trace_or_fail(file)
    problems = check_structure(trace)
    try:
        import jsonschema
    except ImportError:
        click.echo("schema not checked: jsonschema is not installed "
                   "(pip install jsonschema)", err=True)
    else:
        validator = jsonschema.Draft202012Validator(json_schema())
        for record in [trace.header, *trace.records]:
            for error in validator.iter_errors(record):
                problems.append(f"id {record.get('id', 'run')}: {error.message}")
                break
    for problem in problems[:20]:
        click.echo(problem)
    if problems:
        click.echo(f"{file}: {len(problems)} problems", err=True)
        raise SystemExit(1)
    click.echo(f"{file}: {len(trace.records):,} records, valid")


@main.group(cls=_SweepGroup)
def sweep() -> None:
    """Parameter sweeps (docs/sweeps.md): "fiscosim sweep FILE" runs a scenario file's sweep:
    block, every point at every seed, on local processes or a Dask cluster, resuming what is
    done; "status", "aggregate", "plot" and "gc" look at a sweep's folder."""


_CI = click.FloatRange(0, 1, min_open=True, max_open=True)
"""A confidence level: strictly between 0 and 1."""


@sweep.command("run", epilog=(
    "Exit codes: 0 every run done; 1 some runs failed or timed out; 2 bad input; 130 "
    "interrupted (the same command resumes)."))
@click.argument("file", type=click.Path())
@click.option("--out", metavar="DIR", default=None,
              help="The sweep's folder [default: results/<sweep name>].")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a field of the base scenario (repeatable).")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Add a grid axis (repeatable).")
@click.option("--zip", "zips", multiple=True, metavar="KEY=V1,V2",
              help="Add a key to one zip axis; the --zip keys move together (repeatable).")
@click.option("--repeat", type=click.IntRange(1, 10_000), default=None,
              help="Seeds per point: the scenario's seed + 0..N-1.")
@click.option("--seeds", default=None, metavar="LIST", help="Seeds, e.g. 1-5 or 1,2,7.")
@click.option("-j", "--jobs", type=click.IntRange(1, 4096), default=None,
              help="Local worker processes [default: every core].")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="A dask.distributed scheduler, e.g. tcp://host:8786.")
@click.option("--scheduler-file", type=click.Path(), default=None,
              help="A dask scheduler file (dask-jobqueue, dask-mpi).")
@click.option("--dask-local", type=click.IntRange(1, 1024), default=None, metavar="N",
              help="Run on a dask LocalCluster of N workers.")
@click.option("--dry-run", is_flag=True, help="Print the plan's size and first labels; run "
              "nothing.")
@click.option("--timeout", type=Duration(), default=None, metavar="DURATION",
              help="A run taking longer fails with state timeout (wall clock: 90s, 20m).")
@click.option("--retries", type=click.IntRange(0, 100), default=2,
              help="Retries of a run whose worker died [default: 2].")
@click.option("--retry-failed", is_flag=True, help="Run again the runs that failed before.")
@click.option("--rerun-stale", is_flag=True, help="Run again the done runs that another "
              "fiscosim version or a source tree with uncommitted changes made.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed run (an error, a "
              "timeout, a lost run past its retries): the runs in flight are stopped, the "
              "tables rebuilt, exit 1.")
@click.option("--ci", type=_CI, default=None, metavar="LEVEL",
              help="Confidence level of the tables' intervals [default: the file's sweep.ci, "
              "else 0.95]; recorded in the folder's sweep.yaml.")
@click.option("--artifacts", type=click.Choice(["summary", "blocks", "all"]),
              default="summary", help="Keep each run's summary [default], its block table "
              "too, or its block and transaction tables.")
@click.option("--no-plots", is_flag=True, help="Tables only.")
@click.option("--yes", is_flag=True, help="Run a plan of more than 10,000 runs.")
@click.option("--break-lock", is_flag=True, help="Take the folder from a coordinator that "
              "still holds its lock (one that is gone is taken over anyway).")
def sweep_run(file: str, out: str | None, sets: tuple[str, ...],
          grid: tuple[str, ...], zips: tuple[str, ...], repeat: int | None, seeds: str | None,
          jobs: int | None, scheduler: str | None, scheduler_file: str | None,
          dask_local: int | None, dry_run: bool, timeout: float | None, retries: int,
          retry_failed: bool, rerun_stale: bool, fail_fast: bool, ci: float | None,
          artifacts: str, no_plots: bool, yes: bool, break_lock: bool) -> None:
    """Run a sweep FILE (a scenario with a sweep: block, docs/sweeps.md): every point at every
    seed, on local processes or a Dask cluster; what is done already is skipped; writes runs/,
    tables/ (Parquet and CSV, with confidence intervals) and plots/.
    """
    from fiscosim.scenario import ScenarioError
    from fiscosim.sweep.campaign import PlanTooLarge, default_folder, run_sweep
    from fiscosim.sweep.plan import read_sweep
    from fiscosim.sweep.runner import VersionMismatch
    from fiscosim.sweep.store import Locked

    path = str(_scenario_arg(file)[1])
    if sum(x is not None for x in (scheduler, scheduler_file, dask_local)) + (
            jobs is not None) > 1:
        raise Failure("fiscosim sweep: give one of -j, --scheduler, --scheduler-file and "
                      "--dask-local")
    try:
        if dry_run:
            plan = read_sweep(path, sets=sets, grid=grid, zips=zips, repeat=repeat,
                              seeds=seeds, ci=ci)
            folder = Path(out) if out is not None else default_folder(plan)
            click.echo(f"{plan.source}: {len(plan.points):,} points x {len(plan.seeds)} "
                       f"seeds = {len(plan.runs):,} runs into {folder}; cost hint "
                       f"{sum(r.cost_hint for r in plan.runs):.3g} (nodes^2 x s x TPS)")
            for run in plan.runs[:10]:
                click.echo(f"  {run.run_id}  {run.point.label}  seed {run.seed}")
            return
        errors = Console(stderr=True)
        started = time.monotonic()
        last = [0.0]
        live: list[Any] = []  # the rich bar, on a terminal

        def progress(done: int, total: int, failed: int) -> None:
            # The ETA: the mean wall time of the runs so far, for those left, per worker.
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total - done) if done else None
            text = (f"{done}/{total} runs" + (f", {failed} failed" if failed else "")
                    + (f", about {eta:,.0f} s left" if eta is not None and done < total
                       else ""))
            if live:
                live[0].update(live[1], completed=done, total=total, description=text)
            elif done == total or time.monotonic() - last[0] > 1.0:
                last[0] = time.monotonic()
                click.echo(f"  {text}", err=True)

        def failure(label: str, what: str, where: Path) -> None:
            # Printed at once, above the bar: one line per failed run.
            (live[0].console.print if live else lambda m: click.echo(m, err=True))(
                f"failed: {label}: {what} -> {where}")

        def sweep_now() -> Any:
            return run_sweep(path, out=out, sets=sets, grid=grid, zips=zips, repeat=repeat,
                             seeds=seeds, jobs=jobs, scheduler=scheduler,
                             scheduler_file=scheduler_file, dask_local=dask_local,
                             timeout_s=timeout, retries=retries, retry_failed=retry_failed,
                             yes=yes, artifacts=artifacts, plots=not no_plots,
                             break_lock=break_lock, rerun_stale=rerun_stale,
                             fail_fast=fail_fast, ci=ci, progress=progress,
                             on_failure=failure, command_line=sys.argv)

        if errors.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("sweeping"), BarColumn(),
                          TextColumn("{task.description}"), TimeElapsedColumn(),
                          console=errors, transient=True) as bar:
                live += [bar, bar.add_task("starting", total=None)]
                report = sweep_now()
        else:
            report = sweep_now()
    except (ScenarioError, PlanTooLarge, Locked, VersionMismatch) as error:
        raise Failure(str(error)) from None
    except ModuleNotFoundError as error:
        raise Failure(str(error)) from None
    except KeyboardInterrupt:
        click.echo(f"interrupted; resume with: {_resume_command()}", err=True)
        sys.exit(130)
    planned = (f"{report.searches:,} capacity searches" if report.searches
               else f"{report.planned:,} runs planned")
    click.echo(f"sweep {report.folder}: {planned}, "
               f"{report.done_before:,} done before, {len(report.executed):,} run now"
               + (f", {len(report.failed):,} failed (see {report.folder / 'failed'})"
                  if report.failed else "")
               + (f", {report.retried} retried" if report.retried else "")
               + f"; {report.executor}")
    if report.stale:
        click.echo(f"note: {report.stale:,} of the runs done before were stale (another "
                   "fiscosim version or a tree with uncommitted changes made them; 'fiscosim "
                   "sweep status' says which): "
                   + ("run again" if rerun_stale else "kept; --rerun-stale runs them again"),
                   err=True)
    if report.orphans and report.done_before == 0:
        click.echo(f"note: none of the planned runs was in {report.folder}, but "
                   f"{report.orphans} other run folders are (did the base scenario, a default "
                   "or the model epoch change? 'fiscosim sweep status' lists them)", err=True)
    for table in report.tables:
        if table.suffix == ".csv":
            click.echo(f"  table {table}")
    for figure in report.plots:
        if figure.suffix == ".png":
            click.echo(f"  plot  {figure}")
    if report.stopped:
        click.echo(f"stopped at the first failed run (--fail-fast); resume with: "
                   f"{_resume_command()}", err=True)
    _sweep_exit(report.exit_code)


def _resume_command() -> str:
    """The command line that resumes this sweep: this one (what is done is skipped)."""
    return shlex.join(["fiscosim", *sys.argv[1:]])


@sweep.command("status")
@click.argument("folder", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="The status as one JSON line.")
def sweep_status(folder: str, as_json: bool) -> None:
    """Counts of a sweep's runs by state, the fiscosim versions that made them, the stale
    runs and why, the slowest points, orphans; exit code 1 while runs are missing or
    failed (stale runs are done)."""
    from fiscosim.scenario import ScenarioError
    from fiscosim.sweep.campaign import status

    if not (Path(folder) / "sweep.yaml").is_file():
        raise Failure(f"{folder}: not a sweep folder (no sweep.yaml)")
    try:
        state = status(folder)
    except ScenarioError as error:
        raise Failure(str(error)) from None
    if as_json:
        sys.stdout.write(json.dumps({
            "planned": state.planned, "done": state.done, "failed": state.failed,
            "missing": state.missing, "orphans": state.orphans, "versions": state.versions,
            "slowest": state.slowest, "stale": state.stale}) + "\n")
    else:
        click.echo(f"{folder}: {state.done:,} of {state.planned:,} runs done"
                   + (f" ({len(state.stale):,} stale)" if state.stale else "")
                   + f", {len(state.failed):,} failed, {state.missing:,} missing"
                   + (f", {len(state.orphans)} orphans (not in the plan)"
                      if state.orphans else ""))
        for version, count in sorted(state.versions.items()):
            click.echo(f"  fiscosim {version}: {count:,} runs")
        reasons: dict[str, int] = {}
        for why in state.stale.values():
            reasons[why] = reasons.get(why, 0) + 1
        for why, count in sorted(reasons.items()):
            click.echo(f"  stale: {count:,} run{'s' if count != 1 else ''} {why}")
        if state.stale:
            click.echo("  (stale runs count in the tables; 'fiscosim sweep FILE --rerun-stale' "
                       "runs them again)")
        for label, wall in state.slowest:
            click.echo(f"  slow: {label}: {wall:.1f} s a run")
        for run_id, what in sorted(state.failed.items()):
            click.echo(f"  failed: {run_id} ({what})")
    _sweep_exit(0 if state.complete else 1)


@sweep.command("aggregate")
@click.argument("folder", type=click.Path())
@click.option("--ci", type=_CI, default=None, metavar="LEVEL",
              help="Confidence level of the intervals [default: the level in the folder's "
              "sweep.yaml, else 0.95]; recorded there for later rebuilds.")
def sweep_aggregate(folder: str, ci: float | None) -> None:
    """Rebuild a sweep's tables/ from its runs/ (no simulation)."""
    from fiscosim.scenario import ScenarioError
    from fiscosim.sweep.campaign import aggregate, record_ci

    if not (Path(folder) / "sweep.yaml").is_file():
        raise Failure(f"{folder}: not a sweep folder (no sweep.yaml)")
    try:
        for path in aggregate(folder, ci=ci):
            click.echo(str(path))
        if ci is not None:
            record_ci(folder, ci)
    except (ScenarioError, ModuleNotFoundError) as error:
        raise Failure(str(error)) from None


@sweep.command("plot")
@click.argument("folder", type=click.Path())
def sweep_plot(folder: str) -> None:
    """Redraw a sweep's plots/ from its tables/."""
    from fiscosim.scenario import ScenarioError
    from fiscosim.sweep.campaign import plot

    if not (Path(folder) / "tables" / "points.parquet").is_file():
        raise Failure(f"{folder}: no tables/points.parquet (run fiscosim sweep aggregate "
                      f"{folder} first)")
    try:
        for path in plot(folder):
            click.echo(str(path))
    except (ScenarioError, ModuleNotFoundError) as error:
        raise Failure(str(error)) from None


@sweep.command("gc", epilog="Exit codes: 0 done; 2 not a sweep folder, or a coordinator "
               "holds it.")
@click.argument("folder", type=click.Path())
@click.option("--orphans", is_flag=True, help="Remove the run folders the plan does not hold "
              "(another base scenario, default or model epoch made them).")
@click.option("--failed", is_flag=True, help="Remove every failed/ record: the next sweep "
              "runs those runs again.")
@click.option("--tmp", is_flag=True, help="Remove the temporaries of writers that were "
              "killed.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
@click.option("--break-lock", is_flag=True, help="Take the folder from a coordinator that "
              "still holds its lock.")
def sweep_gc(folder: str, orphans: bool, failed: bool, tmp: bool, dry_run: bool,
             break_lock: bool) -> None:
    """Remove from a sweep's folder what its tables do not use: run folders not in the plan
    (--orphans), failure records (--failed), temporaries of killed writers (--tmp). With no
    flag, say what each would remove. Holds the sweep's lock while it removes."""
    from fiscosim.scenario import ScenarioError
    from fiscosim.sweep.campaign import GC_KINDS, garbage, gc
    from fiscosim.sweep.store import Locked

    if not (Path(folder) / "sweep.yaml").is_file():
        raise Failure(f"{folder}: not a sweep folder (no sweep.yaml)")
    kinds = [kind for kind, wanted in zip(GC_KINDS, (orphans, failed, tmp), strict=True)
             if wanted]
    what = {"orphans": "run folders not in the plan", "failed": "failure records",
            "tmp": "temporaries of killed writers"}
    try:
        if not kinds:
            found = garbage(folder)
            click.echo(f"{folder}: nothing removed (give a flag); gc would remove")
            for kind in GC_KINDS:
                click.echo(f"  --{kind:<8} {len(getattr(found, kind)):,} {what[kind]}")
            return
        done = gc(folder, kinds, dry_run=dry_run, break_lock=break_lock)
    except (ScenarioError, Locked) as error:
        raise Failure(str(error)) from None
    for kind in kinds:
        for path in getattr(done, kind):
            click.echo(f"  {'would remove' if dry_run else 'removed'} {path}")
    click.echo(f"{folder}: {'would remove' if dry_run else 'removed'} "
               + ", ".join(f"{len(getattr(done, kind)):,} {what[kind]}" for kind in kinds))

if __name__ == "__main__":
    main()
