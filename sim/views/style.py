"""Shared look of changesim's figures: colours, labels and the figure frame with its source note.

One place for the Okabe-Ito colours of the adoption states and groups, plain names for
groups, and the constrained-layout frame every report figure uses, so the run figures
(``sim.views.figures``), the hierarchy drawings (``sim.views.hierarchy``) and the live views
of the app (``sim.views.live``) look alike.
"""

from __future__ import annotations

import itertools
import re
import textwrap

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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


ORG_KIND_WORDS = {
    "nhs_trust": "NHS trust",
    "local_authority": "Local authority",
    "independent": "Independent provider",
    "voluntary": "Voluntary organisation",
}
"""Partner organisations of an integrated care system, by kind, as people name them."""


def org_labels(names: list[str] | tuple[str, ...]) -> list[str]:
    """Plain names of partner organisations: ``nhs_trust_0`` -> ``NHS trust``.

    Two partners of one kind are told apart by a letter (``NHS trust A``, ``NHS trust B``);
    a name that is not ``<kind>_<number>`` (an org chart's own name) is kept as it is.
    """
    kinds = [re.sub(r"_\d+$", "", n) for n in names]
    out = []
    for name, kind in zip(names, kinds, strict=True):
        if kind not in ORG_KIND_WORDS:
            out.append(name)
            continue
        same = [i for i, k in enumerate(kinds) if k == kind]
        suffix = f" {chr(65 + same.index(len(out)))}" if len(same) > 1 else ""
        out.append(ORG_KIND_WORDS[kind] + suffix)
    return out


def pretty(name: str) -> str:
    """A group name as people say it: ``ahp`` -> Allied health professional, ``nhs_trust`` -> NHS trust."""
    if name in GROUP_LABELS:
        return GROUP_LABELS[name]
    if re.sub(r"_\d+$", "", name) in ORG_KIND_WORDS:
        return org_labels([name])[0]
    words = name.replace("_", " ").capitalize()
    return words.replace("Nhs ", "NHS ").replace(" nhs ", " NHS ")


def share(x: float) -> str:
    """A share as a percentage: one decimal below 10%, none above."""
    return f"{100 * x:.1f}%" if x < 0.1 else f"{100 * x:.0f}%"


def frame(width: float, height: float, note: str) -> Figure:
    """A constrained-layout figure with a strip at the bottom for the source note."""
    fig = Figure(figsize=(width, height), layout="constrained")
    lines = textwrap.wrap(note, width=int(width * 15)) or [""]
    strip = (0.12 + 0.13 * len(lines)) / height
    fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    fig.text(0.01, 0.02 / height, "\n".join(lines), fontsize=7, color="#555555", va="bottom", ha="left")
    return fig


def title(fig: Figure, title: str) -> None:
    """The figure's bold title, left-aligned."""
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")


def label_cells(
    ax: Axes,
    shares: pd.DataFrame,
    half_widths: pd.DataFrame | None = None,
    fontsize: float = 8,
    dark_below: float = 0.6,
) -> None:
    """Write each cell of a heatmap of shares in percent, with its 95% half-width under it if given.

    ``shares`` is the table drawn with ``ax.imshow`` (row i at y = i, column j at x = j), values
    in [0, 1]; ``half_widths`` has its shape. Text is white on cells below ``dark_below``, the
    dark end of viridis and cividis, and black above.
    """
    for i, j in itertools.product(range(shares.shape[0]), range(shares.shape[1])):
        v = shares.iat[i, j]
        text = (
            f"{100 * v:.0f}" if half_widths is None else f"{100 * v:.0f}\n±{100 * half_widths.iat[i, j]:.0f}"
        )
        ax.text(
            j,
            i,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color="white" if v < dark_below else "black",
        )
