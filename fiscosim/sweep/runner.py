"""Running a sweep's plan: the worker function, the local and Dask backends, the coordinator.

One backend interface (``submit(payload) -> future``, ``wait(futures) -> done``): the local
default is a process pool (``forkserver`` on Linux: no fork of the coordinator's threads;
``spawn`` elsewhere; workers reused from run to run, each importing the simulator itself, in
parallel);
``dask.distributed`` runs the same function on a cluster (``--scheduler ADDRESS``,
``--scheduler-file FILE``) or a ``LocalCluster`` (``--dask-local N``, one thread per worker:
a run is GIL-bound Python). Workers only compute: a run's results travel back as its payload
and the coordinator writes them (fiscosim.sweep.store), so no shared file system is needed.

Runs are fed seed-major, longest first within a seed (fiscosim.sweep.plan.order_runs), at most
two per worker slot in flight. A run that raises, or runs past ``--timeout``, is *failed*
(deterministic: not retried unless ``--retry-failed``); a run whose worker died (SIGKILL, a
broken pool, a killed Dask worker) is *lost* and retried up to ``--retries`` times.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fiscosim.version import MODEL_EPOCH, __version__


class RunTimeout(Exception):
    """A run took longer than the sweep's ``--timeout``."""


# -- the worker --------------------------------------------------------------------------------


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux), so a run's own time includes its start."""
    try:
        with open("/proc/self/stat") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


_FIRST_TASK = True
"""No run has started in this process yet (its start is then part of the first run's time)."""


def run_one(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Runs one planned run in this process and returns its result as a payload (never
    raises for the run's own failure: an ``error`` entry says what happened).

    The payload holds the summary and manifest, ``latency_quantiles`` (the committed
    transactions' latencies at :data:`fiscosim.sweep.tables.CDF_PROBABILITIES`; absent when
    none committed), ``blocks_csv`` when ``payload["blocks"]`` and ``txs_csv`` (the
    per-transaction table) when ``payload["txs"]``.

    ``wall_s`` is the run's own time: from the task's start, or, for the first task of a
    worker process (``fresh_process``), from the process's start."""
    global _FIRST_TASK
    age = _process_age_s() if payload.get("fresh_process") and _FIRST_TASK else None
    _FIRST_TASK = False
    started = time.perf_counter()
    host = socket.gethostname()
    out: dict[str, Any] = {"run_id": payload["run_id"], "host": host, "pid": os.getpid()}
    try:
        from fiscosim.metrics.output import blocks_csv
        from fiscosim.schema import Scenario
        from fiscosim.sim.simulation import Simulation
        from fiscosim.sweep import tables

        scenario = Scenario.from_dict(payload["scenario"], payload.get("source", "<sweep>"))
        simulation = Simulation(scenario)
        simulation.overrides = list(payload.get("overrides", []))
        limit = payload.get("timeout_s")
        progress = None
        if limit:
            def progress(_simulated: float, _total: float) -> None:
                if time.perf_counter() - started > limit:
                    raise RunTimeout(f"ran past the --timeout of {limit:g} s")
        result = simulation.run(progress=progress)
        out["summary"] = result.summary
        out["manifest"] = result.manifest
        # The latency distribution travels as its quantiles (a few KB), not per transaction:
        # the CDF plots need a run's distribution, and a run may commit millions.
        quantiles = tables.latency_quantiles(tables.measured_latencies_ms(result.world))
        if quantiles is not None:
            out["latency_quantiles"] = {"probabilities": list(tables.CDF_PROBABILITIES),
                                        "latency_ms": quantiles,
                                        "method": tables.QUANTILE_METHOD}
        if payload.get("blocks"):
            out["blocks_csv"] = result.blocks.to_csv()
        if payload.get("txs"):
            out["txs_csv"] = blocks_csv(tables.transactions_columns(result.world))
    except RunTimeout as error:
        out["error"] = {"state": "timeout", "type": "RunTimeout", "message": str(error)}
    except Exception as error:  # a run's failure is data for the failed/ record
        tail = traceback.format_exception(error)[-6:]
        out["error"] = {"state": "error", "type": type(error).__name__,
                        "message": str(error).splitlines()[0] if str(error) else "",
                        "traceback": "".join(tail)}
    out["run_s"] = time.perf_counter() - started
    out["wall_s"] = out["run_s"] + (age or 0.0)
    return out


def _init_worker() -> None:
    """A local worker: no BLAS threads of its own (the runs are single-threaded Python)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


def worker_versions() -> dict[str, Any]:
    """What a Dask worker runs (checked against the coordinator's before any submit)."""
    return {"fiscosim": __version__, "model_epoch": MODEL_EPOCH,
            "python": ".".join(map(str, sys.version_info[:2]))}


# -- backends ----------------------------------------------------------------------------------


class VersionMismatch(RuntimeError):
    """A Dask worker runs another fiscosim, model epoch or Python than the coordinator."""


class LostRun(Exception):
    """The worker of a run died before it answered."""


class LocalBackend:
    """A process pool on this machine. Workers are reused: a fresh process per run measured
    ~40 ms more per run here (30 quickstart runs: 7.6 s against 6.4 s on 2 workers,
    benchmarks/sweep_overhead.py), a tenth of a short run; Python returns a big run's memory
    to the next run in the same process, not to the system."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self._pool = self._new_pool()
        self._pool_of: dict[Any, cf.ProcessPoolExecutor] = {}

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        return cf.ProcessPoolExecutor(max_workers=self.slots, mp_context=context,
                                      initializer=_init_worker)

    def describe(self) -> str:
        return f"local process pool, {self.slots} worker{'s' if self.slots != 1 else ''}"

    def submit(self, payload: dict[str, Any]) -> Any:
        try:
            future = self._pool.submit(run_one, {**payload, "fresh_process": True})
        except cf.BrokenExecutor:
            self._pool = self._new_pool()
            future = self._pool.submit(run_one, {**payload, "fresh_process": True})
        self._pool_of[future] = self._pool
        return future

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, future: Any) -> dict[str, Any]:
        pool = self._pool_of.pop(future, None)
        try:
            return future.result()
        except cf.BrokenExecutor as error:
            # One worker died (SIGKILL, out of memory): the pool is broken, every run in it
            # is lost; a new pool takes the retries.
            if pool is self._pool:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = self._new_pool()
            raise LostRun(f"worker process died ({type(error).__name__})") from None

    def close(self) -> None:
        # wait=True: shut down without waiting, Python 3.11's pool can crash its management
        # thread while a worker is being replaced, and the interpreter then never exits.
        self._pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stops at once (Ctrl-C, an error): the running runs' processes are terminated,
        not waited for (the pool offers no public way; its workers are in ``_processes``)."""
        for process in list((getattr(self._pool, "_processes", None) or {}).values()):
            process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """A dask.distributed client: a scheduler's address or file, or a LocalCluster."""

    name = "dask"

    def __init__(self, address: str | None = None, scheduler_file: str | None = None,
                 local_workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ModuleNotFoundError('sweeps on Dask need the cluster extra: pip install '
                                      '"fiscosim[cluster]"') from None
        self._cluster = None
        if local_workers is not None:
            self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1,
                                         processes=True, dashboard_address=None)
            self.client = Client(self._cluster)
        elif scheduler_file is not None:
            self.client = Client(scheduler_file=scheduler_file)
        else:
            self.client = Client(address)
        self.slots = max(1, sum(self.client.nthreads().values()))
        self._where = (f"LocalCluster of {local_workers}" if local_workers is not None
                       else scheduler_file or address)
        self._attempts: dict[str, int] = {}

    def describe(self) -> str:
        return f"dask ({self._where}), {self.slots} worker threads"

    def preflight(self) -> None:
        """Every worker runs this fiscosim and model epoch, or a one-line error."""
        mine = worker_versions()
        theirs = self.client.run(worker_versions)
        for worker, versions in sorted(theirs.items()):
            if versions != mine:
                raise VersionMismatch(f"dask worker {worker} runs fiscosim {versions['fiscosim']} "
                                   f"(model epoch {versions['model_epoch']}, Python "
                                   f"{versions['python']}), this coordinator "
                                   f"{mine['fiscosim']} (model epoch {mine['model_epoch']}, "
                                   f"Python {mine['python']}): install the same version "
                                   "everywhere")

    def submit(self, payload: dict[str, Any]) -> Any:
        run_id = payload["run_id"]
        attempt = self._attempts.get(run_id, 0) + 1
        self._attempts[run_id] = attempt
        return self.client.submit(run_one, payload, key=f"fiscosim-{run_id}-a{attempt}",
                                  pure=False)

    def wait(self, futures: Iterable[Any]) -> set[Any]:
        from distributed import wait

        done, _ = wait(list(futures), return_when="FIRST_COMPLETED")
        return set(done)

    def result(self, future: Any) -> dict[str, Any]:
        from distributed.client import FutureCancelledError

        try:
            return future.result()
        except (FutureCancelledError, OSError) as error:
            raise LostRun(f"dask lost the run ({type(error).__name__})") from None
        except Exception as error:
            if type(error).__name__ == "KilledWorker":
                raise LostRun("dask killed its worker") from None
            raise

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def abort(self) -> None:
        """Stops at once: closing the client cancels its runs."""
        self.close()


# -- the coordinator ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a coordinator did: runs executed, skipped (done already), failed, lost."""

    executed: list[str] = field(default_factory=list)
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    retried: int = 0


def drive(payloads: list[dict[str, Any]], backend: Any, retries: int,
          on_result: Callable[[dict[str, Any]], None],
          on_failure: Callable[[str, dict[str, Any], int], None],
          progress: Callable[[int, int, int], None] | None = None,
          meanwhile: Callable[[], None] | None = None) -> Outcome:
    """Feeds ``payloads`` (in order) to ``backend``, at most two per slot in flight; each
    result goes to ``on_result``, each failure to ``on_failure(run_id, error, attempt)``;
    ``meanwhile`` runs once, after the first runs are submitted (the coordinator's own
    writing, overlapped with the workers' start)."""
    outcome = Outcome()
    window = 2 * backend.slots
    queue = list(reversed(payloads))
    attempts: dict[str, int] = {}
    inflight: dict[Any, dict[str, Any]] = {}
    total = len(payloads)
    while queue or inflight:
        while queue and len(inflight) < window:
            payload = queue.pop()
            attempts[payload["run_id"]] = attempts.get(payload["run_id"], 0) + 1
            inflight[backend.submit(payload)] = payload
        if meanwhile is not None:
            meanwhile()
            meanwhile = None
        for future in backend.wait(inflight):
            payload = inflight.pop(future)
            run_id = payload["run_id"]
            try:
                result = backend.result(future)
            except LostRun as error:
                if attempts[run_id] <= retries:
                    outcome.retried += 1
                    queue.append(payload)
                    continue
                record = {"state": "lost", "type": "LostRun", "message": str(error)}
                on_failure(run_id, record, attempts[run_id])
                outcome.failed[run_id] = "lost"
                continue
            if "error" in result:
                on_failure(run_id, {**result["error"], "host": result.get("host"),
                                    "wall_s": result.get("wall_s")}, attempts[run_id])
                outcome.failed[run_id] = result["error"]["state"]
            else:
                on_result(result)
                outcome.executed.append(run_id)
            if progress is not None:
                progress(len(outcome.executed) + len(outcome.failed), total,
                         len(outcome.failed))
    return outcome
