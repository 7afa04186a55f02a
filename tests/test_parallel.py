"""Chunked runs of a design's points (sim.analysis.parallel): same table in one process or in workers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.parallel import chunk_size, run_chunked


def squares(args: tuple) -> pd.DataFrame:
    """A chunk's table: its points' numbers and their squares (module level, so workers can import it)."""
    start, values = args
    return pd.DataFrame({"point": start + np.arange(len(values)), "square": np.asarray(values) ** 2})


def test_chunks_cover_every_point_once_in_order():
    values = np.arange(10.0)
    asked = []

    def task(start: int, stop: int) -> tuple:
        asked.append((start, stop))
        return start, values[start:stop]

    out = run_chunked(squares, task, len(values), max_chunk=3, jobs=1, progress=False)
    assert asked == [(0, 3), (3, 6), (6, 9), (9, 12)], f"chunks of at most 3 points, in order: {asked}"
    assert out["point"].tolist() == list(range(10)), "every point once, in order"
    np.testing.assert_array_equal(out["square"], values**2, err_msg="each point's own result")


def test_chunk_size_gives_each_worker_about_four_tasks_and_respects_the_cap():
    assert chunk_size(80, jobs=2, max_chunk=128) == 10, "80 points, 2 workers: 8 tasks of 10"
    assert chunk_size(80, jobs=2, max_chunk=8) == 8, "capped at max_chunk"
    assert chunk_size(3, jobs=16, max_chunk=8) == 1, "at least one point per task"


def test_worker_processes_give_the_same_table_as_one_process():
    values = np.linspace(0.0, 1.0, 13)

    def task(start: int, stop: int) -> tuple:
        return start, values[start:stop]

    one = run_chunked(squares, task, len(values), max_chunk=2, jobs=1, progress=False)
    two = run_chunked(squares, task, len(values), max_chunk=2, jobs=2, progress=False)
    pd.testing.assert_frame_equal(one, two, obj="the table with 1 and 2 worker processes")


def test_progress_is_reported_about_every_tenth_and_at_the_end(capsys):
    values = np.arange(40.0)
    run_chunked(squares, lambda s, e: (s, values[s:e]), 40, max_chunk=2, jobs=1, progress=True, indent="  ")
    lines = capsys.readouterr().err.splitlines()
    done = [int(line.split("/")[0]) for line in lines]
    assert all(line.startswith("  ") and line.endswith(" s") for line in lines), f"indented lines: {lines}"
    assert done == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40], f"every 4 of 40 points, then the end: {done}"
    run_chunked(squares, lambda s, e: (s, values[s:e]), 40, max_chunk=2, jobs=1, progress=False)
    assert capsys.readouterr().err == "", "progress=False prints nothing"
