"""The names the whole model shares: professions, kinds of organisation and tie, adoption states, power modes.

The bottom of the core: this module imports nothing from ``sim``, so every other module
(``params``, ``org``, ``io``, ``state``, the kernels in ``sim.dynamics``, the views) can
import it without an import cycle. Each coded quantity is declared once, as an
``IntEnum`` for Python code (``TieKind.PEER``, ``AdoptionState(2).name``), and the same
codes are exported as plain module-level ``int`` constants (``PEER``, ``COMMITTED``) for
Numba kernels, which fold global integers into the compiled code as constants. The name
tuples (``TIE_KINDS``, ``STATE_NAMES``) and ``POWER_MODES`` are derived from the enums,
so a code and its name cannot drift apart.
"""

from __future__ import annotations

from enum import IntEnum

PROFESSIONS: tuple[str, ...] = (
    "doctor",
    "nurse",
    "ahp",
    "manager",
    "admin",
    "social_care",
    "other",
)
"""Profession codes; ``ahp`` = allied health professional. ``other`` is the default for
staff whose profession a user's graph does not give."""

CLINICAL: tuple[str, ...] = ("doctor", "nurse", "ahp")
"""The clinical professions (clinical leadership and the clinicians' outcome)."""

ORG_KINDS: tuple[str, ...] = ("nhs_trust", "local_authority", "independent", "voluntary")
"""Kinds of organisation in a health and care system."""


class TieKind(IntEnum):
    """Kind of a tie between two members of staff (``Organisation.tie_kind`` codes)."""

    LINE = 0  # line management: manager and report
    TEAM = 1  # members of one team
    PEER = 2  # colleagues across teams
    CROSS_ORG = 3  # boundary spanners of two partner organisations


class AdoptionState(IntEnum):
    """A person's relation to the change (``State.state`` codes)."""

    NOT_ADOPTED = 0
    COMPLYING = 1  # doing it because told to (extrinsic)
    COMMITTED = 2  # doing it because it matters (intrinsic); the classic rules' "adopted"
    LAPSED = 3  # did it, stopped


class PowerMode(IntEnum):
    """How decision rights are spread (``power.mode``; the ``power_mode`` parameter slot)."""

    NONE = 0  # everyone may act
    CENTRALISED = 1  # only those with enough authority may act
    DISTRIBUTED = 2  # empowerment can stand in for authority


TIE_KINDS: tuple[str, ...] = tuple(k.name.lower() for k in TieKind)
STATE_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in AdoptionState)
N_STATES = len(STATE_NAMES)
POWER_MODES: dict[str, int] = {m.name.lower(): int(m) for m in PowerMode}

# Plain integers of the same codes, for Numba kernels (and array comparisons).
LINE, TEAM, PEER, CROSS_ORG = (int(k) for k in TieKind)
NOT_ADOPTED, COMPLYING, COMMITTED, LAPSED = (int(s) for s in AdoptionState)
ADOPTED: tuple[int, ...] = (COMPLYING, COMMITTED)
"""The states that count as using the change ("adopted" in tables and figures)."""
NO_POWER, CENTRALISED, DISTRIBUTED = (int(m) for m in PowerMode)
