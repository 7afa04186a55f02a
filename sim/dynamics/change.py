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
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.dynamics.adaptation import test_cycles
from sim.dynamics.adoption import apply, decide
from sim.dynamics.layout import KEY_PURPOSES, stream_keys
from sim.dynamics.leadership import churn, schedule
from sim.dynamics.motivation import update_motivation
from sim.dynamics.power import update_courage
from sim.dynamics.relationships import update_trust
from sim.state import clinician_mask, replicate, reverse_ties, senior_mask

__all__ = [
    "KEY_PURPOSES",
    "change_step",
    "clinician_mask",
    "record",
    "reverse_ties",
    "senior_mask",
    "simulate_change",
    "simulate_change_batch",
    "state_means",
    "stream_keys",
]


@njit(cache=True)
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
    update_trust(par, org, people)
    update_courage(par, people)


@njit(cache=True)
def state_means(motivation, belief, trust, out):
    """out[0:3] = mean motivation, mean belief, mean trust (NaN with no ties), summed in order."""
    n = len(motivation)
    m_sum = 0.0
    b_sum = 0.0
    for i in range(n):
        m_sum += motivation[i]
        b_sum += belief[i]
    tr = 0.0
    for e in range(len(trust)):
        tr += trust[e]
    out[0] = m_sum / n if n > 0 else 0.0
    out[1] = b_sum / n if n > 0 else 0.0
    out[2] = tr / len(trust) if len(trust) > 0 else np.nan


@njit(cache=True)
def record(t, people, groups, counts, extra):
    """Counts by group and state after step t, and the means of motivation, belief, trust."""
    state = people.state
    for g in range(counts.shape[1]):
        for s in range(counts.shape[2]):
            counts[t, g, s] = 0
    for i in range(len(state)):
        for d in range(groups.shape[1]):
            counts[t, groups[i, d], state[i]] += 1
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
    record(0, people, groups, counts, extra)
    for t in range(1, n_steps + 1):
        change_step(t, par, keys, org, people, scratch)
        record(t, people, groups, counts, extra)


@njit(cache=True, parallel=True)
def simulate_change_batch(par, keys, org, people, scratch, n_steps, groups, counts, extra):
    """R replicates in parallel: ``keys``, ``counts``, ``extra`` and every array of
    ``people`` and ``scratch`` have a leading (R,) axis; replicate r equals
    ``simulate_change`` on row r (draws depend on (seed, step, person) only).
    """
    for r in prange(keys.shape[0]):
        simulate_change(
            par,
            keys[r],
            org,
            replicate(people, r),
            replicate(scratch, r),
            n_steps,
            groups,
            counts[r],
            extra[r],
        )
