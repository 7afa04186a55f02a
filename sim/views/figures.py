"""Figures of a run for readers who did not run it: adoption over time, by group, and the organisation.

matplotlib only. Figures are built on ``matplotlib.figure.Figure`` with no pyplot state,
so they render with the Agg canvas on a machine without a display and leave a
notebook's backend alone. Every figure has a plain-words title, axes with units, a
legend, a caption saying what the band is, and a source note with the configuration
(taken from the provenance that ``sim.run.Result`` tables carry in ``df.attrs``).

- ``adoption_over_time(timeseries)``: share of staff in each adoption state by week.
- ``adoption_by_group(timeseries, dimension)``: adoption by level, profession or organisation.
- ``hierarchy(org, state)``: the organisation drawn top to bottom, staff coloured by
  state; ``hierarchy_over_time`` draws it at several weeks (``snapshot_states``).
- ``save_all(result, folder)``: the standard set of PNGs for one run.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy.special import stdtrit

from sim.org import CROSS_ORG, LINE, PEER, TEAM, Organisation
from sim.state import STATE_NAMES

DPI = 160
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
STATE_COLOURS = {
    "not_adopted": "#BBBBBB",
    "complying": "#E69F00",
    "committed": "#0072B2",
    "lapsed": "#CC79A7",
}
STATE_LABELS = {
    "not_adopted": "Not adopted",
    "complying": "Complying (doing it because asked)",
    "committed": "Committed (doing it because it matters)",
    "lapsed": "Lapsed (stopped again)",
}
GROUP_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
GROUP_LABELS = {
    "ahp": "Allied health professional",
    "admin": "Administrative",
    "social_care": "Social care",
    "team_lead": "Team lead",
}
DIMENSION_WORDS = {
    "level": "level in the hierarchy",
    "profession": "profession",
    "organisation": "partner organisation",
}
# Above this many staff the hierarchy drawing is skipped by save_all: one dot per person
# stops being readable long before it stops being fast.
MAX_HIERARCHY_STAFF = 5000
# Up to this many replicates, adoption over time also draws each replicate's own curve.
MAX_SPAGHETTI = 50
# Above this many ties the hierarchy drawing leaves ties out (a complete graph is a grey wash).
MAX_DRAWN_TIES = 60_000


def _pretty(name: str) -> str:
    if name in GROUP_LABELS:
        return GROUP_LABELS[name]
    words = name.replace("_", " ").capitalize()
    return words.replace("Nhs ", "NHS ").replace(" nhs ", " NHS ")


def _share(x: float) -> str:
    """A share as a percentage: one decimal below 10%, none above."""
    return f"{100 * x:.1f}%" if x < 0.1 else f"{100 * x:.0f}%"


def rule_words(dynamics: Mapping[str, Any]) -> str:
    """The adoption rule of a ``dynamics`` config group, in words."""
    rule = dynamics.get("rule", "?")
    threshold = f"{dynamics.get('threshold_kind')} threshold, mean {dynamics.get('threshold_mean', 0):g}"
    if rule == "threshold":
        return f"threshold rule ({threshold})"
    if rule == "bass":
        p, q = dynamics.get("p_spontaneous", 0), dynamics.get("q_imitation", 0)
        return f"Bass rule (p={p:g}, q={q:g} per week)"
    if rule == "cascade":
        return f"independent cascade (p={dynamics.get('p_transmit', 0):g})"
    if rule == "change":
        return f"psychology-of-change model ({threshold})"
    return f"rule {rule}"


def config_note(provenance: Mapping[str, Any] | None) -> str:
    """One-line description of the run behind a figure, from ``Result.provenance``."""
    if not provenance:
        return "Source: changesim simulation."
    cfg = provenance.get("config", {})
    org = provenance.get("organisation", {})
    dyn = cfg.get("dynamics", {})
    seeding = cfg.get("seeding", {})
    seeds = provenance.get("seeds", [])
    rule_text = rule_words(dyn)
    n_seed = seeding.get("n_seeds", 0) if seeding.get("strategy") != "none" else 0
    seed_text = f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}" if seeds else ""
    parts = [
        f"Source: changesim {provenance.get('changesim', '')} simulation",
        f"{cfg.get('org', {}).get('kind', '?')} organisation of {org.get('n_staff', '?')} staff "
        f"({org.get('n_levels', '?')} level{'s' if org.get('n_levels') != 1 else ''}, "
        f"{org.get('n_ties', '?')} ties)",
        rule_text,
        f"{n_seed} initial adopters ({seeding.get('strategy', '?')})",
        f"{cfg.get('n_steps', '?')} weeks",
        f"{len(seeds)} replicate{'s' if len(seeds) != 1 else ''} ({seed_text})",
        f"engine {provenance.get('engine', '?')}",
    ]
    return " | ".join(parts) + "."


def _figure(width: float, height: float, note: str) -> Figure:
    """A constrained-layout figure with a strip at the bottom for the source note."""
    fig = Figure(figsize=(width, height), layout="constrained")
    lines = textwrap.wrap(note, width=int(width * 15)) or [""]
    strip = (0.12 + 0.13 * len(lines)) / height
    fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    fig.text(0.01, 0.02 / height, "\n".join(lines), fontsize=7, color="#555555", va="bottom", ha="left")
    return fig


def _title(fig: Figure, title: str) -> None:
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")


def _replicate_matrix(df: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, (R, T+1) values) of one column for one group, replicates as rows."""
    wide = df.pivot(index="replicate", columns="step", values=column)
    return wide.columns.to_numpy(), wide.to_numpy(dtype=np.float64)


def band(values: np.ndarray, kind: str = "percentile") -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Mean across replicates (rows) and a 95% band around it.

    Args:
        values: (R, T) one row per replicate.
        kind: ``percentile`` (2.5th to 97.5th percentile of the replicates: where runs
            fall) or ``t`` (Student-t 95% confidence interval of the mean).

    Returns:
        mean, low, high (each (T,)), and a caption phrase saying what the band is.
    """
    r = values.shape[0]
    mean = values.mean(axis=0)
    if r < 2:
        return mean, mean, mean, "a single replicate, so no band"
    if kind == "percentile":
        lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
        return mean, lo, hi, f"shaded: middle 95% of {r} replicates (2.5th to 97.5th percentile)"
    if kind == "t":
        half = stdtrit(r - 1, 0.975) * values.std(axis=0, ddof=1) / np.sqrt(r)
        return (
            mean,
            mean - half,
            mean + half,
            f"shaded: 95% confidence interval of the mean (t, {r} replicates)",
        )
    raise ValueError(f"band kind {kind!r} is not 'percentile' or 't'")


def adoption_over_time(
    timeseries_df: pd.DataFrame,
    *,
    band_kind: str = "percentile",
    title: str = "How the change spread: share of staff in each adoption state",
    note: str | None = None,
) -> Figure:
    """Share of all staff in each adoption state by week, mean of replicates with a 95% band.

    States that no one ever reaches are left out (the caption says so). With both
    complying and committed staff, a black line shows their total (adopted).

    Args:
        timeseries_df: ``Result.timeseries`` (or the saved table).
        band_kind: ``percentile`` or ``t`` (see ``band``).
        title: figure title.
        note: source note; by default built from ``timeseries_df.attrs["provenance"]``.
    """
    df = timeseries_df[timeseries_df["dimension"] == "all"]
    note = config_note(timeseries_df.attrs.get("provenance")) if note is None else note
    fig = _figure(9, 5.2, note)
    ax = fig.add_subplot()
    shown, hidden, caption, thin = [], [], "", False
    for name in STATE_NAMES:
        steps, values = _replicate_matrix(df, f"frac_{name}")
        if not (values > 0).any():
            hidden.append(STATE_LABELS[name].split(" (")[0].lower())
            continue
        mean, lo, hi, caption = band(100 * values, band_kind)
        ax.fill_between(steps, lo, hi, color=STATE_COLOURS[name], alpha=0.25, linewidth=0)
        if name != "not_adopted" and 1 < len(values) <= MAX_SPAGHETTI:
            # Runs often split into "took off" and "fizzled": the mean alone would hide that.
            ax.plot(steps, 100 * values.T, color=STATE_COLOURS[name], lw=0.6, alpha=0.35)
            thin = True
        ax.plot(steps, mean, color=STATE_COLOURS[name], lw=2.2, label=STATE_LABELS[name])
        shown.append(name)
    if "complying" in shown and "committed" in shown:
        steps, values = _replicate_matrix(df, "frac_adopted")
        mean, lo, hi, caption = band(100 * values, band_kind)
        ax.plot(steps, mean, color="black", lw=1.4, ls="--", label="Adopted (complying + committed)")
    ax.set_xlabel("Week")
    ax.set_ylabel("Share of staff (%)")
    ax.set_ylim(-2, 102)
    ax.set_xlim(steps[0], max(steps[-1], 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", frameon=True, fontsize=9)
    text = f"Thick lines: mean across replicates; {'thin lines: each replicate; ' if thin else ''}{caption}."
    if hidden:
        text += f" Never reached, so not drawn: {', '.join(hidden)}."
    ax.set_title("\n".join(textwrap.wrap(text, 120)), fontsize=9, loc="left", color="#333333")
    _title(fig, title)
    return fig


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and 95% t half-width of a 1-d sample (half-width 0 for one value)."""
    r = len(values)
    if r < 2:
        return float(values.mean()), 0.0
    return float(values.mean()), float(stdtrit(r - 1, 0.975) * values.std(ddof=1) / np.sqrt(r))


def adoption_by_group(
    timeseries_df: pd.DataFrame,
    dimension: str = "level",
    *,
    note: str | None = None,
) -> Figure:
    """Adoption by level, profession or organisation: time course and final share.

    Left: share of each group who have adopted (complying or committed), by week, mean
    across replicates. Right: the final share with a 95% t-interval of the mean across
    replicates, and the group's head-count.

    Args:
        timeseries_df: ``Result.timeseries`` (or the saved table).
        dimension: ``level``, ``profession`` or ``organisation``.
        note: source note; by default built from the table's provenance.
    """
    if dimension not in DIMENSION_WORDS:
        raise ValueError(f"dimension {dimension!r} is not one of {list(DIMENSION_WORDS)}")
    df = timeseries_df[timeseries_df["dimension"] == dimension]
    if df.empty:
        raise ValueError(f"the table has no rows for dimension {dimension!r} (run with by_group=True)")
    note = config_note(timeseries_df.attrs.get("provenance")) if note is None else note
    groups = list(pd.unique(df["group"]))
    fig = _figure(12, 1.2 + max(4.0, 0.42 * len(groups)), note)
    left, right = fig.subplots(1, 2, width_ratios=[1.5, 1])
    finals, halves, sizes = [], [], []
    for k, g in enumerate(groups):
        sub = df[df["group"] == g]
        steps, values = _replicate_matrix(sub, "frac_adopted")
        colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
        ls = "-" if k < len(GROUP_COLOURS) else "--"
        left.plot(steps, 100 * values.mean(axis=0), color=colour, lw=2, ls=ls, label=_pretty(g))
        m, h = _t_interval(100 * values[:, -1])
        finals.append(m)
        halves.append(h)
        sizes.append(int(sub["n_staff"].iloc[0]))
    r = df["replicate"].nunique()
    left.set_xlabel("Week")
    left.set_ylabel("Staff who have adopted (%)")
    left.set_ylim(-2, 102)
    left.grid(alpha=0.3)
    left.legend(title=_pretty(dimension), fontsize=8, title_fontsize=9, loc="best")
    left.set_title(f"Over time\nmean of {r} replicate{'s' if r > 1 else ''}", fontsize=9, loc="left")
    y = np.arange(len(groups))[::-1]
    colours = [GROUP_COLOURS[k % len(GROUP_COLOURS)] for k in range(len(groups))]
    right.barh(y, finals, xerr=halves if r > 1 else None, color=colours, alpha=0.85, capsize=3)
    right.set_yticks(y, [f"{_pretty(g)}\n(n={n})" for g, n in zip(groups, sizes, strict=True)], fontsize=8)
    right.set_xlim(0, 105)
    right.set_xlabel("Staff who have adopted at the end (%)")
    right.grid(axis="x", alpha=0.3)
    for yi, m, h in zip(y, finals, halves, strict=True):
        inside = m + h > 88
        right.text(
            m - 1.5 if inside else m + h + 1.5,
            yi,
            f"{m:.0f}%",
            va="center",
            ha="right" if inside else "left",
            fontsize=8,
            color="white" if inside else "black",
            fontweight="bold",
        )
    week = int(df["step"].max())
    ci = f"error bars: 95% t-interval of the mean, {r} replicates" if r > 1 else "one replicate: no interval"
    right.set_title(f"At the end (week {week})\n{ci}", fontsize=9, loc="left")
    _title(fig, f"Adoption by {DIMENSION_WORDS[dimension]}")
    return fig


def hierarchy_layout(org: Organisation) -> tuple[np.ndarray, np.ndarray]:
    """Positions of staff for drawing the line hierarchy top to bottom (vectorised, deterministic).

    Staff are put in depth-first order of the line hierarchy (sorted by organisation and
    by their chain of managers, one NumPy ``lexsort``). Staff who manage nobody above the
    frontline, and team leads, take evenly spaced slots in that order; every manager is
    centred over their direct reports (one pass per level, bottom up); frontline staff
    are stacked in a short column under their team lead, so a team reads as a column.
    y is minus the level (0 at the top). Partner organisations sit side by side with a
    gap. An organisation without a hierarchy (a random or complete graph) fills a disc
    evenly (Vogel's sunflower spiral, in index order).

    Returns:
        x, y: (n,) float64 coordinates.
    """
    n = org.n_staff
    if n == 0:
        return np.empty(0), np.empty(0)
    manager = org.manager.astype(np.int64)
    level = org.level.astype(np.int64)
    if (manager < 0).all():
        i = np.arange(n) + 0.5
        r, theta = np.sqrt(i / n), i * np.pi * (3.0 - np.sqrt(5.0))
        return r * np.cos(theta), r * np.sin(theta)
    n_lev = int(level.max()) + 1
    # anc[k, i]: i's manager chain at level k (i itself at its own level, -1 below it), so a
    # lexsort puts everyone right after their manager: a depth-first order.
    anc = np.full((n_lev, n), -1, dtype=np.int64)
    cur = np.arange(n)
    idx = np.arange(n)
    for _ in range(n_lev):
        anc[level[cur], idx] = cur
        keep = manager[cur] >= 0
        cur, idx = manager[cur[keep]], idx[keep]
        if len(cur) == 0:
            break
    order = np.lexsort(tuple(anc[::-1]) + (org.organisation.astype(np.int64),))

    has_reports = org.has_reports
    stacked = ~has_reports & (manager >= 0) & (level == n_lev - 1)
    placed = ~stacked
    n_placed_children = np.bincount(manager[placed & (manager >= 0)], minlength=n)
    slot = placed & (n_placed_children == 0)
    x = np.zeros(n)
    in_order = order[slot[order]]
    org_of = org.organisation.astype(np.int64)[in_order]
    x[in_order] = np.arange(len(in_order)) + 3.0 * org_of  # a gap of 3 slots between partners
    for k in range(n_lev - 1, -1, -1):
        kids = placed & (manager >= 0) & (level == k + 1)
        total = np.bincount(manager[kids], weights=x[kids], minlength=n)
        parents = (level == k) & (n_placed_children > 0)
        x[parents] = total[parents] / n_placed_children[parents]
    y = -level.astype(np.float64)

    s_idx = np.flatnonzero(stacked)
    if len(s_idx):
        s_idx = s_idx[np.lexsort((s_idx, manager[s_idx]))]
        boss = manager[s_idx]
        first = np.r_[0, np.flatnonzero(boss[1:] != boss[:-1]) + 1]
        run_len = np.diff(np.r_[first, len(s_idx)])
        rank = np.arange(len(s_idx)) - np.repeat(first, run_len)
        dy = min(0.2, 1.4 / max(int(run_len.max()), 1))
        x[s_idx] = x[boss]
        y[s_idx] = -(level[boss] + 1.0) - dy * rank
    return x, y


def _draw_hierarchy(
    ax: Any, org: Organisation, state: np.ndarray, xy: tuple[np.ndarray, np.ndarray], width_in: float
) -> None:
    x, y = xy
    n = org.n_staff
    flat = bool((org.manager < 0).all())
    src = org.tie_sources()
    keep = src < org.indices
    u, v, kind = src[keep], org.indices[keep].astype(np.int64), org.tie_kind[keep]
    # A frontline team's column already shows who reports to whom and who works together:
    # its line and team ties would only draw one thick vertical bar over the dots.
    in_column = y < -org.level.astype(np.float64) - 1e-9
    in_column |= (org.level == org.level.max()) & (org.manager >= 0) & ~org.has_reports
    member = (kind == LINE) | (kind == TEAM)
    skip = member & (in_column[u] | in_column[v]) if not flat else np.zeros(len(u), dtype=bool)
    u, v, kind = u[~skip], v[~skip], kind[~skip]
    faint = 0.25 if n <= 300 else 0.10 if n <= 1500 else 0.05
    if len(u) <= MAX_DRAWN_TIES:
        for mask, colour, lw, alpha, z in (
            ((kind == TEAM) | (kind == PEER), "#777777", 0.3, faint, 1),
            (kind == CROSS_ORG, "#6A3D9A", 0.5, 0.35, 2),
            (kind == LINE, "#333333", 0.5, 0.45, 2),
        ):
            if mask.any():
                seg = np.stack([np.c_[x[u[mask]], y[u[mask]]], np.c_[x[v[mask]], y[v[mask]]]], axis=1)
                ax.add_collection(LineCollection(seg, colors=colour, linewidths=lw, alpha=alpha, zorder=z))
    else:
        ax.text(0.5, -0.02, f"{len(u):,} ties not drawn", transform=ax.transAxes, ha="center", fontsize=8)
    if flat:  # the disc's area shared evenly: diameter ~ sqrt(area / n)
        per_col = 72.0 * width_in * np.sqrt(np.pi / 4.0 / max(n, 1))
    else:
        per_col = 72.0 * width_in / max(float(np.ptp(x)) + 1.0, 1.0)
    base = float(np.clip((0.8 * per_col) ** 2, 1.5, 80.0))
    top = int(org.level.max()) if n else 0
    size = base * (1.0 + 2.0 * (top - org.level) / max(top, 1)) if not flat else np.full(n, base)
    colours = np.array([STATE_COLOURS[s] for s in STATE_NAMES])[state.astype(np.int64)]
    # Adopters drawn last, on top of the grey majority.
    z = np.argsort(state != 0, kind="stable")
    ax.scatter(x[z], y[z], s=size[z], c=colours[z], linewidths=0.2, edgecolors="white", zorder=3)
    ax.autoscale_view()
    ax.margins(x=0.04 if flat else 0.01, y=0.04 if flat else 0.06)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_xticks([])
    if flat:
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_aspect("equal")
    else:
        levels = np.arange(len(org.level_names))
        ax.set_yticks(-levels.astype(float), [_pretty(name) for name in org.level_names], fontsize=8)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        if len(org.org_names) > 1:
            ax.set_ylim(top=0.9)
            short = [re.sub(r"_\d+$", "", name) for name in org.org_names]
            names = short if len(set(short)) == len(short) else org.org_names
            for k, name in enumerate(names):
                mine = org.organisation == k
                if mine.any():
                    ax.text(
                        float(np.mean(x[mine & (org.level == org.level[mine].min())])),
                        0.4,
                        _pretty(name),
                        ha="center",
                        fontsize=8,
                        fontweight="bold",
                    )


def _state_legend(ax: Any, org: Organisation, states: Sequence[np.ndarray], below: bool = False) -> None:
    """Legend of adoption states and tie kinds, above the right end of ``ax`` (or below its left end)."""
    present = sorted({int(s) for st in states for s in np.unique(st)})
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=7,
            color=STATE_COLOURS[STATE_NAMES[s]],
            label=STATE_LABELS[STATE_NAMES[s]],
        )
        for s in present
    ]
    kinds = set(np.unique(org.tie_kind).tolist())
    if LINE in kinds:
        handles.append(Line2D([], [], color="#333333", lw=1, alpha=0.7, label="Line-management tie"))
    if kinds & {TEAM, PEER}:
        handles.append(Line2D([], [], color="#777777", lw=1, alpha=0.4, label="Team or peer tie"))
    if CROSS_ORG in kinds:
        handles.append(Line2D([], [], color="#6A3D9A", lw=1, alpha=0.7, label="Cross-organisation tie"))
    where = (
        {"loc": "upper left", "bbox_to_anchor": (0.0, -0.02)}
        if below
        else {
            "loc": "lower right",
            "bbox_to_anchor": (1.0, 1.08),
        }
    )
    ax.legend(handles=handles, ncols=min(len(handles), 3), fontsize=8, frameon=False, **where)


def hierarchy(
    org: Organisation,
    state: np.ndarray,
    *,
    title: str = "Who has adopted, across the organisation",
    note: str = "Source: changesim simulation.",
    week: int | None = None,
) -> Figure:
    """The organisation drawn as its line hierarchy, each person coloured by adoption state.

    Levels run top to bottom; each frontline team is a short column under its team lead;
    line-management ties are drawn darker, team and peer ties faintly (and
    cross-organisation ties in purple). Fast for thousands of staff (``hierarchy_layout``
    is vectorised; ties are one ``LineCollection``).

    Args:
        org: the organisation.
        state: (n,) adoption state codes (``sim.state``), e.g. ``Result.final_state[0]``.
        title: figure title.
        note: source note.
        week: the week the state is from, for the caption.
    """
    return hierarchy_over_time(org, {week if week is not None else -1: state}, title=title, note=note)


def hierarchy_over_time(
    org: Organisation,
    states: Mapping[int, np.ndarray],
    *,
    title: str = "Who has adopted, across the organisation, week by week",
    note: str = "Source: changesim simulation.",
) -> Figure:
    """Small multiples of ``hierarchy``: one panel per week in ``states`` (week -> (n,) states)."""
    xy = hierarchy_layout(org)
    flat = bool((org.manager < 0).all())
    k = len(states)
    width = 12.0
    if flat:
        cols = k if k <= 5 else 4
        rows = -(-k // cols)
        fig = _figure(width, 0.9 + rows * width / cols, note)
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    else:
        panel_h = 0.7 + 0.45 * org.n_levels
        fig = _figure(width, 1.0 + k * panel_h, note)
        axes = np.atleast_1d(fig.subplots(k, 1, squeeze=False).ravel())
    for ax, (week, st) in zip(axes, states.items(), strict=False):
        st = np.asarray(st)
        _draw_hierarchy(ax, org, st, xy, width / cols if flat else width)
        adopted = float(np.isin(st, (1, 2)).mean())
        when = f"Week {week}: " if week is not None and week >= 0 else ""
        text = f"{when}{_share(adopted)} of {org.n_staff} staff have adopted"
        ax.set_title(text, fontsize=9 if flat and k > 1 else 10, loc="left")
    for ax in axes[k:]:
        ax.set_visible(False)
    if flat:
        _state_legend(
            axes[(rows - 1) * cols] if k > (rows - 1) * cols else axes[0], org, list(states.values()), True
        )
    else:
        _state_legend(axes[0], org, list(states.values()))
    _title(fig, title)
    return fig


def snapshot_states(result: Any, steps: Sequence[int], replicate: int = 0) -> dict[int, np.ndarray]:
    """Adoption state of one replicate at chosen steps, by re-running it (states per step are not stored).

    Re-runs ``sim.ChangeModel`` with the result's configuration, organisation, engine
    and the replicate's seed, which reproduces the batch replicate exactly (a result
    made with explicit ``thresholds`` or ``initial_adopters`` would not be reproduced).
    """
    from sim.model import ChangeModel

    wanted = sorted({int(s) for s in steps if 0 <= int(s) <= result.config.n_steps})
    model = ChangeModel(
        result.config, org=result.org, seed=int(result.seeds[replicate]), engine=result.engine
    )
    out: dict[int, np.ndarray] = {}
    for t in range(0, (wanted[-1] if wanted else 0) + 1):
        if t > 0:
            model.step()
        if t in wanted:
            out[t] = model.state.state.copy()
    return out


def telling_steps(frac_adopted: np.ndarray) -> list[int]:
    """Weeks worth drawing for one replicate: the start, when adoption first reached 10%,
    50% and 90% (those reached), and the end; the start, middle and end if it never moved.
    """
    t = len(frac_adopted) - 1
    steps = [0]
    for level in (0.1, 0.5, 0.9):
        hit = np.flatnonzero(frac_adopted >= level)
        if len(hit) and 0 < hit[0] < t:
            steps.append(int(hit[0]))
    if len(steps) == 1:
        steps.append(t // 2)
    steps.append(t)
    return sorted(set(steps))


def save(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write a figure as PNG via a temporary name, so a half-written file never looks complete."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, format="png", dpi=dpi)
    tmp.replace(path)
    return path


def save_all(result: Any, folder: str | Path, dpi: int = DPI) -> list[Path]:
    """The standard figures of a run, as PNGs in ``folder``.

    ``adoption_over_time.png``; ``adoption_by_<dimension>.png`` for each dimension with
    more than one group; ``hierarchy.png`` (replicate 0 at the weeks of
    ``telling_steps``) when the organisation has at most ``MAX_HIERARCHY_STAFF`` staff.
    """
    folder = Path(folder)
    ts = result.timeseries
    note = config_note(result.provenance)
    paths = [save(adoption_over_time(ts, note=note), folder / "adoption_over_time.png", dpi)]
    for dim in ("level", "profession", "organisation"):
        if ts.loc[ts["dimension"] == dim, "group"].nunique() > 1:
            paths.append(save(adoption_by_group(ts, dim, note=note), folder / f"adoption_by_{dim}.png", dpi))
    if 0 < result.org.n_staff <= MAX_HIERARCHY_STAFF:
        t = result.config.n_steps
        states = snapshot_states(result, telling_steps(result.frac_adopted[0]))
        states[t] = result.final_state[0]
        fig = hierarchy_over_time(result.org, states, note=note + " Replicate 0.")
        paths.append(save(fig, folder / "hierarchy.png", dpi))
    return paths
