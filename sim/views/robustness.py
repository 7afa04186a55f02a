"""The robustness figure: who ranks first, who beats whom, what drives the lead, where the winner loses.

Four panels from a ``sim.analysis.robustness.Robustness``: (a) probability of ranking first
on each outcome; (b) the share of plausible assumptions under which the row model beats the
column model on the headline outcome; (c) sensitivity indices of the usual winner's margin;
(d) the PRIM box where the usual winner loses, over its two inputs. Colours: the
colour-blind-safe cividis map and the Okabe-Ito palette.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.analysis.compare import OUTCOMES

HOLDS, LOSES = "#0072B2", "#D55E00"  # Okabe-Ito blue and vermillion


def _short(title: str, width: int = 26) -> str:
    """The title on lines of at most ``width`` characters (two lines at most, then an ellipsis)."""
    import textwrap

    lines = textwrap.wrap(title, width)
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width, placeholder="…")]
    return "\n".join(lines)


def _name(title: str) -> str:
    """A model's short name: 'Hybrid: central aim, ...' -> 'Hybrid'."""
    return title.split(" (")[0].split(":")[0]


def figure(res: Any, outcome: str = "sustained") -> Figure:
    """The four-panel robustness figure for ``outcome`` (the headline outcome)."""
    from sim.analysis.robustness import input_label, ranked_outcomes

    labels = {o.key: o.label for o in OUTCOMES}
    outs = [o.key for o in ranked_outcomes() if o.key in set(res.rank_first.outcome)]
    p = res.rank_first.pivot(index="scenario", columns="outcome", values="p_first")
    if {"timely_use", "cumulative_use"} <= set(outs) and np.allclose(p["timely_use"], p["cumulative_use"]):
        outs.remove("timely_use")  # no urgency: the same as cumulative use
    if outcome not in outs:
        outcome = outs[0]
    order, titles = res.order, res.titles
    names = [_short(titles.get(n, n)) for n in order]
    fig = Figure(figsize=(13, 11), layout="constrained")
    axes = fig.subplots(2, 2)

    ax = axes[0, 0]
    rf = res.rank_first.pivot(index="scenario", columns="outcome", values="p_first").loc[order, outs]
    im = ax.imshow(100 * rf.to_numpy(), vmin=0, vmax=100, cmap="cividis", aspect="auto")
    ax.set_xticks(range(len(outs)), [_short(labels.get(o, o), 22) for o in outs], rotation=90, fontsize=8)
    ax.set_yticks(range(len(order)), names, fontsize=8)
    for i in range(len(order)):
        for j in range(len(outs)):
            v = 100 * rf.iat[i, j]
            ax.text(
                j, i, f"{v:.0f}", ha="center", va="center", fontsize=8, color="white" if v < 55 else "black"
            )
    fig.colorbar(im, ax=ax, label="% of plausible assumptions")
    ax.set_title("(a) How often each model ranks first", loc="left", fontsize=10)

    ax = axes[0, 1]
    pw = res.pairwise[res.pairwise.outcome == outcome]
    mat = np.full((len(order), len(order)), np.nan)
    for r in pw.itertuples():
        mat[order.index(r.a), order.index(r.b)] = 100 * r.share
    im = ax.imshow(mat, vmin=0, vmax=100, cmap="cividis", aspect="auto")
    ax.set_xticks(range(len(order)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(order)), names, fontsize=8)
    for i in range(len(order)):
        ax.text(i, i, "—", ha="center", va="center", fontsize=8, color="#555")
        for j in range(len(order)):
            if i != j:
                ax.text(
                    j,
                    i,
                    f"{mat[i, j]:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if mat[i, j] < 55 else "black",
                )
    fig.colorbar(im, ax=ax, label="% of plausible assumptions")
    ax.set_title(f"(b) Row beats column: {labels.get(outcome, outcome).lower()}", loc="left", fontsize=10)

    ax = axes[1, 0]
    winner = res.winners[outcome]
    idx = res.indices[res.indices.outcome == outcome].copy()
    idx = idx[np.isfinite(idx.S1)].sort_values("S1", ascending=False).head(10).iloc[::-1]
    if len(idx):
        y = np.arange(len(idx))
        ax.barh(y, idx.S1, xerr=idx.S1_conf, color=HOLDS, capsize=2, label="first order (S1)")
        if idx.ST.notna().any():
            ax.barh(y, idx.ST, color="none", edgecolor=LOSES, label="total (ST)")
            ax.legend(frameon=False, fontsize=8)
        ax.set_yticks(y, [_short(input_label(n, res.unc), 48) for n in idx.input], fontsize=8)
        ax.axvline(0, color="#555", lw=0.8)
        ax.set_xlabel("share of the variance of the margin (whiskers: 95% bootstrap interval)")
    else:
        ax.text(
            0.5,
            0.5,
            "too few points for sensitivity indices\n(RBD-FAST needs more than 40)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_axis_off()
    lead = f"{_name(titles.get(winner, winner))}'s lead on {labels.get(outcome, outcome).lower()}"
    ax.set_title(f"(c) What drives {lead}", loc="left", fontsize=10)

    ax = axes[1, 1]
    _box_panel(ax, res, outcome, winner, input_label)
    p = res.provenance
    fig.suptitle(
        f"Robustness of the ranking: {p.get('n_points', len(res.design))} plausible sets of assumptions x "
        f"{len(order)} models x {p.get('n_replicates', '?')} replicates (common random numbers)",
        fontsize=12,
        x=0.01,
        ha="left",
    )
    return fig


def _box_panel(ax: Any, res: Any, outcome: str, winner: str, input_label: Any) -> None:
    from sim.analysis.robustness import margin, point_means, ranked_outcomes

    cond = res.conditions[(res.conditions.outcome == outcome) & (res.conditions.method == "PRIM")]
    found = len(cond) and bool(cond.iloc[0].found)
    limits = json.loads(cond.iloc[0].limits) if found else []
    dims = [d[0] for d in limits[:2]]
    idx = res.indices[res.indices.outcome == outcome].sort_values("S1", ascending=False)
    for name in idx.input:
        if len(dims) >= 2:
            break
        if name not in dims:
            dims.append(name)
    if (len(res.runs) == 0 and len(res.means) == 0) or len(dims) < 2:
        ax.text(0.5, 0.5, "no per-run data to plot", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    o = next(o for o in ranked_outcomes() if o.key == outcome)
    if len(res.means):
        means = res.means
    else:
        horizon = int(res.provenance.get("n_steps", 0)) or int(np.nanmax(res.runs.get("t_50", [0]))) + 1
        means = point_means(res.runs, horizon, [o])
    m = margin(means, o, res.order, winner)
    loses = m < -1e-12
    x, y = res.design[dims[0]].to_numpy(), res.design[dims[1]].to_numpy()
    ax.scatter(
        x[~loses], y[~loses], s=14, color=HOLDS, label=f"{_name(res.titles.get(winner, winner))} leads"
    )
    ax.scatter(x[loses], y[loses], s=18, color=LOSES, marker="^", label="another model leads")
    lim = {d[0]: (d[1], d[2]) for d in limits}
    if found and any(d in lim for d in dims):
        x0, x1 = lim.get(dims[0], (None, None))
        y0, y1 = lim.get(dims[1], (None, None))
        x0, x1 = x.min() if x0 is None else x0, x.max() if x1 is None else x1
        y0, y1 = y.min() if y0 is None else y0, y.max() if y1 is None else y1
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="black", lw=1.5, ls="--"))
        c = cond.iloc[0]
        ax.text(
            0.01,
            0.99,
            f"PRIM box: coverage {100 * c.coverage:.0f}%, density {100 * c.density:.0f}%"
            + (f" ({len(limits)} inputs; 2 shown)" if len(limits) > 2 else ""),
            transform=ax.transAxes,
            va="top",
            fontsize=8,
        )
    ax.set_xlabel(_short(input_label(dims[0], res.unc), 60), fontsize=8)
    ax.set_ylabel(_short(input_label(dims[1], res.unc), 60), fontsize=8)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title("(d) Where the usual winner loses (scenario discovery)", loc="left", fontsize=10)


def write(res: Any, out: str | Path) -> dict[str, Path]:
    """Write a robustness run's tables and provenance (``sim.analysis.robustness.save``) and its figure."""
    from sim.analysis.robustness import save
    from sim.views.figures import save as save_fig

    paths = save(res, out)
    paths["robustness.png"] = save_fig(figure(res), Path(out) / "robustness.png")
    return paths
