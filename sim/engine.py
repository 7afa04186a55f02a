"""The fast engine: Numba kernels that advance array state, one replicate or a batch.

A step has these phases, in this order (the reference engine in ``sim.agents`` states
the same ones agent by agent):

1. **candidates**: who could adopt this step. Everyone not adopted, except when the
   rule is a pure network rule (threshold or cascade with no spontaneous adoption):
   then only contacts of last step's new adopters can change their decision, so only
   they are re-examined (frontier counting; exact, it skips decisions that cannot
   change: perf.md measured 2x to 100x).
2. **exposure** (``sim.dynamics.contagion``): each candidate's weighted exposure to
   adopting contacts (or, for the cascade, the hazard from last step's adopters).
3. **decide**: adopt with P = 1 - (1 - p)(1 - h); the uniform draw for (step, person)
   comes from the counter-based stream ``rng.ADOPT`` of the replicate's seed.
4. **apply**: all decisions of the step take effect together (synchronous update), and
   the per-group counts are updated by the changes only.

When a pure network rule makes no change in a step the state is a fixed point, and the
remaining rows of the record are filled without stepping.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim.constants import COMMITTED
from sim.dynamics.contagion import (
    CASCADE,
    THRESHOLD,
    Rule,
    adoption_probability,
    cascade_hazard,
    exposure,
    is_adopted,
)
from sim.rng import uniform_nb
from sim.state import Frontier, replicate, tie_pairs


@njit(cache=True)
def kernel_step(t, indptr, indices, weight, people, rule, key, front, n_prev_new, use_frontier, n_open):
    """Advance one replicate from step t-1 to step t in place; return the new adopters.

    Args:
        t: the step being computed (>= 1).
        indptr, indices, weight: CSR ties (int64, uint32, float64 w_ij).
        people: ``sim.state.People`` of the replicate (reads ``threshold``, updates
            ``state`` and ``t_adopted``).
        rule: ``sim.dynamics.contagion.Rule`` (codes and per-step chances).
        key: uint64 stream key of the replicate's ``rng.ADOPT`` stream.
        front: ``sim.state.Frontier`` work space; ``front.prev_new[:n_prev_new]`` are the
            new adopters of step t-1; this step's go to ``front.new``, their previous
            states to ``front.old``; ``front.stamp`` (-1 initially) marks who was examined.
        n_prev_new: number of last step's new adopters.
        use_frontier: allowed to examine only contacts of last step's new adopters (exact
            for pure network rules: nobody else's inputs changed).
        n_open: staff not adopted at the start of the step (to choose frontier or scan).

    Returns:
        Number of new adopters written to ``front.new``.
    """
    state, t_adopted, threshold = people.state, people.t_adopted, people.threshold
    prev_new, new_out, old_out, stamp = front.prev_new, front.new, front.old, front.stamp
    n = len(state)
    n_new = 0
    frontier = use_frontier
    if frontier:
        # The frontier re-reads the row of every open contact of a new adopter; a scan
        # reads the rows of all open staff. Take the cheaper (perf.md: the frontier wins
        # when cascades stall, the scan while they sweep through; both give one answer).
        touched = 0
        for k in range(n_prev_new):
            j = prev_new[k]
            touched += indptr[j + 1] - indptr[j]
        frontier = touched < n_open
    # Deterministic threshold with no spontaneous adoption: P is 0 or 1, so compare the
    # exposure directly (no draw; keeps the inner loop free of reference counting).
    plain = rule.rule == THRESHOLD and rule.p_spontaneous == 0.0
    # Candidates: open contacts of last step's adopters (frontier), else all open staff.
    # The frontier's candidates are listed in new_out itself: adopters are written back
    # at positions n_new <= c, never ahead of the candidate being read.
    n_cand = n
    if frontier:
        n_cand = 0
        for k in range(n_prev_new):
            j = prev_new[k]
            for e in range(indptr[j], indptr[j + 1]):
                i = np.int64(indices[e])
                if stamp[i] != t and not is_adopted(state[i]):
                    stamp[i] = t
                    new_out[n_cand] = i
                    n_cand += 1
    for c in range(n_cand):
        i = new_out[c] if frontier else c
        if is_adopted(state[i]):
            continue
        if plain:
            adopt = exposure(i, indptr, indices, weight, state, rule.threshold_kind) >= threshold[i]
        else:
            adopt = _decide(t, i, indptr, indices, weight, people, rule, key)
        if adopt:
            new_out[n_new] = i
            n_new += 1
    for k in range(n_new):
        i = new_out[k]
        old_out[k] = state[i]
        state[i] = COMMITTED
        t_adopted[i] = t
    return n_new  # fmt: skip


@njit(cache=True, inline="always")
def _decide(t, i, indptr, indices, weight, people, rule, key):
    state = people.state
    if rule.rule == CASCADE:
        drive = cascade_hazard(i, indptr, indices, weight, state, people.t_adopted, t - 1, rule.p_transmit)
    else:
        drive = exposure(i, indptr, indices, weight, state, rule.threshold_kind)
    prob = adoption_probability(rule.rule, drive, people.threshold[i], rule.p_spontaneous, rule.q_imitation)
    if prob >= 1.0:
        return True
    if prob <= 0.0:
        return False
    return uniform_nb(key, t, i) < prob


@njit(cache=True)
def simulate(indptr, indices, weight, people, rule, key, n_steps, groups, counts):
    """Run one replicate for ``n_steps`` steps, recording counts by group and state.

    Args:
        groups: (n, D) int64; person i counts in groups ``groups[i, :]`` (column 0 is the
            whole organisation, then level, profession, organisation).
        counts: (n_steps+1, G, 4) int32 output, zero on entry; counts[t, g, s] is the
            number of staff of group g in adoption state s after step t.

    Other arguments as ``kernel_step``. ``people.state`` and ``people.t_adopted`` end as
    the final state.
    """
    state, t_adopted = people.state, people.t_adopted
    n = len(state)
    n_cols = groups.shape[1]
    for i in range(n):
        for d in range(n_cols):
            counts[0, groups[i, d], state[i]] += 1
    pure_network = rule.p_spontaneous == 0.0 and (rule.rule == THRESHOLD or rule.rule == CASCADE)
    front = Frontier(
        np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.uint8), np.full(n, -1, np.int64)
    )
    n_prev = 0
    n_open = 0
    for i in range(n):
        if is_adopted(state[i]):
            if t_adopted[i] == 0:
                front.prev_new[n_prev] = i
                n_prev += 1
        else:
            n_open += 1
    for t in range(1, n_steps + 1):
        counts[t] = counts[t - 1]
        frontier = pure_network and t > 1
        n_new = kernel_step(t, indptr, indices, weight, people, rule, key, front, n_prev, frontier, n_open)
        n_open -= n_new
        for k in range(n_new):
            i = front.new[k]
            s_new = state[i]
            for d in range(n_cols):
                g = groups[i, d]
                counts[t, g, front.old[k]] -= 1
                counts[t, g, s_new] += 1
        if n_new == 0 and pure_network:
            for s in range(t + 1, n_steps + 1):
                counts[s] = counts[t]
            break
        front = Frontier(front.new, front.prev_new, front.old, front.stamp)
        n_prev = n_new


def weights(org, st) -> np.ndarray:
    """(m,) float64 tie weights w_ij = trust_ij * influence_j (numpy, exact IEEE products),
    trust_ij read from the tie's undirected pair (``sim.state.tie_pairs``).
    """
    return st.trust[tie_pairs(org)[0]] * st.influence[org.indices]


@njit(parallel=True, cache=True)
def simulate_batch(indptr, indices, weight, people, rules, keys, n_steps, groups, counts):
    """Run R replicates in parallel (prange over replicates: perf.md measured 1.96x on
    2 cores; parallelism inside a step was unreliable on a shared machine).

    Args:
        people: ``sim.state.People`` with (R, n) staff arrays, updated in place (tie
            arrays may be shared, (m,)).
        rules: ``Rule`` whose chances are (R,) float64 arrays: one rule per replicate.
        keys: (R,) uint64 adoption-stream keys, one per replicate's seed.
        counts: (R, n_steps+1, G, 4) int32 output, zero on entry.

    Replicate r equals ``simulate`` with ``keys[r]``: draws depend only on
    (seed, step, person), never on the thread that runs them.
    """
    for r in prange(keys.shape[0]):
        rule = Rule(rules.rule, rules.threshold_kind, rules.p_spontaneous[r], rules.q_imitation[r],
                    rules.p_transmit[r])  # fmt: skip
        simulate(indptr, indices, weight, replicate(people, r), rule, keys[r], n_steps, groups, counts[r])
