"""The known answers of the classic models the rules reduce to with the psychology of change off.

``tests/test_classic.py`` checks the model against them with derived tolerances, and
``experiments/e06_classic_limits`` draws them next to the model's runs:

- Bass (1969): the closed-form share adopted, F(t).
- Watts (2002): the chance that one seed starts a global threshold cascade, Poisson degrees.
- Independent cascade (Kempe, Kleinberg and Tardos 2003) = bond percolation (Newman 2002):
  the share S of a large outbreak, S = 1 - exp(-zT S), and the mean degree of
  ``sim.org.random_graph``, which the finite graph loses a little of.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.stats import poisson


def bass_closed_form(t: np.ndarray | float, p: float, q: float) -> np.ndarray:
    """F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}): share adopted at time t (p, q per unit of t)."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=np.float64))
    return (1.0 - e) / (1.0 + (q / p) * e)


def watts_cascade_probability(z: float, phi: float, k_max: int = 200) -> float:
    """Chance that one random seed triggers a global cascade, Poisson(z) degrees (Watts 2002).

    A node of degree k is vulnerable (one adopting contact suffices) when 1/k >= phi. Let u
    be the chance that a tie does not lead into the giant vulnerable cluster:
    u = 1 - sum_k q_k rho_k (1 - u^(k-1)), q_k = k p_k / z the degree at the end of a tie.
    The seed starts a global cascade when one of its ties does: 1 - sum_k p_k u^k. 0 for z <= 0.
    """
    if z <= 0:
        return 0.0
    k = np.arange(k_max)
    pk = poisson.pmf(k, z)
    rho = ((k > 0) & (1.0 / np.maximum(k, 1) >= phi)).astype(float)
    qk = k * pk / z
    u = 0.0
    for _ in range(100_000):
        nxt = 1.0 - float(np.sum(qk * rho * (1.0 - u ** np.maximum(k - 1, 0))))
        if abs(nxt - u) < 1e-15:
            break
        u = nxt
    return 1.0 - float(np.sum(pk * u**k))


def percolation_size(zt: float) -> float:
    """S solving S = 1 - exp(-zT S): the giant outbreak's share (and its chance) for Poisson degrees.

    0 at or below the threshold zT = 1.
    """
    if zt <= 1.0:
        return 0.0
    return brentq(lambda s: s - 1.0 + math.exp(-zt * s), 1e-9, 1.0)


def random_graph_degree(z: float, n: int) -> float:
    """Mean degree of ``sim.org.random_graph(n, z)``: z - (z + z^2/2) / n.

    Its round(n z / 2) uniform pairs lose about z/2 self-pairs and z^2/4 repeated pairs.
    """
    return z - (z + z * z / 2) / n
