"""e06: the classic limits of the model, reproduced as a validation figure.

With the psychology-of-change mechanisms off, the adoption rules are classic models with
known answers (tests/test_classic.py checks them with derived tolerances; this draws them):

A. Watts (2002): one early adopter on a random graph of 10,000 with thresholds 0.18 starts a
   global cascade only inside a window of mean degree z (1.02 < z < 5.76 for an infinite graph).
B. Bass (1969): p = 0.03, q = 0.38 a year on a complete graph of 500, weekly steps of
   p/52 and q/52, against the closed form F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t}).
C. Independent cascade (Kempe, Kleinberg and Tardos 2003) = bond percolation (Newman 2002):
   on a random graph with mean degree z and transmission T, a single seed becomes a large
   outbreak with chance S and a large outbreak reaches a share S, where S = 1 - exp(-zT S).

Runs everything in this process through ``sim.run_batch`` (the fast path) and writes into
``results/e06_classic_limits/``: ``classic_limits.png``, ``watts.csv``, ``bass.csv``,
``cascade.csv`` and ``headline.md``.

    python experiments/e06_classic_limits/analyse.py --run [--quick] [--out DIR]

Panel A's settings come from ``configs/experiment/e06_classic_limits.yaml`` (which also
runs panel A alone through Hydra: ``changesim -m experiment=e06_classic_limits``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.stats import norm  # noqa: E402

from sim.analysis.classic import (  # noqa: E402
    bass_closed_form,
    percolation_size,
    random_graph_degree,
    watts_cascade_probability,
)
from sim.analysis.stats import Estimate, mean_ci  # noqa: E402
from sim.cli import compose  # noqa: E402
from sim.params import from_dict  # noqa: E402
from sim.run import run_batch  # noqa: E402

NAME = "e06_classic_limits"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))
from experiment_cli import sweep_grid, write_headline  # noqa: E402

LARGE = 0.05  # a run reaching more than 5% of staff is a global cascade / large outbreak
PHI = 0.18  # Watts's threshold (share of contacts)
WINDOW = (1.02, 5.76)  # analytic cascade window for phi = 0.18, Poisson degrees (tests/test_classic.py)
P_BASS, Q_BASS = 0.03, 0.38  # per year (Sultan, Farley and Lehmann 1990)
WEEKS_PER_YEAR = 52
BASS_YEARS, BASS_N, BASS_REPLICATES = 15, 500, 30
IC_N, IC_DEGREE, IC_REPLICATES = 10_000, 4.0, 200
IC_ZT = [0.25, 0.5, 0.75, 1.0, 1.2, 1.4, 1.6, 2.0, 2.5, 3.0]  # z x T, T = p_transmit
# Intra-graph correlations measured in tests/test_classic.py (runs on one graph share its structure):
RHO_CASCADE = 0.007  # Watts's global-cascade indicator (measured 0.004-0.007)
RHO_OUTBREAK = 0.0  # whether an independent cascade becomes large (measured ~0)
RHO_SIZE = 0.09  # the size of a large independent-cascade outbreak (measured 0.07-0.09)
IC_STEPS = 300  # weeks: enough for the slowest outbreak near zT = 1 to die out


def design_effect(m: int, rho: float) -> float:
    """Variance inflation of a mean over m runs that share one graph: 1 + (m - 1) rho (Kish 1965)."""
    return 1.0 + max(m - 1, 0) * rho


def wilson(k: int, n: int, deff: float = 1.0, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n (Wilson 1927), on the effective n / deff runs."""
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    n = n / deff
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run_watts(quick: bool) -> pd.DataFrame:
    """Share of single-seed runs that become global cascades, per mean degree (one graph each)."""
    degrees = sweep_grid(NAME)["org.mean_degree"]
    base = compose([f"experiment={NAME}"])[0]
    if quick:
        degrees = [degrees[0], degrees[len(degrees) // 2]]
        base = from_dict(base, **{"org.n_staff": 300, "n_steps": 8, "n_replicates": 2})
    rows = []
    for z in degrees:
        res = run_batch(from_dict(base, **{"org.mean_degree": z}), by_group=False)
        final = res.frac_adopted[:, -1]
        k, n = int((final > LARGE).sum()), len(final)
        lo, hi = wilson(k, n, design_effect(n, RHO_CASCADE))
        rows.append(
            {
                "mean_degree": z,
                "global_cascades": k,
                "runs": n,
                "share": k / n,
                "ci_lo": lo,
                "ci_hi": hi,
                "theory": watts_cascade_probability(z, PHI),
                "still_moving": int((res.frac_adopted[:, -1] != res.frac_adopted[:, -2]).sum()),
            }
        )
    return pd.DataFrame(rows)


def run_bass(quick: bool) -> pd.DataFrame:
    """Mean adopted share with its 95% CI at every week, and the closed form."""
    n, years, reps = (60, 8 / WEEKS_PER_YEAR, 2) if quick else (BASS_N, BASS_YEARS, BASS_REPLICATES)
    weeks = int(round(years * WEEKS_PER_YEAR))
    cfg = {
        "org": {"kind": "complete", "n_staff": n},
        "dynamics": {
            "rule": "bass",
            "p_spontaneous": P_BASS / WEEKS_PER_YEAR,
            "q_imitation": Q_BASS / WEEKS_PER_YEAR,
        },
        "seeding": {"strategy": "none"},
        "n_steps": weeks,
    }
    fa = run_batch(cfg, n_replicates=reps, by_group=False).frac_adopted
    ests = [mean_ci(fa[:, t]) for t in range(fa.shape[1])]
    t_years = np.arange(fa.shape[1]) / WEEKS_PER_YEAR
    return pd.DataFrame(
        {
            "week": np.arange(fa.shape[1]),
            "years": t_years,
            "mean": [e.mean for e in ests],
            "ci_lo": [e.lo for e in ests],
            "ci_hi": [e.hi for e in ests],
            "closed_form": bass_closed_form(t_years, P_BASS, Q_BASS),
            "runs": reps,
        }
    )


def run_cascade(quick: bool) -> pd.DataFrame:
    """Large outbreaks of the independent cascade: how often, and how large, per zT."""
    n, reps, steps, zts = (
        (300, 2, 8, [IC_ZT[0], IC_ZT[-1]]) if quick else (IC_N, IC_REPLICATES, IC_STEPS, IC_ZT)
    )
    z_eff = random_graph_degree(IC_DEGREE, n)
    rows = []
    for zt in zts:
        cfg = {
            "org": {"kind": "random", "n_staff": n, "mean_degree": IC_DEGREE},
            "dynamics": {"rule": "cascade", "p_transmit": zt / IC_DEGREE},
            "seeding": {"strategy": "random", "n_seeds": 1},
            "n_steps": steps,
        }
        final = run_batch(cfg, n_replicates=reps, by_group=False).frac_adopted[:, -1]
        large = final > LARGE
        k = int(large.sum())
        lo, hi = wilson(k, len(final), design_effect(len(final), RHO_OUTBREAK))
        size = mean_ci(final[large])
        widen = math.sqrt(design_effect(k, RHO_SIZE))
        size = Estimate(
            size.mean, size.mean - widen * size.half_width, size.mean + widen * size.half_width, k, size.sd
        )
        rows.append(
            {
                "zT": zt,
                "p_transmit": zt / IC_DEGREE,
                "runs": len(final),
                "large": k,
                "share_large": k / len(final),
                "share_lo": lo,
                "share_hi": hi,
                "size_mean": size.mean,
                "size_lo": size.lo,
                "size_hi": size.hi,
                "theory_S": percolation_size(z_eff * zt / IC_DEGREE),
            }
        )
    return pd.DataFrame(rows)


def _yerr(mid: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    """Error bar lengths in percent; clipped at 0 where an interval ends at its estimate (rounding)."""
    return np.clip(100 * np.vstack([mid - lo, hi - mid]), 0.0, None)


def figure(watts: pd.DataFrame, bass: pd.DataFrame, ic: pd.DataFrame, path: Path) -> None:
    """Three panels: Watts's window (A), the Bass curve (B), the independent cascade (C)."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.0), gridspec_kw={"wspace": 0.28})
    ax = axes[0]
    ax.axvspan(
        *WINDOW, color="#1b9e77", alpha=0.12, lw=0, label=f"Analytic window {WINDOW[0]} < z < {WINDOW[1]}"
    )
    zz = np.linspace(0.01, max(watts.mean_degree.max(), 10), 400)
    ax.plot(
        zz,
        [100 * watts_cascade_probability(z, PHI) for z in zz],
        color="#1b9e77",
        lw=1.5,
        label="Theory (infinite graph)",
    )
    ax.errorbar(
        watts.mean_degree,
        100 * watts.share,
        yerr=_yerr(watts.share, watts.ci_lo, watts.ci_hi),
        fmt="o",
        color="#333",
        capsize=3,
        ms=4,
        label=f"Model: {int(watts.runs.iloc[0])} runs per z, 95% CI",
    )
    ax.set_xlabel("Mean number of ties per person, z")
    ax.set_ylabel("Runs in which one early adopter tipped the network (%)")
    ax.set_title("A. Threshold cascade window (Watts 2002)\nthreshold 0.18, random graph", fontsize=10)
    ax.set_ylim(-2, 122)  # room above 100% for the legend
    ax.set_yticks(range(0, 101, 20))
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax = axes[1]
    ax.plot(bass.years, 100 * bass.closed_form, color="#d95f02", lw=1.5, ls="--", label="Closed form F(t)")
    ax.plot(
        bass.years,
        100 * bass["mean"],
        color="#333",
        lw=1.2,
        label=f"Model: mean of {int(bass.runs.iloc[0])} runs",
    )
    ax.fill_between(
        bass.years,
        100 * bass.ci_lo,
        100 * bass.ci_hi,
        color="#333",
        alpha=0.25,
        lw=0,
        label="95% CI of the mean",
    )
    ax.set_xlabel("Years (weekly steps)")
    ax.set_ylabel("Staff who have adopted (%)")
    ax.set_ylim(0, 100)
    ax.set_title(
        f"B. Innovation and imitation: the Bass curve\np = {P_BASS}, q = {Q_BASS} a year, everyone "
        "tied "
        "to everyone",
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax = axes[2]
    zt = np.linspace(0.0, max(ic.zT.max(), 3.0), 300)
    ax.plot(
        zt,
        [100 * percolation_size(x) for x in zt],
        color="#7570b3",
        lw=1.5,
        label="Theory S = 1 - exp(-zT S)",
    )
    ax.errorbar(
        ic.zT - 0.03,
        100 * ic.share_large,
        yerr=_yerr(ic.share_large, ic.share_lo, ic.share_hi),
        fmt="s",
        color="#e7298a",
        capsize=3,
        ms=4,
        label="Runs that became large outbreaks",
    )
    big = ic[ic.large > 1]
    ax.errorbar(
        big.zT + 0.03,
        100 * big.size_mean,
        yerr=_yerr(big.size_mean, big.size_lo, big.size_hi),
        fmt="o",
        color="#333",
        capsize=3,
        ms=4,
        label="Share reached by a large outbreak",
    )
    ax.set_xlabel("Mean ties per person x chance of passing it on, zT")
    ax.set_ylabel("Percent (runs, or staff reached)")
    ax.set_ylim(-2, 100)
    ax.set_title(
        f"C. Independent cascade = percolation\nz = {IC_DEGREE:g}, {int(ic.runs.iloc[0])} "
        "single-seed runs "
        "per point",
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(
        "With its psychology-of-change mechanisms off, the model reproduces three classic results", y=1.04
    )
    fig.text(
        0.01,
        -0.07,
        "A and C: a run counts as a global cascade (large outbreak) when it reaches more than "
        f"{100 * LARGE:.0f}% of "
        "the 10,000 staff. Error bars: 95% Wilson intervals (shares of runs) and t-intervals (means),\n"
        "widened by the design effect of runs sharing one graph per point (intra-graph correlation measured "
        "in tests/test_classic.py). Near z = 1 and zT = 1 a finite graph blurs the line\nbetween small and "
        "large; just above the window's upper edge a graph of 10,000 still tips now and then.",
        fontsize=8,
        color="#555",
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def headline(watts: pd.DataFrame, bass: pd.DataFrame, ic: pd.DataFrame) -> list[str]:
    inside = watts[(watts.mean_degree > WINDOW[0]) & (watts.mean_degree < WINDOW[1])]
    outside = watts[(watts.mean_degree < 0.9) | (watts.mean_degree > 6.5)]
    lines = []
    if len(inside):
        r = inside.loc[inside.share.idxmax()]
        lines.append(
            f"Watts window: inside 1.02 < z < 5.76 up to {100 * r.share:.0f}% of runs tip the network "
            f"(z = {r.mean_degree:g}: {int(r.global_cascades)} of {int(r.runs)}, 95% CI {100 * r.ci_lo:.0f} "
            "to "
            f"{100 * r.ci_hi:.0f}%; theory {100 * r.theory:.0f}%)."
        )
    if len(outside):
        k, n = int(outside.global_cascades.sum()), int(outside.runs.sum())
        lo, hi = wilson(
            k, n, design_effect(int(outside.runs.iloc[0]), RHO_CASCADE)
        )  # clusters: one per graph
        lines.append(
            f"Outside it (z < 0.9 or z > 6.5): {k} global cascades in {n} runs (95% CI {100 * lo:.1f} to "
            f"{100 * hi:.1f}%)."
        )
    dev = (watts.share - watts.theory).abs()
    covered = ((watts.theory >= watts.ci_lo) & (watts.theory <= watts.ci_hi)).sum()
    lines.append(
        f"Watts theory inside the model's 95% CI at {covered} of {len(watts)} degrees (largest gap "
        f"{100 * dev.max():.0f} "
        f"points, at z = {watts.mean_degree[dev.idxmax()]:g})."
    )
    gap = (bass["mean"] - bass.closed_form).abs()
    t = int(gap.idxmax())
    inside_b = ((bass.closed_form >= bass.ci_lo) & (bass.closed_form <= bass.ci_hi)).mean()
    lines.append(
        f"Bass: largest gap between the model's mean and the closed form {100 * gap.max():.1f} points at "
        f"{bass.years[t]:.1f} "
        f"years (model {100 * bass['mean'][t]:.1f}%, 95% CI {100 * bass.ci_lo[t]:.1f} to "
        f"{100 * bass.ci_hi[t]:.1f}; "
        f"closed form {100 * bass.closed_form[t]:.1f}%); the closed form lies inside the 95% CI at "
        f"{100 * inside_b:.0f}% "
        "of weeks."
    )
    for r in ic.itertuples():
        if r.zT in (1.2, 2.0, 3.0) and r.large > 1:
            lines.append(
                f"Independent cascade, zT = {r.zT:g}: theory S = {100 * r.theory_S:.1f}%; large outbreaks in "
                f"{100 * r.share_large:.1f}% of runs (95% CI {100 * r.share_lo:.1f} to "
                f"{100 * r.share_hi:.1f}), reaching "
                f"{100 * r.size_mean:.1f}% of staff ({100 * r.size_lo:.1f} to {100 * r.size_hi:.1f})."
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="run the three panels (the only mode)")
    ap.add_argument("--quick", action="store_true", help="tiny graphs, 2 points, 2 replicates, 8 steps")
    ap.add_argument(
        "--out", type=Path, default=ROOT / "results" / NAME, help="folder for the figure and tables"
    )
    args = ap.parse_args(argv)
    if not args.run:
        ap.error("this experiment runs in-process: pass --run")
    t0 = time.perf_counter()
    watts, bass, ic = run_watts(args.quick), run_bass(args.quick), run_cascade(args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    watts.to_csv(args.out / "watts.csv", index=False, float_format="%.4f")
    bass.iloc[::4].to_csv(
        args.out / "bass.csv", index=False, float_format="%.4f"
    )  # every 4th week keeps it small
    ic.to_csv(args.out / "cascade.csv", index=False, float_format="%.4f")
    figure(watts, bass, ic, args.out / "classic_limits.png")
    lines = headline(watts, bass, ic)
    source = f"python experiments/{NAME}/analyse.py --run" + (" --quick" if args.quick else "")
    write_headline(args.out, NAME, source, lines, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
