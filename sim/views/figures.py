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

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.special import stdtrit

from sim.state import STATE_NAMES
from sim.views.hierarchy import (  # noqa: F401  re-exported: figures.hierarchy(...) as before
    MAX_DRAWN_TIES,
    hierarchy,
    hierarchy_layout,
    hierarchy_over_time,
    snapshot_states,
    telling_steps,
)
from sim.views.style import (  # noqa: F401  re-exported for callers of sim.views.figures
    DIMENSION_WORDS,
    DPI,
    GROUP_COLOURS,
    GROUP_LABELS,
    STATE_COLOURS,
    STATE_LABELS,
)
from sim.views.style import frame as _figure
from sim.views.style import pretty as _pretty
from sim.views.style import title as _title

# Above this many staff the hierarchy drawing is skipped by save_all: one dot per person
# stops being readable long before it stops being fast.
MAX_HIERARCHY_STAFF = 5000
# Up to this many replicates, adoption over time also draws each replicate's own curve.
MAX_SPAGHETTI = 50


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
