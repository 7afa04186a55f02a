"""``sim.rng.normal_quantile``, behind every engine's starting attributes, on its own.

Every engine draws motivation, belief, courage and thresholds through it, so engine
equivalence cannot see a wrong coefficient or branch in it. Here it is checked against
SciPy's inverse normal CDF within the bound Acklam states for the approximation
(relative error below 1.2e-9), across both tails, the centre and the two switch points;
and the fast path of ``sim.initial`` (the central formula in a vectorised pass, tails
again one by one) against ``_clipped`` draw by draw.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy.stats import norm

from sim.initial import _clipped, _clipped_fill
from sim.rng import NQ_LO, key_py, normal_quantile, normal_quantile_central, uniform_np


@njit
def _quantiles(u):
    out = np.empty(len(u))
    for k in range(len(u)):
        out[k] = normal_quantile(u[k])
    return out


def test_normal_quantile_is_within_acklams_bound_of_the_exact_quantile() -> None:
    tails = np.logspace(-300, np.log10(NQ_LO), 400)
    u = np.concatenate([tails, np.linspace(NQ_LO, 1 - NQ_LO, 2001), 1 - tails[tails > 1e-15]])
    switch = np.array([NQ_LO, 1 - NQ_LO])
    u = np.concatenate([u, switch, np.nextafter(switch, 0.0), np.nextafter(switch, 1.0), [0.5]])
    got, want = _quantiles(u), norm.ppf(u)
    zero = want == 0.0  # u = 0.5: the formula's factor u - 0.5 is 0, so exactly 0
    assert zero.any() and (got[zero] == 0.0).all()
    rel = np.abs(got[~zero] - want[~zero]) / np.abs(want[~zero])
    assert rel.max() < 1.2e-9, u[~zero][np.argmax(rel)]
    assert _quantiles(np.array([0.0, 1.0])).tolist() == [-np.inf, np.inf]


def test_the_central_formula_is_the_quantile_between_the_switch_points() -> None:
    u = np.linspace(NQ_LO, 1 - NQ_LO, 1001)
    got = np.array([normal_quantile_central(x) for x in u])
    assert np.array_equal(got, _quantiles(u))


@njit
def _both(key, by_team, team, mean, sd, hi):
    fast = np.empty(len(team))
    _clipped_fill(key, by_team, team, mean, sd, hi, fast)
    slow = np.empty(len(team))
    for i in range(len(team)):
        slow[i] = _clipped(key, team[i] if by_team else i, mean, sd, hi)
    return fast, slow


CASES = [(False, 0.5, 0.2, 1.0), (True, 0.6, 0.3, 1.0), (False, 2.0, 1.5, np.inf), (False, 0.4, 0.0, 1.0)]


@pytest.mark.parametrize(("by_team", "mean", "sd", "hi"), CASES)
def test_two_pass_fill_equals_clipped_draw_by_draw(by_team: bool, mean: float, sd: float, hi: float) -> None:
    team = np.repeat(np.arange(500), 8).astype(np.int64)  # 4,000 people in teams of 8
    fast, slow = _both(key_py(11, 3), by_team, team, mean, sd, hi)
    assert np.array_equal(fast, slow)
    assert not np.isnan(fast).any()
    agents = team if by_team else np.arange(len(team))
    u = uniform_np(key_py(11, 3), 0, agents.astype(np.uint64))
    assert ((u < NQ_LO) | (u > 1 - NQ_LO)).sum() >= 8, "no draw took the tail path"
