"""``exposure`` and ``exposure4``, the full model's trust-weighted exposure, on their own.

The reference agents read exposure through ``exposure`` too, so engine equivalence
cannot see a mistake in it; and ``exposure4`` (four people at once, the kernel's fast
path) must give each person the bits ``exposure`` gives. Both against a plain Python sum
in CSR order: e_i = sum_j w_ij x_j / sum_j w_ij (or the numerator, count kind), w_ij =
trust of the tie times j's influence (times clinical credibility where it applies).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim.dynamics.relationships import exposure, exposure4
from sim.model import organisation_for
from sim.params import from_dict
from sim.state import org_arrays


@njit
def _one(i, a, trust, influence, x, cred, leader, count_kind):
    return exposure(
        a.indptr[i], a.indptr[i + 1], a.indices, a.pair, trust, influence, x, cred, leader, count_kind
    )


@njit
def _four(quad, a, trust, influence, x, count_kind, out):
    exposure4(
        quad[0], quad[1], quad[2], quad[3], a.indptr, a.indices, a.pair, trust, influence, x, count_kind, out
    )


def _plain(i, a, trust, influence, x, cred, leader, count_kind) -> float:
    num = den = 0.0
    for e in range(a.indptr[i], a.indptr[i + 1]):
        j = int(a.indices[e])
        w = float(trust[a.pair[e]]) * float(influence[j])
        if cred != 1.0:
            w = w * (cred if leader[j] == 1 else 1.0)
        den += w
        num += w * float(x[j])
    return num if count_kind else (num / den if den > 0.0 else 0.0)


@pytest.mark.parametrize("count_kind", [False, True])
def test_exposure_and_exposure4_are_the_csr_order_sum(count_kind: bool) -> None:
    org = organisation_for(from_dict({"org": {"n_staff": 240}}))
    a = org_arrays(org)
    rng = np.random.default_rng(5)
    n = org.n_staff
    trust = rng.random(len(a.indices) // 2)
    influence = rng.random(n) * 3.0
    x = rng.choice([0.0, 0.37, 1.0], n)
    leader = (rng.random(n) < 0.2).astype(np.uint8)
    degree = np.diff(a.indptr)
    assert degree.min() < degree.max(), "people of different degree, so the four have tails"
    for cred in (1.0, 1.7):
        for i in range(n):
            want = _plain(i, a, trust, influence, x, cred, leader, count_kind)
            assert _one(i, a, trust, influence, x, cred, leader, count_kind) == want, (i, cred)
    order = np.concatenate([np.arange(n), rng.permutation(n), np.argsort(degree, kind="stable")])
    for k in range(0, len(order) - 3, 4):
        quad = order[k : k + 4].astype(np.int64)
        out = np.full(n, np.nan)
        _four(quad, a, trust, influence, x, count_kind, out)
        for i in set(quad.tolist()):
            assert out[i] == _plain(i, a, trust, influence, x, 1.0, leader, count_kind), (quad, i)
