"""Live pictures of a run: the hierarchy view and adoption plots, redrawn in milliseconds per step.

``OrgView`` draws the organisation top to bottom (``sim.views.hierarchy.hierarchy_layout``,
computed once per organisation by the caller) with every person coloured by adoption
state; ``AdoptionPlot`` draws adoption over time, by state or by group; ``SplitHistogram``
and ``ThresholdPlot`` show the classic experiments (who adopted, by contacts or threshold;
exposure against threshold). Each keeps one matplotlib ``Figure`` (Agg canvas, no pyplot)
and redraws only what changes: the ties, axes and legend are rendered once into a
background and each frame repaints the dots, lines and title on top of it (blitting).
The teaching app (``sim.views.app_page``) and the animation writer (``sim.views.animate``)
show these pictures.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from sim.constants import ADOPTED, NOT_ADOPTED
from sim.org import CROSS_ORG, LINE, PEER, TEAM, Organisation
from sim.state import STATE_NAMES
from sim.views import style
from sim.views.hierarchy import hierarchy_layout, spring_drawn
from sim.views.style import GROUP_COLOURS, STATE_COLOURS, STATE_LABELS

FONT = 12
"""Base font size (points): readable on a projector at the app's image size."""
MAX_TIES = 30_000
"""Above this many ties none are drawn (a complete graph of 250 is already a grey wash)."""
CLASSIC_LABELS = {0: "Not adopted", 2: "Adopted"}
"""Legend of the classic rules, which know only two states (adopted is code 2)."""
SHORT_LABELS = {
    "not_adopted": "Not adopted",
    "complying": "Complying (because asked)",
    "committed": "Committed (it matters to them)",
    "lapsed": "Lapsed (stopped again)",
}
"""State legend of the hierarchy view (``sim.views.figures.STATE_LABELS`` in fewer words)."""


def pretty(name: str) -> str:
    """A group or level name in plain words: ``team_lead`` -> ``Team lead``, ``nhs_trust_0`` -> NHS trust."""
    words = {"ahp": "Allied health", "admin": "Administrative", "social_care": "Social care"}.get(name)
    return words or style.pretty(name)


def state_legend(full_model: bool, short: bool = False) -> list[tuple[int, str, str]]:
    """(state code, colour, label) of the states a rule can produce."""
    if full_model:
        labels = SHORT_LABELS if short else STATE_LABELS
        return [(k, STATE_COLOURS[s], labels[s]) for k, s in enumerate(STATE_NAMES)]
    return [(k, STATE_COLOURS[STATE_NAMES[k]], label) for k, label in CLASSIC_LABELS.items()]


def _share(x: float) -> str:
    return f"{100 * x:.1f}%" if 0 < x < 0.1 else f"{100 * x:.0f}%"


class _Blitted:
    """A figure whose static part is rendered once; ``rgba`` repaints only the animated artists.

    Blitting because a full redraw of the page's four pictures at 500 staff takes about
    200 ms, and repainting dots and lines over the saved background about 35 ms.
    """

    def __init__(self, width_in: float, height_in: float, dpi: int, constrained: bool = False) -> None:
        self.fig = Figure(
            figsize=(width_in, height_in), dpi=dpi, layout="constrained" if constrained else None
        )
        self.canvas = FigureCanvasAgg(self.fig)
        self._animated: list[Any] = []
        self._background: Any = None

    def animate(self, *artists: Any) -> None:
        """Mark artists as changing every frame (left out of the background)."""
        for a in artists:
            a.set_animated(True)
            self._animated.append(a)

    def rgba(self) -> np.ndarray:
        """(h, w, 4) uint8 image of the current frame."""
        if self._background is None:
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.canvas.restore_region(self._background)
        for a in self._animated:
            if a.axes is not None:
                a.axes.draw_artist(a)
            else:
                self.fig.draw_artist(a)
        return np.asarray(self.canvas.buffer_rgba())

    def png(self) -> bytes:
        """The current frame as a palette PNG (redrawn every step, so encoding must be quick).

        A 64-colour palette (fast octree) keeps the flat colours of states and groups and
        takes about 7 ms at 560 x 400, against about 18 ms for a full-colour PNG at zlib
        level 1, and the file is a quarter of the size (less to send to the browser).
        """
        buf = io.BytesIO()
        rgb = Image.fromarray(self.rgba()).convert("RGB")
        rgb.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def jpeg(self, quality: int = 92) -> bytes:
        """The current frame as JPEG (about 3 ms against 12 ms for the palette PNG; what the app sends).

        Full chroma resolution (no 4:2:0 subsampling) and quality 92 keep thin lines and
        small text free of visible artefacts on a projector.
        """
        buf = io.BytesIO()
        Image.fromarray(self.rgba()).convert("RGB").save(buf, format="jpeg", quality=quality, subsampling=0)
        return buf.getvalue()


class OrgView(_Blitted):
    """The organisation drawn as its line hierarchy, each person coloured by adoption state.

    Levels run top to bottom (names on the left), each frontline team is a short column
    under its team lead; line-management ties are darker than team and peer ties, and
    cross-organisation ties are purple. An organisation without a hierarchy (a random or
    complete graph) fills a disc. Adopters are drawn on top of the grey majority.

    Args:
        org: the organisation.
        xy: (x, y) positions from ``hierarchy_layout(org)`` (pass them in so the layout is
            computed once per organisation, not once per picture).
        full_model: legend of the full model (four states) or of a classic rule (two).
        width_in, height_in, dpi: size of the picture.
        title: a fixed title, drawn once with the ties; ``None`` (default): every frame is
            titled with its week and the share adopted (a frame on its own, as in an
            animation, needs that; a page that prints both beside the picture does not,
            and the text costs about 5 of the 7 ms a frame takes).
    """

    def __init__(
        self,
        org: Organisation,
        xy: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        full_model: bool = True,
        width_in: float = 5.6,
        height_in: float = 4.0,
        dpi: int = 100,
        title: str | None = None,
    ) -> None:
        super().__init__(width_in, height_in, dpi)
        self.org = org
        self.full_model = full_model
        x, y = hierarchy_layout(org) if xy is None else xy
        self.xy = np.c_[x, y]
        self.flat = bool((org.manager < 0).all())
        self.force_layout = self.flat and spring_drawn(org)
        legend = state_legend(full_model, short=True)
        self.palette = np.array([STATE_COLOURS[s] for s in STATE_NAMES])
        right = 0.93 if len(org.org_names) > 1 else 0.98  # room for the last partner's name
        self.fig.subplots_adjust(left=0.16 if not self.flat else 0.02, right=right, top=0.9, bottom=0.2)
        ax = self.ax = self.fig.add_subplot()
        self._draw_ties(ax)
        self.size = self._dot_sizes(width_in)
        # One marker line per (dot size, state): Agg stamps a marker of one size from a cache,
        # which draws 2,000 dots in a few milliseconds (a scatter of varied sizes takes ~50 ms).
        self.size_group = np.unique(self.size, return_inverse=True)[1].reshape(-1)
        self.dots = [
            [
                ax.plot([], [], ls="", marker="o", ms=float(np.sqrt(sz)), mfc=self.palette[k], mec="white",
                        mew=0.25, zorder=3 + k % 3)[0]
                for k in range(len(self.palette))
            ]
            for sz in np.unique(self.size)
        ]  # fmt: skip
        self.live_title = title is None
        self.title = self.fig.text(0.01, 0.97, title or "", fontsize=FONT + 1, fontweight="bold", va="top")
        self.animate(*(d for row in self.dots for d in row))
        if self.live_title:
            self.animate(self.title)
        self._axes_style(ax, x)
        handles = [Line2D([], [], ls="", marker="o", ms=9, color=c, label=label) for _, c, label in legend]
        self.fig.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(0.01, 0.0),
            ncols=2,
            fontsize=FONT - 1.5,
            frameon=False,
            handletextpad=0.3,
            columnspacing=1.0,
        )

    def _draw_ties(self, ax: Any) -> None:
        org, (x, y) = self.org, self.xy.T
        src = org.tie_sources()
        keep = src < org.indices
        u, v, kind = src[keep], org.indices[keep].astype(np.int64), org.tie_kind[keep]
        if not self.flat:
            # A frontline column already shows its team: its line and team ties would draw
            # one thick bar over the dots.
            column = y < -org.level.astype(np.float64) - 1e-9
            column |= (org.level == org.level.max()) & (org.manager >= 0) & ~org.has_reports
            member = (kind == LINE) | (kind == TEAM)
            drop = member & (column[u] | column[v])
            u, v, kind = u[~drop], v[~drop], kind[~drop]
        n = org.n_staff
        if n > 1 and len(u) >= 0.5 * n * (n - 1) / 2 or len(u) > MAX_TIES:
            note = "everyone is tied to everyone" if len(u) >= 0.5 * n * (n - 1) / 2 else f"{len(u):,} ties"
            ax.text(
                0.5,
                -0.02,
                f"{note}: ties not drawn",
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize=FONT - 2,
                color="#555555",
            )
            return
        faint = 0.3 if org.n_staff <= 300 else 0.15 if org.n_staff <= 1500 else 0.08
        if self.force_layout:  # a small network: its ties are the story
            faint = 0.45
        for mask, colour, width, alpha in (
            ((kind == TEAM) | (kind == PEER), "#888888", 0.4, faint),
            (kind == CROSS_ORG, "#6A3D9A", 0.8, 0.6),
            (kind == LINE, "#444444", 0.6, 0.5),
        ):
            if mask.any():
                seg = np.stack([np.c_[x[u[mask]], y[u[mask]]], np.c_[x[v[mask]], y[v[mask]]]], axis=1)
                ax.add_collection(LineCollection(seg, colors=colour, linewidths=width, alpha=alpha, zorder=1))

    def _dot_sizes(self, width_in: float) -> np.ndarray:
        org, x = self.org, self.xy[:, 0]
        n = org.n_staff
        if self.flat:  # share the disc's area: diameter ~ sqrt(area / n)
            per = 72.0 * 0.6 * width_in * np.sqrt(np.pi / 4.0 / max(n, 1))
            # A force layout crowds the middle and its ties are the story: smaller dots.
            fill = 0.55 if self.force_layout else 0.8
            return np.full(n, float(np.clip((fill * per) ** 2, 2.0, 90.0)))
        per = 72.0 * 0.85 * width_in / max(float(np.ptp(x)) + 1.0, 1.0)
        base = float(np.clip((0.9 * per) ** 2, 3.0, 60.0))
        top = max(int(org.level.max()), 1)
        return base * (1.0 + 2.5 * (top - org.level.astype(np.float64)) / top)

    def _axes_style(self, ax: Any, x: np.ndarray) -> None:
        org = self.org
        ax.update_datalim(self.xy)  # dots are drawn per frame: limits from everyone, not the ties
        ax.autoscale_view()
        ax.margins(x=0.02, y=0.06)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.set_xticks([])
        if self.flat:
            ax.set_yticks([])
            ax.set_aspect("equal")
            return
        levels = np.arange(org.n_levels)
        ax.set_yticks(-levels.astype(float), [pretty(n) for n in org.level_names], fontsize=FONT - 1)
        ax.tick_params(axis="y", length=0)
        if len(org.org_names) > 1:
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, max(hi, 1.2))
            short = {"Independent provider": "Independent", "Voluntary organisation": "Voluntary"}
            for k, name in enumerate(style.org_labels(org.org_names)):
                name = short.get(name, name)
                mine = org.organisation == k
                if mine.any():
                    top = mine & (org.level == org.level[mine].min())
                    # Two short lines at alternating heights: small partners sit close together.
                    ax.text(
                        float(np.mean(x[top])),
                        0.3 + 0.45 * (k % 2),
                        "\n".join(textwrap.wrap(name, 12)),
                        ha="center",
                        va="bottom",
                        fontsize=FONT - 3,
                        fontweight="bold",
                        linespacing=0.95,
                    )

    def update(self, state: np.ndarray, week: int) -> OrgView:
        """Colour everyone by ``state`` ((n,) codes) and title the picture with the week (unless fixed)."""
        state = np.asarray(state).astype(np.int64)
        key = self.size_group * len(self.palette) + state
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(len(self.dots) * len(self.palette) + 1))
        for g, row in enumerate(self.dots):
            for k, line in enumerate(row):
                idx = order[bounds[g * len(self.palette) + k] : bounds[g * len(self.palette) + k + 1]]
                line.set_data(self.xy[idx, 0], self.xy[idx, 1])
        if not self.live_title:
            return self
        adopted = float(np.isin(state, ADOPTED).mean()) if len(state) else 0.0
        unit, people = ("Week", "staff") if self.full_model else ("Step", "people")
        self.title.set_text(f"{unit} {week}: {_share(adopted)} of {self.org.n_staff:,} {people} have adopted")
        return self


class AdoptionPlot(_Blitted):
    """Share of staff over time: by adoption state, or adopted by level, profession or organisation.

    Args:
        labels: group labels of the model's counts (``ChangeModel.group_labels``).
        dimension: ``state`` (one line per adoption state, everyone) or ``level``,
            ``profession``, ``organisation`` (share adopted in each group that has staff).
        sizes: (G,) staff per group (from ``counts[0].sum(-1)``), to leave out empty groups.
        n_steps: the x-axis runs 0..n_steps.
        full_model: four states (full model) or two (classic rules).
    """

    TITLES = {
        "state": "Adoption by state",
        "level": "Adopted, by level in the hierarchy",
        "profession": "Adopted, by profession",
        "organisation": "Adopted, by partner organisation",
    }

    def __init__(
        self,
        labels: Sequence[tuple[str, str]],
        dimension: str,
        sizes: np.ndarray,
        n_steps: int,
        *,
        full_model: bool = True,
        width_in: float = 5.6,
        height_in: float = 4.0,
        dpi: int = 100,
    ) -> None:
        super().__init__(width_in, height_in, dpi, constrained=True)
        self.dimension = dimension
        ax = self.ax = self.fig.add_subplot()
        self.lines: list[tuple[Any, Any]] = []  # (line, function of counts (T, G, 4) -> (T,) share)
        if dimension == "state":
            for code, colour, label in state_legend(full_model):
                line = ax.plot([], [], color=colour, lw=2.6, label=label.split(" (")[0])[0]
                self.lines.append((line, lambda c, k=code: c[:, 0, k] / np.maximum(c[:, 0].sum(-1), 1)))
        else:
            groups = [g for g, (d, _) in enumerate(labels) if d == dimension and sizes[g] > 0]
            for k, g in enumerate(groups):
                colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
                style = "-" if k < len(GROUP_COLOURS) else "--"
                line = ax.plot([], [], color=colour, lw=2.2, ls=style, label=pretty(labels[g][1]))[0]
                self.lines.append(
                    (line, lambda c, g=g: c[:, g, 1:3].sum(-1) / np.maximum(c[:, g].sum(-1), 1))
                )
            if len(groups) == 1:
                ax.text(
                    0.5,
                    0.5,
                    f"everyone is in one {dimension} here",
                    transform=ax.transAxes,
                    ha="center",
                    fontsize=FONT - 1,
                    color="#777777",
                )
        ax.set_xlim(0, max(n_steps, 1))
        ax.set_ylim(-2, 102)
        ax.set_xlabel("Week" if full_model else "Step", fontsize=FONT)
        ax.set_ylabel("Share of staff (%)" if dimension == "state" else "Adopted (%)", fontsize=FONT)
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(alpha=0.3)
        ax.set_title(self.TITLES[dimension], fontsize=FONT + 1, fontweight="bold", loc="left")
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            fontsize=FONT - 1.5,
            frameon=False,
            borderaxespad=0.0,
            handlelength=1.5,
        )
        self.animate(*(line for line, _ in self.lines))

    def update(self, counts: np.ndarray) -> AdoptionPlot:
        """Draw the series up to now from ``counts`` ((T+1, G, 4), ``ChangeModel.counts``)."""
        t = np.arange(len(counts))
        for line, share in self.lines:
            line.set_data(t, 100.0 * share(counts))
        return self


def contact_share(org: Organisation, state: np.ndarray) -> np.ndarray:
    """(n,) share of each person's contacts who have adopted (0 with no contacts).

    Unweighted: the classic threshold models' exposure (Granovetter 1978; Watts 2002);
    the full model weights contacts by trust and authority.
    """
    adopted = np.isin(state, ADOPTED).astype(np.float64)
    per_tie = adopted[org.indices]
    sums = np.add.reduceat(per_tie, org.indptr[:-1]) if len(per_tie) else np.zeros(org.n_staff)
    degree = org.degree
    sums = np.where(degree > 0, sums, 0.0)
    return np.divide(sums, degree, out=np.zeros(org.n_staff), where=degree > 0)


class SplitHistogram(_Blitted):
    """How many people have each value of an attribute, split into adopted and not yet.

    Args:
        values: (n,) the attribute (number of contacts, threshold, ...).
        bins: bin edges.
        title, xlabel: words for the reader.
    """

    def __init__(
        self,
        values: np.ndarray,
        bins: np.ndarray,
        title: str,
        xlabel: str,
        *,
        width_in: float = 5.6,
        height_in: float = 4.0,
        dpi: int = 100,
    ) -> None:
        super().__init__(width_in, height_in, dpi, constrained=True)
        self.which = np.clip(np.digitize(values, bins) - 1, 0, len(bins) - 2)
        self.n_bins = len(bins) - 1
        ax = self.ax = self.fig.add_subplot()
        total = np.bincount(self.which, minlength=self.n_bins)
        left, width = bins[:-1], np.diff(bins) * 0.9
        colour = {s: STATE_COLOURS[s] for s in ("not_adopted", "committed")}
        self.yes = ax.bar(left, total, width=width, align="edge", color=colour["committed"], label="Adopted")
        self.no = ax.bar(
            left, total, width=width, align="edge", color=colour["not_adopted"], label="Not adopted"
        )
        ax.set_xlim(bins[0], bins[-1])
        ax.set_ylim(0, max(int(total.max()), 1) * 1.3)  # headroom for the legend
        ax.set_xlabel(xlabel, fontsize=FONT)
        ax.set_ylabel("People", fontsize=FONT)
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(alpha=0.3, axis="y")
        ax.set_title(title, fontsize=FONT + 1, fontweight="bold", loc="left")
        ax.legend(loc="upper right", fontsize=FONT - 1.5, frameon=False, ncols=2)
        self.animate(*self.yes.patches, *self.no.patches)

    def update(self, state: np.ndarray) -> SplitHistogram:
        """Split every bar by who has adopted now."""
        adopted = np.isin(state, ADOPTED)
        yes = np.bincount(self.which[adopted], minlength=self.n_bins)
        no = np.bincount(self.which[~adopted], minlength=self.n_bins)
        for bar_yes, bar_no, y, m in zip(self.yes.patches, self.no.patches, yes, no, strict=True):
            bar_yes.set_height(y)
            bar_no.set_y(y)
            bar_no.set_height(m)
        return self


class ThresholdPlot(_Blitted):
    """Everyone's exposure against their threshold: the threshold rule at a glance.

    A person adopts at the next step once the share of their contacts who have adopted
    reaches their threshold, i.e. once their dot is on or above the diagonal.
    """

    def __init__(
        self, threshold: np.ndarray, *, width_in: float = 5.6, height_in: float = 4.0, dpi: int = 100
    ) -> None:
        super().__init__(width_in, height_in, dpi, constrained=True)
        self.threshold = np.asarray(threshold, dtype=np.float64)
        ax = self.ax = self.fig.add_subplot()
        hi = max(1.0, float(self.threshold.max()) if len(self.threshold) else 1.0)
        ax.fill_between([0, hi], [0, hi], [1.05, 1.05], color="#0072B2", alpha=0.07, lw=0)
        ax.plot([0, hi], [0, hi], color="#333333", lw=1.2, ls="--")
        ax.text(
            0.03,
            0.95,
            "on or above the line: adopts next step",
            transform=ax.transAxes,
            fontsize=FONT - 1.5,
            va="top",
            color="#333333",
        )
        self.palette = np.array([STATE_COLOURS[s] for s in STATE_NAMES])
        n = len(self.threshold)
        size = float(np.clip(4000.0 / max(n, 1), 12.0, 40.0))
        self.dots = ax.scatter(self.threshold, np.zeros(n), s=size, c=self.palette[0], linewidths=0)
        ax.set_xlim(-0.02 * hi, hi * 1.02)
        ax.set_ylim(-0.03, 1.05)
        ax.set_xlabel("Threshold: share of contacts needed", fontsize=FONT)
        ax.set_ylabel("Share of contacts adopted", fontsize=FONT)
        ax.tick_params(labelsize=FONT - 1)
        ax.grid(alpha=0.3)
        ax.set_title("Who is about to adopt", fontsize=FONT + 1, fontweight="bold", loc="left")
        self.animate(self.dots)

    def update(self, state: np.ndarray, exposure: np.ndarray) -> ThresholdPlot:
        """Place everyone at (threshold, exposure), coloured by state (not adopted on top)."""
        state = np.asarray(state)
        order = np.argsort(state == NOT_ADOPTED, kind="stable")
        self.dots.set_offsets(np.c_[self.threshold[order], np.asarray(exposure)[order]])
        self.dots.set_facecolor(self.palette[state[order].astype(np.int64)])
        return self
