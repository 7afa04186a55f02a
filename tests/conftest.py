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

# Hypothesis in CI: derandomised, so a failing example is the same on every run and can be
# reproduced from the log (the "ci" profile, chosen when CI=true, as GitHub Actions sets).
# Locally the default profile keeps exploring new examples.
import os  # noqa: E402

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
    settings.load_profile("ci")
