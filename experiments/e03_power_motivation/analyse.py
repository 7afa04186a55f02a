"""e03: phase diagram of sustained adoption over the power gradient and intrinsic motivation.

Reads the sweep of ``changesim -m experiment=e03_power_motivation`` (its
``sweep_summary.parquet``), or runs the same grid in this process with ``--run``, and writes
into ``results/e03_power_motivation/``: ``phase_diagram.png`` (one heatmap per leadership
model), ``cells.csv`` (mean and 95% CI of every cell) and ``headline.md``.

    python experiments/e03_power_motivation/analyse.py multirun/e03_power_motivation/<time>
    python experiments/e03_power_motivation/analyse.py --run [--quick] [--out DIR]
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
import pandas as pd  # noqa: E402

from sim.analysis.compare import paired_cells  # noqa: E402
from sim.analysis.stats import mean_ci, replicates_needed  # noqa: E402
from sim.cli import compose  # noqa: E402
from sim.params import ModelConfig, from_dict  # noqa: E402
from sim.run import run_batch  # noqa: E402
from sim.views.style import label_cells  # noqa: E402

NAME = "e03_power_motivation"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))
from experiment_cli import run_or_load, sweep_grid, write_headline  # noqa: E402

GRADIENT, MOTIVATION, MODEL = "dynamics.power_gradient", "people.motivation_mean", "scenario"
OUTCOME = "final_frac_adopted"  # share of staff complying or committed at the last week
TITLES = {
    "command_and_control": "Command and control\n(the board starts and mandates it; decisions at the top)",
    "help_it_happen": "Help it happen\n(the most motivated start it; power distributed, co-design)",
}
SHORT = {"command_and_control": "Command and control", "help_it_happen": "Help it happen"}
QUICK = ["org.n_staff=60", "n_steps=8", "n_replicates=2"]  # the tiny version the tests run
TARGET_HALF_WIDTH = 0.02  # precision asked of a cell's mean: +-2 percentage points


def run_grid(quick: bool) -> pd.DataFrame:
    """The sweep, run here: one row per grid point x replicate, columns as in the sweep table."""
    grid = sweep_grid(NAME)
    if quick:
        grid = {k: [v[0], v[-1]] for k, v in grid.items()}
    base: dict[str, ModelConfig] = {}
    orgs: dict[str, object] = {}
    frames = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        model = point[MODEL]
        if model not in base:
            base[model] = compose([f"experiment={NAME}", f"scenario={model}", *(QUICK if quick else [])])[0]
        cfg = from_dict(base[model], **{k: v for k, v in point.items() if k != MODEL})
        key = json.dumps(cfg.to_dict()["org"], sort_keys=True)
        res = run_batch(cfg, org=orgs.get(key))
        orgs[key] = res.org
        frames.append(res.summary.assign(**point))
    return pd.concat(frames, ignore_index=True)


def cells(table: pd.DataFrame) -> pd.DataFrame:
    """Mean sustained adoption and its 95% t-interval in every cell of the grid."""
    rows = []
    for (model, g, m), df in table.groupby([MODEL, GRADIENT, MOTIVATION], sort=True):
        est = mean_ci(df[OUTCOME].to_numpy())
        rows.append(
            {
                "model": model,
                "power_gradient": g,
                "motivation_mean": m,
                "sustained_mean": est.mean,
                "ci_lo": est.lo,
                "ci_hi": est.hi,
                "half_width": est.half_width,
                "sd": est.sd,
                "n": est.n,
            }
        )
    return pd.DataFrame(rows)


def paired(table: pd.DataFrame, model: str, a: tuple[float, float], b: tuple[float, float]):
    """Paired difference b - a in sustained adoption between two (gradient, motivation) cells of one model."""
    (ga, ma), (gb, mb) = a, b
    return paired_cells(
        table,
        OUTCOME,
        {MODEL: model, GRADIENT: ga, MOTIVATION: ma},
        {MODEL: model, GRADIENT: gb, MOTIVATION: mb},
    )


def pp(x: float) -> str:
    return f"{100 * x:.0f}"


def figure(c: pd.DataFrame, n_reps: int, path: Path) -> None:
    """One annotated heatmap per leadership model: power gradient (rows) x motivation (columns)."""
    models = [m for m in TITLES if m in set(c.model)]
    fig, axes = plt.subplots(1, len(models), figsize=(6.8 * len(models), 5.8), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        d = c[c.model == model]
        piv = d.pivot(index="power_gradient", columns="motivation_mean", values="sustained_mean")
        hw = d.pivot(index="power_gradient", columns="motivation_mean", values="half_width")
        im = ax.imshow(100 * piv.to_numpy(), origin="lower", vmin=0, vmax=100, cmap="viridis", aspect="auto")
        label_cells(ax, piv, hw, fontsize=7.5)
        ax.set_xticks(range(piv.shape[1]), [f"{m:.1f}" for m in piv.columns])
        ax.set_yticks(range(piv.shape[0]), [f"{g:g}" for g in piv.index])
        ax.set_xlabel("Mean intrinsic motivation for the change (0-1)")
        ax.set_title(TITLES[model], fontsize=10)
    axes[0, 0].set_ylabel("Power gradient g (the top's example weighs $5^g$ x the frontline's)")
    fig.colorbar(im, ax=axes[0].tolist(), label="Staff using the change after two years (%)", shrink=0.9)
    fig.suptitle("Does the change last? Sustained adoption by power gradient and motivation", x=0.45, y=1.02)
    fig.text(
        0.01,
        -0.02,
        f"Each cell: mean of {n_reps} runs (common seeds across cells) and the half-width of its 95% "
        "confidence interval, in percentage points.\nThe largest half-width is "
        f"±{100 * c.half_width.max():.1f} "
        f"points (median ±{100 * c.half_width.median():.1f}).",
        fontsize=8,
        color="#555",
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def headline(table: pd.DataFrame, c: pd.DataFrame) -> list[str]:
    """Plain-language findings, each with its 95% CI."""
    gs, ms = sorted(c.power_gradient.unique()), sorted(c.motivation_mean.unique())
    g0, g1, m0, m1 = gs[0], gs[-1], ms[0], ms[-1]
    mid = ms[len(ms) // 2]
    lines = []
    for model in [m for m in TITLES if m in set(c.model)]:
        d = paired(table, model, (g0, mid), (g1, mid))
        e = d.estimate
        lines.append(
            f"{SHORT[model]}, motivation {mid:.1f}: a power gradient of {g1:g} instead of {g0:g} changes "
            "sustained "
            f"adoption by {100 * e.mean:+.1f} points (95% CI {100 * e.lo:+.1f} to {100 * e.hi:+.1f}; paired "
            "over "
            f"{e.n} common seeds, d_z = {d.effect_size:.1f})."
        )
        for g in (g0, g1):
            d = paired(table, model, (g, m0), (g, m1))
            e = d.estimate
            lines.append(
                f"{SHORT[model]}, gradient {g:g}: motivation {m1:.1f} instead of {m0:.1f} changes it by "
                f"{100 * e.mean:+.1f} points (95% CI {100 * e.lo:+.1f} to {100 * e.hi:+.1f})."
            )
        d = c[c.model == model]
        lo, hi = d.loc[d.sustained_mean.idxmin()], d.loc[d.sustained_mean.idxmax()]
        lines.append(
            f"{SHORT[model]}: lowest cell {pp(lo.sustained_mean)}% (95% CI {pp(lo.ci_lo)} to {pp(lo.ci_hi)}) "
            "at "
            f"g = {lo.power_gradient:g}, motivation {lo.motivation_mean:.1f}; highest "
            f"{pp(hi.sustained_mean)}% "
            f"({pp(hi.ci_lo)} to {pp(hi.ci_hi)}) at g = {hi.power_gradient:g}, motivation "
            f"{hi.motivation_mean:.1f}."
        )
    need = replicates_needed(float(c.sd.max()), TARGET_HALF_WIDTH) if c.sd.max() > 0 else 2
    lines.append(
        f"Precision: with {int(c.n.min())} replicates per cell the 95% CI half-width is at most "
        f"±{100 * c.half_width.max():.1f} points (median ±{100 * c.half_width.median():.1f}); ±"
        f"{100 * TARGET_HALF_WIDTH:.0f} points in every cell needs {need} replicates (largest sd "
        f"{100 * c.sd.max():.1f} points)."
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    args, table, source = run_or_load(
        NAME,
        __doc__.splitlines()[0],
        run_grid,
        read_sweep=lambda d: pd.read_parquet(d / "sweep_summary.parquet"),
        argv=argv,
    )
    c = cells(table)
    c.to_csv(args.out / "cells.csv", index=False, float_format="%.4f")
    figure(c, int(c.n.min()), args.out / "phase_diagram.png")
    lines = headline(table, c)
    write_headline(args.out, NAME, source, lines, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
