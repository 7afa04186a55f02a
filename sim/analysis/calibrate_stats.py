"""Individual-level statistics of a diffusion and proper scoring rules for its prediction.

Every function takes adoption steps ``t_adopted`` ((n,) or (R, n) int, -1 = not adopted
in the window, 0 = adopted before step 1) on a fixed network, so observed data and
simulations are summarised by the same code:

- **adoption curves per site**: the share adopted by the end of each step;
- **exposure at adoption** (Valente's 1995 network threshold): the share of a person's
  contacts who had adopted by the end of the step before their own adoption;
- **hazard by exposure**: adoptions per person-step at risk, by the exposure at the start
  of the step (the discrete-time hazard of Valente 2005 and Iyengar, Van den Bulte and
  Valente 2011, binned).

Exposure uses the undirected ties the simulator uses (``Organisation``'s CSR), so the
statistics and the simulated rule see one network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from sim.org import Organisation

HAZARD_BINS: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0)
"""Exposure bins of the hazard summary: exactly 0, (0, 0.25], (0.25, 0.5], (0.5, 1]."""
EXPOSURE_QUANTILES: tuple[float, ...] = (0.25, 0.5, 0.75)


@dataclass
class Network:
    """What the statistics need of an organisation, built once.

    Attributes:
        adjacency: (n, n) CSR, 1 where two people are tied (symmetric).
        degree: (n,) number of contacts.
        site: (n,) site (organisation) code of each person.
        n_sites: number of sites.
        n_steps: observation window in steps.
    """

    adjacency: sp.csr_matrix
    degree: np.ndarray
    site: np.ndarray
    n_sites: int
    n_steps: int

    @classmethod
    def of(cls, org: Organisation, n_steps: int) -> Network:
        """The statistics' view of an organisation over ``n_steps`` steps."""
        n = org.n_staff
        adj = sp.csr_matrix(
            (np.ones(len(org.indices)), org.indices.astype(np.int64), org.indptr), shape=(n, n)
        )
        return cls(adj, org.degree.astype(np.int64), org.organisation.astype(np.int64),
                   len(org.org_names), int(n_steps))  # fmt: skip


def adopted_by(t_adopted: np.ndarray, n_steps: int) -> np.ndarray:
    """(R, n_steps+1, n) bool: who had adopted by the end of each step 0..n_steps."""
    t = np.atleast_2d(t_adopted)[:, None, :]
    steps = np.arange(n_steps + 1)[None, :, None]
    return (t >= 0) & (t <= steps)


def exposure(t_adopted: np.ndarray, net: Network) -> np.ndarray:
    """(R, n_steps+1, n) share of each person's contacts adopted by the end of each step.

    e_i(t) = sum_j a_ij x_j(t) / sum_j a_ij, 0 for a person with no contacts (as in the
    simulator's ``sim.dynamics.contagion.exposure`` with unit weights).
    """
    a = adopted_by(t_adopted, net.n_steps)
    r, t1, n = a.shape
    counts = (net.adjacency @ a.reshape(r * t1, n).T.astype(np.float64)).T.reshape(r, t1, n)
    return np.divide(counts, net.degree, out=np.zeros_like(counts), where=net.degree > 0)


def curves(t_adopted: np.ndarray, net: Network) -> np.ndarray:
    """(R, n_sites, n_steps+1) share of each site adopted by the end of each step."""
    a = adopted_by(t_adopted, net.n_steps)
    out = np.empty((a.shape[0], net.n_sites, net.n_steps + 1))
    for s in range(net.n_sites):
        out[:, s] = a[:, :, net.site == s].mean(axis=2)
    return out


def exposure_at_adoption(t_adopted: np.ndarray, e: np.ndarray) -> list[np.ndarray]:
    """Per replicate, the exposure at the end of the step before each adoption (steps >= 1).

    People without contacts are left out: their exposure is not defined by the network.
    """
    t = np.atleast_2d(t_adopted)
    out = []
    for r in range(t.shape[0]):
        who = np.flatnonzero(t[r] >= 1)
        out.append(e[r, t[r, who] - 1, who])
    return out


def hazard_table(t_adopted: np.ndarray, e: np.ndarray, bins: tuple[float, ...] = HAZARD_BINS) -> np.ndarray:
    """(R, n_bins, 2) person-steps at risk and adoptions, by exposure at the step's start.

    Person i is at risk in step t (1..T) if not adopted by the end of t-1; the step's
    exposure is e_i(t-1). Bin 0 holds exposure exactly 0; bin k > 0 holds (b_{k-1}, b_k].
    """
    t = np.atleast_2d(t_adopted)
    r, t1, n = e.shape
    steps = np.arange(1, t1)[None, :, None]
    at_risk = (t[:, None, :] < 0) | (t[:, None, :] >= steps)
    event = t[:, None, :] == steps
    ex = e[:, :-1, :]
    idx = np.where(ex <= 0.0, 0, np.searchsorted(np.asarray(bins), ex, side="left"))
    idx = np.minimum(idx, len(bins) - 1)
    out = np.zeros((r, len(bins), 2))
    for k in range(len(bins)):
        in_bin = idx == k
        out[:, k, 0] = (at_risk & in_bin).sum(axis=(1, 2))
        out[:, k, 1] = (event & in_bin).sum(axis=(1, 2))
    return out


def summaries(t_adopted: np.ndarray, net: Network) -> dict[str, np.ndarray]:
    """The three blocks of summary statistics for each replicate.

    Returns:
        ``curve``: (R, n_sites * n_steps) share adopted by the end of steps 1..T per site;
        ``exposure``: (R, 5) mean and quartiles of exposure at adoption, and the share of
        adopters with contacts who adopted at exposure 0 (Valente's innovators);
        ``hazard``: (R, n_bins) hazard by exposure bin, shrunk towards the overall hazard
        with one pseudo person-step, (events + h) / (at risk + 1), so an empty bin reads
        as the overall hazard rather than as 0/0.
    """
    t = np.atleast_2d(t_adopted)
    e = exposure(t, net)
    c = curves(t, net)[:, :, 1:].reshape(t.shape[0], -1)
    ex = np.zeros((t.shape[0], 2 + len(EXPOSURE_QUANTILES)))
    for r, values in enumerate(exposure_at_adoption(t, e)):
        if len(values):
            ex[r] = [values.mean(), *np.quantile(values, EXPOSURE_QUANTILES), (values == 0).mean()]
    tab = hazard_table(t, e)
    overall = tab[:, :, 1].sum(axis=1) / np.maximum(tab[:, :, 0].sum(axis=1), 1)
    hz = (tab[:, :, 1] + overall[:, None]) / (tab[:, :, 0] + 1.0)
    return {"curve": c, "exposure": ex, "hazard": hz}


def summary_names(net: Network, site_names: list[str]) -> dict[str, list[str]]:
    """Names of the statistics in each block of ``summaries`` (for tables and pyabc)."""
    curve = [f"curve_{s}_t{t}" for s in site_names for t in range(1, net.n_steps + 1)]
    qs = [f"exposure_q{int(q * 100)}" for q in EXPOSURE_QUANTILES]
    exposure_ = ["exposure_mean", *qs, "exposure_zero_share"]
    hazard = ["hazard_e0"] + [
        f"hazard_e{lo:g}_{hi:g}" for lo, hi in zip(HAZARD_BINS[:-1], HAZARD_BINS[1:], strict=True)
    ]
    return {"curve": curve, "exposure": exposure_, "hazard": hazard}


# --- Proper scoring rules for predicted adoption (lower is better) ---


def crps_ensemble(samples: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score of an ensemble forecast, per column.

    CRPS = E|X - y| - E|X - X'| / 2 over the ensemble (Gneiting and Raftery 2007,
    eq. 21), computed exactly from the sorted samples.

    Args:
        samples: (R, k) ensemble members for k quantities.
        observed: (k,) outcomes.
    """
    x = np.sort(samples, axis=0)
    r = x.shape[0]
    term1 = np.abs(x - observed[None, :]).mean(axis=0)
    # E|X - X'| = 2 / R^2 * sum_i (2i - R - 1) x_(i) with i = 1..R.
    w = 2.0 * np.arange(1, r + 1) - r - 1
    term2 = 2.0 * (w[:, None] * x).sum(axis=0) / r**2
    return term1 - term2 / 2.0


def brier_by_step(pred_t: np.ndarray, observed_t: np.ndarray, n_steps: int) -> np.ndarray:
    """(n,) each person's Brier score of "adopted by the end of step m", averaged over m = 1..T.

    The forecast probability is the share of the ensemble adopted by step m.

    Args:
        pred_t: (R, n) ensemble of adoption steps (-1 = not in the window).
        observed_t: (n,) observed adoption steps.
    """
    p = adopted_by(pred_t, n_steps)[:, 1:, :].mean(axis=0)
    y = adopted_by(observed_t, n_steps)[0, 1:, :]
    return ((p - y) ** 2).mean(axis=0)


def log_score(pred_t: np.ndarray, observed_t: np.ndarray, n_steps: int, pseudo: float = 0.5) -> np.ndarray:
    """(n,) each person's negative log probability of their observed adoption step.

    The forecast is the ensemble's distribution over the T + 1 outcomes (steps 1..T, not
    adopted), with ``pseudo`` added to every count (Jeffreys smoothing), so an outcome the
    ensemble never produced costs a finite, large penalty rather than infinity.
    """
    k = n_steps + 1
    cat_pred = np.where(pred_t < 0, n_steps, pred_t - 1).clip(0, n_steps)
    cat_obs = np.where(observed_t < 0, n_steps, observed_t - 1).clip(0, n_steps)
    r = pred_t.shape[0]
    hits = (cat_pred == cat_obs[None, :]).sum(axis=0)
    return -np.log((hits + pseudo) / (r + pseudo * k))


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Quantiles of a weighted sample (inverse of the weighted empirical CDF, midpoint rule)."""
    order = np.argsort(values)
    v, w = values[order], weights[order] / weights.sum()
    cdf = np.cumsum(w) - w / 2
    return np.interp(q, cdf, v)
