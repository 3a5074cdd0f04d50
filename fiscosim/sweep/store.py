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

A done run is *stale* (:func:`stale_reason`) when another fiscosim version made it, or a
source tree with uncommitted changes: it is kept and counted, ``fiscosim sweep status`` says
why it is stale, and ``fiscosim sweep run --rerun-stale`` computes it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from fiscosim.metrics.output import TEMPORARY, _alive, temporary_name, write_results
from fiscosim.version import __version__


def stale_reason(manifest: Mapping[str, Any], version: str = __version__) -> str | None:
    """Why a done run (its ``manifest.json``) is stale, or None when it is not: made by
    another fiscosim version than ``version`` (this one), or from a source tree with
    uncommitted changes (its ``git.dirty``), whose code no commit records. Provenance only:
    what a run computes is its id (the model epoch is in it)."""
    made = manifest.get("fiscosim_version")
    git = manifest.get("git") if isinstance(manifest.get("git"), Mapping) else {}
    reasons = []
    if made != version:
        reasons.append(f"made by fiscosim {made}, this is {version}")
    if git.get("dirty"):
        commit = str(git.get("commit") or "?")[:10]
        reasons.append(f"made from a dirty tree (uncommitted changes on {commit})")
    return "; ".join(reasons) or None


INDEX = ".status-index.json"
"""The cache of :meth:`Store.done_manifests` (what status reads of each done run)."""


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
        found = self.finished(run_id)
        return None if found is None else found[0]

    def finished(self, run_id: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The summary and manifest of a finished run, or None (as :meth:`done`)."""
        folder = f"{self.runs}/{run_id}/"  # strings, not Paths: status reads 10,000 of these
        try:
            with open(folder + "summary.json", "rb") as handle:
                summary = json.loads(handle.read())
            with open(folder + "manifest.json", "rb") as handle:
                manifest = json.loads(handle.read())
        except (OSError, ValueError):
            return None
        if not isinstance(summary, dict) or not isinstance(manifest, dict):
            return None
        sweep = manifest.get("sweep")
        if not isinstance(sweep, dict) or sweep.get("run_id") != run_id:
            return None
        return summary, manifest

    def done_manifests(self, run_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """For each done run of ``run_ids``: what ``fiscosim sweep status`` reports of its
        manifest (``fiscosim_version``, ``git``, ``sweep.wall_s``).

        Reading 10,000 run folders takes seconds, so the answers are kept in
        ``.status-index.json`` beside the runs, each with the inode, modification time and
        size of the run's ``summary.json`` and ``manifest.json``: a run whose two files are
        unchanged is not read again (a rewritten run folder has new files, an edited file
        another time or size). The index is only a cache: removed, it is rebuilt; a folder
        that cannot be written to is read in full each time."""
        index = self.read_json(INDEX)
        runs = index.get("runs") if isinstance(index, dict) and index.get("v") == 1 else None
        known: dict[str, Any] = runs if isinstance(runs, dict) else {}
        found: dict[str, dict[str, Any]] = {}
        kept: dict[str, Any] = dict(known)  # runs not asked about stay as they are
        changed = False
        base = str(self.runs)
        for run_id in run_ids:
            try:
                summary = os.stat(f"{base}/{run_id}/summary.json")
                manifest = os.stat(f"{base}/{run_id}/manifest.json")
            except OSError:
                changed |= kept.pop(run_id, None) is not None
                continue
            mark = [summary.st_ino, summary.st_mtime_ns, summary.st_size,
                    manifest.st_ino, manifest.st_mtime_ns, manifest.st_size]
            entry = known.get(run_id)
            if not (isinstance(entry, dict) and entry.get("mark") == mark
                    and isinstance(entry.get("manifest"), dict)):
                done = self.finished(run_id)
                if done is None:
                    changed |= kept.pop(run_id, None) is not None
                    continue
                full = done[1]
                entry = {"mark": mark, "manifest": {
                    "fiscosim_version": full.get("fiscosim_version"), "git": full.get("git"),
                    "sweep": {"wall_s": full["sweep"].get("wall_s")}}}
                changed = True
            kept[run_id] = entry
            found[run_id] = entry["manifest"]
        if changed:
            with contextlib.suppress(OSError):
                write_results(self.root, {INDEX: json.dumps({"v": 1, "runs": kept},
                                                            separators=(",", ":"))})
        return found

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
        old = None
        try:
            # The staging folder is the temporary: its files need no temporaries of their own.
            staging.mkdir()
            for name, text in files.items():
                with open(staging / name, "w", encoding="utf-8") as handle:
                    handle.write(text)
            if final.exists():  # a stale run (--rerun-stale) or a partial folder: replaced
                old = temporary_name(final)
                os.rename(final, old)  # a kill from here leaves a temporary, not a half run
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            if old is not None and not final.exists():
                with contextlib.suppress(OSError):
                    os.rename(old, final)  # the previous run stays
                    old = None
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
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

    def stale_temporaries(self) -> list[Path]:
        """The temporaries (run folders and files) of writers no longer running: what a
        coordinator killed while writing left."""
        found = []
        for folder in (self.root, self.runs, self.failed, self.tables, self.plots,
                       self.root / "search"):
            try:
                entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                continue
            for entry in entries:
                match = TEMPORARY.fullmatch(entry.name)
                if match is not None and not _alive(int(match["pid"])):
                    found.append(Path(entry.path))
        return found

    def remove_stale(self) -> list[Path]:
        """Removes the temporaries of writers no longer running (:meth:`stale_temporaries`)."""
        removed = self.stale_temporaries()
        for path in removed:
            remove(path)
        return removed

    def remove_run(self, run_id: str) -> Path:
        """Removes ``runs/<run_id>/``: renamed out of ``runs/`` first, so a kill midway
        leaves a temporary (removed later), never a half-removed run."""
        final = self.runs / run_id
        doomed = temporary_name(final)
        os.rename(final, doomed)
        remove(doomed)
        return final

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


def remove(path: Path) -> None:
    """Removes a file or a folder (and what it holds); one already gone is no error."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
