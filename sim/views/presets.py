"""Named scenarios for teaching: each a configuration plus a one-line story in plain words.

A ``Preset`` is a nested config dict (``sim.params`` keys), optionally with explicit
per-person ``thresholds`` and ``initial_adopters`` arrays for the classic experiments
that need them (Granovetter's riot; the frozen middle's resistant managers), the number
of steps worth watching, and a one-line description. The teaching app (``sim.views.app``) and
the animation writer (``sim.views.animate``) build their models with ``model_for``.

The full-model presets share one calibrated base (``CALIBRATED``, read from
``configs/scenario/change_base.yaml``): a change that spreads slowly on its own, so the
levers of the IHI Psychology of Change Framework show. "Help it happen" and "make it
happen" are the two ways of leading change that Greenhalgh et al. (2004) contrast (and
that "let it happen" leaves to chance).

Example:
    ``model = model_for(get("co-design"), seed=3); model.step()``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from sim import scenarios

CALIBRATED: dict[str, Any] = scenarios.calibrated_base()
"""Base of every full-model preset (rule ``change``): ``configs/scenario/change_base.yaml``."""

HELP_IT_HAPPEN: dict[str, Any] = {
    "seeding": {"strategy": "motivation"},
    "co_design": {"on": True},
    "motivation": {"recognition": 0.02},
    "relationships": {"trust_growth": 0.02},
    "adaptation": {"adapt": True},
    "power": {"mode": "distributed", "failure_response": 1.0},
}
"""Overlay of leadership levers (sim.levers) on the calibrated base: start with the willing,
co-design, distribute power, meet failure as learning, recognise, adapt."""

MAKE_IT_HAPPEN: dict[str, Any] = {
    "seeding": {"strategy": "top"},
    "mandate": {"on": True, "end": 52, "strength": 0.8},
    "power": {"mode": "centralised", "failure_response": 0.0},
}
"""Overlay of leadership levers (sim.levers) on the calibrated base: start at the top,
mandate for a year, decide centrally (as the base does), meet failure with blame."""

FULL_MODEL_WEEKS = 104
"""Steps worth watching in the full-model presets: two years of weeks."""

CLASSROOM_STAFF = 500
"""Organisation size of the single-organisation presets: big enough for the levels and
professions to show, small enough to see every person and to step in real time."""


merge = scenarios.merge
"""Deep merge of nested config dicts (``sim.scenarios.merge``)."""


@dataclass
class Preset:
    """One named scenario.

    Attributes:
        name: the name shown in the picker.
        description: one sentence in plain words: what to set up and what to watch for.
        config: nested config dict (``sim.params.from_dict`` keys).
        n_steps: steps worth watching (weeks for the full model).
        thresholds: (n,) explicit thresholds, or None to draw them from the config.
        initial_adopters: explicit initial adopters (indices), or None to use ``seeding``.
    """

    name: str
    description: str
    config: dict[str, Any]
    n_steps: int = FULL_MODEL_WEEKS
    thresholds: np.ndarray | None = None
    initial_adopters: np.ndarray | None = None

    @property
    def fixed_size(self) -> bool:
        """True when explicit per-person arrays pin the organisation's size."""
        return self.thresholds is not None or self.initial_adopters is not None

    @property
    def full_model(self) -> bool:
        """True for the psychology-of-change rule (``change``), False for the classic rules."""
        return self.config.get("dynamics", {}).get("rule") == "change"


# --- the presets that need explicit arrays ---


def _granovetter(n: int = 100, moved: bool = False) -> Preset:
    """Granovetter (1978): thresholds 0, 1, ..., n-1 of the n-1 others in a complete graph."""
    thresholds = np.arange(n, dtype=np.float64) / (n - 1)
    if moved:
        # The one change that stops the riot: person 1 now waits for two others.
        thresholds[1] = 2.0 / (n - 1)
    return Preset(
        name="Granovetter's riot (one threshold moved)" if moved else "Granovetter's riot",
        description=(
            "The same 100 people, except one who now waits for two others: the riot stops at "
            "one person, though the crowd is almost identical (Granovetter 1978)."
            if moved
            else "100 people who all see each other; person k joins once k others have: the "
            "instigator starts it and everyone follows, one at a time (Granovetter 1978)."
        ),
        config={
            "org": {"kind": "complete", "n_staff": n},
            "dynamics": {"rule": "threshold", "threshold_kind": "fraction"},
            "seeding": {"strategy": "none", "n_seeds": 0},
        },
        n_steps=n,
        thresholds=thresholds,
        initial_adopters=np.array([0]),
    )


WATTS_STAFF = 400
"""Watts's preset: small enough to draw every tie with a force-directed layout at once."""

FROZEN_MIDDLE_STAFF = 500
FROZEN_MIDDLE_RESISTERS = 2
"""How many of the middle managers resist in the frozen-middle preset."""


def _frozen_middle() -> Preset:
    """Centralised power in a help-it-happen culture, and resistant middle managers.

    Everything of "help it happen" except the power mode (centralised, decision level 1)
    and the seeding, with thresholds drawn around 0.3 (a change staff are ready for). The
    thresholds are the model's own draw for seed 0, except that the last
    ``FROZEN_MIDDLE_RESISTERS`` managers of level 1 get one no share of adopting contacts
    can reach. The board and the other level-1 managers start as adopters. Staff below
    level 1 may adopt only once their line manager has, so a resistant manager freezes
    their whole subtree until they come round on their own initiative (the spontaneous
    chance), which thaws it.
    """
    from sim.model import organisation_for
    from sim.params import from_dict
    from sim.state import initial_state

    culture = {k: v for k, v in HELP_IT_HAPPEN.items() if k not in ("power", "seeding")}
    config = merge(
        CALIBRATED,
        culture,
        {
            "org": {"n_staff": FROZEN_MIDDLE_STAFF},
            "dynamics": {"threshold_mean": 0.3},
            "power": {"mode": "centralised", "decision_level": 1},
            "seeding": {"strategy": "top"},
        },
    )
    cfg = from_dict(config)
    org = organisation_for(cfg)
    managers = np.flatnonzero(org.level == 1)
    resisters = managers[-FROZEN_MIDDLE_RESISTERS:]
    thresholds = initial_state(org, cfg, 0).threshold.copy()
    thresholds[resisters] = 2.0  # above any share of contacts (at most 1)
    starters = np.flatnonzero(org.level <= 1)
    return Preset(
        name="frozen middle",
        description=(
            "Power is centralised and two middle managers resist: the rest of the organisation "
            "adopts, but their teams may not move until they do, so two wedges stay grey."
        ),
        config=config,
        thresholds=thresholds,
        initial_adopters=np.setdiff1d(starters, resisters),
    )


# --- the table ---

NAMES: tuple[str, ...] = (
    "help it happen",
    "make it happen",
    "frozen middle",
    "mandate then withdraw",
    "co-design",
    "ICS silos",
    "Granovetter's riot",
    "Granovetter's riot (one threshold moved)",
    "Watts's cascade window",
)
"""Preset names in the order the app lists them."""

DEFAULT = "help it happen"


@cache
def presets() -> dict[str, Preset]:
    """Every preset by name (built on first use: two need an organisation built)."""
    classroom = {"org": {"n_staff": CLASSROOM_STAFF}}
    table = [
        Preset(
            "help it happen",
            "Start with the most motivated, co-design, share power, recognise effort and adapt "
            "after failed tests: slow for months, then it spreads to nine in ten staff and sticks.",
            merge(CALIBRATED, HELP_IT_HAPPEN, classroom),
        ),
        Preset(
            "make it happen",
            "Start at the top with a one-year mandate under centralised power: most staff comply "
            "within weeks, and when the mandate ends at week 52 about four in ten lapse.",
            merge(CALIBRATED, MAKE_IT_HAPPEN, classroom),
        ),
        _frozen_middle(),
        Preset(
            "mandate then withdraw",
            "A strong mandate, withdrawn at week 26, that crowds out motivation: two-thirds comply "
            "within three months, then compliance collapses and about four in ten lapse.",
            merge(
                CALIBRATED,
                {
                    "mandate": {"on": True, "end": 26, "strength": 0.8},
                    "motivation": {"crowding": 0.03},
                    "relationships": {"trust_erosion": 0.01},
                },
                classroom,
            ),
        ),
        Preset(
            "co-design",
            "A diagonal slice of 10% of staff co-designs the change and power is distributed: it "
            "fits the work better and reaches nine in ten staff with no mandate (alone: a third).",
            merge(
                CALIBRATED,
                {"co_design": {"on": True, "share": 0.1}, "power": {"mode": "distributed"}},
                classroom,
            ),
        ),
        Preset(
            "ICS silos",
            "Four partners joined by two boundary spanners each; the lead trust mandates the "
            "change, but cannot command its partners: it spreads there and barely anywhere else.",
            merge(
                CALIBRATED,
                MAKE_IT_HAPPEN,
                {"org": {"kind": "ics", "n_staff": 1000, "n_boundary_spanners": 2, "cross_ties_per_pair": 3}},
            ),
        ),
        _granovetter(),
        _granovetter(moved=True),
        Preset(
            "Watts's cascade window",
            "A random network where people adopt once 18% of their contacts have, and one person "
            "starts: with few or many ties nothing spreads; in between, sometimes everyone adopts "
            "(Watts 2002). Try the contacts slider and other seeds.",
            {
                "org": {"kind": "random", "n_staff": WATTS_STAFF, "mean_degree": 4.0},
                "dynamics": {"rule": "threshold", "threshold_kind": "fraction", "threshold_mean": 0.18},
                "seeding": {"strategy": "random", "n_seeds": 1},
            },
            n_steps=40,
        ),
    ]
    out = {p.name: p for p in table}
    assert tuple(out) == NAMES, "NAMES must list every preset in order"
    return out


INFO: dict[str, tuple[str, str]] = {
    "help it happen": (
        "For months little seems to happen; then the blue (committed) share climbs level by "
        "level and almost nobody lapses, because people own the change rather than obey.",
        "Switch co-design off, or set power to 'anyone', and press Reset: how much later does "
        "it take off? Set test cycles to 0%.",
    ),
    "make it happen": (
        "Orange (complying) floods the organisation within weeks from the top down; when the "
        "mandate ends at week 52, compliers start to lapse (pink) while the few committed stay.",
        "Move 'Mandate ends at week' to 104 and Reset; then switch on co-design as well. "
        "Compare the committed share at week 104.",
    ),
    "frozen middle": (
        "Two grey wedges under the two resistant middle managers: their teams may not adopt "
        "until the manager does, however keen the team.",
        "Set 'Who may start without approval' to 'anyone with enough agency' and Reset: the "
        "wedges thaw. Try other seeds: how long does a wedge stay frozen?",
    ),
    "mandate then withdraw": (
        "Fast compliance, then a collapse after week 26 when the mandate is withdrawn: pressure "
        "crowded out motivation, so few had come to own the change.",
        "Lower the weight of seniority or raise recognition and Reset; or keep the mandate on "
        "until week 104 and see what happens when it ends at the close of the run.",
    ),
    "co-design": (
        "With no mandate, the change spreads from the design group's teams outwards, and the "
        "professions represented in the group take it up first.",
        "Make the co-design group 1% or 30% of staff; switch co-design off (about a third adopt "
        "then). Which professions lag behind?",
    ),
    "ICS silos": (
        "The lead NHS trust adopts under its mandate; the local authority, the independent "
        "provider and the voluntary organisation barely move: a mandate stops at the boundary.",
        "Raise trust from working together or switch on co-design and Reset. Only two boundary "
        "spanners link each pair of partners: what would you change first?",
    ),
    "Granovetter's riot": (
        "One person at a time joins, each tipped by the last: the whole crowd of 100 riots by step 99.",
        "Pick the next preset, where one person's threshold moves from 1 to 2: the riot stops "
        "at the instigator. Group behaviour is not the average of individual tendencies.",
    ),
    "Granovetter's riot (one threshold moved)": (
        "Only the instigator riots: with nobody at threshold 1, the chain breaks at once, "
        "though the crowd's thresholds are almost the same as before.",
        "Go back to the previous preset and compare: one person out of 100 made the difference.",
    ),
    "Watts's cascade window": (
        "Most seeds give a tiny outbreak; a few give a cascade through the whole network. The "
        "histogram shows who adopts: people with few contacts tip first.",
        "Set contacts per person to 2, 4, 8 and 12 and try several seeds each (change the seed, "
        "then Reset): cascades happen only in a middle window.",
    ),
}
"""What to notice and things to try, per preset (the app's Info panel)."""


def info(name: str) -> dict[str, str]:
    """The Info panel of a preset: what it shows, what to notice, things to try."""
    preset = get(name)
    notice, try_this = INFO[preset.name]
    return {"shows": preset.description, "notice": notice, "try": try_this}


def get(name: str) -> Preset:
    """The preset called ``name`` (case-insensitive).

    Raises:
        KeyError: no such preset; the message lists the names.
    """
    table = presets()
    if name in table:
        return table[name]
    for key, preset in table.items():
        if key.lower() == name.strip().lower():
            return preset
    raise KeyError(f"no preset {name!r}; choose one of {list(NAMES)}")


def model_for(
    scenario: Preset | Mapping[str, Any] | str,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    org: Any = None,
) -> Any:
    """A ``ChangeModel`` for a preset (object or name) or a plain config dict.

    Args:
        scenario: a ``Preset``, a preset name, or a nested config dict.
        seed: the replicate's seed.
        overrides: dotted-key overrides, e.g. ``{"org.n_staff": 200}``; an override of
            ``org.n_staff`` is refused for presets with explicit per-person arrays.
        org: a prebuilt ``Organisation`` for this configuration (skips building it).
    """
    from sim.model import ChangeModel
    from sim.params import ConfigError

    preset = get(scenario) if isinstance(scenario, str) else scenario
    overrides = dict(overrides or {})
    if isinstance(preset, Preset):
        if preset.fixed_size and "org.n_staff" in overrides:
            n = preset.config["org"]["n_staff"]
            if overrides["org.n_staff"] != n:
                raise ConfigError(
                    f"preset {preset.name!r} has explicit per-person arrays for {n} staff; "
                    "org.n_staff cannot be changed"
                )
        return ChangeModel(
            preset.config,
            seed=seed,
            org=org,
            thresholds=preset.thresholds,
            initial_adopters=preset.initial_adopters,
            overrides=overrides,
        )
    return ChangeModel(dict(preset), seed=seed, org=org, overrides=overrides)
