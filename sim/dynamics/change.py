"""The full psychology-of-change model (rule ``change``): one step, phase by phase.

A step runs these phases in this order (each in the module named after its domain of
the IHI framework; the reference agents in ``sim.agents`` run the same phases):

1. ``leadership.schedule``: the mandate sets or releases extrinsic pressure.
2. ``leadership.churn``: senior leaders leave; successors start afresh.
3. ``adoption.decide``: everyone's next adoption state, from trust-weighted exposure
   (``relationships``), readiness (``motivation``), decision rights and agency
   (``power``) and pressure (mandate).
4. ``adoption.apply``: the decisions take effect together.
5. ``adaptation.test_cycles``: adopters test the change; belief, motivation, fit move.
6. ``motivation.update_motivation``: crowding-out, recovery, recognition.
7. ``relationships.update_trust``: joint work builds trust; directives erode it.
8. ``power.update_courage``: directives erode psychological safety (courage).

Co-design acts once, before the first step (``co_design``), by raising fit.

The step's functions (``change_step``, every phase above, ``record``) are compiled without
Numba's reference counting (``_nrt=False``): they allocate nothing, and counting every
array of the bundles in and out of each call cost about 0.1 microseconds a call, 13% of
the step on the speed benchmark's workload. A phase that needs to allocate will not
compile that way (Numba says "NRT required but not enabled"): give it work space in
``sim.state.SCRATCH_ARRAYS`` instead.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.dynamics import simd as V
from sim.dynamics.adaptation import test_cycles
from sim.dynamics.adoption import apply, decide
from sim.dynamics.layout import KEY_PURPOSES, stream_keys
from sim.dynamics.leadership import churn, schedule
from sim.dynamics.motivation import update_motivation
from sim.dynamics.power import update_courage
from sim.dynamics.relationships import update_trust
from sim.state import clinician_mask, replicate, senior_mask, tie_pairs

__all__ = [
    "KEY_PURPOSES",
    "change_step",
    "clinician_mask",
    "record",
    "senior_mask",
    "simulate_change",
    "simulate_change_batch",
    "state_means",
    "state_means_rows",
    "stream_keys",
    "tie_pairs",
]


@njit(cache=True, _nrt=False)
def change_step(t, par, keys, org, people, scratch):
    """Advance one replicate of the full model from step t-1 to step t, in place.

    Args:
        t: the step being computed (>= 1).
        par: (N_SLOTS,) float64 parameters (``sim.dynamics.layout``).
        keys: (6,) uint64 stream keys of the replicate (``layout.KEY_PURPOSES``).
        org: ``sim.state.OrgArrays`` of the organisation.
        people: ``sim.state.People`` of the replicate, updated in place.
        scratch: ``sim.state.Scratch`` work space.
    """
    schedule(t, par, org, people)
    churn(t, par, keys, org, people)
    decide(t, par, keys, org, people, scratch)
    apply(t, people, scratch)
    test_cycles(t, par, keys, org, people, scratch)
    update_motivation(par, people)
    update_trust(par, org, people, scratch)
    update_courage(par, people)


LANES = 32  # partial sums of a mean: four vectors of 8 (lane_sum); fixed, so every engine rounds alike


@njit(cache=True, inline="always")
def lane_sum(x):
    """sum(x) in LANES = 32 interleaved partial sums: x[k] goes to partial sum k % 32
    (the tail too: x[full + j] to partial sum j), each partial sum added in index order.
    The partial sums are four 8-wide vectors (``sim.dynamics.simd``), added lane by lane
    as (p0 + p1) + (p2 + p3), then the eight lanes as ((l0 + l1) + (l2 + l3)) + ((l4 + l5)
    + (l6 + l7)). Deterministic (one fixed order on every machine), and four chains of
    vector additions run side by side: 3.7x faster than eight scalar partial sums on
    11,000 values (the trust of the speed benchmark's workload), which Numba leaves as
    eight chains of scalar additions. x: C-contiguous 1-D float64.
    """
    n = len(x)
    full = n - n % LANES
    p0 = p1 = p2 = p3 = V.zero()
    for k in range(0, full, LANES):
        p0 = V.add(p0, V.load(x, k))
        p1 = V.add(p1, V.load(x, k + 8))
        p2 = V.add(p2, V.load(x, k + 16))
        p3 = V.add(p3, V.load(x, k + 24))
    for j in range(n - full):
        v, w, block = x[full + j], j & 7, j >> 3
        if block == 0:
            p0 = V.add_to_lane(p0, w, v)
        elif block == 1:
            p1 = V.add_to_lane(p1, w, v)
        elif block == 2:
            p2 = V.add_to_lane(p2, w, v)
        else:
            p3 = V.add_to_lane(p3, w, v)
    s = V.add(V.add(p0, p1), V.add(p2, p3))
    return ((V.lane(s, 0) + V.lane(s, 1)) + (V.lane(s, 2) + V.lane(s, 3))) + (
        (V.lane(s, 4) + V.lane(s, 5)) + (V.lane(s, 6) + V.lane(s, 7))
    )


@njit(cache=True, _nrt=False)
def state_means(motivation, belief, trust, out):
    """out[0:3] = mean motivation, mean belief, mean trust (NaN with no ties), each summed
    by ``lane_sum`` (every engine records through this function, so they agree exactly).
    """
    n = len(motivation)
    out[0] = lane_sum(motivation) / n if n > 0 else 0.0
    out[1] = lane_sum(belief) / n if n > 0 else 0.0
    out[2] = lane_sum(trust) / len(trust) if len(trust) > 0 else np.nan


@njit(cache=True)
def state_means_rows(motivation, belief, trust, out):
    """``state_means`` of every row of (R, n) motivation and belief with shared (m,) trust."""
    for r in range(motivation.shape[0]):
        state_means(motivation[r], belief[r], trust, out[r])


@njit(cache=True, _nrt=False)
def record(t, people, scratch, groups, counts, extra):
    """Counts by group and state after step t, and the means of motivation, belief, trust.

    With one group (everyone, ``by_group=False``), each state's count is a sum over the
    people of (state_i == s), a loop LLVM vectorises (a tenth of the time of the general
    path). Otherwise step 0 counts everyone; later steps start from the previous step's
    counts and move only the people whose state differs from the last record
    (``scratch.recorded``), so any phase may change a state and the counts stay exact.
    """
    state, recorded = people.state, scratch.recorded
    n_cols = groups.shape[1]
    if counts.shape[1] == 1:  # every group index is 0: each person counts n_cols times there
        for s in range(counts.shape[2]):
            c = 0
            for i in range(len(state)):
                c += 1 if state[i] == s else 0
            counts[t, 0, s] = n_cols * c
    elif t == 0:
        for g in range(counts.shape[1]):
            for s in range(counts.shape[2]):
                counts[0, g, s] = 0
        for i in range(len(state)):
            for d in range(n_cols):
                counts[0, groups[i, d], state[i]] += 1
            recorded[i] = state[i]
    else:
        for g in range(counts.shape[1]):  # element by element: a slice copy may allocate
            for s in range(counts.shape[2]):
                counts[t, g, s] = counts[t - 1, g, s]
        for i in range(len(state)):
            s_new = state[i]
            s_old = recorded[i]
            if s_new != s_old:
                for d in range(n_cols):
                    g = groups[i, d]
                    counts[t, g, s_old] -= 1
                    counts[t, g, s_new] += 1
                recorded[i] = s_new
    state_means(people.motivation, people.belief, people.trust, extra[t])


@njit(cache=True)
def simulate_change(par, keys, org, people, scratch, n_steps, groups, counts, extra):
    """Run one replicate of the full model for n_steps, recording after every step.

    Args:
        par, keys, org, people, scratch: as ``change_step``.
        n_steps: number of steps.
        groups: (n, D) int64 group of each person in each grouping (column 0: everyone).
        counts: (n_steps+1, G, 4) int32 output: staff by step, group and adoption state.
        extra: (n_steps+1, 3) float64 output: mean motivation, belief and trust by step.
    """
    record(0, people, scratch, groups, counts, extra)
    for t in range(1, n_steps + 1):
        change_step(t, par, keys, org, people, scratch)
        record(t, people, scratch, groups, counts, extra)


@njit(cache=True, parallel=True)
def simulate_change_batch(par, keys, org, people, scratch, n_steps, groups, counts, extra):
    """R replicates in parallel: ``par`` is (R, N_SLOTS) (one parameter vector per
    replicate); ``keys``, ``counts``, ``extra`` and every array of ``people`` and
    ``scratch`` have a leading (R,) axis. Replicate r equals ``simulate_change`` on row r
    (draws depend on (seed, step, person) only, never on the thread).
    """
    for r in prange(keys.shape[0]):
        simulate_change(
            par[r],
            keys[r],
            org,
            replicate(people, r),
            replicate(scratch, r),
            n_steps,
            groups,
            counts[r],
            extra[r],
        )
