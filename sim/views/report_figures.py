"""The leadership report's figures: small multiples in a colour-blind-safe palette, events marked.

Okabe and Ito's (2008) palette for the models, cividis for heatmaps; every panel of a grid is
used (the spare panel of the adoption grid holds the key), stacked bars reach 100% (the staff
not using the change are drawn too), and a mandate's start and end are marked where a model
has one. Group names are written as a reader says them (``sim.views.wording.human``).
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis.compare import OUTCOMES, Comparison  # noqa: E402
from sim.analysis.stats import mean_ci  # noqa: E402
from sim.views.style import label_cells  # noqa: E402
from sim.views.wording import human  # noqa: E402

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
REFERENCE = "#777777"
STATES = (
    ("committed", "#0072B2", "Committed (owns it)"),
    ("complying", "#E69F00", "Complying (told to)"),
    ("lapsed", "#CC79A7", "Lapsed (stopped)"),
    ("not_using", "#DDDDDD", "Never used it"),
)


def png(fig) -> bytes:
    """The figure as PNG bytes (closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def colours(comp: Comparison) -> dict[str, str]:
    """One Okabe-Ito colour per model, in the comparison's order."""
    return {s.name: OKABE_ITO[k % len(OKABE_ITO)] for k, s in enumerate(comp.scenarios)}


def _band(fa: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ests = [mean_ci(fa[:, t]) for t in range(fa.shape[1])]
    m = np.array([e.mean for e in ests])
    lo = np.clip([e.lo for e in ests], 0, 1)
    hi = np.clip([e.hi for e in ests], 0, 1)
    return m, lo, hi


def mandate_weeks(cfg) -> tuple[int, int | None] | None:
    """(start, end) of a model's mandate in weeks (end None: never withdrawn), or None."""
    m = cfg.mandate
    if not m.on:
        return None
    return int(m.start), (None if m.end < 0 else int(m.end))


def adoption_panels(comp: Comparison, reference: str) -> bytes:
    """One panel per model: mean adoption with its 95% band, the reference in grey, mandates marked."""
    n = len(comp.scenarios)
    cols = min(4, n + 1)
    rows = math.ceil((n + 1) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), sharex=True, sharey=True, squeeze=False
    )
    col = colours(comp)
    ref_m = _band(comp.results[reference].frac_adopted)[0]
    steps = np.arange(len(ref_m))
    ref_title = next(s.title for s in comp.scenarios if s.name == reference)
    for k, s in enumerate(comp.scenarios):
        ax = axes.flat[k]
        m, lo, hi = _band(comp.results[s.name].frac_adopted)
        mw = mandate_weeks(s.config)
        if mw is not None:
            end = mw[1] if mw[1] is not None else steps[-1]
            ax.axvspan(mw[0], end, color="#E69F00", alpha=0.12, lw=0)
            if mw[1] is not None:
                ax.axvline(mw[1], color="#B35806", ls=":", lw=1.2)
                ax.text(
                    mw[1],
                    0.97,
                    " mandate ends",
                    fontsize=7,
                    color="#B35806",
                    va="top",
                    transform=ax.get_xaxis_transform(),
                )
        if s.name != reference:
            ax.plot(steps, 100 * ref_m, color=REFERENCE, lw=1.2, ls="--")
        ax.fill_between(steps, 100 * lo, 100 * hi, color=col[s.name], alpha=0.25, lw=0)
        ax.plot(steps, 100 * m, color=col[s.name], lw=2)
        ax.set_title(s.title, fontsize=8.5)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    key = axes.flat[n]
    key.set_axis_off()
    key.text(0.0, 1.0, "How to read the panels", fontsize=9, weight="bold", va="top", transform=key.transAxes)
    key.text(
        0.0,
        0.86,
        f"Coloured line: mean of {len(comp.seeds)} runs\nShaded band: 95% interval of that "
        f"mean\n(simulation noise only)\nGrey dashed: {ref_title}\n(the reference)\nOrange shading: "
        "a mandate is in force;\ndotted line: it is withdrawn",
        fontsize=8,
        va="top",
        transform=key.transAxes,
    )
    for ax in axes.flat[n + 1 :]:
        ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel("Weeks")
    for ax in axes[:, 0]:
        ax.set_ylabel("Staff using it (%)")
    fig.suptitle("How far the change spread over time, one panel per leadership model", fontsize=11)
    return png(fig)


def ownership(comp: Comparison) -> bytes:
    """Committed, complying, lapsed and never used at the end: bars that reach 100%."""
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(comp.scenarios) + 1.6))
    df = comp.outcomes.groupby("scenario", sort=False)[["committed", "complying", "lapsed"]].mean()
    df = df.loc[[s.name for s in comp.scenarios]]
    df["not_using"] = (1.0 - df.sum(axis=1)).clip(lower=0.0)
    names = [s.title for s in comp.scenarios]
    left = np.zeros(len(df))
    for key, colour, label in STATES:
        v = 100 * df[key].to_numpy()
        ax.barh(names, v, left=left, color=colour, label=label, edgecolor="white", lw=0.5)
        left += v
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Staff at the end of the run (%; mean of the runs)")
    ax.set_title("Does the change stick? Who owns it, who is told to, who stopped", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=4, frameon=False, fontsize=8)
    return png(fig)


def difference_panels(diff: pd.DataFrame, outcomes: list[str], reference_title: str) -> bytes:
    """Paired differences from the reference with 95% intervals, one panel per outcome (three a row)."""
    labels = {o.key: o.label for o in OUTCOMES}
    outcomes = [o for o in outcomes if o in set(diff.outcome)]
    cols = min(3, len(outcomes))
    rows = math.ceil(len(outcomes) / cols)
    n_models = diff.scenario.nunique()
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols + 2.6, (0.36 * n_models + 1.2) * rows), sharey=True, squeeze=False
    )
    for ax, o in zip(axes.flat, outcomes, strict=False):
        d = diff[diff.outcome == o]
        y = np.arange(len(d))
        err = [100 * (d.difference - d.ci_lo), 100 * (d.ci_hi - d.difference)]
        ax.errorbar(100 * d.difference, y, xerr=err, fmt="o", color="#0072B2", capsize=3)
        ax.axvline(0, color="#555", lw=1)
        ax.set_yticks(y, d.title)
        ax.set_title(labels.get(o, o), fontsize=9)
        ax.set_xlabel("percentage points", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_axis_off()
        ax.text(
            0.0,
            0.5,
            f"Each dot: the mean paired difference\nfrom {reference_title} over the runs;\n"
            "bar: its 95% interval (simulation\nnoise only). Right of the line: more.",
            fontsize=8,
            va="center",
            transform=ax.transAxes,
        )
    axes[0, 0].invert_yaxis()
    fig.suptitle(f"Difference from '{reference_title}', paired run by run", fontsize=11)
    return png(fig)


def reach(comp: Comparison, dimension: str) -> bytes | None:
    """Heatmap of final adoption by model and group; for organisations only the multi-partner models."""
    frame = comp.reach(dimension)
    names = [s.name for s in comp.scenarios]
    if dimension == "organisation":
        multi = frame.groupby("scenario").group.nunique()
        names = [n for n in names if multi.get(n, 0) > 1]
        if not names:
            return None
        frame = frame[frame.scenario.isin(names)]
    pivot = frame.pivot(index="scenario", columns="group", values="mean").loc[names]
    pivot = pivot[list(dict.fromkeys(frame.group))]
    pivot = pivot.loc[:, pivot.notna().all(axis=0)]
    titles = {s.name: s.title for s in comp.scenarios}
    fig, ax = plt.subplots(figsize=(1.15 * pivot.shape[1] + 3.5, 0.45 * len(names) + 1.6))
    im = ax.imshow(100 * pivot.to_numpy(), vmin=0, vmax=100, cmap="cividis", aspect="auto")
    ax.set_xticks(range(pivot.shape[1]), [human(str(c)) for c in pivot.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(names)), [titles[n] for n in names])
    label_cells(ax, pivot, dark_below=0.55)
    fig.colorbar(im, ax=ax, label="Using it at the end (%)")
    words = {"level": "level", "profession": "profession", "organisation": "partner organisation"}
    ax.set_title(f"Who the change reached, by {words.get(dimension, dimension)}", fontsize=11)
    return png(fig)
