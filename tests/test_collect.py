"""Streaming collection of sweep folders (sim.analysis.collect): rows as in sim.analysis.sweep, flat memory.

Job folders are written here the way a job of ``changesim -m`` leaves them (overrides,
config, summary.parquet, provenance.json, DONE), from one real tiny run, so hundreds of
them cost a second rather than hundreds of simulations.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from sim.analysis import collect, ema, sweep
from sim.run import run_batch


@pytest.fixture(scope="module")
def tiny_result():
    return run_batch({"org": {"n_staff": 60}, "n_steps": 4}, n_replicates=3)


def write_job(root: Path, k: int, result, state: str = "done") -> Path:
    """One job folder as the CLI writes it; ``state`` done, failed or incomplete."""
    threshold = round(0.1 + k / 1000, 4)
    strategy = ("random", "top")[k % 2]
    folder = root / f"dynamics.threshold_mean={threshold},seeding={strategy}"
    (folder / ".hydra").mkdir(parents=True)
    # JSON is YAML too, and much quicker to write for hundreds of folders
    overrides = [f"dynamics.threshold_mean={threshold}", f"seeding={strategy}"]
    (folder / ".hydra" / "overrides.yaml").write_text(json.dumps(overrides))
    config = {"dynamics": {"threshold_mean": threshold}, "seeding": {"strategy": strategy, "n_seeds": 10}}
    (folder / ".hydra" / "config.yaml").write_text(json.dumps(config))
    (folder / ".hydra" / "hydra.yaml").write_text(json.dumps({"hydra": {"job": {"id": f"7_{k}"}}}))
    if state == "incomplete":
        return folder
    if state == "failed":
        sweep.fail(folder, "Traceback ...\nValueError: boom\n")
        return folder
    table = pa.Table.from_pandas(result.summary, preserve_index=False)
    table = table.set_column(1, "seed", pa.compute.add(table["seed"], 100 * k))
    col = table.schema.get_field_index("final_frac_adopted")
    table = table.set_column(col, "final_frac_adopted", pa.array([k / 1000] * table.num_rows))
    pq.write_table(table, folder / "summary.parquet")
    (folder / "provenance.json").write_text(json.dumps(result.provenance))
    sweep.finish(folder, {"job": k}, seconds=0.1)
    return folder


def make_sweep(root: Path, n: int, result) -> Path:
    for k in range(n):
        write_job(root, k, result)
    return root


def test_collected_rows_match_the_in_memory_sweep_table(tmp_path, tiny_result):
    make_sweep(tmp_path, 12, tiny_result)
    res = collect.collect(tmp_path)
    mine = pd.read_parquet(res.paths["summary"])
    ref = sweep.collect(tmp_path).table
    assert res.n_rows["summary"] == len(ref) == 12 * 3, "one row per job x replicate"
    key = ["job", "replicate"]
    mine_s = mine.sort_values(key, ignore_index=True)
    ref_s = ref.sort_values(key, ignore_index=True)
    for col in ref.columns:  # NaN (an outcome a run never reached) counts as equal to NaN
        mine_v, ref_v = mine_s[col].tolist(), ref_s[col].tolist()
        same = [a == b or (a != a and b != b) for a, b in zip(mine_v, ref_v, strict=True)]
        assert all(same), f"column {col} differs from sim.analysis.sweep.collect"
    assert mine["dynamics.threshold_mean"].dtype == np.float64, "swept numbers keep their type"
    assert set(mine["seeding"]) == {"random", "top"}, "a config group gives its option's name"
    for col in ("changesim_version", "numpy_version", "numba_version", "python_version", "engine"):
        assert mine[col].notna().all(), f"{col} is recorded on every row"


def _collect_peak(root: Path) -> tuple[int, int]:
    """(peak Python heap, peak Arrow memory) in bytes while collecting ``root``."""
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    old = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        collect.collect(root)
        _, py_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(old)
    return py_peak, pool.max_memory()


def test_peak_memory_stays_flat_as_the_number_of_jobs_grows(tmp_path, tiny_result, monkeypatch):
    # Row groups of 16 jobs, so both sweeps below fill several: the buffer is bounded, not the sweep.
    monkeypatch.setattr(collect, "ROW_GROUP_JOBS", 16)
    small = make_sweep(tmp_path / "small", 40, tiny_result)
    large = make_sweep(tmp_path / "large", 400, tiny_result)
    _collect_peak(small)  # warm imports and caches outside the measurement
    py_small, arrow_small = _collect_peak(small)
    py_large, arrow_large = _collect_peak(large)
    out = large / f"{collect.RUNS}.parquet"
    assert len(pd.read_parquet(out)) == 400 * 3, "every row written"
    # The writer keeps every row group's metadata until it closes: jobs share row groups.
    groups = pq.ParquetFile(out).metadata.num_row_groups
    assert groups <= -(-400 // collect.ROW_GROUP_JOBS), f"{groups} row groups for 400 small jobs"
    # 10x the jobs: an in-memory concat would grow ~10x; streaming stays within a small margin.
    # The sorted list of job folder names is the one thing that grows (~150 bytes a job).
    assert py_large < 1.5 * py_small + 150 * 400, f"Python heap peak grew: {py_small} -> {py_large} bytes"
    assert arrow_large < 1.5 * arrow_small + 256_000, f"Arrow peak grew: {arrow_small} -> {arrow_large} bytes"


def _task(sweep_dir: Path, task: str, overrides: list[str], returned: bool, when: float) -> None:
    """A submitit task folder: its pickled job (with the overrides), stderr, maybe a result."""
    folder = sweep_dir / ".submitit" / task
    folder.mkdir(parents=True)
    submitted = folder / f"{task}_submitted.pkl"
    submitted.write_bytes(pickle.dumps({"sweep_overrides": overrides, "singleton_state": "..."}))
    os.utime(submitted, (when, when))
    if returned:
        (folder / f"{task}_0_result.pkl").write_bytes(pickle.dumps(("success", None)))
    (folder / f"{task}_0_log.err").write_text(
        "srun: forcing job termination\n"
        f"slurmstepd-vm: error: *** JOB 9 ON vm CANCELLED AT 2026-01-01T00:00:00 ({task}) ***\n"
        "submitit WARNING - Bypassing signal SIGTERM\n"
    )


def test_status_names_failed_incomplete_and_killed_jobs(tmp_path, tiny_result):
    done = write_job(tmp_path, 0, tiny_result)
    write_job(tmp_path, 1, tiny_result, "failed")
    incomplete = write_job(tmp_path, 2, tiny_result, "incomplete")
    long_ago = time.time() - 3600
    _task(tmp_path, "7_0", ["dynamics.threshold_mean=0.1", "seeding=random"], True, long_ago)
    # killed: 7_2 ran job 2 (left incomplete); 7_3 died before Hydra made its folder
    _task(tmp_path, "7_2", ["dynamics.threshold_mean=0.102", "seeding=random"], False, long_ago)
    _task(tmp_path, "7_3", ["dynamics.threshold_mean=0.103", "seeding=top"], False, long_ago)
    # killed in an earlier submission, but its job finished when the sweep was resumed
    _task(tmp_path, "5_0", ["dynamics.threshold_mean=0.1", "seeding=random"], False, long_ago)
    st = collect.status(tmp_path)
    assert st.n_done == 1, "one job done"
    assert list(st.failed.values()) == ["ValueError: boom"], "the last line of ERROR.txt is reported"
    assert st.incomplete == [incomplete.name], "a folder without DONE or ERROR.txt is incomplete"
    assert set(st.lost) == {"7_2", "7_3"}, f"killed tasks whose job is not done are reported: {st.lost}"
    assert "*** JOB 9 ON vm CANCELLED" in st.lost["7_3"], "with Slurm's verdict from the task's stderr"
    assert st.lost["7_2"].endswith(f"(job folder {incomplete.name})"), "and the job folder it was running"
    assert done.name not in " ".join(st.lost.values()), "a job finished by a later submission is not lost"
    assert not st.complete, "the sweep is not complete"
    assert collect.main([str(tmp_path), "--status"]) == 1, "exit code 1 when jobs are missing"


def test_a_collected_sweep_exports_to_the_ema_workbench(tmp_path, tiny_result):
    make_sweep(tmp_path, 4, tiny_result)
    runs = pd.read_parquet(collect.collect(tmp_path).paths["summary"])
    runs["seed"] -= runs["seed"] // 100 * 100  # every job ran seeds 0..2
    experiments, outcomes = ema.from_runs(runs, ["dynamics.threshold_mean", "seeding"], point="job")
    path = ema.save_results(experiments, outcomes, tmp_path / "ema.tar.gz")
    exp2, out2 = ema.read(path)
    assert len(exp2) == 4 and out2["final_frac_adopted"].shape == (4, 3), "(jobs, seeds)"
