"""e04: boundary spanners x cross-organisation trust against spread between ICS partners.

Runs the grid in this process (``configs/experiment/e04_ics_spanners.yaml`` is the base and
holds the grid) and writes into ``results/e04_ics_spanners/``: ``partner_spread.png``,
``cells.csv`` (mean and 95% CI of every cell) and ``headline.md``.

    python experiments/e04_ics_spanners/analyse.py --run [--quick] [--out DIR]

The change starts with the ten most senior staff of the lead NHS trust (organisation 0):
its chief executive, its directors and, to make ten, senior managers drawn once at random.
They are given as explicit initial adopters, the same people in every run, because
``seeding.strategy=top`` ranks staff by level across the whole system and the partners'
levels are aligned on the frontline, so it also picks the partners' chief executives.
The outcome is the share of the partners' staff (everyone outside the lead trust)
complying or committed at the end.

Two regimes. ``calibrated``: the ICS partnership scenario as it stands. There every partner
also starts the change on its own (own initiative, and ready staff whose lowered threshold
needs no adopting contact), so the boundary is not the bottleneck. ``contagion_only``: those
routes are closed (no own initiative, readiness off, thresholds 0.10 +- 0.02 with none at
zero), so partners can only catch the change across the boundary; this checks what the
spanners and trust do when they are the only channel.

Each spanner keeps the default number of cross-organisation ties (two per partner pair:
``cross_ties_per_pair = 2 x n_boundary_spanners``; the ICS default is 20 ties for 10
spanners). With the ties held at 20 instead, more spanners share the same ties and each
spanner's exposure across the boundary falls; ``DILUTION`` runs that contrast.
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
from sim.model import organisation_for  # noqa: E402
from sim.org import Organisation  # noqa: E402
from sim.params import from_dict  # noqa: E402
from sim.run import Result, run_batch  # noqa: E402
from sim.views.style import label_cells  # noqa: E402

NAME = "e04_ics_spanners"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))
from experiment_cli import difference as _diff  # noqa: E402
from experiment_cli import run_or_load, sweep_grid, write_headline  # noqa: E402

SPANNERS, TRUST = "org.n_boundary_spanners", "people.trust_cross_org"


TIES = "org.cross_ties_per_pair"
TIES_PER_SPANNER = 2  # cross-organisation ties per spanner and partner pair (configs/org/ics.yaml: 20 / 10)
GRID = sweep_grid(NAME)  # spanners (people) x trust across organisations (0-1), from the config's sweep
REGIMES = {
    "calibrated": {},  # configs/scenario/ics_partnership.yaml as it stands
    "contagion_only": {
        "dynamics.p_spontaneous": 0.0,  # no one starts on their own initiative (0-1 per week)
        "motivation.readiness_weight": 0.0,  # readiness no longer lowers thresholds (share per unit)
        "dynamics.threshold_mean": 0.10,  # share of trust-weighted contacts who must use it (0-1)
        "dynamics.threshold_sd": 0.02,  # spread of thresholds; none reaches zero (share)
    },
}
REGIME_TITLES = {
    "calibrated": "A. The ICS partnership scenario as calibrated",
    "contagion_only": "B. Partners can only catch it across the boundary",
}
DILUTION = [(40, 0.1), (40, 0.2)]  # (spanners, trust) also run with the ties held at the default 20 per pair
FIXED_TIES = 20  # configs/org/ics.yaml
N_LEAD_SEEDS = 10  # initial adopters, all in the lead trust (people)
DEFAULT = {SPANNERS: 10, TRUST: 0.3}  # configs/org/ics.yaml and configs/scenario/change_base.yaml
QUICK = ["org.n_staff=60", "n_steps=8", "n_replicates=2"]  # the tiny version the tests run
TARGET_HALF_WIDTH = 0.02  # precision asked of a cell's mean: +-2 percentage points


def lead_top(org: Organisation, k: int = N_LEAD_SEEDS) -> np.ndarray:
    """Indices of the k most senior staff of organisation 0; ties in level broken by one fixed draw."""
    lead = np.flatnonzero(org.organisation == 0)
    draw = np.random.default_rng(0).random(len(lead))
    order = np.lexsort((draw, org.level[lead]))
    return np.sort(lead[order[:k]])


def adoption_by_partner(res: Result) -> pd.DataFrame:
    """Per replicate: share adopted at the end in the lead trust, in the partners, and in each partner."""
    org = res.org
    idx = {name: k for k, (dim, name) in enumerate(res.group_labels) if dim == "organisation"}
    last = res.counts[:, -1]  # (R, G, 4)
    adopted = last[:, :, 1] + last[:, :, 2]
    size = last.sum(axis=2)
    lead = idx[org.org_names[0]]
    partners = [idx[n] for n in org.org_names[1:]]
    out = {
        "replicate": np.arange(len(res.seeds)),
        "seed": res.seeds,
        "lead": adopted[:, lead] / size[:, lead],
        "partners": adopted[:, partners].sum(axis=1) / size[:, partners].sum(axis=1),
    }
    for n in org.org_names[1:]:
        out[n] = adopted[:, idx[n]] / size[:, idx[n]]
    return pd.DataFrame(out)


def run_point(base, point: dict, orgs: dict[str, Organisation]) -> pd.DataFrame:
    """Replicates of one grid point, started by the lead trust's most senior staff."""
    cfg = from_dict(base, **point)
    key = json.dumps(cfg.to_dict()["org"], sort_keys=True)
    if key not in orgs:
        orgs[key] = organisation_for(cfg)
    org = orgs[key]
    seeds = lead_top(org)
    assert (org.organisation[seeds] == 0).all(), "initial adopters must all be in the lead trust"
    return adoption_by_partner(run_batch(cfg, org=org, initial_adopters=seeds))


def run_grid(quick: bool) -> pd.DataFrame:
    """One row per regime x grid point x replicate (plus the dilution check, ``ties`` = fixed)."""
    grid = {k: [v[0], v[-1]] for k, v in GRID.items()} if quick else GRID
    orgs: dict[str, Organisation] = {}
    frames = []
    for regime, overrides in REGIMES.items():
        base = from_dict(compose([f"experiment={NAME}", *(QUICK if quick else [])])[0], **overrides)
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values, strict=True))
            point[TIES] = TIES_PER_SPANNER * point[SPANNERS]
            frames.append(run_point(base, point, orgs).assign(regime=regime, ties="scaled", **point))
        if regime == "contagion_only":
            dilution = [(s, t) for s, t in DILUTION if s in grid[SPANNERS] and t in grid[TRUST]]
            for s, t in dilution or [(grid[SPANNERS][-1], grid[TRUST][0])]:
                point = {SPANNERS: s, TRUST: t, TIES: FIXED_TIES}
                frames.append(run_point(base, point, orgs).assign(regime=regime, ties="fixed", **point))
    return pd.concat(frames, ignore_index=True)


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% t-interval of the partners' (and the lead's) adoption in every cell."""
    rows = []
    for (regime, ties, s, t), df in table.groupby(["regime", "ties", SPANNERS, TRUST], sort=True):
        row = {
            "regime": regime,
            "ties": ties,
            "n_boundary_spanners": s,
            "cross_ties_per_pair": int(df[TIES].iloc[0]),
            "trust_cross_org": t,
        }
        for col in ("partners", "lead"):
            est = mean_ci(df[col].to_numpy())
            row |= {f"{col}_mean": est.mean, f"{col}_lo": est.lo, f"{col}_hi": est.hi, f"{col}_sd": est.sd}
        row["partners_any"] = float(
            (df.partners > 0.5).mean()
        )  # share of runs where most partner staff adopted
        row["n"] = len(df)
        rows.append(row)
    return pd.DataFrame(rows)


def paired(table: pd.DataFrame, a: dict, b: dict):
    """Paired difference b - a in the partners' adoption between two cells (ties scaled unless given)."""
    return paired_cells(table, "partners", {"ties": "scaled", **a}, {"ties": "scaled", **b})


def figure(c: pd.DataFrame, n_lead: int, path: Path) -> None:
    """One annotated heatmap of the partners' adoption per regime: trust (rows) x spanners (columns)."""
    regimes = [r for r in REGIMES if r in set(c.regime)]
    fig, axes = plt.subplots(1, len(regimes), figsize=(6.3 * len(regimes), 5.0), squeeze=False)
    for ax, regime in zip(axes[0], regimes, strict=True):
        d = c[(c.regime == regime) & (c.ties == "scaled")].assign(
            hw=lambda x: (x.partners_hi - x.partners_lo) / 2
        )
        piv = d.pivot(index="trust_cross_org", columns="n_boundary_spanners", values="partners_mean")
        hw = d.pivot(index="trust_cross_org", columns="n_boundary_spanners", values="hw")
        im = ax.imshow(100 * piv.to_numpy(), origin="lower", vmin=0, vmax=100, cmap="viridis", aspect="auto")
        label_cells(ax, piv, hw, fontsize=8)
        ax.set_xticks(range(piv.shape[1]), [str(s) for s in piv.columns])
        ax.set_yticks(range(piv.shape[0]), [f"{t:.1f}" for t in piv.index])
        ax.set_xlabel("Boundary spanners in each organisation (people)")
        ax.set_ylabel("Initial trust across organisations (0-1)")
        lo, hi = round(100 * d.lead_mean.min()), round(100 * d.lead_mean.max())
        lead = f"{lo}%" if lo == hi else f"{lo}-{hi}%"
        ax.set_title(f"{REGIME_TITLES[regime]}\n(the lead trust itself: {lead} adopt)", fontsize=10)
    fig.colorbar(
        im, ax=axes[0].tolist(), label="Partners' staff using the change after two years (%)", shrink=0.9
    )
    fig.suptitle("Does a change started in the lead NHS trust reach its ICS partners?", x=0.45, y=1.03)
    fig.text(
        0.01,
        -0.08,
        f"Each cell: mean of {int(c.n.min())} runs on common seeds and the half-width of its 95% "
        "confidence "
        f"interval (percentage points). The change starts with the lead trust's {n_lead} most senior "
        "staff.\n"
        "Partners: a local authority, an independent provider and a voluntary organisation (40% of the "
        "3,000 "
        "staff). Each spanner has about 2 ties to each other partner. B closes the partners' own routes "
        "(no own initiative, readiness off,\nthresholds 0.10 ± 0.02), so "
        "a run either crosses the boundary or not: there a cell's mean is close to the share of runs "
        "that crossed.",
        fontsize=8,
        color="#555",
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _cell(c: pd.DataFrame, p: dict) -> str:
    r = c[
        (c.regime == p["regime"])
        & (c.ties == p.get("ties", "scaled"))
        & (c.n_boundary_spanners == p[SPANNERS])
        & np.isclose(c.trust_cross_org, p[TRUST])
    ].iloc[0]
    return f"{100 * r.partners_mean:.1f}% (95% CI {100 * r.partners_lo:.1f} to {100 * r.partners_hi:.1f})"


def headline(table: pd.DataFrame, c: pd.DataFrame) -> list[str]:
    """Plain-language findings, each with its 95% CI."""
    scaled = c[c.ties == "scaled"]
    ss, ts = sorted(scaled.n_boundary_spanners.unique()), sorted(scaled.trust_cross_org.unique())
    dflt = {
        SPANNERS: min(ss, key=lambda s: abs(s - DEFAULT[SPANNERS])),
        TRUST: min(ts, key=lambda t: abs(t - DEFAULT[TRUST])),
    }
    lines = []
    for regime in [r for r in REGIMES if r in set(c.regime)]:
        none = {"regime": regime, SPANNERS: ss[0], TRUST: dflt[TRUST]}
        default = {"regime": regime, **dflt}
        most = {"regime": regime, SPANNERS: ss[-1], TRUST: ts[-1]}
        name = REGIME_TITLES[regime][3:]
        lines += [
            f"{name}. No boundary spanners: {_cell(c, none)} of partner staff adopt. ICS defaults "
            f"({dflt[SPANNERS]} spanners, trust {dflt[TRUST]:.1f}): {_cell(c, default)}, "
            f"{_diff(paired(table, none, default))} against none. Most spanners and trust ({ss[-1]}, "
            f"{ts[-1]:.1f}): "
            f"{_cell(c, most)}, {_diff(paired(table, default, most))} against the defaults.",
        ]
        for s in (dflt[SPANNERS], ss[-1]):
            d = paired(
                table,
                {"regime": regime, SPANNERS: s, TRUST: ts[0]},
                {"regime": regime, SPANNERS: s, TRUST: ts[-1]},
            )
            lines.append(f"{name}. With {s} spanners, trust {ts[-1]:.1f} instead of {ts[0]:.1f}: {_diff(d)}.")
    fixed = c[c.ties == "fixed"]
    for r in fixed.itertuples():
        a = {"regime": r.regime, "ties": "scaled", SPANNERS: r.n_boundary_spanners, TRUST: r.trust_cross_org}
        b = {**a, "ties": "fixed"}
        lines.append(
            f"Dilution ({REGIME_TITLES[r.regime][3:]}, {r.n_boundary_spanners} spanners, trust "
            f"{r.trust_cross_org:.1f}): "
            f"holding the cross ties at {r.cross_ties_per_pair} per pair instead of {TIES_PER_SPANNER} per "
            "spanner gives "
            f"{_cell(c, b)}, {_diff(paired(table, a, b))}."
        )
    for regime in [r for r in REGIMES if r in set(c.regime)]:
        d = c[c.regime == regime]
        sd = float(d.partners_sd.max())
        need = replicates_needed(sd, TARGET_HALF_WIDTH) if sd > 0 else 2
        lines.append(
            f"Precision ({REGIME_TITLES[regime][3:]}): with {int(d.n.min())} replicates per cell the widest "
            "95% CI "
            f"half-width is ±{100 * ((d.partners_hi - d.partners_lo) / 2).max():.1f} points; "
            f"±{100 * TARGET_HALF_WIDTH:.0f} "
            f"points in every cell needs {need} replicates (largest sd {100 * sd:.1f} points)."
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args, table, source = run_or_load(
        NAME,
        __doc__.splitlines()[0],
        run_grid,
        run_help="run the grid here (no Hydra sweep: seeding needs explicit adopters)",
        quick_help="2 values per axis, 2 replicates, 60 staff, 8 weeks",
        argv=argv,
    )
    c = cells(table)
    c.to_csv(args.out / "cells.csv", index=False, float_format="%.4f")
    figure(c, N_LEAD_SEEDS, args.out / "partner_spread.png")
    lines = headline(table, c)
    write_headline(args.out, NAME, source, lines, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
