"""The benchmark's plain C loop and the changesim kernel run the same threshold rule.

``python experiments/e09_benchmark/bench.py`` times the Numba kernel against a C -O3
reference; the timings mean something only if both compute the same thing, so this smoke
test runs the quick mode's correctness check (no timing assertions: the box is shared).
"""

from __future__ import annotations

import shutil

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
