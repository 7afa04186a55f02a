"""Run the points of a design in chunks, in this process or in worker processes, with progress.

The sensitivity analysis (``sim.analysis.sensitivity``, SALib designs) and the robustness
analysis (``sim.analysis.robustness``, samples of the uncertain levers) both run a table of
points, each on the same replicate seeds. Both hand the points out in chunks: small enough
that two workers stay balanced and progress is reported often, large enough to hide the
hand-off. Each worker runs Numba on one thread, so the workers do not fight over the cores.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pandas as pd


def one_thread() -> None:
    """Worker initialiser: Numba on one thread (the processes share the cores instead)."""
    import numba

    numba.set_num_threads(1)


def chunk_size(n: int, jobs: int, max_chunk: int) -> int:
    """Points per task: about four tasks per worker, at most ``max_chunk``, at least 1."""
    return max(1, min(max_chunk, math.ceil(n / (4 * jobs))))


def run_chunked(
    work: Callable[[tuple], pd.DataFrame],
    task: Callable[[int, int], tuple],
    n: int,
    max_chunk: int,
    jobs: int = 0,
    progress: bool = True,
    indent: str = "",
) -> pd.DataFrame:
    """Run points 0..n-1 as ``work(task(start, stop))`` per chunk; the tables concatenated in order.

    Args:
        work: a module-level function (worker processes import it by name), from a task to the
            table of its points with a ``point`` column (one value per point of the chunk).
        task: ``(start, stop) -> tuple``, the arguments of the chunk of points start..stop-1.
        n: number of points.
        max_chunk: the most points in one task.
        jobs: worker processes (0 = one per core, 1 = in this process).
        progress: print ``{indent}{done}/{n} points, {s} s`` to stderr about every tenth.
        indent: the progress lines' prefix.
    """
    jobs = jobs or os.cpu_count() or 1
    size = chunk_size(n, jobs, max_chunk)
    tasks = [task(s, s + size) for s in range(0, n, size)]
    t0 = time.perf_counter()
    parts: list[pd.DataFrame] = []
    step = max(1, n // 10)
    shown = 0

    def report(done: int) -> None:
        nonlocal shown
        if progress and (done - shown >= step or done == n):
            shown = done
            print(f"{indent}{done}/{n} points, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    if jobs == 1:
        for start, t in zip(range(0, n, size), tasks, strict=True):
            parts.append(work(t))
            report(min(n, start + size))
    else:
        # spawn, not fork: forking a process whose Numba threads have started is unsafe.
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), initializer=one_thread) as pool:
            done = 0
            for part in pool.map(work, tasks):
                parts.append(part)
                done += part["point"].nunique()
                report(done)
    return pd.concat(parts, ignore_index=True)
