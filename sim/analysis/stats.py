"""Uncertainty done properly: confidence intervals, paired differences, effect sizes.

Replicates of one scenario are independent draws, so a scenario's mean gets a
t-interval. Two scenarios run from the same seeds share their random numbers (common
random numbers, ``sim.rng``), so their difference is estimated per seed and its interval
comes from the paired differences, which is much narrower than comparing two separate
intervals. Effect sizes are given as the standardised paired difference d_z (mean
difference / sd of the differences; Cohen 1988) next to the raw difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


@dataclass
class Estimate:
    """A mean with its confidence interval."""

    mean: float
    lo: float
    hi: float
    n: int
    sd: float

    @property
    def half_width(self) -> float:
        """Half the width of the interval."""
        return (self.hi - self.lo) / 2.0


def mean_ci(x: np.ndarray, level: float = 0.95) -> Estimate:
    """Mean of ``x`` with a Student-t confidence interval (NaNs dropped).

    With one value, or no spread, the interval collapses to the mean.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, math.nan)
    m = float(x.mean())
    if n == 1:
        return Estimate(m, m, m, 1, 0.0)
    sd = float(x.std(ddof=1))
    half = float(_st.t.ppf(0.5 + level / 2.0, n - 1)) * sd / math.sqrt(n)
    return Estimate(m, m - half, m + half, n, sd)


@dataclass
class Difference:
    """A paired difference between two scenarios (b - a) over common seeds."""

    estimate: Estimate
    effect_size: float  # d_z = mean / sd of the paired differences
    p_value: float  # two-sided paired t-test


def paired_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> Difference:
    """B - a per seed, its interval, effect size d_z and paired t-test p-value.

    Args:
        a: (R,) outcome of scenario a, replicate r run with seed r.
        b: (R,) outcome of scenario b with the same seeds, in the same order.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes need equal shapes, got {a.shape} and {b.shape}")
    d = b - a
    est = mean_ci(d, level)
    if est.n < 2 or est.sd == 0.0:
        dz = math.inf if est.mean != 0 else 0.0
        p = 0.0 if est.mean != 0 else 1.0
    else:
        dz = est.mean / est.sd
        t = est.mean / (est.sd / math.sqrt(est.n))
        p = float(2.0 * _st.t.sf(abs(t), est.n - 1))
    return Difference(est, dz, p)


def replicates_needed(sd: float, half_width: float, level: float = 0.95) -> int:
    """Replicates for a mean's interval to have the given half-width (normal approximation).

    n = ceil((z sd / h)^2), z the two-sided normal quantile; at least 2.
    """
    if half_width <= 0:
        raise ValueError("half_width must be positive")
    z = float(_st.norm.ppf(0.5 + level / 2.0))
    return max(2, math.ceil((z * sd / half_width) ** 2))


def describe_effect(dz: float) -> str:
    """Cohen's (1988) conventional words for a standardised effect size."""
    a = abs(dz)
    if a < 0.2:
        return "negligible"
    if a < 0.5:
        return "small"
    if a < 0.8:
        return "medium"
    return "large"


def wilson(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927); always inside [0, 1].

    (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = successes / n.
    ``successes`` may be fractional (tied ranks share credit). With n = 0: (nan, nan).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = float(_st.norm.ppf(0.5 + level / 2.0))
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (lo, hi)


def clopper_pearson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson 1934) interval of a binomial proportion; inside [0, 1]."""
    if n <= 0:
        return (math.nan, math.nan)
    a = 1.0 - level
    lo = 0.0 if successes <= 0 else float(_st.beta.ppf(a / 2, successes, n - successes + 1))
    hi = 1.0 if successes >= n else float(_st.beta.ppf(1 - a / 2, successes + 1, n - successes))
    return (lo, hi)


def share_ci(x: np.ndarray, level: float = 0.95) -> Estimate:
    """Mean of per-run shares in [0, 1] with a t-interval clipped to [0, 1].

    A share cannot be negative or above 1, so neither can its interval; with no spread
    the interval is the value itself.
    """
    est = mean_ci(x, level)
    if est.n == 0:
        return est
    return Estimate(est.mean, max(0.0, est.lo), min(1.0, est.hi), est.n, est.sd)
