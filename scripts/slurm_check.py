"""End-to-end check of changesim's Slurm path on a running cluster (scripts/slurm_cluster.sh start).

    python scripts/slurm_check.py              # equivalence, a killed task, resume (about 1-2 minutes)
    python scripts/slurm_check.py overhead     # time a job adds to a sweep, against its compute, per launcher

``check`` runs one small sweep (2 x 2 grid, 4 replicates per job, 200 staff, 20 weeks)
three ways and compares what they wrote:

1. locally with the default joblib launcher: the reference;
2. through the submitit Slurm launcher (``changesim -m hydra/launcher=slurm ...``): every
   summary number must equal the reference's, bit for bit (same seeds, same kernels);
3. through Slurm again, with one array task cancelled (``scancel``) while its job runs:
   ``changesim`` must fail within a bound, naming the task as CANCELLED/FAILED; the other
   jobs must finish with the reference's numbers; ``sim.analysis.collect.status`` must report the
   killed task; re-running the same command into the same folder must run only the killed
   job (the others are skipped) and then match the reference completely.

It prints the timings and exits non-zero on the first failed check. Every sweep runs under
a timeout. ``tests/test_slurm.py`` runs the same checks under pytest (``CHANGESIM_SLURM=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GRID = [
    "dynamics.threshold_mean=0.12,0.2",
    "seeding.n_seeds=5,10",
    "n_replicates=4",
    "org.n_staff=200",
    "n_steps=20",
]
SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.timeout_min=10"]
SUMMARY_KEYS = ["dynamics.threshold_mean", "seeding.n_seeds", "seed"]


class CheckFailed(AssertionError):
    """A check of the Slurm path did not hold."""


@dataclass
class Timings:
    """Seconds taken by each step, in the order they ran."""

    steps: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        """Record one step."""
        self.steps[name] = round(seconds, 1)
        print(f"  {name}: {seconds:.1f} s", flush=True)


def cluster_ready() -> bool:
    """True if ``sinfo`` answers and a node can take jobs (idle, in use, or planned for one)."""
    if shutil.which("sinfo") is None:
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    return out.returncode == 0 and bool(re.search(r"^(idle|mix|alloc|plnd|comp)", out.stdout, re.M))


def changesim(
    args: list[str], sweep_dir: Path, timeout: float, config_path: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``python -m sim -m ... hydra.sweep.dir=<sweep_dir>`` as a user would."""
    cmd = [sys.executable, "-m", "sim"]
    if config_path:
        cmd += ["-cp", config_path]
    cmd += ["-m", *args, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=_env())
    if check and proc.returncode != 0:
        raise CheckFailed(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def _env() -> dict[str, str]:
    # One Numba thread per job: the grid's jobs run side by side on the cores.
    return {**os.environ, "PYTHONWARNINGS": "ignore", "NUMBA_NUM_THREADS": "1"}


def summary_table(sweep_dir: Path):
    """The sweep's rows (``sim.analysis.collect``), sorted, with only the swept keys and the numbers."""
    from sim.analysis import collect

    res = collect.collect(sweep_dir)
    import pandas as pd

    table = pd.read_parquet(res.paths["summary"]) if "summary" in res.paths else pd.DataFrame()
    if table.empty:
        return table
    numbers = [c for c in table.columns if c.startswith(("final_", "peak_", "t_"))]
    return table[SUMMARY_KEYS + numbers].sort_values(SUMMARY_KEYS, ignore_index=True)


def same_numbers(a, b, what: str) -> None:
    """Raise unless two summary tables are identical (bit for bit)."""
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)
    except AssertionError as e:
        raise CheckFailed(f"{what}: summaries differ from the local joblib reference\n{e}") from e


def array_id(sweep_dir: Path, timeout: float) -> str:
    """The Slurm job id of the sweep's array, from the folder submitit makes for it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sub = sweep_dir / ".submitit"
        if sub.is_dir():
            ids = [p.name for p in sub.iterdir() if p.name.isdigit()]
            if ids:
                return ids[0]
        time.sleep(0.1)
    raise CheckFailed(f"no job array was submitted within {timeout} s")


def squeue(job: str) -> dict[str, str]:
    """Task id -> state of the array's tasks still known to the queue."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-j", job, "-o", "%i %T"], capture_output=True, text=True, timeout=20
    )
    return dict(line.split() for line in out.stdout.splitlines() if line.strip())


def job_folder_of(sweep_dir: Path, task: str) -> Path | None:
    """The job folder whose Hydra job id is ``task`` (``<array>_<index>``), once Hydra has made it."""
    from sim.analysis.collect import job_folders, job_id

    for job in job_folders(sweep_dir):
        if job_id(job.path) == task:
            return job.path
    return None


def kill_one_running_job(sweep_dir: Path, job: str, timeout: float) -> tuple[str, Path]:
    """Cancel an array task while its Python job runs (job folder made, no DONE yet).

    The task is frozen first (``scontrol suspend``, when allowed), then checked: a job that
    wrote its ``DONE`` between the look and the freeze is let go (``scontrol resume``) and
    another task is tried, so the cancelled job is always one that had not finished.
    """
    tried: set[str] = set()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for task, state in squeue(job).items():
            if state != "RUNNING" or task in tried:
                continue
            folder = job_folder_of(sweep_dir, task)
            if (
                folder is None
                or not (folder / ".hydra" / "config.yaml").is_file()
                or (folder / "DONE").exists()
            ):
                continue
            tried.add(task)
            # suspending needs Slurm operator rights (root has them); without, cancel at once
            frozen = (
                subprocess.run(["scontrol", "suspend", task], capture_output=True, timeout=20).returncode == 0
            )
            if frozen and (folder / "DONE").exists():
                subprocess.run(["scontrol", "resume", task], check=True, timeout=20)
                continue
            subprocess.run(["scancel", task], check=True, timeout=20)
            return task, folder
        time.sleep(0.02)
    raise CheckFailed(f"no array task of {job} was caught running its job within {timeout} s (tried {tried})")


def wait_for_queue(job: str, timeout: float) -> None:
    """Wait until no task of ``job`` is pending or running."""
    end = time.monotonic() + timeout
    while squeue(job):
        if time.monotonic() > end:
            raise CheckFailed(f"tasks of {job} still queued after {timeout} s: {squeue(job)}")
        time.sleep(0.5)


def sacct_state(task: str) -> str:
    """Slurm's accounting state of one array task (e.g. CANCELLED, FAILED, COMPLETED)."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-j", task, "-o", "State"], capture_output=True, text=True, timeout=20
    )
    return out.stdout.strip().split("\n")[0] if out.stdout.strip() else "?"


def run_check(work: Path, config_path: str | None = None, timeout: float = 300) -> Timings:
    """The three sweeps and their checks; returns the timings (raises ``CheckFailed``)."""
    from sim.analysis import collect

    t = Timings()
    print("1. reference: the sweep on this machine with joblib", flush=True)
    t0 = time.monotonic()
    changesim([*GRID, "figures=false", "hydra.launcher.n_jobs=2"], work / "local", timeout, config_path)
    t.add("joblib sweep (4 jobs x 4 replicates)", time.monotonic() - t0)
    reference = summary_table(work / "local")
    if len(reference) != 16:
        raise CheckFailed(
            f"the reference sweep should have 16 rows (4 jobs x 4 replicates), has {len(reference)}"
        )

    print("2. the same sweep through Slurm", flush=True)
    t0 = time.monotonic()
    changesim([*GRID, "figures=false", *SLURM], work / "slurm", timeout, config_path)
    t.add("Slurm sweep (4 array tasks)", time.monotonic() - t0)
    same_numbers(summary_table(work / "slurm"), reference, "Slurm sweep")
    st = collect.status(work / "slurm")
    if not st.complete or st.n_done != 4:
        raise CheckFailed(f"Slurm sweep not complete:\n{st.describe()}")
    print("  summaries identical to joblib's", flush=True)

    print("3. a task cancelled while its job runs", flush=True)
    kill_dir = work / "kill"
    # figures on: each job also draws its PNGs, which widens the window to catch it running
    cmd = [sys.executable, "-m", "sim"] + (["-cp", config_path] if config_path else [])
    cmd += ["-m", *GRID, *SLURM, f"hydra.sweep.dir={kill_dir}"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()
    )
    try:
        job = array_id(kill_dir, 60)
        task, folder = kill_one_running_job(kill_dir, job, 120)
        t_kill = time.monotonic()
        print(f"  scancel {task} ({folder.name}) {t_kill - t0:.1f} s after submission", flush=True)
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        raise
    t.add("failure reported (scancel -> changesim exits)", time.monotonic() - t_kill)
    if proc.returncode == 0:
        raise CheckFailed(f"changesim exited 0 although task {task} was cancelled:\n{out[-3000:]}")
    if task not in out or not re.search(r"CANCELLED|FAILED", out):
        raise CheckFailed(
            f"changesim's error does not name task {task} as cancelled or failed:\n{out[-3000:]}"
        )
    state = sacct_state(task)
    print(f"  changesim exit code {proc.returncode}; sacct: {task} {state}", flush=True)
    t0 = time.monotonic()
    wait_for_queue(job, timeout)
    t.add("siblings drained after the failure", time.monotonic() - t0)
    st = collect.status(kill_dir)
    if st.n_done != 3 or task not in st.lost:
        raise CheckFailed(f"expected 3 jobs done and task {task} reported lost:\n{st.describe()}")
    print("  " + st.describe().replace("\n", "\n  "), flush=True)
    siblings = summary_table(kill_dir)
    keep = reference.merge(siblings[SUMMARY_KEYS], on=SUMMARY_KEYS)
    same_numbers(siblings, keep, "siblings of the killed task")
    if len(siblings) != 12:
        raise CheckFailed(f"the 3 siblings should leave 12 rows, found {len(siblings)}")
    done_before = {p: p.stat().st_mtime_ns for p in kill_dir.glob("*/DONE")}

    print("4. resume: the same command again, into the same folder", flush=True)
    t0 = time.monotonic()
    resumed = changesim([*GRID, *SLURM], kill_dir, timeout, config_path)
    t.add("resumed sweep (1 job runs, 3 skipped)", time.monotonic() - t0)
    skipped = resumed.stdout.count("skipped ") + sum(
        p.read_text().count("skipped ") for p in kill_dir.glob(".submitit/*/*_log.out")
    )
    if any(p.stat().st_mtime_ns != m for p, m in done_before.items()):
        raise CheckFailed("a job that had finished ran again on resume")
    same_numbers(summary_table(kill_dir), reference, "resumed sweep")
    print(
        f"  finished jobs untouched ({skipped} 'skipped' lines); full sweep identical to joblib's", flush=True
    )
    return t


# --- Launcher overhead --------------------------------------------------------------

CALIBRATED = ["scenario=change_base"]  # the calibrated base (configs/scenario/change_base.yaml)


def _compute_seconds(n_replicates: int) -> float:
    """Warm in-process time of one job's simulation: 1,000 staff, 104 weeks, the calibrated rule."""
    from sim.run import run_batch
    from sim.scenarios import calibrated_base, merge

    cfg = merge(calibrated_base(), {"n_steps": 104, "org": {"n_staff": 1000}})
    run_batch(cfg, n_replicates=2, by_group=False)  # compile / load the cache
    t0 = time.perf_counter()
    run_batch(cfg, n_replicates=n_replicates)
    return time.perf_counter() - t0


def _sweep_seconds(name: str, extra: list[str], grid: list[str], folder: Path, config_path, timeout) -> float:
    cmd = [sys.executable, "-m", "sim"] + (["-cp", config_path] if config_path else [])
    cmd += ["-m", *grid, *extra, f"hydra.sweep.dir={folder}"]
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_env(), "NUMBA_NUM_THREADS": "2"},
    )
    if proc.returncode != 0:
        raise CheckFailed(f"{name} sweep failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - t0


LAUNCHERS = {
    # one job at a time, each on both cores: the sweep's wall time is the sum of its jobs
    "joblib": ["hydra.launcher.n_jobs=1"],
    "slurm": ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=2"],
}


def _sacct_tasks(sweep_dir: Path) -> list[tuple[float, float]]:
    """(start, end) epoch seconds of each task of the sweep's Slurm array, from accounting.

    The sweep returns once the last result pickle exists; Slurm ends that task a few
    seconds later (srun and the batch step wind down), so wait for every end time.
    """
    from datetime import datetime

    job = array_id(sweep_dir, 5)
    end = time.monotonic() + 60
    while True:
        out = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-j", job, "-o", "Start,End"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        lines = out.stdout.split()
        if lines and "Unknown" not in out.stdout or time.monotonic() > end:
            break
        time.sleep(1)
    return sorted(
        tuple(datetime.fromisoformat(x).timestamp() for x in line.split("|"))
        for line in lines
        if "Unknown" not in line
    )


def run_overhead(
    work: Path, replicates: list[int], n_jobs: int, config_path: str | None, timeout: float
) -> list[dict]:
    """Time one more job adds to a sweep, per launcher, against the work inside the job.

    Each launcher runs a sweep of 1 job and of ``n_jobs`` jobs (one at a time, two cores
    each) of the calibrated rule on 1,000 staff for 104 weeks, ``n_replicates`` per job.
    The slope (wall(n) - wall(1)) / (n - 1) is the time a job adds to a sweep; ``task_s``
    is the time inside the job (simulation and outputs, as every launcher runs it), so
    ``overhead_s`` = slope - task_s is the launcher's share: a fresh interpreter, imports,
    pickles, scheduling. The sweep's fixed cost (starting ``changesim``, composing, the
    sweep table) is wall(1) - slope. For Slurm, accounting splits the overhead into time
    inside the allocation (``in_task_s``: srun, interpreter, imports, unpickling, Hydra)
    and the gap between one task's end and the next one's start (``gap_s``: scheduling).
    ``simulation_s`` is ``run_batch`` alone, timed warm in this process.
    """
    rows = []
    for r in replicates:
        simulation = _compute_seconds(r)
        for name, extra in LAUNCHERS.items():
            if name == "slurm" and not cluster_ready():
                continue
            walls = {}
            for k in (1, n_jobs):
                grid = [*CALIBRATED, f"seed=range(0,{k * r},{r})", f"n_replicates={r}", "figures=false"]
                folder = work / f"overhead_{name}_{r}_{k}"
                walls[k] = _sweep_seconds(name, extra, grid, folder, config_path, timeout)
            task = sum(json.loads(p.read_text())["seconds"] for p in folder.glob("*/DONE")) / n_jobs
            slope = (walls[n_jobs] - walls[1]) / (n_jobs - 1)
            row = {
                "launcher": name,
                "n_replicates": r,
                "simulation_s": round(simulation, 2),
                "task_s": round(task, 2),
                "per_job_s": round(slope, 2),
                "overhead_s": round(slope - task, 2),
                "overhead_pct": round(100 * (slope - task) / task, 1),
                "sweep_fixed_s": round(walls[1] - slope, 1),
            }
            if name == "slurm":
                spans = _sacct_tasks(folder)
                row["in_task_s"] = round(sum(e - s for s, e in spans) / len(spans) - task, 1)
                gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
                row["gap_s"] = round(sum(gaps) / len(gaps), 1) if gaps else None
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the checks (or the overhead measurement); 0 if every check held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="check", choices=("check", "overhead"))
    parser.add_argument("--work", type=Path, help="folder for the sweeps (default: a temporary folder)")
    parser.add_argument("--config-path", help="changesim -cp: another primary config folder")
    parser.add_argument("--timeout", type=float, default=300, help="seconds allowed for each sweep")
    parser.add_argument("--replicates", default="20,200,1000", help="overhead: batch sizes to measure")
    parser.add_argument("--jobs", type=int, default=5, help="overhead: jobs in the larger sweep")
    args = parser.parse_args(argv)
    if args.what == "check" and not cluster_ready():
        print(
            "error: no Slurm cluster answers (start one: sudo scripts/slurm_cluster.sh start)",
            file=sys.stderr,
        )
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="changesim-slurm-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"sweeps in {work}", flush=True)
    t0 = time.monotonic()
    try:
        if args.what == "check":
            timings = run_check(work, args.config_path, args.timeout)
            print(
                json.dumps({"ok": True, "seconds": timings.steps, "total": round(time.monotonic() - t0, 1)})
            )
        else:
            reps = [int(x) for x in args.replicates.split(",")]
            run_overhead(work, reps, args.jobs, args.config_path, args.timeout)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
