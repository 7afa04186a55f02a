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
