"""The benchmark's plain C loop and the changesim kernel run the same threshold rule.

``python experiments/e09_benchmark/bench.py`` times the Numba kernel against a C -O3
reference; the timings mean something only if both compute the same thing, so this smoke
test runs the quick mode's correctness check (no timing assertions: the box is shared).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bench


def test_c_and_changesim_reach_the_same_final_state(tmp_path) -> None:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler (cc) on PATH")
    lib = bench.compile_c(tmp_path)
    assert lib is not None, "cc exists, so the C reference must compile"
    # Raises AssertionError naming the scenario if any final state, adoption step or count differs.
    adopted = bench.correctness_checks(lib, n=1000)
    assert adopted["cascade"] > 900, f"thresholds around 0.18 with 1% seeds should cascade, got {adopted}"
    assert adopted["stall"] < 100, f"a uniform threshold of 0.18 should stall early, got {adopted}"


def test_readme_speed_table_is_the_committed_benchmark(tmp_path) -> None:
    # The README's speed-targets table is generated from results/benchmark/speed.md;
    # a hand edit or a benchmark re-run without `bench_speed.py --readme-only` fails here.
    import bench_speed

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = bench_speed.readme_block(root / "results" / "benchmark" / "speed.md")
    assert block in readme, (
        "README's speed-targets table differs from results/benchmark/speed.md; run "
        "python experiments/e09_benchmark/bench_speed.py --readme-only"
    )
    copy = tmp_path / "README.md"
    copy.write_text(readme.replace(block, bench_speed.README_START + "\nstale\n" + bench_speed.README_END))
    bench_speed.update_readme(copy, root / "results" / "benchmark" / "speed.md")
    assert copy.read_text(encoding="utf-8") == readme


def test_scaling_measures_every_thread_count_and_says_what_it_could_not(tmp_path) -> None:
    # The prepared 1-to-16-thread measurement (device_scaling.sh runs it on a 16-core
    # machine), here on the threads this machine has: a row per thread count and case, and
    # the 16-thread targets marked as not measured rather than met.
    import csv

    import numba
    import scaling

    threads = [1, 2] if numba.config.NUMBA_NUM_THREADS >= 2 else [1]
    argv = ["--threads", ",".join(map(str, threads)), "--replicates", "24", "--rounds", "1"]
    assert scaling.main([*argv, "--out", str(tmp_path)]) == 0
    with open(tmp_path / "scaling.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rates = [r for r in rows if r["metric"] == "runs_per_s"]
    assert sorted((r["case"], r["implementation"]) for r in rates) == sorted(
        (case, f"run_batch R=24, {k} threads") for case in ("full model", "threshold rule") for k in threads
    )
    assert all(float(r["value"]) > 0 for r in rates)
    targets = [r for r in rows if r["target"]]
    expected = [("full model", ">= 12"), ("threshold rule", ">= 8")]
    assert [(r["case"], r["target"]) for r in targets] == expected
    assert all(r["met"].startswith("not measured") for r in targets)
    # bench_speed's table takes these target rows from the file.
    import bench_speed

    carried = bench_speed.scaling_rows(tmp_path / "scaling.csv")
    assert [(r.case, r.target, r.met) for r in carried] == [
        ("scaling, " + r["case"], r["target"], r["met"]) for r in targets
    ]
    assert bench_speed.scaling_rows(tmp_path / "absent.csv")[0].metric == "not_measured"


def test_scaling_refuses_more_threads_than_numba_has(capsys) -> None:
    import numba
    import scaling

    most = numba.config.NUMBA_NUM_THREADS
    with pytest.raises(SystemExit) as err:
        scaling.main(["--threads", f"1,{most + 1}"])
    assert err.value.code == 2
    assert f"between 1 and {most}" in capsys.readouterr().err
