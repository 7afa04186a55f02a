"""The organisation drawn top to bottom, one dot per person, coloured by adoption state.

- ``hierarchy_layout(org)``: positions, vectorised and deterministic (cached by the app).
- ``hierarchy(org, state)``: one picture; ``hierarchy_over_time`` draws several weeks
  (``snapshot_states`` picks them from a run, ``telling_steps`` the weeks worth showing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.constants import ADOPTED, NOT_ADOPTED
from sim.org import CROSS_ORG, LINE, PEER, TEAM, Organisation
from sim.state import STATE_NAMES
from sim.views.style import STATE_COLOURS, STATE_LABELS, frame, org_labels, pretty, share
from sim.views.style import title as _title

# Above this many ties the hierarchy drawing leaves ties out (a complete graph is a grey wash).
MAX_DRAWN_TIES = 60_000


MAX_SPRING_STAFF = 600
"""Up to this many people a network without a hierarchy gets a force-directed layout
(about half a second at 400 people; it grows as the square of the size)."""


RIM = 1.1
"""Where people without ties sit in a force layout: on a ring 1.1 times the radius of the
tied network (which holds 98% of the tied people)."""


def _spring(org: Organisation) -> tuple[np.ndarray, np.ndarray]:
    """Force-directed positions (Fruchterman-Reingold, seed 0) scaled into the unit disc,
    people without ties evenly on a ring just outside the network.
    """
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(org.n_staff))
    g.add_edges_from(zip(org.tie_sources().tolist(), org.indices.tolist(), strict=True))
    pos = nx.spring_layout(g, seed=0, iterations=60)
    xy = np.array([pos[i] for i in range(org.n_staff)], dtype=np.float64)
    # The force layout pushes people without ties (and small islands) far out, which would
    # shrink the network itself to a blob: scale to the tied, put loners on a ring around it.
    tied = org.degree > 0
    if tied.any():
        xy -= xy[tied].mean(axis=0)
        r = np.hypot(xy[:, 0], xy[:, 1])
        xy /= max(float(np.quantile(r[tied], 0.98)), 1e-12)
        r = np.hypot(xy[:, 0], xy[:, 1])
        far = r > RIM
        xy[far] *= (RIM / r[far])[:, None]  # islands far out: onto the rim, same direction
        loners = np.flatnonzero(~tied)
        angle = 2.0 * np.pi * (np.arange(len(loners)) + 0.5) / max(len(loners), 1)
        xy[loners] = RIM * np.c_[np.cos(angle), np.sin(angle)]
    else:
        xy -= xy.mean(axis=0)
    xy /= max(float(np.hypot(xy[:, 0], xy[:, 1]).max()), 1e-12)
    return xy[:, 0], xy[:, 1]


def spring_drawn(org: Organisation) -> bool:
    """Whether ``hierarchy_layout`` draws this organisation by a force layout: a network
    without a hierarchy, of at most ``MAX_SPRING_STAFF`` people, with ties but not dense.
    """
    n = org.n_staff
    return (
        bool((org.manager < 0).all()) and n <= MAX_SPRING_STAFF and 0 < len(org.indices) < 0.25 * n * (n - 1)
    )


def hierarchy_layout(org: Organisation) -> tuple[np.ndarray, np.ndarray]:
    """Positions of staff for drawing the line hierarchy top to bottom (vectorised, deterministic).

    Staff are put in depth-first order of the line hierarchy (sorted by organisation and
    by their chain of managers, one NumPy ``lexsort``). Staff who manage nobody above the
    frontline, and team leads, take evenly spaced slots in that order; every manager is
    centred over their direct reports (one pass per level, bottom up); frontline staff
    are stacked in a short column under their team lead, so a team reads as a column.
    y is minus the level (0 at the top). Partner organisations sit side by side with a
    gap. An organisation without a hierarchy fills a disc: a small sparse network (at most
    ``MAX_SPRING_STAFF`` people, a random graph) by a force-directed layout, so its ties,
    clusters and loners show; otherwise evenly (Vogel's sunflower spiral, in index order).

    Returns:
        x, y: (n,) float64 coordinates.
    """
    n = org.n_staff
    if n == 0:
        return np.empty(0), np.empty(0)
    manager = org.manager.astype(np.int64)
    level = org.level.astype(np.int64)
    if (manager < 0).all():
        if spring_drawn(org):
            return _spring(org)
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
    z = np.argsort(state != NOT_ADOPTED, kind="stable")
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
        ax.set_yticks(-levels.astype(float), [pretty(name) for name in org.level_names], fontsize=8)
        ax.tick_params(axis="y", length=0)
        ax.spines["left"].set_visible(False)
        if len(org.org_names) > 1:
            ax.set_ylim(top=0.9)
            for k, name in enumerate(org_labels(org.org_names)):
                mine = org.organisation == k
                if mine.any():
                    ax.text(
                        float(np.mean(x[mine & (org.level == org.level[mine].min())])),
                        0.4,
                        name,
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
        fig = frame(width, 0.9 + rows * width / cols, note)
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    else:
        panel_h = 0.7 + 0.45 * org.n_levels
        fig = frame(width, 1.0 + k * panel_h, note)
        axes = np.atleast_1d(fig.subplots(k, 1, squeeze=False).ravel())
    for ax, (week, st) in zip(axes, states.items(), strict=False):
        st = np.asarray(st)
        _draw_hierarchy(ax, org, st, xy, width / cols if flat else width)
        adopted = float(np.isin(st, ADOPTED).mean())
        when = f"Week {week}: " if week is not None and week >= 0 else ""
        text = f"{when}{share(adopted)} of {org.n_staff} staff have adopted"
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
