"""Batch scaling over threads (issue 14): ``run_batch`` runs/s at 1, 2, 4, 8 and 16 threads.

Run ``python experiments/e09_benchmark/scaling.py [--threads 1,2,4,8,16] [--replicates 4000]
[--out results/benchmark]``. On a lent machine with 16 cores the whole measurement is one
prepared command, ``bash experiments/e09_benchmark/device_scaling.sh`` (its header says how
to carry the one package that machine lacks).

For the full model (every mechanism on, the speed benchmark's workload: 1,000 staff, 104
weeks) and the threshold rule (1,000 staff, 100 steps), it times ``run_batch`` of
``--replicates`` replicates at each thread count, the thread counts interleaved round by
round so that a busy spell on the machine spreads over all of them. Reported per thread
count: runs/s (median of the rounds), the speed-up over one thread, and the share of the
batch's wall time outside its two parallel kernels (``Result.timing``: the simulation and
the initial-state kernel, both ``prange`` over replicates), which is the serial part that
bounds the speed-up (Amdahl). Every thread count must give the same counts, final states
and adoption steps (one digest), or the script stops with exit status 1: draws depend on
(seed, step, person), never on the thread.

Targets (issue 14, at 16 threads against 1): at least 12x for the full model and 8x for
the threshold rule. Thread counts above ``NUMBA_NUM_THREADS`` (the machine's cores by
default) are refused with one line. Writes ``scaling.csv`` and ``scaling.md`` in the
chassis benchmark's format, with the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import ALL_MECHANISMS, THRESHOLD_BATCH  # noqa: E402

from sim import run_batch  # noqa: E402
from sim.model import organisation_for  # noqa: E402
from sim.params import from_dict  # noqa: E402

from bench import Row, machine, write  # noqa: E402

PROG = "python experiments/e09_benchmark/scaling.py"
CASES = (("full model", ALL_MECHANISMS, 12.0), ("threshold rule", THRESHOLD_BATCH, 8.0))
TARGET_THREADS = 16


def _digest(res) -> str:
    return hashlib.sha1(
        res.counts.tobytes() + res.final_state.tobytes() + res.t_adopted.tobytes()
    ).hexdigest()


def measure(threads: list[int], r: int, rounds: int, rows: list[Row]) -> None:
    """Add the rows of both cases; raise SystemExit when thread counts disagree on the runs."""
    for case, cfg_d, target in CASES:
        cfg = from_dict(cfg_d | {"org": {"n_staff": 1000}})
        org = organisation_for(cfg)
        got: dict[int, list[tuple[float, float]]] = {k: [] for k in threads}
        digests: dict[int, set[str]] = {k: set() for k in threads}
        # Untimed: one whole batch (compiles, and takes the paths of a batch of r: its
        # chunks), then a small one at each thread count (starts that many workers).
        numba.set_num_threads(threads[-1])
        run_batch(cfg, org=org, seeds=np.arange(r), by_group=False)
        for k in threads:
            numba.set_num_threads(k)
            run_batch(cfg, org=org, seeds=np.arange(2 * k), by_group=False)
        for _ in range(rounds):
            for k in threads:
                numba.set_num_threads(k)
                res = run_batch(cfg, org=org, seeds=np.arange(r), by_group=False)
                tm = res.timing
                got[k].append(
                    (r / tm["total"], 1.0 - (tm["kernel"] + tm["initial_state_kernel"]) / tm["total"])
                )
                digests[k].add(_digest(res))
        if len(set().union(*digests.values())) != 1:
            raise SystemExit(f"{case}: thread counts disagree on the runs: {digests}")
        rate = {k: float(np.median([g[0] for g in got[k]])) for k in threads}
        for k in threads:
            impl = f"run_batch R={r}, {k} threads"
            share = float(np.median([g[1] for g in got[k]]))
            rows.append(Row("scaling", case, 1000, impl, "runs_per_s", rate[k], "runs/s", rounds))
            rows.append(
                Row(
                    "scaling",
                    case,
                    1000,
                    impl,
                    "share_outside_kernels",
                    100 * share,
                    "%",
                    rounds,
                    note="1 - (simulation + initial-state kernel time) / wall time",
                )
            )
            if k == threads[0]:
                continue
            up = rate[k] / rate[threads[0]]
            kw = {}
            if k == TARGET_THREADS and threads[0] == 1:
                kw = {"target": f">= {target:g}", "met": "yes" if up >= target else "NO"}
            rows.append(
                Row(
                    "scaling",
                    case,
                    1000,
                    f"{k} threads vs {threads[0]}",
                    "speed_up",
                    up,
                    "x",
                    rounds,
                    note="runs/s medians of the same run",
                    **kw,
                )
            )
            print(
                f"  [{case}] {k:2d} threads: {rate[k]:9.0f} runs/s, {up:5.2f}x, "
                f"{100 * share:.1f}% outside kernels",
                flush=True,
            )
        print(f"  [{case}] {threads[0]:2d} thread(s): {rate[threads[0]]:9.0f} runs/s", flush=True)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, measure, write the tables."""
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads", default="1,2,4,8,16", help="comma-separated thread counts (default 1,2,4,8,16)"
    )
    ap.add_argument("--replicates", type=int, default=4000, help="replicates per batch (default 4000)")
    ap.add_argument("--rounds", type=int, default=3, help="timed batches per thread count (default 3)")
    ap.add_argument("--out", default="results/benchmark", help="output folder")
    a = ap.parse_args(argv)
    try:
        threads = sorted({int(x) for x in a.threads.split(",") if x.strip()})
    except ValueError:
        ap.error(f"--threads {a.threads!r}: give whole numbers separated by commas, e.g. 1,2,4")
    most = numba.config.NUMBA_NUM_THREADS
    if not threads or threads[0] < 1 or threads[-1] > most:
        ap.error(
            f"--threads {a.threads!r}: each must be between 1 and {most} (NUMBA_NUM_THREADS on this machine)"
        )
    if a.replicates < 1 or a.rounds < 1:
        ap.error("--replicates and --rounds must be at least 1")
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    rows: list[Row] = []
    measure(threads, a.replicates, a.rounds, rows)
    if threads[0] != 1 or threads[-1] < TARGET_THREADS:
        for case, _, target in CASES:
            rows.append(
                Row(
                    "scaling",
                    case,
                    1000,
                    f"{TARGET_THREADS} threads vs 1",
                    "speed_up",
                    float("nan"),
                    "x",
                    0,
                    target=f">= {target:g}",
                    met=f"not measured ({','.join(map(str, threads))} threads here)",
                )
            )
    info = machine()
    info["load average (1 min) at start / end"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
    info["benchmark wall time"] = f"{time.perf_counter() - t0:.0f} s"
    command = (
        f"{PROG} --threads {','.join(map(str, threads))} --replicates {a.replicates} --rounds {a.rounds}"
    )
    write(rows, info, Path(a.out), "scaling", command)
    print(f"wrote {Path(a.out) / 'scaling'}.csv and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
