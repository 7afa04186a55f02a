"""The command line's guards around a sweep: checks before anything runs, and faults kept local.

Part of the command-line edge (``sim.cli``; Hydra is imported here and there only).
Before a run or sweep starts (``SweepTable.on_run_start`` / ``on_multirun_start``):

- the output folder must be usable: a read-only disk or a path through a file is one
  line, ``error: ...``, exit 2, before any job runs;
- every job of a sweep must get a folder of its own (``sim.analysis.sweep.job_dirname``
  is a readable name plus a hash of the job's overrides, so only two jobs with the same
  overrides, e.g. ``seed=1,1`` or a difference in an excluded key, can collide): a sweep
  that would put two jobs into one folder is refused, naming both;
- a sweep folder is locked for the sweep's lifetime (``flock`` on ``.sweep.lock``, freed by
  the kernel when the process dies): a second sweep into it is refused with a message,
  or waits for it with ``CHANGESIM_WAIT=1``.

While it runs, the joblib launcher (the default, ``configs/hydra/launcher/joblib_cores.yaml``)
runs each job through ``_safe_execute_job``, which turns an exception that escapes a job,
even one in Hydra's own set-up of the job folder (a full disk), into that job's failure,
printed with the job's name, so the other jobs go on; joblib's workers end when the main process dies
(``sim.analysis.sweep.watch_parent``).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher import _core as joblib_core
from omegaconf import DictConfig, OmegaConf

from sim.analysis import sweep

LOCK = ".sweep.lock"
"""Lock file of a sweep folder (held with ``flock`` by the sweep's main process)."""
WAIT_ENV = "CHANGESIM_WAIT"
"""Set to 1 to wait for a sweep folder in use instead of refusing."""

_HELD: dict[str, int] = {}
_execute_job = getattr(joblib_core.execute_job, "original", joblib_core.execute_job)


def refuse(msg: str, code: int = 2) -> None:
    """Print ``error: msg`` and end the command (before anything has run)."""
    print(f"error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


def check_run_dir(config: DictConfig) -> None:
    """A single run's output folder must be usable (called before Hydra makes it)."""
    run_dir = str(config.hydra.run.dir)
    why = sweep.unusable(run_dir)
    if why is not None:
        refuse(f"hydra.run.dir={run_dir}: {why}")


def job_folders(config: DictConfig) -> list[tuple[str, list[str]]]:
    """(folder name, overrides) of every job the basic sweeper will launch, in order.

    Returns an empty list for another sweeper (its jobs are not known in advance).
    """
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    target = str(OmegaConf.select(config, "hydra.sweeper._target_", default=""))
    if not target.endswith("BasicSweeper"):
        return []
    params = OmegaConf.select(config, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{k}={v}" for k, v in params.items()]
    arguments += list(OmegaConf.select(config, "hydra.overrides.task", default=[]) or [])
    loader = GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None
    parser = OverridesParser.create(config_loader=loader)
    jobs = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)[0]
    od = config.hydra.job.config.override_dirname
    out = []
    for num, overrides in enumerate(jobs):
        dirname = get_overrides_dirname(
            overrides=parser.parse_overrides(list(overrides)),
            kv_sep=od.kv_sep,
            item_sep=od.item_sep,
            exclude_keys=list(od.exclude_keys),
        )
        out.append((sweep.job_dirname(num, dirname), list(overrides)))
        _adopt_legacy(config, dirname, out[-1][0], list(overrides))
    return out


def _adopt_legacy(config: DictConfig, dirname: str, name: str, overrides: list[str]) -> None:
    """Rename a job folder named the pre-hash way (changesim < issue 17) to its hashed name.

    Without this, a sweep resumed after the upgrade would redo every job into a new folder
    and the table would hold each job twice. Only a folder whose recorded overrides are this
    job's exactly is renamed.
    """
    sweep_dir = Path(str(config.hydra.sweep.dir))
    old = sweep_dir / sweep.legacy_dirname(dirname)
    new = sweep_dir / name
    if not dirname or new.exists() or not (old / ".hydra" / "overrides.yaml").is_file():
        return
    recorded = sorted(str(x) for x in (OmegaConf.load(old / ".hydra" / "overrides.yaml") or []))
    if recorded == sorted(overrides):
        old.rename(new)
        print(
            f"renamed {old.name} -> {new.name} (job folders now end in a hash of the overrides)", flush=True
        )


def check_sweep(config: DictConfig) -> None:
    """Before a sweep: a usable folder, one folder per job, and the folder locked for this sweep."""
    sweep_dir = Path(str(config.hydra.sweep.dir))
    why = sweep.unusable(sweep_dir)
    if why is not None:
        refuse(f"hydra.sweep.dir={sweep_dir}: {why}")
    lock(sweep_dir)
    raw_subdir = str(OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir", ""))
    if "job_dirname" in raw_subdir:  # the usual naming; a custom subdir is the user's to keep unique
        seen: dict[str, list[str]] = {}
        for name, overrides in job_folders(config):
            if name in seen:
                refuse(
                    f"two jobs of this sweep would share the folder {sweep_dir / name}: "
                    f"[{' '.join(seen[name])}] and [{' '.join(overrides)}]; make every job's "
                    "overrides differ (a key listed in hydra.job.config.override_dirname.exclude_keys "
                    "does not count)"
                )
            seen[name] = overrides
    os.environ[sweep.MAIN_PID_ENV] = str(os.getpid())


def add_missing_jobs(report: sweep.SweepReport, config: DictConfig) -> None:
    """Name, as failed, each job of this sweep that left no job folder (it failed before it began)."""
    try:
        expected = job_folders(config)
    except Exception:  # the sweep ran, so its overrides parsed; nothing to add if not
        return
    seen = {*report.done, *report.damaged, *report.failed, *report.incomplete}
    for name, overrides in expected:
        if name not in seen:
            report.failed[name] = (
                f"{sweep.NO_FOLDER}: the job [{' '.join(overrides)}] failed before it started (see above)"
            )


def lock(sweep_dir: Path) -> None:
    """Hold ``sweep_dir/.sweep.lock`` until this process ends; refuse (or wait) if another holds it."""
    key = str(sweep_dir.resolve())
    if key in _HELD:
        return
    path = sweep_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
        if os.environ.get(WAIT_ENV, "") not in ("", "0"):
            print(f"waiting: sweep folder {sweep_dir} is in use by {holder} ...", file=sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            os.close(fd)
            refuse(
                f"sweep folder {sweep_dir} is in use by {holder}; wait for it to finish, use another "
                f"hydra.sweep.dir, or set {WAIT_ENV}=1 to wait for it"
            )
    os.ftruncate(fd, 0)
    os.pwrite(
        fd, f"changesim sweep, pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0
    )
    _HELD[key] = fd


def _safe_execute_job(
    idx: int,
    overrides: list[str],
    hydra_context: Any,
    config: DictConfig,
    task_function: Any,
    singleton_state: dict[Any, Any],
) -> JobReturn:
    """Joblib's ``execute_job``, with anything that escapes it made into this job's failure."""
    try:
        return _execute_job(idx, overrides, hydra_context, config, task_function, singleton_state)
    except Exception as e:
        label = ",".join(overrides) or f"job {idx}"
        msg = f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}"
        if getattr(e, "filename", None):
            msg += f" ({e.filename})"
        print(
            f"FAILED {label}: {msg} (before its outputs: no {sweep.ERROR} written)",
            file=sys.stderr,
            flush=True,
        )
        ret = JobReturn()
        ret.overrides = list(overrides)
        ret.status = JobStatus.COMPLETED
        ret.return_value = {"status": "failed", "error": msg}
        return ret


# Hydra only instantiates launchers from the hydra_plugins package, so rather than a subclass
# of the joblib launcher, its module-level job function is wrapped (in the main process, where
# joblib's ``launch`` looks it up; workers receive the wrapper by reference).
joblib_core.execute_job = _safe_execute_job


_safe_execute_job.original = _execute_job  # type: ignore[attr-defined]
