"""Where the full model's step spends its time: cycles per phase on the speed benchmark's workload.

Run ``python experiments/e09_benchmark/profile_change.py [--runs 40]``. It runs the
workload of ``bench_speed.py`` (the full model with every mechanism on, 1,000 staff,
104 weeks) one replicate at a time on one thread, and times each phase of
``sim.dynamics.change.change_step`` (and ``record``) with the CPU's cycle counter, read
between phases inside the compiled loop (a few cycles per read, no Python in between).
It prints the share of the kernel each phase takes and the CPU time per run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_speed import ALL_MECHANISMS  # noqa: E402

from sim.dynamics import change, layout  # noqa: E402
from sim.dynamics.adaptation import test_cycles  # noqa: E402
from sim.dynamics.adoption import apply, decide  # noqa: E402
from sim.dynamics.leadership import churn, schedule  # noqa: E402
from sim.dynamics.motivation import update_motivation  # noqa: E402
from sim.dynamics.power import update_courage  # noqa: E402
from sim.dynamics.relationships import update_trust  # noqa: E402
from sim.metrics import group_matrix  # noqa: E402
from sim.model import organisation_for  # noqa: E402
from sim.params import from_dict  # noqa: E402
from sim.state import initial_states, n_pairs, org_arrays, replicate, scratch  # noqa: E402

EARLY = 26  # steps 1-26 (adoption spreading) are reported apart from 27-104 (nearly all committed)
PHASES = ("schedule", "churn", "decide", "apply", "test_cycles", "motivation", "trust", "courage", "record")


@intrinsic
def cycles(typingctx):
    """The CPU's cycle counter (llvm.readcyclecounter)."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.uint64(), codegen


@njit
def profiled(par, keys, org, people, work, n_steps, groups, counts, extra, acc):
    """``simulate_change`` with the cycles of each phase added to acc[k]."""
    change.record(0, people, work, groups, counts, extra)
    for t in range(1, n_steps + 1):
        c0 = cycles()
        schedule(t, par, org, people)
        c1 = cycles()
        churn(t, par, keys, org, people)
        c2 = cycles()
        decide(t, par, keys, org, people, work)
        c3 = cycles()
        apply(t, people, work)
        c4 = cycles()
        test_cycles(t, par, keys, org, people, work)
        c5 = cycles()
        update_motivation(par, people)
        c6 = cycles()
        update_trust(par, org, people, work)
        c7 = cycles()
        update_courage(par, people)
        c8 = cycles()
        change.record(t, people, work, groups, counts, extra)
        c9 = cycles()
        w = 0 if t <= EARLY else 1
        acc[w, 0] += c1 - c0
        acc[w, 1] += c2 - c1
        acc[w, 2] += c3 - c2
        acc[w, 3] += c4 - c3
        acc[w, 4] += c5 - c4
        acc[w, 5] += c6 - c5
        acc[w, 6] += c7 - c6
        acc[w, 7] += c8 - c7
        acc[w, 8] += c9 - c8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    a = ap.parse_args()
    numba.set_num_threads(1)
    cfg = from_dict(ALL_MECHANISMS)
    org = organisation_for(cfg)
    arrays = org_arrays(org)
    groups, _ = group_matrix(org, False)
    seeds = np.arange(a.runs)
    par = layout.pack(cfg)
    keys = layout.stream_keys(seeds)
    t = cfg.n_steps
    acc = np.zeros((a.runs, 2, len(PHASES)), np.uint64)  # cycles by run, steps window and phase

    def fresh():
        st = initial_states(org, cfg, seeds, tie_rows=True)
        return st.people(), scratch(org.n_staff, len(seeds), n_pairs=n_pairs(org))

    counts = np.zeros((len(seeds), t + 1, int(groups.max()) + 1, 4), np.int32)
    extra = np.empty((len(seeds), t + 1, 3))

    def one(r, people, work, timed):
        person, space = replicate(people, r), replicate(work, r)
        args = (par, keys[r], arrays, person, space, t, groups, counts[r], extra[r])
        if timed:
            profiled(*args, acc[r])
        else:
            change.simulate_change(*args)

    people, work = fresh()
    one(0, people, work, True)  # compile both
    one(1, people, work, False)
    acc[:] = 0
    cpu = {}
    for timed in (True, False):
        people, work = fresh()
        c0 = time.process_time()
        for r in range(len(seeds)):
            one(r, people, work, timed)
        cpu[timed] = (time.process_time() - c0) / len(seeds)
    # Medians over runs (a run the machine's other work interrupted inflates only itself).
    med = np.median(acc.astype(np.float64), axis=0)
    total = float(med.sum())
    print(f"simulate_change: {1e3 * cpu[False]:.3f} ms CPU per run, {a.runs} runs")
    print(f"profiled build: {1e3 * cpu[True]:.3f} ms CPU per run, shared out by each phase's median cycles:")
    ms = 1e3 * cpu[True] / total
    print(f"  {'phase':12s} {'share':>7s} {'ms/run':>8s} {'steps 1-' + str(EARLY):>11s} {'later':>8s}")
    for k, name in enumerate(PHASES):
        c, early, late = float(med[:, k].sum()), float(med[0, k]), float(med[1, k])
        print(f"  {name:12s} {100 * c / total:5.1f} % {ms * c:8.3f} {ms * early:11.3f} {ms * late:8.3f}")


if __name__ == "__main__":
    main()
