"""e05: clinical leadership share x clinical credibility against adoption among clinicians.

Reads the sweep of ``changesim -m experiment=e05_clinical_leadership`` (each job's
``timeseries.parquet``, found through the ``job`` column of ``sweep_summary.parquet``), or
runs the same grid in this process with ``--run``, and writes into
``results/e05_clinical_leadership/``: ``clinicians.png``, ``cells.csv`` (mean and 95% CI of
every cell at week 26 and at the end) and ``headline.md``.

    python experiments/e05_clinical_leadership/analyse.py multirun/e05_clinical_leadership/<time>
    python experiments/e05_clinical_leadership/analyse.py --run [--quick] [--out DIR]

Clinicians are the profession groups doctor, nurse and allied health professional
(``sim.org.CLINICAL``); their adoption is the staff-weighted share across the three groups.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis.compare import paired_cells  # noqa: E402
from sim.analysis.stats import mean_ci, replicates_needed  # noqa: E402
from sim.cli import compose  # noqa: E402
from sim.org import CLINICAL  # noqa: E402
from sim.params import from_dict  # noqa: E402
from sim.run import run_batch  # noqa: E402
from sim.views.report import COLOURS  # noqa: E402

NAME = "e05_clinical_leadership"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))
from experiment_cli import difference as _diff  # noqa: E402
from experiment_cli import run_or_load, sweep_grid, write_headline  # noqa: E402

SHARE, CREDIBILITY = "org.clinical_leader_share", "leadership.clinical_credibility"
EARLY_WEEK = 26  # six months
QUICK = ["org.n_staff=60", "n_steps=8", "n_replicates=2"]  # the tiny version the tests run
TARGET_HALF_WIDTH = 0.02  # precision asked of a cell's mean: +-2 percentage points
REFERENCE = {SHARE: 0.6, CREDIBILITY: 2.0}  # the clinical_leadership scenario's own values


def clinician_adoption(ts: pd.DataFrame) -> pd.DataFrame:
    """Per replicate: share of clinicians (doctor, nurse, ahp) adopted at week 26 and at the end.

    Also the share of everyone else, for contrast. Week 26 is capped at the run's last week.
    """
    last = int(ts.step.max())
    early = min(EARLY_WEEK, last)
    prof = ts[(ts.dimension == "profession") & ts.step.isin([early, last])]
    prof = prof.assign(adopters=prof.frac_adopted * prof.n_staff, clinical=prof.group.isin(CLINICAL))
    g = prof.groupby(["replicate", "seed", "step", "clinical"], observed=True)[["adopters", "n_staff"]].sum()
    share = (g.adopters / g.n_staff).unstack(["step", "clinical"])
    return pd.DataFrame(
        {
            "replicate": share.index.get_level_values("replicate"),
            "seed": share.index.get_level_values("seed"),
            "clinicians_early": share[(early, True)].to_numpy(),
            "clinicians_end": share[(last, True)].to_numpy(),
            "others_end": share[(last, False)].to_numpy(),
            "early_week": early,
            "end_week": last,
        }
    )


def run_grid(quick: bool) -> pd.DataFrame:
    """The sweep, run here: one row per grid point x replicate."""
    grid = sweep_grid(NAME)
    if quick:
        grid = {k: [v[0], v[-1]] for k, v in grid.items()}
    base = compose([f"experiment={NAME}", *(QUICK if quick else [])])[0]
    orgs: dict[str, object] = {}
    frames = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        cfg = from_dict(base, **point)
        key = json.dumps(cfg.to_dict()["org"], sort_keys=True)
        res = run_batch(cfg, org=orgs.get(key))
        orgs[key] = res.org
        frames.append(clinician_adoption(res.timeseries).assign(**point))
    return pd.concat(frames, ignore_index=True)


def read_sweep(sweep_dir: Path) -> pd.DataFrame:
    """The sweep's jobs: each job's time series reduced to clinician adoption per replicate."""
    summary = pd.read_parquet(sweep_dir / "sweep_summary.parquet")
    frames = []
    for job, df in summary.groupby("job", sort=False):
        ts = pd.read_parquet(sweep_dir / job / "timeseries.parquet")
        frames.append(
            clinician_adoption(ts).assign(**{SHARE: df[SHARE].iloc[0], CREDIBILITY: df[CREDIBILITY].iloc[0]})
        )
    return pd.concat(frames, ignore_index=True)


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval of clinician adoption (week 26, end) and others' (end) per cell."""
    rows = []
    for (share, cred), df in table.groupby([SHARE, CREDIBILITY], sort=True):
        row = {
            "clinical_leader_share": share,
            "clinical_credibility": cred,
            "early_week": int(df.early_week.iloc[0]),
            "end_week": int(df.end_week.iloc[0]),
        }
        for col in ("clinicians_early", "clinicians_end", "others_end"):
            est = mean_ci(df[col].to_numpy())
            row |= {f"{col}_mean": est.mean, f"{col}_lo": est.lo, f"{col}_hi": est.hi, f"{col}_sd": est.sd}
        row["n"] = len(df)
        rows.append(row)
    return pd.DataFrame(rows)


def differences(table: pd.DataFrame) -> pd.DataFrame:
    """Paired difference from no clinical leaders (share 0), per credibility, share and outcome."""
    share0 = min(table[SHARE].unique())
    rows = []
    for (share, cred), _ in table.groupby([SHARE, CREDIBILITY], sort=True):
        for col in ("clinicians_early", "clinicians_end"):
            d = paired_cells(
                table, col, {SHARE: share0, CREDIBILITY: cred}, {SHARE: share, CREDIBILITY: cred}
            ).estimate
            rows.append(
                {
                    "clinical_leader_share": share,
                    "clinical_credibility": cred,
                    "outcome": col,
                    "difference": d.mean,
                    "lo": d.lo,
                    "hi": d.hi,
                }
            )
    return pd.DataFrame(rows)


def figure(c: pd.DataFrame, diffs: pd.DataFrame, path: Path) -> None:
    """Clinician adoption (top) and its paired difference from no clinical leaders (bottom), week 26, end."""
    creds = sorted(c.clinical_credibility.unique())
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.2), sharex=True, gridspec_kw={"hspace": 0.25})
    for j, col in enumerate(("clinicians_early", "clinicians_end")):
        for k, cred in enumerate(creds):
            colour = COLOURS[k % len(COLOURS)]
            d = c[c.clinical_credibility == cred].sort_values("clinical_leader_share")
            x = 100 * d.clinical_leader_share
            axes[0, j].plot(
                x,
                100 * d[f"{col}_mean"],
                "o-",
                color=colour,
                lw=2,
                ms=4,
                label=f"{cred:g}x" + (" (no extra weight)" if cred == 1 else ""),
            )
            axes[0, j].fill_between(
                x, 100 * d[f"{col}_lo"], 100 * d[f"{col}_hi"], color=colour, alpha=0.15, lw=0
            )
            e = diffs[(diffs.clinical_credibility == cred) & (diffs.outcome == col)].sort_values(
                "clinical_leader_share"
            )
            axes[1, j].plot(100 * e.clinical_leader_share, 100 * e.difference, "o-", color=colour, lw=2, ms=4)
            axes[1, j].fill_between(
                100 * e.clinical_leader_share, 100 * e.lo, 100 * e.hi, color=colour, alpha=0.15, lw=0
            )
        week = int(c.early_week.iloc[0]) if col == "clinicians_early" else int(c.end_week.iloc[0])
        axes[0, j].set_title(
            f"After {week} weeks" + (" (six months)" if week == EARLY_WEEK else " (end of the run)")
        )
        axes[1, j].axhline(0, color="#999", lw=1)
        axes[1, j].set_xlabel("Senior posts held by clinicians at the start (%)")
        for ax in axes[:, j]:
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("Doctors, nurses and AHPs\nusing the change (%)")
    axes[1, 0].set_ylabel("Difference from no clinical leaders\n(percentage points, paired runs)")
    axes[0, 1].legend(
        title="Weight of a clinical leader's\nexample for clinicians",
        frameon=False,
        fontsize=9,
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
    )
    fig.suptitle("Does clinical leadership bring clinicians with it?", y=0.95)
    fig.text(
        0.01,
        0.0,
        f"Lines: mean of {int(c.n.min())} runs per point on common seeds; bands: 95% confidence "
        "interval of the "
        "mean (top) and of the paired difference from 0% clinical leaders (bottom).\nBase: the clinical "
        "leadership "
        "scenario (senior clinicians start the change, power distributed, FMLM enablers on). Senior "
        "posts (above team lead) turn over\n(median tenure 3 years) and 75% of successors are clinical "
        "leaders, so the share drifts towards 75% during the run. The senior clinicians count as clinicians: "
        "at 100% the 10 leaders\nwho start the change are all clinicians, which alone adds up to 1.3 points "
        "(10 of 755 clinicians) at any credibility.",
        fontsize=8,
        color="#555",
        va="top",
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def headline(table: pd.DataFrame, c: pd.DataFrame) -> list[str]:
    """Plain-language findings, each with its 95% CI."""
    shares, creds = sorted(c.clinical_leader_share.unique()), sorted(c.clinical_credibility.unique())
    ref = {
        SHARE: min(shares, key=lambda s: abs(s - REFERENCE[SHARE])),
        CREDIBILITY: min(creds, key=lambda x: abs(x - REFERENCE[CREDIBILITY])),
    }
    early, end = int(c.early_week.iloc[0]), int(c.end_week.iloc[0])
    r = c[
        np.isclose(c.clinical_leader_share, ref[SHARE]) & np.isclose(c.clinical_credibility, ref[CREDIBILITY])
    ].iloc[0]
    lines = [
        f"Scenario values (share {ref[SHARE]:g}, credibility {ref[CREDIBILITY]:g}x): "
        f"{100 * r.clinicians_early_mean:.1f}% of clinicians use the change at week {early} (95% CI "
        f"{100 * r.clinicians_early_lo:.1f} to {100 * r.clinicians_early_hi:.1f}) and "
        f"{100 * r.clinicians_end_mean:.1f}% "
        f"at week {end} ({100 * r.clinicians_end_lo:.1f} to {100 * r.clinicians_end_hi:.1f})."
    ]
    for col, when in (("clinicians_early", f"week {early}"), ("clinicians_end", f"week {end}")):
        for cred in sorted({creds[0], ref[CREDIBILITY], creds[-1]}):
            d = paired_cells(
                table, col, {SHARE: shares[0], CREDIBILITY: cred}, {SHARE: shares[-1], CREDIBILITY: cred}
            )
            lines.append(
                f"Clinicians at {when}, credibility {cred:g}x: {100 * shares[-1]:.0f}% instead of "
                f"{100 * shares[0]:.0f}% "
                f"of senior posts held by clinicians changes adoption by {_diff(d)}."
            )
        # At a fixed share the runs share one organisation, so who counts as a clinician is unchanged.
        for share in sorted({ref[SHARE], shares[-1]}):
            d = paired_cells(
                table, col, {SHARE: share, CREDIBILITY: creds[0]}, {SHARE: share, CREDIBILITY: creds[-1]}
            )
            lines.append(
                f"Clinicians at {when}, share {share:g}: credibility {creds[-1]:g}x instead of {creds[0]:g}x "
                f"changes adoption by {_diff(d)}."
            )
    d = paired_cells(
        table,
        "others_end",
        {SHARE: shares[0], CREDIBILITY: ref[CREDIBILITY]},
        {SHARE: shares[-1], CREDIBILITY: ref[CREDIBILITY]},
    )
    lines.append(
        f"Everyone else (managers, admin, care workers, others) at week {end}, credibility "
        f"{ref[CREDIBILITY]:g}x: "
        f"share {shares[-1]:g} instead of {shares[0]:g} changes their adoption by {_diff(d)}."
    )
    sd = float(max(c.clinicians_early_sd.max(), c.clinicians_end_sd.max()))
    hw = max(
        ((c.clinicians_early_hi - c.clinicians_early_lo) / 2).max(),
        ((c.clinicians_end_hi - c.clinicians_end_lo) / 2).max(),
    )
    need = replicates_needed(sd, TARGET_HALF_WIDTH) if sd > 0 else 2
    lines.append(
        f"Precision: with {int(c.n.min())} replicates per point the widest 95% CI half-width is "
        f"±{100 * hw:.1f} points; "
        f"±{100 * TARGET_HALF_WIDTH:.0f} points at every point needs {need} replicates (largest sd "
        f"{100 * sd:.1f} points)."
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args, table, source = run_or_load(
        NAME,
        __doc__.splitlines()[0],
        run_grid,
        read_sweep=read_sweep,
        argv=argv,
    )
    c = cells(table)
    c.to_csv(args.out / "cells.csv", index=False, float_format="%.4f")
    diffs = differences(table)
    diffs.to_csv(args.out / "differences.csv", index=False, float_format="%.4f")
    figure(c, diffs, args.out / "clinicians.png")
    lines = headline(table, c)
    write_headline(args.out, NAME, source, lines, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
