"""Adapt in action: PDSA test cycles that update belief, motivation and local fit.

Sources: the Model for Improvement (Langley et al. 2009; IHI): many small tests of
change, learning from each; March (1991) on exploration and learning; Edmondson (1999):
psychological safety makes failure survivable; Taylor et al. (2014) and Knudsen et al.
(2019): PDSA as practised is often low-fidelity (a reason to sweep p_test low).
"""

from __future__ import annotations

from numba import njit

from sim.constants import COMMITTED, COMPLYING
from sim.dynamics import layout as L
from sim.rng import uniform_nb


@njit(cache=True)
def test_cycles(t, par, keys, people, scratch):
    """Phase 5, tests: each adopter with decision rights runs a test with chance p_test.

    success ~ Bernoulli(clip(change_quality + fit_i, 0, 1)), y = 1 or 0
    b <- b + learning_rate (y - b)
    y = 1: m <- m + success_boost (1 - m)
    y = 0: m <- m - failure_cost (1 - courage) m;  with adapt: fit <- fit + adapt_rate
           max(1 - change_quality - fit, 0) (the change is reworked to fit local work)
    """
    p = par[L.P_TEST]
    if p <= 0.0:
        return
    quality = par[L.CHANGE_QUALITY]
    lr = par[L.LEARNING_RATE]
    key_test, key_outcome = keys[L.K_TEST], keys[L.K_OUTCOME]
    state, allowed, courage = people.state, scratch.allowed, people.courage
    belief, motivation, fit = people.belief, people.motivation, people.fit
    for i in range(len(state)):
        if not (state[i] == COMPLYING or state[i] == COMMITTED) or allowed[i] == 0:
            continue
        if uniform_nb(key_test, t, i) >= p:
            continue
        chance = min(max(quality + fit[i], 0.0), 1.0)
        y = 1.0 if uniform_nb(key_outcome, t, i) < chance else 0.0
        belief[i] = belief[i] + lr * (y - belief[i])
        if y == 1.0:
            motivation[i] = motivation[i] + par[L.SUCCESS_BOOST] * (1.0 - motivation[i])
        else:
            motivation[i] = motivation[i] - par[L.FAILURE_COST] * (1.0 - courage[i]) * motivation[i]
            if par[L.ADAPT] > 0.0:
                fit[i] = fit[i] + par[L.ADAPT_RATE] * max(1.0 - quality - fit[i], 0.0)
