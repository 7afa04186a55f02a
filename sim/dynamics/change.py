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

from sim import rng
from sim.dynamics.adaptation import test_cycles
from sim.dynamics.adoption import apply, decide
from sim.dynamics.leadership import churn, schedule
from sim.dynamics.motivation import update_motivation
from sim.dynamics.power import update_courage
from sim.dynamics.relationships import update_trust
from sim.org import CLINICAL, PROFESSIONS, Organisation

# Stream purposes of the full model, in the order of the ``keys`` vector.
KEY_PURPOSES = (rng.ADOPT, rng.LAPSE, rng.CHURN, rng.PIPELINE, rng.TEST, rng.OUTCOME)


def stream_keys(seeds: np.ndarray) -> np.ndarray:
    """(R, 6) uint64 stream keys of each replicate (adopt, lapse, churn, pipeline, test, outcome)."""
    return np.stack([rng.keys(seeds, p) for p in KEY_PURPOSES], axis=1)


def reverse_ties(org: Organisation) -> np.ndarray:
    """(m,) int64: for stored tie e = (i, j), the index of the stored tie (j, i)."""
    src = org.tie_sources()
    dst = org.indices.astype(np.int64)
    # Rows are sorted by destination, so (dst, src) pairs sorted lexicographically give
    # the position of each reverse tie in CSR order.
    order = np.lexsort((src, dst))
    rev = np.empty(len(src), dtype=np.int64)
    rev[order] = np.arange(len(src))
    return rev


def clinician_mask(org: Organisation) -> np.ndarray:
    """(n,) uint8: 1 for doctors, nurses and allied health professionals."""
    codes = [PROFESSIONS.index(p) for p in CLINICAL]
    return np.isin(org.profession, codes).astype(np.uint8)


def senior_mask(org: Organisation) -> np.ndarray:
    """(n,) uint8: 1 for posts above team lead (the levels churn and the pipeline act on)."""
    return (org.level < org.n_levels - 2).astype(np.uint8)


@njit(cache=True)
def change_step(
    t,
    par,
    keys,
    indptr,
    indices,
    tie_kind,
    reverse,
    level,
    manager,
    organisation,
    clinician,
    senior,
    state,
    t_adopted,
    threshold,
    motivation,
    motivation0,
    belief,
    fit,
    pressure,
    authority,
    influence,
    courage,
    trust,
    clinical_leader,
    co_designer,
    next_state,
    allowed,
):
    """Advance one replicate of the full model from step t-1 to step t, in place."""
    schedule(t, par, organisation, pressure)
    churn(
        t,
        par,
        keys[2],
        keys[3],
        indptr,
        reverse,
        senior,
        state,
        t_adopted,
        motivation,
        motivation0,
        belief,
        trust,
        clinical_leader,
    )
    decide(
        t,
        par,
        keys[0],
        keys[1],
        indptr,
        indices,
        level,
        manager,
        clinician,
        state,
        threshold,
        motivation,
        belief,
        fit,
        pressure,
        authority,
        influence,
        courage,
        trust,
        clinical_leader,
        co_designer,
        next_state,
        allowed,
    )
    apply(t, state, next_state, t_adopted)
    test_cycles(t, par, keys[4], keys[5], indptr, indices, trust, state, allowed, courage, belief, motivation,
                fit)  # fmt: skip
    update_motivation(par, state, pressure, motivation, motivation0)
    update_trust(par, indptr, indices, tie_kind, state, pressure, trust)
    update_courage(par, pressure, courage)


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
def record(t, state, groups, motivation, belief, trust, counts, extra):
    """Counts by group and state after step t, and the means of motivation, belief, trust."""
    n = len(state)
    for g in range(counts.shape[1]):
        for s in range(counts.shape[2]):
            counts[t, g, s] = 0
    for i in range(n):
        for d in range(groups.shape[1]):
            counts[t, groups[i, d], state[i]] += 1
    state_means(motivation, belief, trust, extra[t])


@njit(cache=True)
def simulate_change(
    par,
    keys,
    indptr,
    indices,
    tie_kind,
    reverse,
    level,
    manager,
    organisation,
    clinician,
    senior,
    state,
    t_adopted,
    threshold,
    motivation,
    motivation0,
    belief,
    fit,
    pressure,
    authority,
    influence,
    courage,
    trust,
    clinical_leader,
    co_designer,
    n_steps,
    groups,
    counts,
    extra,
):
    """Run one replicate of the full model for n_steps, recording after every step.

    counts: (n_steps+1, G, 4) int32; extra: (n_steps+1, 3) float64 (mean motivation,
    belief, trust).
    """
    n = len(state)
    next_state = np.empty(n, np.uint8)
    allowed = np.zeros(n, np.uint8)
    record(0, state, groups, motivation, belief, trust, counts, extra)
    for t in range(1, n_steps + 1):
        change_step(
            t,
            par,
            keys,
            indptr,
            indices,
            tie_kind,
            reverse,
            level,
            manager,
            organisation,
            clinician,
            senior,
            state,
            t_adopted,
            threshold,
            motivation,
            motivation0,
            belief,
            fit,
            pressure,
            authority,
            influence,
            courage,
            trust,
            clinical_leader,
            co_designer,
            next_state,
            allowed,
        )
        record(t, state, groups, motivation, belief, trust, counts, extra)


@njit(cache=True, parallel=True)
def simulate_change_batch(
    par,
    keys,
    indptr,
    indices,
    tie_kind,
    reverse,
    level,
    manager,
    organisation,
    clinician,
    senior,
    state,
    t_adopted,
    threshold,
    motivation,
    motivation0,
    belief,
    fit,
    pressure,
    authority,
    influence,
    courage,
    trust,
    clinical_leader,
    co_designer,
    n_steps,
    groups,
    counts,
    extra,
):
    """R replicates in parallel; every per-replicate array has a leading (R,) axis."""
    for r in prange(state.shape[0]):
        simulate_change(
            par,
            keys[r],
            indptr,
            indices,
            tie_kind,
            reverse,
            level,
            manager,
            organisation,
            clinician,
            senior,
            state[r],
            t_adopted[r],
            threshold[r],
            motivation[r],
            motivation0[r],
            belief[r],
            fit[r],
            pressure[r],
            authority[r],
            influence[r],
            courage[r],
            trust[r],
            clinical_leader[r],
            co_designer[r],
            n_steps,
            groups,
            counts[r],
            extra[r],
        )
