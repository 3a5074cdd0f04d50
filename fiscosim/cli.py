"""The ``fiscosim`` command line: run scenarios, benchmark the verification core, calibrate.

Commands print a short rich report; ``--json`` makes the last printed line one JSON object that
scripts can parse. Bad options are one clear line and exit code 2 (click's usage errors).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from fiscosim import __version__
from fiscosim.crypto.suite import SUITE_NAMES

console = Console(stderr=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fiscosim")
def main() -> None:
    """fiscosim: a simulator of FISCO BCOS-style consortium blockchains.

    "fiscosim run" runs a scenario (scenarios/quickstart.yaml by default) and prints a
    report; "fiscosim bench verify" measures the real signature-verification core against
    FISCO BCOS 3.0's 50,000 TPS.
    """


DEFAULT_SCENARIO = "scenarios/quickstart.yaml"


def _default_scenario() -> Path:
    """scenarios/quickstart.yaml here, else the one beside the package (an editable install)."""
    here = Path(DEFAULT_SCENARIO)
    if here.is_file():
        return here
    return Path(__file__).resolve().parents[1] / DEFAULT_SCENARIO


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="Replace the scenario's seed."
)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write summary.json, blocks.csv and manifest.json into this folder.")
@click.option("--set", "overrides", multiple=True, metavar="FIELD=VALUE",
              help="Override a scenario field, e.g. --set workload.rate_tps=20000 (repeatable).")
@click.option("--trace", type=click.Path(dir_okay=False), default=None,
              help="Record the event trace as JSON lines into this file.")
@click.option("--json", "as_json", is_flag=True, help="End with the summary as one JSON line.")
@click.option("--quiet", is_flag=True, help="No progress bar and no report table.")
def run(scenario: str | None, seed: int | None, out: str | None, overrides: tuple[str, ...],
        trace: str | None, as_json: bool, quiet: bool) -> None:
    """Run a scenario [default: scenarios/quickstart.yaml] and print a report."""
    from fiscosim.metrics.report import print_report
    from fiscosim.scenario import ScenarioError
    from fiscosim.sim.simulation import Simulation

    path = Path(scenario) if scenario is not None else _default_scenario()
    try:
        simulation = Simulation.from_file(path, seed=seed, overrides=list(overrides))
    except ScenarioError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    total = simulation.scenario.duration_s + simulation.scenario.drain_s
    try:
        if quiet or total < 5:
            result = simulation.run(trace=trace)
        else:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("simulating"), BarColumn(),
                          TextColumn("{task.completed:.1f}/{task.total:.1f} s simulated"),
                          TimeElapsedColumn(), console=console, transient=True) as bar:
                task = bar.add_task("run", total=total)
                result = simulation.run(
                    trace=trace, progress=lambda done, _total: bar.update(task, completed=done))
        if out is not None:
            result.write(out)
    except OSError as error:
        # A trace or result folder that cannot be written: one line, and (the writers being
        # atomic) no partial files left behind.
        click.echo(f"error: cannot write {error.filename or out or trace}: "
                   f"{error.strerror or error} (choose a writable --out/--trace path)", err=True)
        sys.exit(2)
    if not quiet:
        # A pipe or a file gets the whole table on 140 columns rather than a wrapped 80.
        report = console if console.is_terminal else Console(width=140)
        print_report(result.summary, report)
        if out is not None:
            console.print(f"results: {out}/summary.json, blocks.csv, manifest.json")
        if trace is not None:
            console.print(f"trace: {trace}")
    if as_json:
        sys.stdout.write(json.dumps(result.summary, sort_keys=False) + "\n")
    if result.summary["safety"]["ok"] is False:
        click.echo("error: SAFETY VIOLATED: " + result.summary["safety"]["violations"][0], err=True)
        sys.exit(3)


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
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

    With a SCENARIO, signs what its real-crypto run needs; "fiscosim run" would build the
    same corpus on first use. The cache is $FISCOSIM_CACHE or ~/.cache/fiscosim/corpus.
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
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def fuzz(runs: int, nodes: int, duration: float, seed: int, workers: int | None,
         byzantine: bool, loss: float, rate: float, as_json: bool) -> None:
    """Run random fault schedules; report every seed that breaks safety or liveness.

    Also reports how long the chain went without a block after the last fault healed (the
    stall no fault explains), as percentiles over the runs. Exit code 1 when any run fails,
    3 when any run breaks safety.
    """
    import os
    import time

    import numpy as np
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from fiscosim.sim.fuzz import fuzz as fuzz_runs

    workers = workers or len(os.sched_getaffinity(0))
    started = time.perf_counter()
    with Progress(TextColumn("fuzzing"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("fuzz", total=runs)
        outcomes = fuzz_runs(runs, nodes, duration, seed, workers,
                             progress=lambda done: bar.update(task, completed=done),
                             byzantine=byzantine, rate_tps=rate, loss_rate=loss)
    elapsed = time.perf_counter() - started
    unsafe = [o for o in outcomes if not o.safe]
    stuck = [o for o in outcomes if o.safe and not o.live]
    setting = f"{nodes} sealers, {duration:g} s each, {rate:g} TPS" + (
        f", {loss:g} loss" if loss else "")
    table = Table(title=f"fiscosim fuzz: {runs} runs of {setting}")
    for column in ("seed", "result", "blocks", "max stall (s)", "after heal (s)", "faults"):
        table.add_column(column)
    for outcome in (unsafe + stuck)[:30]:
        table.add_row(str(outcome.seed), "SAFETY VIOLATED" if not outcome.safe else "no liveness",
                      str(outcome.blocks), f"{outcome.max_stall_s:.2f}",
                      f"{outcome.stall_after_heal_s:.2f}",
                      "; ".join(f"{f['kind']}@{f['at_s']}" for f in outcome.faults))
    if unsafe or stuck:
        console.print(table)
    after = np.array([o.stall_after_heal_s for o in outcomes])
    quantiles = {name: round(float(np.quantile(after, q)), 3)
                 for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))}
    worst = max(outcomes, key=lambda o: (o.stall_after_heal_s, -o.seed))
    console.print(f"{runs} runs in {elapsed:.1f} s on {workers} workers: {len(unsafe)} unsafe, "
                  f"{len(stuck)} without liveness after the faults healed")
    console.print("longest stall after the last heal (s): "
                  + ", ".join(f"{k} {v:g}" for k, v in quantiles.items())
                  + f" (seed {worst.seed})")
    if as_json:
        sys.stdout.write(json.dumps({
            "runs": runs, "nodes": nodes, "duration_s": duration, "byzantine": byzantine,
            "rate_tps": rate, "loss_rate": loss, "wall_s": round(elapsed, 2),
            "workers": workers, "unsafe_seeds": [o.seed for o in unsafe],
            "stuck_seeds": [o.seed for o in stuck],
            "stall_after_heal_s": quantiles, "worst_stall_seed": worst.seed,
            "stalls_after_heal_s": {str(o.seed): o.stall_after_heal_s for o in outcomes
                                    if o.stall_after_heal_s > 3.0}}) + "\n")
    if unsafe:
        sys.exit(3)
    if stuck:
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
    help="Force a backend (sm2: crypto_mb or fallback) [default: fastest available].",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Minimum measuring time of the core.",
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON line of the results.")
def bench_verify(
    suite: str,
    workers: int | None,
    batch: int,
    mode: str,
    backend: str | None,
    seconds: float,
    as_json: bool,
) -> None:
    """Verified signatures per second of the batch core against the 50,000 TPS target."""
    from fiscosim.crypto.throughput import measure_verify

    try:
        with console.status(f"measuring {suite} verification on {workers or 'all'} cores..."):
            result = measure_verify(suite, workers, batch, mode, min_seconds=seconds,
                                    backend=backend)  # fmt: skip
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
    if as_json:
        sys.stdout.write(json.dumps(result.as_dict(), sort_keys=False) + "\n")


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
    help="Minimum measuring time of each figure.",
)
def calibrate(out: str, name: str | None, seconds: float) -> None:
    """Measure this host's per-core costs and write a hardware profile (YAML)."""
    from fiscosim.calibrate import calibrate_host, write_profile

    with console.status("calibrating: verification, hashing, msgpack..."):
        profile = calibrate_host(name=name, min_seconds=seconds)
    path = write_profile(profile, out)
    table = Table(title=f"hardware profile {profile['name']!r} → {path}")
    table.add_column("cost (one core)")
    table.add_column("µs", justify="right")
    for key, value in profile["costs_us"].items():
        table.add_row(key, f"{value:.3f}")
    console.print(table)


if __name__ == "__main__":
    main()
