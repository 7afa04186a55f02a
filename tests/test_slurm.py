"""The submitit launchers end to end: a real Slurm cluster on this machine, and submitit's local executor.

Opt-in: ``CHANGESIM_SLURM=1 pytest -m slurm tests/test_slurm.py`` after
``sudo scripts/slurm_cluster.sh start`` (CI does both: see .ci/run). The checks themselves
live in ``scripts/slurm_check.py`` so they can also be run by hand, with timings.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Only while configs/config.yaml still sets hydra.launcher.n_jobs (which only joblib knows):
# a config folder with that key moved into configs/hydra/launcher/joblib_cores.yaml.
CONFIG_PATH = os.environ.get("CHANGESIM_CONFIG_PATH") or None

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(os.environ.get("CHANGESIM_SLURM") != "1", reason="set CHANGESIM_SLURM=1 to run"),
]


def load_check():
    spec = importlib.util.spec_from_file_location("slurm_check", REPO / "scripts" / "slurm_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["slurm_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_slurm_sweep_equals_joblib_survives_a_killed_task_and_resumes(tmp_path):
    check = load_check()
    assert check.cluster_ready(), "a Slurm node should be idle (sudo scripts/slurm_cluster.sh start)"
    timings = check.run_check(tmp_path, config_path=CONFIG_PATH, timeout=300)
    reported = timings.steps["failure reported (scancel -> changesim exits)"]
    # submitit polls sacct with a growing interval; 22 s was measured, 120 s is the bound
    assert reported < 120, f"a cancelled task should be reported within 2 minutes, took {reported} s"


def test_local_submitit_sweep_resumes_only_the_missing_job(tmp_path):
    check = load_check()
    grid = [*check.GRID[:1], "seeding.n_seeds=5", *check.GRID[2:], "figures=false"]
    args = [*grid, "hydra/launcher=local_submitit"]
    check.changesim(args, tmp_path, timeout=180, config_path=CONFIG_PATH)
    jobs = sorted(p.parent for p in tmp_path.glob("*/DONE"))
    assert len(jobs) == 2, f"two jobs should finish, found {jobs}"
    first = {p: json.loads((p / "DONE").read_text()) for p in jobs}
    (jobs[1] / "DONE").unlink()  # as if that job had been killed before it finished
    check.changesim(args, tmp_path, timeout=180, config_path=CONFIG_PATH)
    assert json.loads((jobs[0] / "DONE").read_text()) == first[jobs[0]], "the finished job is not run again"
    assert (jobs[1] / "DONE").is_file(), "the missing job runs again"
    out = subprocess.run(
        [sys.executable, "-m", "sim.analysis.collect", str(tmp_path), "--status"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, f"the resumed sweep is complete:\n{out.stdout}{out.stderr}"
