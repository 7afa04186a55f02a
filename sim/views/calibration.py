"""Figures of a calibration: observed adoption against the posterior predictive, and the posterior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.observed import ObservedDiffusion
from sim.views.figures import save


def posterior_predictive_figure(
    obs: ObservedDiffusion,
    predicted: np.ndarray,
    path: str | Path,
    note: str = "",
    unit: str = "month",
) -> Path:
    """One panel per site: the observed curve (steps) over the simulated median and bands.

    Args:
        obs: the observed diffusion.
        predicted: (R, n_sites, n_steps+1) simulated share adopted, one row per posterior draw.
        path: PNG to write.
        note: a line under the title (what was drawn, how many draws).
        unit: name of a step on the x axis.
    """
    observed = obs.frac_adopted_by_site()
    k = obs.n_sites
    cols = min(k, 2 if k <= 4 else 3)
    rows = -(-k // cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
    t = np.arange(obs.n_steps + 1)
    for s in range(k):
        ax = axes[s]
        p = predicted[:, s, :]
        lo90, lo50, mid, hi50, hi90 = np.quantile(p, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.fill_between(t, lo90, hi90, color="tab:blue", alpha=0.18, lw=0, label="simulated 90%")
        ax.fill_between(t, lo50, hi50, color="tab:blue", alpha=0.35, lw=0, label="simulated 50%")
        ax.plot(t, mid, color="tab:blue", lw=1.5, label="simulated median")
        ax.step(t, observed[s], where="post", color="black", lw=1.8, label="observed")
        n = int((obs.site == s).sum())
        ax.set_title(f"site {obs.site_names[s]} ({n} people)", fontsize=10)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes[k:]:
        ax.set_visible(False)
    for ax in axes[(rows - 1) * cols :]:
        ax.set_xlabel(unit)
    for ax in axes[::cols]:
        ax.set_ylabel("share adopted")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Observed adoption against the posterior predictive" + (f"\n{note}" if note else ""), fontsize=10
    )
    return save(fig, path)


def posterior_pairs_figure(
    posterior: pd.DataFrame, parameters: list[str], path: str | Path, note: str = ""
) -> Path:
    """Weighted marginal histograms (diagonal) and pairwise scatters of the ABC posterior.

    Elongated or curved clouds off the diagonal show parameters the data trade against each
    other (weak identification); ``posterior_correlation.csv`` gives the numbers.
    """
    k = len(parameters)
    fig = Figure(figsize=(2.6 * k + 0.4, 2.6 * k + 0.6), layout="constrained")
    axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
    w = posterior["weight"].to_numpy()
    for i, a in enumerate(parameters):
        for j, b in enumerate(parameters):
            ax = axes[i, j]
            if i == j:
                ax.hist(posterior[a], bins=30, weights=w, color="tab:blue", alpha=0.7)
                ax.set_yticks([])
            elif i > j:
                ax.scatter(
                    posterior[b], posterior[a], s=6, alpha=0.25 + 0.75 * w / w.max(), color="tab:blue", lw=0
                )
            else:
                ax.set_visible(False)
            if i == k - 1:
                ax.set_xlabel(b.split(".")[-1], fontsize=9)
            if j == 0 and i > 0:
                ax.set_ylabel(a.split(".")[-1], fontsize=9)
    fig.suptitle("ABC-SMC posterior" + (f"\n{note}" if note else ""), fontsize=10)
    return save(fig, path)


def draw_calibration(
    out: Path, obs: ObservedDiffusion, predicted: np.ndarray, posterior: pd.DataFrame, parameters: list[str],
    note: str = "",
) -> list[Path]:  # fmt: skip
    """The calibration's figures: posterior predictive curves and posterior pairs."""
    return [
        posterior_predictive_figure(obs, predicted, out / "fig_posterior_predictive.png", note=note),
        posterior_pairs_figure(posterior, parameters, out / "fig_posterior_pairs.png", note=note),
    ]
