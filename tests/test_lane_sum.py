"""``lane_sum``, the sum behind every recorded mean, against the order its docstring states.

Both engines record their means through ``sim.dynamics.change.state_means``, so the
engine-equivalence tests cannot see a wrong order or a lost value in it: this test
recomputes the sum in plain Python floats (IEEE double, as the kernel), partial sum by
partial sum, and asks for the same bits.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from sim.dynamics.change import LANES, lane_sum


@njit
def _lane_sum(x):
    return lane_sum(x)


def _reference(x: np.ndarray) -> float:
    """x[k] to partial sum k % 32 in index order; partial sums w, 8 + w, 16 + w, 24 + w added
    as (a + b) + (c + d) into lane w; the 8 lanes added as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7))."""
    part = [0.0] * 32
    for k, v in enumerate(x.tolist()):
        part[k % 32] += v
    lanes = [(part[w] + part[8 + w]) + (part[16 + w] + part[24 + w]) for w in range(8)]
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 100, 1001, 11_000])
def test_lane_sum_adds_in_the_stated_order(n: int) -> None:
    assert LANES == 32
    rng = np.random.default_rng(n)
    # Values of very different sizes make the order visible in the result's last bits.
    x = rng.random(n) * 10.0 ** rng.integers(-8, 8, n)
    got, want = _lane_sum(x), _reference(x)
    assert got == want, (n, got, want)
    if n >= 1001:  # these values tell orders apart: the 8 partial sums used before give other bits
        eight = [sum(x[w::8].tolist()) for w in range(8)]
        e = eight
        before = ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]))
        assert before != want


def test_lane_sum_sees_every_value() -> None:
    for n in (1, 31, 32, 33, 100):
        for k in range(n):
            x = np.zeros(n)
            x[k] = 1.0
            assert _lane_sum(x) == 1.0, (n, k)
