"""Job folders of a sweep: completion markers, resume, and one tidy table for the sweep.

A job folder is complete when it holds ``DONE``, written last, after every other output
has been written under a temporary name and renamed. ``DONE`` records the job's full
configuration, so a re-run of the same sweep into the same folder skips exactly the jobs
that finished with the same configuration, and an interrupted job (no ``DONE``) or a job
whose configuration changed runs again. A failed job leaves ``ERROR.txt`` instead.

``collect`` reads every job folder under a sweep folder (Hydra writes each job's
overrides to ``<job>/.hydra/overrides.yaml``) into one table: one row per job x
replicate, a column per overridden key, then the job's per-replicate summary. No Hydra
import here, so the table can be rebuilt from a terminal: ``python -m sim.analysis.sweep <dir>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.metrics import STEP_COLUMNS
from sim.provenance import provenance
from sim.provenance import write as write_provenance

DONE = "DONE"
NO_FOLDER = "no job folder"
"""How a failed job that never made its folder is described (``sim.cli_sweep.add_missing_jobs``)."""
ERROR = "ERROR.txt"
TABLE = "sweep_summary"
PROVENANCE = "sweep_provenance.json"
# Longest job folder name; longer override lists are cut and given a hash (file systems
# refuse names over 255 bytes).
MAX_DIRNAME = 120


def job_dirname(num: int, override_dirname: str) -> str:
    """Folder name of one job: its overrides made readable, then a hash of them (``a=1,b=x-3f2c9e01d4``).

    The readable part turns ``/`` into ``_`` and is cut at ``MAX_DIRNAME`` bytes, so two
    override lists can read alike (``org.name=a/b`` and ``org.name=a_b``); the 10-hex-digit
    hash of the exact overrides keeps their folders apart. A job without overrides is
    ``job<num>``. ``sim.cli_sweep`` refuses a sweep whose jobs would still share a folder
    (identical overrides).
    """
    if not override_dirname:
        return f"job{num}"
    digest = hashlib.sha1(override_dirname.encode()).hexdigest()[:10]
    name = override_dirname.replace("/", "_").replace("\0", "")
    room = MAX_DIRNAME - len(digest) - 1
    if len(name.encode()) > room:
        name = name.encode()[:room].decode(errors="ignore")
    return f"{name}-{digest}"


def legacy_dirname(override_dirname: str) -> str:
    """The folder name a job had before names carried a hash (only to find and rename old folders)."""
    name = override_dirname.replace("/", "_")
    if len(name.encode()) > MAX_DIRNAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:12]
        name = name.encode()[: MAX_DIRNAME - 13].decode(errors="ignore") + "_" + digest
    return name


def unusable(folder: str | Path) -> str | None:
    """Why outputs cannot be written into ``folder`` (made if missing), or None if they can.

    Checked before anything runs, so a read-only disk, a path through a file or a full
    disk is one line at the start rather than a traceback in every job.
    """
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                return f"{part} is a file, not a folder"
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        with probe.open("wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        return f"cannot write into {folder}: {e.strerror or e}"
    return None


MAIN_PID_ENV = "CHANGESIM_SWEEP_PID"
"""Pid of a sweep's main process, inherited by its workers (``watch_parent``)."""
_WATCHED: list[Any] = []
_WATCHDOG = """
import os, select, signal, sys
main, worker = (os.pidfd_open(int(p)) for p in sys.argv[1:3])
ready, _, _ = select.select([main, worker], [], [])
if main in ready and worker not in ready:
    signal.pidfd_send_signal(worker, signal.SIGKILL)
"""


def watch_parent() -> None:
    """End this worker process when the sweep's main process dies (call in a worker).

    joblib's loky workers otherwise outlive a killed sweep, idle but holding their memory,
    for as long as loky's idle timeout. A small watchdog process waits on process file
    descriptors (``pidfd``, so a recycled pid is never signalled) for the main process or
    this worker to end; if the main process goes first it kills the worker. A thread in
    the worker could not do this: a Numba kernel holds the GIL for the whole job. The job
    that was running has no ``DONE``, so a re-run of the sweep redoes it. Only in a worker
    whose parent is the sweep's main process (``CHANGESIM_SWEEP_PID``); once per process.
    """
    main = os.environ.get(MAIN_PID_ENV)
    if _WATCHED or main is None or str(os.getppid()) != main or not hasattr(os, "pidfd_open"):
        return
    import subprocess

    _WATCHED.append(
        subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _WATCHDOG, main, str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal is for the sweep, not the watchdog
        )
    )


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary name, then rename: readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _normalise(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _rows(path: Path) -> int | None:
    """Rows of a table file (Parquet footer, or CSV lines after the header); None for others."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".csv":
        with path.open("rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest(folder: Path, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """Name -> size (bytes), sha256 and rows of each output file, as ``DONE`` records them."""
    out = {}
    for path in paths:
        path = Path(path)
        out[path.relative_to(folder).as_posix()] = {
            "bytes": path.stat().st_size,
            "sha256": _sha256(path),
            "rows": _rows(path),
        }
    return out


def damage(folder: Path, files: dict[str, dict[str, Any]]) -> str | None:
    """What is wrong with the outputs ``DONE`` certified (first problem found), or None."""
    for name, want in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        try:
            size = path.stat().st_size
            if size != want.get("bytes"):
                return f"{name} has {size} bytes, {DONE} certified {want.get('bytes')}"
            if _sha256(path) != want.get("sha256"):
                return f"{name} does not match the checksum in {DONE} (changed or corrupt)"
        except OSError as e:
            return f"{name} cannot be read: {e.strerror or e}"
    return None


def read_done(folder: Path) -> dict[str, Any] | None:
    """The contents of ``folder/DONE``, or None if it is missing or unreadable."""
    try:
        data = json.loads((folder / DONE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def verify(folder: Path) -> str | None:
    """Why a job folder with ``DONE`` cannot be trusted (None if every certified file checks out).

    A ``DONE`` from before outputs were certified (no ``files``) is checked for a readable summary.
    """
    done = read_done(folder)
    if done is None:
        return f"{DONE} is unreadable"
    files = done.get("files")
    if files is None:
        for name in ("summary.parquet", "summary.csv"):
            if (folder / name).is_file():
                return None
        return f"no summary file ({DONE} from an older version lists no files)"
    return damage(folder, files)


def redo_reason(folder: Path, stamp: dict[str, Any]) -> str | None:
    """None if ``folder`` holds a job finished with ``stamp`` whose outputs check out; else why to run it.

    ``"new"`` for a job never finished; otherwise a reason to print (changed config,
    missing or corrupt outputs).
    """
    done = read_done(folder)
    if done is None:
        return "new"
    if done.get("stamp") != _normalise(stamp):
        return "new"
    problem = verify(folder)
    return None if problem is None else f"its outputs are damaged: {problem}"


def is_done(folder: Path, stamp: dict[str, Any]) -> bool:
    """True if ``folder`` holds a ``DONE`` for this very ``stamp`` and its outputs check out."""
    return redo_reason(folder, stamp) is None


def start(folder: Path) -> None:
    """Forget an earlier attempt's completion and error markers before a job (re)starts."""
    for name in (DONE, ERROR):
        (folder / name).unlink(missing_ok=True)


def finish(folder: Path, stamp: dict[str, Any], paths: list[Path] = (), **info: Any) -> None:
    """Mark ``folder`` complete (call last): ``DONE`` holds the stamp, the certified files and ``info``."""
    files = manifest(folder, list(paths))
    text = json.dumps({"stamp": _normalise(stamp), "files": files, **info}, indent=2, default=str)
    write_text(folder / DONE, text)


def fail(folder: Path, text: str) -> None:
    """Record a failed job: ``ERROR.txt`` with the message or traceback."""
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / ERROR, text)


@dataclass
class SweepReport:
    """What ``collect`` found under a sweep folder.

    Attributes:
        table: one row per completed job x replicate.
        done: job folders (relative) that completed, with outputs that check out.
        damaged: job folder -> what is wrong with the outputs its ``DONE`` certified.
        failed: job folder -> last line of its error.
        incomplete: job folders with neither ``DONE`` nor ``ERROR.txt`` (interrupted).
        paths: files written by ``write``.
        table_error: why the sweep table could not be written (None if it was).
    """

    table: pd.DataFrame
    done: list[str] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    table_error: str | None = None

    def describe(self) -> str:
        """A few plain lines for the terminal."""
        n = len(self.done) + len(self.failed) + len(self.incomplete) + len(self.damaged)
        lines = [f"sweep: {len(self.done)} of {n} jobs complete, {len(self.table)} rows (job x replicate)"]
        if self.paths:
            lines.append("sweep table: " + ", ".join(str(p) for p in self.paths))
        if self.table_error is not None:
            lines.append(
                f"error: the sweep table was not written ({self.table_error}); each job's results are in its "
                "folder: rebuild the table with `changesim collect <sweep folder>` once there is room"
            )
        for job, msg in self.damaged.items():
            lines.append(f"DAMAGED {job}: {msg}; left out of the table (re-run the sweep to redo it)")
        for job, msg in self.failed.items():
            where = "" if msg.startswith(NO_FOLDER) else f"  (see {job}/{ERROR})"
            lines.append(f"FAILED {job}: {msg}{where}")
        for job in self.incomplete:
            lines.append(f"INCOMPLETE {job}: no {DONE} marker (interrupted?); re-run the sweep to finish it")
        return "\n".join(lines)


def _overrides(path: Path) -> list[tuple[str, str]]:
    """(key, raw value) of each override in a job's overrides.yaml (deletions skipped)."""
    out = []
    for item in yaml.safe_load(path.read_text()) or []:
        item = str(item)
        if item.startswith("~") or "=" not in item:
            continue
        key, value = item.split("=", 1)
        out.append((key.lstrip("+"), value))
    return out


def _lookup(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _value(config: dict[str, Any], key: str, raw: str) -> Any:
    """The typed value a job used for ``key``; the option's name for a config group."""
    v = _lookup(config, key)
    if isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str) and not v.startswith("${"):
        return v
    return raw


def _read_summary(folder: Path) -> pd.DataFrame | None:
    for name, reader in (("summary.parquet", pd.read_parquet), ("summary.csv", pd.read_csv)):
        path = folder / name
        if path.is_file():
            df = reader(path)
            # A CSV reads "never reached" back as float NaN; keep the nullable step type.
            return df.astype({c: "Int64" for c in STEP_COLUMNS if c in df.columns})
    return None


def collect(sweep_dir: str | Path) -> SweepReport:
    """Read every job folder under ``sweep_dir`` into one tidy table.

    Columns: one per overridden key (dotted, e.g. ``dynamics.threshold_mean``; a config
    group gives its option's name, e.g. ``dynamics`` = ``bass``), ``job`` (the job's
    folder), then the job's summary columns (``replicate``, ``seed``, ``final_frac_adopted``,
    ...). An override named like a summary column is prefixed ``config.``: ``config.seed``
    is the job's first seed, ``seed`` the replicate's own (replicate 0 uses the job's seed,
    replicate k a hash of (seed, k): ``sim.rng.replicate_seed``).
    """
    sweep_dir = Path(sweep_dir)
    report = SweepReport(table=pd.DataFrame())
    frames = []
    keys: list[str] = []
    for ov in sorted(sweep_dir.glob("**/.hydra/overrides.yaml")):
        folder = ov.parent.parent
        job = folder.relative_to(sweep_dir).as_posix()
        if (folder / ERROR).is_file() and not (folder / DONE).is_file():
            lines = (folder / ERROR).read_text().strip().splitlines() or ["(empty ERROR.txt)"]
            report.failed[job] = lines[-1]
            continue
        if (folder / DONE).is_file():
            problem = verify(folder)
            if problem is None:
                try:
                    summary = _read_summary(folder)
                except Exception as e:  # not certified (an older DONE) and unreadable
                    problem = f"the summary cannot be read: {e}"
            if problem is not None:
                report.damaged[job] = problem
                continue
        else:
            summary = None
        if summary is None:
            report.incomplete.append(job)
            continue
        config_path = folder / ".hydra" / "config.yaml"
        config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
        params = {}
        for key, raw in _overrides(ov):
            name = f"config.{key}" if key in summary.columns or key == "job" else key
            params[name] = _value(config or {}, key, raw)
            if name not in keys:
                keys.append(name)
        front = pd.DataFrame({**params, "job": job}, index=summary.index)
        frames.append(pd.concat([front, summary], axis=1))
        report.done.append(job)
    if not frames:
        return report
    table = pd.concat(frames, ignore_index=True)
    for key in keys:
        col = table[key]
        kinds = {type(v) for v in col.dropna()}
        if len(kinds) > 1 and not kinds <= {int, float}:
            table[key] = col.astype(str)
    table = table[keys + [c for c in table.columns if c not in keys]]
    try:
        table = table.sort_values(keys + ["replicate"], kind="stable", ignore_index=True)
    except TypeError:  # a column holding incomparable values: keep the folder order
        pass
    report.table = table
    return report


def write(report: SweepReport, sweep_dir: str | Path) -> list[Path]:
    """Write the sweep table as ``sweep_summary.parquet`` and ``.csv`` (and failures, if any)."""
    sweep_dir = Path(sweep_dir)
    paths = []
    for ext in ("parquet", "csv"):
        path = sweep_dir / f"{TABLE}.{ext}"
        tmp = path.with_name(path.name + ".tmp")
        try:
            if ext == "parquet":
                report.table.to_parquet(tmp, index=False)
            else:
                report.table.to_csv(tmp, index=False)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        paths.append(path)
    paths.append(
        write_provenance(
            sweep_dir / PROVENANCE,
            provenance(
                done=sorted(report.done),
                failed=sorted(report.failed),
                incomplete=sorted(report.incomplete),
                damaged=sorted(report.damaged),
            ),
        )
    )
    failures = sweep_dir / "sweep_failures.csv"
    if report.failed:
        df = pd.DataFrame({"job": list(report.failed), "error": list(report.failed.values())})
        df.to_csv(failures, index=False)
        paths.append(failures)
    else:
        failures.unlink(missing_ok=True)
    report.paths = paths
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.analysis.sweep <sweep_dir>``: rebuild a sweep's table from its job folders."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m sim.analysis.sweep <sweep_dir>", file=sys.stderr)
        return 2
    report = collect(args[0])
    write(report, args[0])
    print(report.describe())
    return 1 if (report.failed or report.damaged or report.incomplete) else 0


if __name__ == "__main__":
    sys.exit(main())
