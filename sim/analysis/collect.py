"""Combine every finished job of a sweep folder into one Parquet file, one job in memory at a time.

Each job of ``changesim -m`` already writes its rows when it finishes: ``summary.parquet``
(one row per replicate, with its seed), ``timeseries.parquet``, ``provenance.json`` and,
last, ``DONE`` (``sim.analysis.sweep``; ``sim.run.Result.save``). ``collect`` streams those files
into ``<sweep>/sweep_runs.parquet`` (and, on request, ``sweep_timeseries.parquet``) with an
incremental ``pyarrow.parquet.ParquetWriter`` (row groups of up to 16 MB or 256 jobs), and in front of the
job's own columns the swept parameters (typed as the job used them), the job's folder and
the software versions from its provenance. Memory stays flat as the sweep grows: a first
pass reads only the overrides and Parquet footers, to fix one schema; the second holds at
most one row group's worth of jobs. ``sim.analysis.sweep.collect`` builds the same rows as one pandas table in
memory, which is handier for small sweeps and is what the ``SweepTable`` callback writes.

Sweeps are resumable because a job with a ``DONE`` written for the same configuration is
skipped (``sim.analysis.sweep.is_done``), whichever launcher ran it, so re-running the sweep command
into the same folder runs only what is missing; ``status`` says what that is. With the
submitit launchers it also reads ``.submitit/``: a task that left no result pickle was
killed (scancel, time limit, out of memory, node loss) and is reported with the last line
of its stderr, even if it died before Hydra made its job folder.

No Hydra import here: ``python -m sim.analysis.collect <sweep_dir> [--timeseries]`` works anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import pickletools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from sim.analysis import sweep

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on Hydra's config.yaml

RUNS = "sweep_runs"
TIMESERIES = "sweep_timeseries"
ROW_GROUP_BYTES = 16 * 2**20
ROW_GROUP_JOBS = 256
"""Rows of several jobs are written together, in row groups of up to 16 MB or 256 jobs: the
writer keeps the metadata of every row group until it closes (about 20 kB each), so a row
group per job makes memory grow with the sweep (measured: +230 MB at 5,000 jobs), and so do
many small tables held at once (about 20 kB each, whatever their rows)."""
VERSION_KEYS = ("changesim", "python", "numpy", "numba", "engine")
"""Provenance fields copied onto every row (``engine`` is how the job ran, not a version)."""


@dataclass
class JobFolder:
    """One job folder of a sweep and what it holds."""

    path: Path
    name: str  # relative to the sweep folder, posix
    state: str  # done, damaged (DONE, but its outputs do not check out), failed or incomplete
    problem: str = ""  # why a damaged job's outputs cannot be trusted

    @property
    def overrides_file(self) -> Path:
        """Hydra's record of the job's overrides."""
        return self.path / ".hydra" / "overrides.yaml"


@dataclass
class SweepStatus:
    """What a sweep folder holds: counts, and the jobs a re-run would redo.

    Attributes:
        n_done: jobs with ``DONE`` whose certified outputs check out.
        done: their folders (relative), in order.
        damaged: job folder -> what is wrong with the outputs its ``DONE`` certified
            (missing, changed or unreadable); a re-run of the sweep redoes it.
        failed: job folder -> last line of its ``ERROR.txt``.
        incomplete: job folders with neither ``DONE`` nor ``ERROR.txt`` (interrupted, or running).
        lost: submitit task id -> why it died, for tasks that left no result (killed, or
            still running: check the queue) and whose job no later submission finished.
    """

    n_done: int = 0
    done: list[str] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every job that was started finished and no task died."""
        return not (self.failed or self.incomplete or self.lost or self.damaged)

    def describe(self) -> str:
        """A few plain lines for the terminal."""
        n = self.n_done + len(self.failed) + len(self.incomplete) + len(self.damaged)
        lines = [f"sweep: {self.n_done} of {n} job folders complete"]
        lines += [
            msg.replace("NOT COLLECTED: ", f"NOT COLLECTED {job}: ", 1)
            if msg.startswith("NOT COLLECTED: ")
            else f"DAMAGED {job}: {msg}"
            for job, msg in self.damaged.items()
        ]
        lines += [f"FAILED {job}: {msg}" for job, msg in self.failed.items()]
        lines += [
            f"INCOMPLETE {job}: no {sweep.DONE} (interrupted or still running)" for job in self.incomplete
        ]
        lines += [f"NO RESULT from task {task}: {msg}" for task, msg in self.lost.items()]
        if not self.complete:
            lines.append("re-run the same sweep command into this folder to redo only these jobs")
        return "\n".join(lines)


@dataclass
class Collected:
    """The files ``collect`` wrote and what it found."""

    status: SweepStatus
    paths: dict[str, Path] = field(default_factory=dict)
    n_rows: dict[str, int] = field(default_factory=dict)


def _names(sweep_dir: Path) -> list[str]:
    """Relative names of the job folders (a folder Hydra wrote ``.hydra/overrides.yaml`` into), sorted.

    Only names are kept (about 130 bytes a job: 100,000 jobs cost ~13 MB here). A walk with
    ``os.scandir`` rather than ``Path.glob("**/...")``, which keeps every path it has yielded
    (about 700 bytes a job). Hidden folders (``.submitit``) and job folders are not descended.
    """
    found: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(sweep_dir / rel if rel else sweep_dir) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                name = f"{rel}/{entry.name}" if rel else entry.name
                if os.path.isfile(os.path.join(entry.path, ".hydra", "overrides.yaml")):
                    found.append(name)
                else:
                    stack.append(name)
    return sorted(found)


def job_folders(sweep_dir: Path, names: list[str] | None = None) -> Iterator[JobFolder]:
    """Every job folder under ``sweep_dir``, sorted by name, with its state."""
    for name in _names(sweep_dir) if names is None else names:
        folder = sweep_dir / name
        problem = ""
        if (folder / sweep.DONE).is_file():
            problem = sweep.verify(folder) or ""
            state = "damaged" if problem else "done"
        elif (folder / sweep.ERROR).is_file():
            state = "failed"
        else:
            state = "incomplete"
        yield JobFolder(folder, name, state, problem)


_SLURM_VERDICT = re.compile(
    r"\*\*\* (JOB|STEP) .*(CANCELLED|TIME LIMIT|PREEMPTION|NODE FAILURE).*\*\*\*|oom[-_ ]kill", re.I
)


def _reason(path: Path) -> str:
    """Why a task died: Slurm's ``*** JOB ... CANCELLED ... ***`` line (or OOM kill), else the last line."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(unreadable)"
    for line in text.splitlines():
        if _SLURM_VERDICT.search(line):
            return line.strip()
    return _last_line(path)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(unreadable)"
    return lines[-1].strip() if lines else "(empty)"


def job_id(folder: Path) -> str | None:
    """The launcher's job id Hydra recorded for a job (``<array>_<task>`` under Slurm)."""
    path = folder / ".hydra" / "hydra.yaml"
    if not path.is_file():
        return None
    job = (yaml.load(path.read_text(), Loader=_LOADER) or {}).get("hydra", {}).get("job", {})
    return None if job.get("id") is None else str(job["id"])


def _pickled_strings(path: Path) -> set[str]:
    """The ``key=value`` strings in a pickle, read with ``pickletools`` (nothing is unpickled or run)."""
    found: set[str] = set()
    try:
        with path.open("rb") as f:
            for _, arg, _ in pickletools.genops(f):
                if isinstance(arg, str) and "=" in arg:
                    found.add(arg)
    except (OSError, ValueError, pickle.UnpicklingError):
        pass
    return found


def _job_of_task(task: Path, sweep_dir: Path, names: list[str]) -> str | None:
    """The job folder a submitit task ran: the one whose every override is in the task's pickle."""
    strings = set().union(*(_pickled_strings(p) for p in task.glob("*_submitted.pkl")))
    best, n_best = None, -1
    for name in names:
        ov = [f"{k}={v}" for k, v in sweep._overrides(sweep_dir / name / ".hydra" / "overrides.yaml")]
        if len(ov) > n_best and set(ov) <= strings:
            best, n_best = name, len(ov)
    return best


def lost_tasks(sweep_dir: Path, names: list[str] | None = None) -> dict[str, str]:
    """Tasks of submitit under ``sweep_dir/.submitit`` that left no result pickle.

    A task whose job has since been completed by a later submission (a resumed sweep) is
    not reported. Tasks are matched to job folders through the override strings in their
    submission pickle, read without unpickling it.

    Returns:
        task id -> why it died: the line Slurm writes to its stderr when it kills a task
        (``*** JOB 16 ON vm CANCELLED AT ... ***``, time limit, node failure, OOM), else
        the last line of that stderr; then the job folder, where one was made.
    """
    root = sweep_dir / ".submitit"
    out: dict[str, str] = {}
    if not root.is_dir():
        return out
    names = _names(sweep_dir) if names is None else names
    for task in sorted(p for p in root.iterdir() if p.is_dir()):
        submitted = list(task.glob("*_submitted.pkl"))
        if not submitted or list(task.glob("*_result.pkl")):
            continue  # the array's own folder holds no task; a result means the task returned
        job = _job_of_task(task, sweep_dir, names)
        done = sweep_dir / job / sweep.DONE if job else None
        if done is not None and done.is_file() and done.stat().st_mtime > submitted[0].stat().st_mtime:
            continue  # a later submission finished this job
        errs = sorted(task.glob("*_log.err"))
        reason = _reason(errs[0]) if errs else "(no stderr: never started?)"
        out[task.name] = f"{reason} (job folder {job})" if job else reason
    return out


def status(sweep_dir: str | Path, names: list[str] | None = None) -> SweepStatus:
    """Done, damaged, failed, incomplete and lost jobs of a sweep folder.

    A job is done only if every file its ``DONE`` certified is there with the same size
    and checksum (``sim.analysis.sweep.verify``): what ``collect`` would read is checked.
    """
    sweep_dir = Path(sweep_dir)
    names = _names(sweep_dir) if names is None else names
    st = SweepStatus()
    for job in job_folders(sweep_dir, names):
        if job.state == "done":
            st.n_done += 1
            st.done.append(job.name)
        elif job.state == "damaged":
            st.damaged[job.name] = job.problem
        elif job.state == "failed":
            st.failed[job.name] = _last_line(job.path / sweep.ERROR)
        else:
            st.incomplete.append(job.name)
    st.lost = lost_tasks(sweep_dir, names)
    return st


def _params(job: JobFolder, summary_columns: set[str]) -> dict[str, Any]:
    """Swept parameters of a job, typed as the job used them (``sim.analysis.sweep``'s rules)."""
    config_path = job.path / ".hydra" / "config.yaml"
    config = (yaml.load(config_path.read_text(), Loader=_LOADER) or {}) if config_path.is_file() else {}
    params: dict[str, Any] = {}
    for key, raw in sweep._overrides(job.overrides_file):
        name = f"config.{key}" if key in summary_columns or key == "job" else key
        params[name] = sweep._value(config, key, raw)
    return params


def _arrow_type(kinds: set[type]) -> pa.DataType:
    if kinds == {bool}:
        return pa.bool_()
    if kinds and kinds <= {int}:
        return pa.int64()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    return pa.string()  # mixed or text (a config group's option name)


def _versions(job: JobFolder) -> dict[str, str | None]:
    path = job.path / "provenance.json"
    try:
        prov = json.loads(path.read_text())
    except (OSError, ValueError):
        prov = {}
    return {f"{k}_version" if k != "engine" else k: prov.get(k) for k in VERSION_KEYS}


def _table_file(job: JobFolder, name: str) -> Path | None:
    path = job.path / f"{name}.parquet"
    return path if path.is_file() else None


def _done(sweep_dir: Path, names: list[str]) -> Iterator[JobFolder]:
    """The jobs ``status`` found done (``names``), without verifying them again."""
    return (JobFolder(sweep_dir / name, name, "done") for name in names)


def _plan(
    jobs: Iterator[JobFolder], name: str, bad: dict[str, str]
) -> tuple[pa.Schema, dict[str, pa.DataType]] | None:
    """First pass: one schema for all jobs, from the Parquet footers and the overrides only.

    A job whose file cannot be read is added to ``bad`` (name -> why) and left out.
    """
    data_fields: dict[str, pa.Field] = {}
    kinds: dict[str, set[type]] = {}
    for job in jobs:
        path = _table_file(job, name)
        if path is None:
            if (job.path / f"{name}.csv").is_file():
                bad[job.name] = (
                    f"NOT COLLECTED: {name}.csv only (output_format=csv); collect combines Parquet files "
                    "(python -m sim.analysis.sweep <sweep folder> reads CSV jobs too)"
                )
            continue
        try:
            own = pq.read_schema(path)
        except Exception as e:  # a file DONE did not certify (older DONE), unreadable
            bad[job.name] = f"{path.name} cannot be read: {e}"
            continue
        for f in own:
            if f.name not in data_fields:
                data_fields[f.name] = f.remove_metadata()
        for key, value in _params(job, set(own.names)).items():
            kinds.setdefault(key, set()).add(type(value))
    if not data_fields:
        return None
    param_types = {k: _arrow_type(v) for k, v in kinds.items()}
    front = [pa.field(k, t) for k, t in param_types.items()]
    front.append(pa.field("job", pa.string()))
    front += [
        pa.field(f"{k}_version" if k != "engine" else k, pa.string())
        for k in VERSION_KEYS
        if (f"{k}_version" if k != "engine" else k) not in data_fields
    ]
    return pa.schema(front + list(data_fields.values())), param_types


def _job_table(job: JobFolder, name: str, schema: pa.Schema) -> pa.Table | None:
    path = _table_file(job, name)
    if path is None:
        return None
    data = pq.read_table(path)
    data = data.replace_schema_metadata(None)
    n = data.num_rows
    consts: dict[str, Any] = {**_params(job, set(data.column_names)), "job": job.name, **_versions(job)}
    columns = []
    for f in schema:
        if f.name in data.column_names:
            columns.append(data.column(f.name).cast(f.type))
        elif f.name in consts:
            value = consts[f.name]
            if pa.types.is_string(f.type) and value is not None:
                value = str(value)
            columns.append(pa.array([value] * n, type=f.type))
        else:  # a column other jobs have and this one lacks (an older version's summary)
            columns.append(pa.nulls(n, type=f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def collect(sweep_dir: str | Path, timeseries: bool = False) -> Collected:
    """Stream every finished job of ``sweep_dir`` into ``sweep_runs.parquet`` (and the time series).

    Rows keep each job's own columns (``replicate``, ``seed``, the summary outcomes) behind
    the swept parameters (one column per overridden key, dotted; an override named like a
    data column is prefixed ``config.``), ``job`` and ``changesim_version``,
    ``python_version``, ``numpy_version``, ``numba_version``, ``engine``. Files are written
    under a temporary name and renamed, so a reader never sees half a dataset.

    Args:
        sweep_dir: the sweep folder (``hydra.sweep.dir``).
        timeseries: also combine ``timeseries.parquet`` (large: replicates x steps x groups per job).
    """
    sweep_dir = Path(sweep_dir)
    names = _names(sweep_dir)
    st = status(sweep_dir, names)
    result = Collected(status=st)
    for name, out_name, wanted in (("summary", RUNS, True), ("timeseries", TIMESERIES, timeseries)):
        if not wanted:
            continue
        bad: dict[str, str] = {}
        plan = _plan(_done(sweep_dir, st.done), name, bad)
        _set_aside(st, bad)
        path = sweep_dir / f"{out_name}.parquet"
        if plan is None:
            path.unlink(missing_ok=True)  # never leave an earlier table behind as if current
            continue
        schema, _ = plan
        tmp = path.with_name(path.name + ".tmp")
        n_rows = 0
        with pq.ParquetWriter(tmp, schema) as writer:
            pending: list[pa.Table] = []
            size = 0
            for job in _done(sweep_dir, list(st.done)):
                try:
                    table = _job_table(job, name, schema)
                except Exception as e:  # unreadable after all: left out and named
                    bad[job.name] = f"{name}.parquet cannot be read: {e}"
                    continue
                if table is None:
                    continue
                pending.append(table)
                size += table.nbytes
                n_rows += table.num_rows
                if size >= ROW_GROUP_BYTES or len(pending) >= ROW_GROUP_JOBS:
                    writer.write_table(pa.concat_tables(pending))
                    pending, size = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending))
        tmp.replace(path)
        _set_aside(st, bad)
        result.paths[name] = path
        result.n_rows[name] = n_rows
    return result


def _set_aside(st: SweepStatus, bad: dict[str, str]) -> None:
    """Move jobs whose files could not be read from done to damaged."""
    for job, why in bad.items():
        if job in st.done:
            st.done.remove(job)
            st.n_done -= 1
        st.damaged[job] = why


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.analysis.collect <sweep_dir> [--timeseries] [--status]``; exit 1 if any is missing."""
    parser = argparse.ArgumentParser(prog="changesim collect", description=main.__doc__)
    parser.add_argument("sweep_dir", type=Path, help="the sweep folder (hydra.sweep.dir)")
    parser.add_argument("--timeseries", action="store_true", help="also combine the time series")
    parser.add_argument("--status", action="store_true", help="only report done, failed and missing jobs")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        parser.error(f"{args.sweep_dir} is not a folder")
    if args.status:
        st = status(args.sweep_dir)
    else:
        try:
            res = collect(args.sweep_dir, timeseries=args.timeseries)
        except OSError as e:
            print(
                f"error: cannot write the sweep table into {args.sweep_dir}: {e.strerror or e}",
                file=sys.stderr,
            )
            return 1
        st = res.status
        for name, path in res.paths.items():
            print(f"{name}: {res.n_rows[name]} rows -> {path}")
    print(st.describe())
    return 0 if st.complete else 1


if __name__ == "__main__":
    sys.exit(main())
