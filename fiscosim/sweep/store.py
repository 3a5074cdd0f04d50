"""A sweep's folder on disk: the layout, the lock, and atomic run folders.

::

    DIR/sweep.yaml        the plan as resolved (re-runnable as is)
    DIR/manifest.json     the model epoch, the executor, every invocation, the counts
    DIR/sweep.lock        the coordinator's lock (pid, host)
    DIR/runs/<run_id>/    complete or absent: scenario.yaml, summary.json, manifest.json
    DIR/failed/<run_id>.json   a run that raised or timed out, or whose worker was lost
    DIR/tables/, DIR/plots/    rebuilt from runs/ (fiscosim.sweep.tables, .plots)

Only the coordinator writes here. A run folder is written under a temporary name
(``runs/.<run_id>.fiscosim-<pid>-<random>``) and renamed into place, so a run is either done
(its ``summary.json`` parses and its ``manifest.json`` names the run) or absent; temporaries of
a coordinator that was killed are removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from fiscosim.metrics.output import TEMPORARY, _alive, temporary_name, write_results


class Locked(Exception):
    """Another coordinator holds the sweep's folder."""


class Store:
    """The folder of one sweep (the module docstring)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.failed = self.root / "failed"
        self.tables = self.root / "tables"
        self.plots = self.root / "plots"
        self.lock_path = self.root / "sweep.lock"

    # -- the lock ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, break_lock: bool = False) -> Iterator[None]:
        """Holds ``sweep.lock`` (O_EXCL) while the block runs. A lock left by a coordinator of
        this host that is no longer running (killed) is taken over; a live one, or one of
        another host, raises :class:`Locked` unless ``break_lock``."""
        self.root.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                stale = (holder is not None and holder.get("host") == me["host"]
                         and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]))
                if stale or break_lock or holder is None:
                    self.lock_path.unlink(missing_ok=True)
                    continue
                raise Locked(f"{self.root}: another sweep coordinator holds it (pid "
                             f"{holder.get('pid')} on {holder.get('host')}); wait for it, or "
                             "pass --break-lock if it is gone") from None
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            break
        else:  # pragma: no cover - two takeovers raced
            raise Locked(f"{self.root}: could not take sweep.lock")
        try:
            yield
        finally:
            self.lock_path.unlink(missing_ok=True)

    def _holder(self) -> dict[str, Any] | None:
        try:
            holder = json.loads(self.lock_path.read_text())
        except (OSError, ValueError):
            return None  # half-written by a coordinator killed while taking it
        return holder if isinstance(holder, dict) else None

    # -- runs ----------------------------------------------------------------------------------
    def done(self, run_id: str) -> dict[str, Any] | None:
        """The summary of a finished run, or None (absent, or not a complete run folder)."""
        folder = self.runs / run_id
        try:
            summary = json.loads((folder / "summary.json").read_text())
            manifest = json.loads((folder / "manifest.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(summary, dict) or not isinstance(manifest, dict):
            return None
        if manifest.get("sweep", {}).get("run_id") != run_id:
            return None
        return summary

    def manifest_of(self, run_id: str) -> dict[str, Any]:
        return json.loads((self.runs / run_id / "manifest.json").read_text())

    def run_ids_on_disk(self) -> set[str]:
        try:
            return {entry.name for entry in os.scandir(self.runs)
                    if entry.is_dir() and not entry.name.startswith(".")}
        except FileNotFoundError:
            return set()

    def write_run(self, run_id: str, files: Mapping[str, str]) -> Path:
        """Writes a run's files into ``runs/<run_id>/`` in one rename."""
        self.runs.mkdir(parents=True, exist_ok=True)
        final = self.runs / run_id
        staging = temporary_name(final)
        try:
            write_results(staging, dict(files))
            if final.exists():  # a stale or partial folder of an older version: replaced
                shutil.rmtree(final)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        (self.failed / f"{run_id}.json").unlink(missing_ok=True)
        return final

    def write_failure(self, run_id: str, record: Mapping[str, Any]) -> Path:
        self.failed.mkdir(parents=True, exist_ok=True)
        path = self.failed / f"{run_id}.json"
        write_results(self.failed, {path.name: json.dumps(dict(record), indent=2) + "\n"})
        return path

    def failures(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        try:
            entries = sorted(os.scandir(self.failed), key=lambda e: e.name)
        except FileNotFoundError:
            return out
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            try:
                record = json.loads(Path(entry.path).read_text())
            except (OSError, ValueError):
                continue
            out[entry.name[:-5]] = record
        return out

    def remove_stale(self) -> list[Path]:
        """Removes the temporaries (run folders and files) of coordinators no longer
        running."""
        removed = []
        for folder in (self.root, self.runs, self.failed, self.tables, self.plots):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                match = TEMPORARY.fullmatch(entry.name)
                if match is None or _alive(int(match["pid"])):
                    continue
                path = Path(entry.path)
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def write_json(self, name: str, data: Any) -> Path:
        write_results(self.root, {name: json.dumps(data, indent=2, sort_keys=True) + "\n"})
        return self.root / name

    def read_json(self, name: str) -> Any:
        try:
            return json.loads((self.root / name).read_text())
        except (OSError, ValueError):
            return None

    def write_text(self, name: str, text: str) -> Path:
        write_results(self.root, {name: text})
        return self.root / name
