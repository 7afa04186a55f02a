"""Shared test set-up.

The benchmarks live with their experiment (``experiments/e09_benchmark/``), outside the
``sim`` package, and import each other as plain modules (``import bench``); their folder
goes on ``sys.path`` so tests/test_bench.py and tests/test_bench_peers.py import them
the way ``python experiments/e09_benchmark/bench_peers.py`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARK_DIR = Path(__file__).resolve().parent.parent / "experiments" / "e09_benchmark"
if str(BENCHMARK_DIR) not in sys.path:
    sys.path.insert(0, str(BENCHMARK_DIR))
