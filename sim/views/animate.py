"""Pictures of a run as it happens: the hierarchy view, live adoption plots, and GIF/MP4 export.

``OrgView`` draws the organisation top to bottom (``sim.views.figures.hierarchy_layout``,
computed once per organisation by the caller) with every person coloured by adoption
state; ``AdoptionPlot`` draws adoption over time, by state or by group. Both keep one
matplotlib ``Figure`` (Agg canvas, no pyplot) and redraw only what changes: the ties,
axes and legend are rendered once into a background and each frame repaints the dots,
lines and title on top of it (blitting), so a frame of 2,000 staff costs milliseconds.
The teaching app (``sim.views.app``) shows the same pictures.

``animate(scenario, out_path, n_steps, fps)`` runs a preset or config headless and writes
the hierarchy view over time as a GIF (Pillow) or an MP4 (the ``ffmpeg`` program).
Command line: ``python -m sim.views.animate --preset "co-design" --out co_design.gif``.
"""

from __future__ import annotations

import argparse
import io
import itertools
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from sim.org import CROSS_ORG, LINE, PEER, TEAM, Organisation
from sim.state import STATE_NAMES
from sim.views.figures import GROUP_COLOURS, STATE_COLOURS, STATE_LABELS, hierarchy_layout

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
    """A group or level name in plain words: ``team_lead`` -> ``Team lead``, NHS capitalised."""
    words = {"ahp": "Allied health", "admin": "Administrative", "social_care": "Social care"}.get(name)
    words = words or name.replace("_", " ").capitalize()
    return words.replace("Nhs ", "NHS ").replace(" nhs", " NHS")


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
        """The current frame as PNG bytes (fast zlib level: these are redrawn every step)."""
        buf = io.BytesIO()
        Image.fromarray(self.rgba()).convert("RGB").save(buf, format="png", compress_level=1)
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
    ) -> None:
        super().__init__(width_in, height_in, dpi)
        self.org = org
        self.full_model = full_model
        x, y = hierarchy_layout(org) if xy is None else xy
        self.xy = np.c_[x, y]
        self.flat = bool((org.manager < 0).all())
        legend = state_legend(full_model, short=True)
        self.palette = np.array([STATE_COLOURS[s] for s in STATE_NAMES])
        right = 0.93 if len(org.org_names) > 1 else 0.98  # room for the last partner's name
        self.fig.subplots_adjust(left=0.16 if not self.flat else 0.02, right=right, top=0.9, bottom=0.2)
        ax = self.ax = self.fig.add_subplot()
        self._draw_ties(ax)
        self.size = self._dot_sizes(width_in)
        self.dots = ax.scatter(x, y, s=self.size, c=self.palette[0], linewidths=0.25, edgecolors="white")
        self.dots.set_zorder(3)
        self.title = self.fig.text(0.01, 0.97, "", fontsize=FONT + 1, fontweight="bold", va="top")
        self.animate(self.dots, self.title)
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
            return np.full(n, float(np.clip((0.8 * per) ** 2, 2.0, 90.0)))
        per = 72.0 * 0.85 * width_in / max(float(np.ptp(x)) + 1.0, 1.0)
        base = float(np.clip((0.9 * per) ** 2, 3.0, 60.0))
        top = max(int(org.level.max()), 1)
        return base * (1.0 + 2.5 * (top - org.level.astype(np.float64)) / top)

    def _axes_style(self, ax: Any, x: np.ndarray) -> None:
        org = self.org
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
            for k, name in enumerate(org.org_names):
                mine = org.organisation == k
                if mine.any():
                    top = mine & (org.level == org.level[mine].min())
                    # Alternate heights: small partners sit close together.
                    ax.text(
                        float(np.mean(x[top])),
                        0.35 + 0.45 * (k % 2),
                        pretty(name).rsplit(" ", 1)[0],
                        ha="center",
                        fontsize=FONT - 2,
                        fontweight="bold",
                    )

    def update(self, state: np.ndarray, week: int) -> OrgView:
        """Colour everyone by ``state`` ((n,) codes) and title the picture with the week."""
        state = np.asarray(state)
        order = np.argsort(state != 0, kind="stable")  # adopters drawn last, on top
        self.dots.set_offsets(self.xy[order])
        self.dots.set_facecolor(self.palette[state[order].astype(np.int64)])
        self.dots.set_sizes(self.size[order])
        adopted = float(np.isin(state, (1, 2)).mean()) if len(state) else 0.0
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
    adopted = np.isin(state, (1, 2)).astype(np.float64)
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
        adopted = np.isin(state, (1, 2))
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
        order = np.argsort(state == 0, kind="stable")
        self.dots.set_offsets(np.c_[self.threshold[order], np.asarray(exposure)[order]])
        self.dots.set_facecolor(self.palette[state[order].astype(np.int64)])
        return self


# --- export ---


def _scenario(scenario: Any) -> tuple[Any, int, str]:
    """(preset or config dict, steps worth watching, name) of what ``animate`` was given."""
    from sim.views import presets

    if isinstance(scenario, str):
        scenario = presets.get(scenario)
    if isinstance(scenario, presets.Preset):
        return scenario, scenario.n_steps, scenario.name
    if isinstance(scenario, Mapping):
        from sim.params import from_dict

        return dict(scenario), from_dict(scenario).n_steps, "custom scenario"
    kind = type(scenario).__name__
    raise TypeError(f"scenario must be a preset name, a Preset or a config dict, not {kind}")


def frames(
    scenario: Any,
    n_steps: int | None = None,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    curve: bool = True,
    dpi: int = 80,
) -> Any:
    """Yield one RGB image ((h, w, 3) uint8) per step 0..n_steps of a fresh run.

    Left: the hierarchy view; right (``curve``): adoption by state so far.
    """
    from sim.views import presets

    scenario, default_steps, name = _scenario(scenario)
    n_steps = default_steps if n_steps is None else int(n_steps)
    model = presets.model_for(scenario, seed=seed, overrides=overrides)
    full = model.full_model
    view = OrgView(model.org, full_model=full, width_in=7.2, height_in=4.6, dpi=dpi)
    plot = None
    if curve:
        plot = AdoptionPlot(
            model.group_labels,
            "state",
            model.counts[0].sum(-1),
            n_steps,
            full_model=full,
            width_in=5.0,
            height_in=4.6,
            dpi=dpi,
        )
    for t in range(n_steps + 1):
        if t > 0:
            model.step()
        left = view.update(model.state.state, t).rgba()[..., :3]
        if plot is None:
            yield left.copy()
            continue
        right = plot.update(model.counts).rgba()[..., :3]
        yield np.concatenate([left, right], axis=1)


def animate(
    scenario: Any,
    out_path: str | Path,
    n_steps: int | None = None,
    fps: float = 5.0,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    curve: bool = True,
    dpi: int = 80,
) -> Path:
    """Write the hierarchy view of a run over time as a GIF or MP4 (by ``out_path``'s suffix).

    Args:
        scenario: a preset name, a ``sim.views.presets.Preset`` or a nested config dict.
        out_path: ``.gif`` (Pillow) or ``.mp4`` (needs the ``ffmpeg`` program).
        n_steps: steps to run (default: the preset's, or the config's ``n_steps``); the
            file has ``n_steps + 1`` frames (the start, then one per step).
        fps: frames (steps) per second.
        seed: the replicate's seed.
        overrides: dotted-key config overrides, e.g. ``{"org.n_staff": 200}``.
        curve: add the adoption-by-state plot beside the hierarchy.
        dpi: resolution (80 gives a 920 x 370 pixel GIF with the curve).

    Returns:
        The path written.

    Raises:
        ValueError: an unsupported suffix, or fps not positive.
        RuntimeError: ``.mp4`` without ``ffmpeg`` on the PATH (the message suggests .gif).
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"{out}: write a .gif (Pillow) or an .mp4 (ffmpeg), not {suffix or 'no suffix'!r}")
    if not fps > 0:
        raise ValueError(f"fps={fps} must be positive")
    ffmpeg = shutil.which("ffmpeg")
    if suffix == ".mp4" and ffmpeg is None:
        raise RuntimeError(
            f"writing {out.name} needs the ffmpeg program, which is not on the PATH "
            "(install it: apt-get install ffmpeg); or write a GIF instead: "
            f"--out {out.with_suffix('.gif').name}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    images = frames(scenario, n_steps, seed=seed, overrides=overrides, curve=curve, dpi=dpi)
    if suffix == ".gif":
        _write_gif(images, tmp, fps)
    else:
        _write_mp4(images, tmp, fps, ffmpeg)
    tmp.replace(out)
    return out


SWATCHES = (*STATE_COLOURS.values(), *GROUP_COLOURS[:6], "#444444", "#888888", "#6A3D9A", "#000000")
"""Colours a GIF frame's palette must hold exactly."""


def _rgb(colour: str) -> tuple[int, int, int]:
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _write_gif(images: Any, path: Path, fps: float) -> None:
    # One palette for every frame and no dithering: flat colours compress well (a 104-week
    # run of 500 staff: ~300 KiB, not MBs). Blocks of the exact state and group colours
    # beside the first frame make median cut keep those colours exact.
    first = next(images)
    width = first.shape[1]
    blocks = [np.full((48, width // len(SWATCHES), 3), _rgb(c), np.uint8) for c in SWATCHES]
    swatch = np.concatenate(blocks, axis=1)
    swatch = np.pad(swatch, ((0, 0), (0, width - swatch.shape[1]), (0, 0)), constant_values=255)
    sample = Image.fromarray(np.concatenate([first, swatch]))
    palette = sample.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    pics = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
        for f in itertools.chain([first], images)
    ]
    pics[0].save(
        path, format="gif", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0
    )


def _write_mp4(images: Any, path: Path, fps: float, ffmpeg: str) -> None:
    first = next(images)
    h, w = first.shape[:2]
    cmd = [
        ffmpeg,
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        f"{fps:g}",
        "-i",
        "-",
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mp4",
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        proc.stdin.write(np.ascontiguousarray(first).tobytes())
        for frame in images:
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed (exit {proc.returncode}): {err.strip()}")


# --- command line ---


def _value(text: str) -> Any:
    """A command-line value as bool, int, float or str."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--preset NAME --out FILE`` options, or ``key=value`` words.

    ``key=value`` words (for ``changesim animate scenario=... out=...``): ``scenario``
    (or ``preset``), ``out``, ``n_steps``, ``fps``, ``seed``, ``curve``; any dotted key
    (``org.n_staff=300``) overrides the configuration. Returns the exit code.
    """
    from sim.params import ConfigError
    from sim.views import presets

    parser = argparse.ArgumentParser(
        prog="changesim animate",
        description="Write the hierarchy view of a run over time as a GIF or MP4.",
        epilog="Presets: " + "; ".join(presets.NAMES),
    )
    parser.add_argument("--preset", "--scenario", dest="scenario", default=None, help="preset name")
    parser.add_argument("--out", default=None, help="output file, .gif or .mp4 (default: <preset>.gif)")
    parser.add_argument("--n-steps", type=int, default=None, help="steps to run (default: the preset's)")
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="replicate seed (default 0)")
    parser.add_argument("--no-curve", dest="curve", action="store_false", help="hierarchy view only")
    parser.add_argument("words", nargs="*", help="key=value settings, e.g. scenario=co-design out=x.gif")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for word in args.words:
        key, sep, text = word.partition("=")
        if not sep:
            parser.error(f"{word!r} is not key=value")
        key = key.strip().lstrip("+")
        if key in ("scenario", "preset"):
            args.scenario = text
        elif key == "out":
            args.out = text
        elif key in ("n_steps", "fps", "seed"):
            setattr(args, key, _value(text))
        elif key == "curve":
            args.curve = bool(_value(text))
        else:
            overrides[key] = _value(text)
    if args.scenario is None:
        parser.error("choose a preset: --preset NAME (or scenario=NAME)")
    out = args.out or presets.get(args.scenario).name.replace(" ", "_").replace("'", "") + ".gif"
    try:
        path = animate(
            args.scenario, out, args.n_steps, args.fps, seed=args.seed, overrides=overrides, curve=args.curve
        )
    except (KeyError, ConfigError, ValueError, RuntimeError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
