"""e02: the five IHI domains ablated: each removed from the full framework, each added alone.

Reads the 2^5 x 2 factorial of ``changesim -m experiment=e02_domain_ablation`` (its
``sweep_summary.parquet``), or runs it in this process with ``--run``, and writes into
``results/e02_domain_ablation/``: ``forest.png`` (both sets of paired differences and the
interaction), ``effects.csv`` (every difference with its 95% CI), ``factorial.csv`` (mean
sustained adoption of all 64 cells) and ``headline.md``.

    python experiments/e02_domain_ablation/analyse.py multirun/e02_domain_ablation/<time>
    python experiments/e02_domain_ablation/analyse.py --run [--quick] [--out DIR]
    python experiments/e02_domain_ablation/analyse.py --run --regime complex_change  (<out>/complex_change)

Regimes (``REGIMES``): ``base`` runs the factorial as configured; ``complex_change`` runs it
for a complex change (``change=complex_adaptive``: it fails in use unless adapted, its
results are hard to see), the named regime in which a domain inert for the base change can
show its effect.

Every cell runs replicates 0..R-1 on the same seeds, so differences are taken seed by seed.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis.stats import Estimate, mean_ci, paired_difference, replicates_needed  # noqa: E402
from sim.cli import compose  # noqa: E402
from sim.params import from_dict  # noqa: E402
from sim.run import run_batch  # noqa: E402

NAME = "e02_domain_ablation"
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "experiments"))
from experiment_cli import points as _num  # noqa: E402
from experiment_cli import run_or_load, sweep_grid, write_headline  # noqa: E402

OUTCOME = "final_frac_adopted"  # share of staff complying or committed at the last week
SEEDING = "seeding.strategy"
FULL_SEEDING, BASE_SEEDING = "motivation", "random"  # full_ihi's and let_it_happen's
# (key in the sweep, value when the domain is on, plain-language name), in the IHI framework's order.
DOMAINS = (
    ("motivation.recognition", 0.02, "Unleash intrinsic motivation"),
    ("co_design.on", True, "Co-design people-driven change"),
    ("relationships.trust_growth", 0.02, "Co-produce in relationship (trust grows)"),
    ("power.mode", "distributed", "Distribute power"),
    ("adaptation.adapt", True, "Adapt in action (PDSA adaptation)"),
)
QUICK = ["org.n_staff=60", "n_steps=8", "n_replicates=2"]  # the tiny version the tests run
REGIMES = {"base": [], "complex_change": ["change=complex_adaptive"]}
"""Named regimes: extra overrides composed on top of the experiment (``--regime``)."""
_REGIME: list[str] = []
TARGET_HALF_WIDTH = 0.01  # precision asked of a paired difference: +-1 percentage point
N_BOOT = 10_000  # bootstrap resamples of the replicates for the interaction


def run_grid(quick: bool) -> pd.DataFrame:
    """The factorial, run here: one row per cell x replicate, columns as in the sweep table."""
    grid = sweep_grid(NAME)
    base = compose([f"experiment={NAME}", *_REGIME, *(QUICK if quick else [])])[0]
    org = None
    frames = []
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        res = run_batch(from_dict(base, **point), org=org)
        org = res.org  # the domains and seeding leave the organisation unchanged
        frames.append(res.summary.assign(**point))
    return pd.concat(frames, ignore_index=True)


class Factorial:
    """Per-seed outcomes of the cells, looked up by seeding strategy and the set of domains on."""

    def __init__(self, table: pd.DataFrame) -> None:
        on = np.column_stack([table[k].to_numpy() == v for k, v, _ in DOMAINS])
        self.cells: dict[tuple[str, tuple[bool, ...]], np.ndarray] = {}
        for (seeding, flags), df in table.assign(_on=list(map(tuple, on))).groupby([SEEDING, "_on"]):
            self.cells[(seeding, tuple(bool(f) for f in flags))] = df.sort_values("seed")[OUTCOME].to_numpy()

    def get(self, seeding: str, on: set[int]) -> np.ndarray:
        """(R,) outcomes of the cell with domains ``on`` (indices into DOMAINS), sorted by seed."""
        return self.cells[(seeding, tuple(k in on for k in range(len(DOMAINS))))]

    def table(self) -> pd.DataFrame:
        rows = []
        for (seeding, flags), x in sorted(self.cells.items()):
            est = mean_ci(x)
            rows.append(
                {
                    SEEDING: seeding,
                    **{DOMAINS[k][0]: DOMAINS[k][1] if f else "off" for k, f in enumerate(flags)},
                    "n_domains_on": sum(flags),
                    "sustained_mean": est.mean,
                    "ci_lo": est.lo,
                    "ci_hi": est.hi,
                    "n": est.n,
                }
            )
        return pd.DataFrame(rows)


def bootstrap_ci(x: np.ndarray, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``x`` (replicates resampled with replacement)."""
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(N_BOOT, len(x)))].mean(axis=1)
    return tuple(np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))


def contrasts(f: Factorial) -> list[tuple[str, str, str, np.ndarray]]:
    """(set, label, seeding, per-seed difference) of both ablation sets and the interactions."""
    everything = set(range(len(DOMAINS)))
    out = []
    full = f.get(FULL_SEEDING, everything)
    for k, (_, _, label) in enumerate(DOMAINS):
        out.append(("removed_from_full", label, FULL_SEEDING, f.get(FULL_SEEDING, everything - {k}) - full))
    base = f.get(BASE_SEEDING, set())
    for k, (_, _, label) in enumerate(DOMAINS):
        out.append(("added_to_let_it_happen", label, BASE_SEEDING, f.get(BASE_SEEDING, {k}) - base))
    for seeding in (BASE_SEEDING, FULL_SEEDING):
        none, every = f.get(seeding, set()), f.get(seeding, everything)
        together = every - none
        alone = sum(f.get(seeding, {k}) - none for k in range(len(DOMAINS)))
        losses = sum(every - f.get(seeding, everything - {k}) for k in range(len(DOMAINS)))
        out += [
            ("all_five_together", "All five domains at once", seeding, together),
            ("sum_of_five_alone", "Sum of the five added alone", seeding, alone),
            ("interaction", "All five at once minus the sum added alone", seeding, together - alone),
            ("sum_of_five_losses", "Sum of the five losses on removal", seeding, losses),
            (
                "together_minus_losses",
                "All five at once minus the sum of the removal losses",
                seeding,
                together - losses,
            ),
        ]
    out.append(
        (
            "seeding",
            "Full framework: most motivated first, not random",
            "both",
            full - f.get(BASE_SEEDING, everything),
        )
    )
    return out


def effects(f: Factorial) -> pd.DataFrame:
    """Every contrast as a paired difference in sustained adoption: mean, t-interval, d_z, p.

    The interaction rows also get a percentile bootstrap interval over replicates.
    """
    rows = []
    for kind, label, seeding, d in contrasts(f):
        test = paired_difference(np.zeros_like(d), d)
        est: Estimate = test.estimate
        boot = bootstrap_ci(d) if kind in ("interaction", "together_minus_losses") else (np.nan, np.nan)
        rows.append(
            {
                "set": kind,
                "domain": label,
                "seeding": seeding,
                "difference": est.mean,
                "ci_lo": est.lo,
                "ci_hi": est.hi,
                "boot_lo": boot[0],
                "boot_hi": boot[1],
                "sd": est.sd,
                "effect_size_dz": test.effect_size,
                "p_value": test.p_value,
                "n": est.n,
            }
        )
    return pd.DataFrame(rows)


def _pts(r: pd.Series) -> str:
    return f"{_num(r.difference)} points (95% CI {_num(r.ci_lo)} to {_num(r.ci_hi)})"


def _forest(ax, rows: pd.DataFrame, labels: list[str], colours: list[str]) -> None:
    y = np.arange(len(rows))
    for k, r in enumerate(rows.itertuples()):
        err = [[100 * (r.difference - r.ci_lo)], [100 * (r.ci_hi - r.difference)]]
        ax.errorbar(100 * r.difference, y[k], xerr=err, fmt="o", color=colours[k], capsize=3, ms=5)
        ax.annotate(
            f"{_num(r.difference)}  ({_num(r.ci_lo)} to {_num(r.ci_hi)})",
            (1.0, y[k]),
            xycoords=("axes fraction", "data"),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=8.5,
            color="#333",
        )
    ax.axvline(0, color="#999", lw=1)
    ax.set_yticks(y, labels)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.grid(axis="x", alpha=0.3)


def figure(eff: pd.DataFrame, fac: pd.DataFrame, path: Path) -> None:
    """Forest plot: removal from the full framework (top), addition to let it happen (bottom)."""
    n = int(eff.n.min())
    full = fac[(fac[SEEDING] == FULL_SEEDING) & (fac.n_domains_on == len(DOMAINS))].iloc[0]
    base = fac[(fac[SEEDING] == BASE_SEEDING) & (fac.n_domains_on == 0)].iloc[0]
    rem = eff[eff.set == "removed_from_full"]
    add = eff[eff.set == "added_to_let_it_happen"]
    combo = eff[
        (eff.seeding == BASE_SEEDING)
        & eff.set.isin(["all_five_together", "sum_of_five_alone", "interaction"])
    ]
    fig, axes = plt.subplots(2, 1, figsize=(9, 7.6), gridspec_kw={"height_ratios": [5, 8.5], "hspace": 0.55})
    _forest(axes[0], rem, list(rem.domain), ["#1b9e77"] * len(rem))
    axes[0].set_xlim(-100, 5)
    axes[0].set_xlabel(
        "Change in staff using the change after two years when the domain is removed (percentage points)"
    )
    axes[0].set_title(
        "A. Remove one domain from the full framework (full framework: "
        f"{100 * full.sustained_mean:.1f}% "
        f"of staff, 95% CI {100 * full.ci_lo:.1f} to {100 * full.ci_hi:.1f})",
        fontsize=10,
        loc="left",
    )
    rows = pd.concat([add, combo])
    labels = list(add.domain) + [
        "All five at once",
        "Sum of the five added alone",
        "Interaction: at once minus sum",
    ]
    _forest(axes[1], rows, labels, ["#d95f02"] * len(add) + ["#7570b3"] * 3)
    axes[1].set_xlim(-5, 100)
    axes[1].axhline(len(add) - 0.5, color="#bbb", lw=1)
    axes[1].set_xlabel(
        "Change in staff using the change after two years when domains are added (percentage points)"
    )
    axes[1].set_title(
        f"B. Add domains to 'let it happen' (let it happen: {100 * base.sustained_mean:.1f}% "
        "of staff, "
        f"95% CI {100 * base.ci_lo:.1f} to {100 * base.ci_hi:.1f})",
        fontsize=10,
        loc="left",
    )
    fig.suptitle("Which domain of the IHI framework makes a change last?", y=0.97, fontsize=13)
    fig.text(
        0.01,
        0.0,
        f"Points: mean difference over {n} paired runs (common seeds); bars and numbers in brackets: "
        "95% "
        "confidence interval of the\nper-seed differences. A starts, like full_ihi, with the 10 most "
        "motivated "
        "staff; B, like let_it_happen, with 10 at random.\nPower off means decisions at board and "
        "director level "
        "only; motivation means recognition of adopters (compliers' internalising\nis on throughout but "
        "idle: "
        "with no mandate nobody complies).",
        fontsize=8,
        color="#555",
        va="top",
    )
    fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)


def headline(eff: pd.DataFrame, fac: pd.DataFrame, f: Factorial) -> list[str]:
    """Plain-language findings, each with its 95% CI."""
    everything = set(range(len(DOMAINS)))
    full = fac[(fac[SEEDING] == FULL_SEEDING) & (fac.n_domains_on == len(DOMAINS))].iloc[0]
    base = fac[(fac[SEEDING] == BASE_SEEDING) & (fac.n_domains_on == 0)].iloc[0]
    lines = [
        f"Full framework (full_ihi): {100 * full.sustained_mean:.1f}% of staff use the change after two "
        "years "
        f"(95% CI {100 * full.ci_lo:.1f} to {100 * full.ci_hi:.1f}); let it happen: "
        f"{100 * base.sustained_mean:.1f}% "
        f"({100 * base.ci_lo:.1f} to {100 * base.ci_hi:.1f})."
    ]
    rem = eff[eff.set == "removed_from_full"].sort_values("difference")
    lines.append(
        "Removing one domain from the full framework: "
        + "; ".join(f"{r.domain} {_pts(r)}" for _, r in rem.iterrows())
        + "."
    )
    first, second = rem.iloc[0], rem.iloc[1]
    k1 = next(k for k, d in enumerate(DOMAINS) if d[2] == first.domain)
    k2 = next(k for k, d in enumerate(DOMAINS) if d[2] == second.domain)
    d = paired_difference(
        f.get(FULL_SEEDING, everything - {k2}), f.get(FULL_SEEDING, everything - {k1})
    ).estimate
    lines.append(
        f"Matters most: {first.domain}. Losing it costs {100 * (second.difference - first.difference):.1f} "
        "points more "
        f"than losing the runner-up, {second.domain} (paired 95% CI {100 * -d.hi:.1f} to {100 * -d.lo:.1f})."
    )
    add = eff[eff.set == "added_to_let_it_happen"].sort_values("difference", ascending=False)
    lines.append(
        "Adding one domain alone to let it happen: "
        + "; ".join(f"{r.domain} {_pts(r)}" for _, r in add.iterrows())
        + "."
    )
    for seeding, words in (
        (BASE_SEEDING, "random start, as let it happen"),
        (FULL_SEEDING, "motivated start, as full_ihi"),
    ):
        e = eff[eff.seeding == seeding].set_index("set")
        t, s, i = e.loc["all_five_together"], e.loc["sum_of_five_alone"], e.loc["interaction"]
        lines.append(
            f"Reinforcement ({words}): all five at once add {_pts(t)}; the five added one at a time sum to "
            f"{_pts(s)}; interaction {_pts(i)}, bootstrap 95% CI {100 * i.boot_lo:+.1f} to "
            f"{100 * i.boot_hi:+.1f}."
        )
        r, sl = e.loc["together_minus_losses"], e.loc["sum_of_five_losses"]
        lines.append(
            f"Complements or substitutes ({words}): the five losses on removal sum to {_pts(sl)}, against "
            f"{_num(t.difference)} for all five at once (difference {_pts(r)}; above zero would mean "
            "overlap, "
            "below zero that each domain matters more when the others are present)."
        )
    for seeding in (FULL_SEEDING, BASE_SEEDING):
        pair = f.get(seeding, {k1, k2})
        est = mean_ci(pair)
        d = paired_difference(f.get(seeding, everything), pair).estimate
        lines.append(
            f"{first.domain} and {second.domain} alone, the other three off ({seeding} start): "
            f"{100 * est.mean:.1f}% of staff (95% CI {100 * est.lo:.1f} to {100 * est.hi:.1f}); against all "
            "five "
            f"{_num(d.mean)} points (95% CI {_num(d.lo)} to {_num(d.hi)})."
        )
    s = eff[eff.set == "seeding"].iloc[0]
    lines.append(f"Starting with the most motivated instead of at random, full framework: {_pts(s)}.")
    main_rows = eff[eff.set.isin(["removed_from_full", "added_to_let_it_happen", "interaction"])]
    need = replicates_needed(float(main_rows.sd.max()), TARGET_HALF_WIDTH) if main_rows.sd.max() > 0 else 2
    lines.append(
        f"Precision: with {int(eff.n.min())} paired replicates the widest 95% CI above has half-width "
        f"±{100 * ((main_rows.ci_hi - main_rows.ci_lo) / 2).max():.1f} points; "
        f"±{100 * TARGET_HALF_WIDTH:.0f} point on every "
        f"difference needs {need} replicates (largest sd of a paired difference "
        f"{100 * main_rows.sd.max():.1f} points)."
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    t0 = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    regime = "base"
    if "--regime" in argv:
        k = argv.index("--regime")
        regime = argv[k + 1]
        del argv[k : k + 2]
        if regime not in REGIMES:
            print(f"error: --regime {regime!r} is not one of {list(REGIMES)}", file=sys.stderr)
            return 2
    _REGIME[:] = REGIMES[regime]
    args, table, source = run_or_load(
        NAME,
        __doc__.splitlines()[0],
        run_grid,
        read_sweep=lambda d: pd.read_parquet(d / "sweep_summary.parquet"),
        run_help="run the factorial here instead of reading a sweep",
        quick_help="with --run: 2 replicates, 60 staff, 8 weeks",
        argv=argv,
    )
    if regime != "base":
        args.out = args.out / regime
        args.out.mkdir(parents=True, exist_ok=True)
        source += f" --regime {regime}"
    f = Factorial(table)
    fac = f.table()
    eff = effects(f)
    fac.to_csv(args.out / "factorial.csv", index=False, float_format="%.4f")
    eff.to_csv(args.out / "effects.csv", index=False, float_format="%.4g")
    figure(eff, fac, args.out / "forest.png")
    lines = headline(eff, fac, f)
    write_headline(args.out, NAME, source, lines, t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
