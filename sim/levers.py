"""The leadership levers: the only keys a leadership model may set on the common base.

Every leadership-model scenario (``configs/scenario/<name>.yaml``) is the common base
(``configs/scenario/change_base.yaml``: the organisation, the people and every rate that
is not a leadership choice) plus a declared list of lever settings. The scenario writes
that list under its ``levers:`` key, and ``tests/test_levers.py`` composes every scenario
and fails when it changes a key that is not in its list, or lists a key that is not a
lever here. So a difference between two leadership models comes from levers a leader
could actually pull, never from a modelling choice written into one scenario only.

Modelling choices that are NOT levers, and so are the same in every scenario (set once in
the base): own-initiative adoption (``dynamics.p_spontaneous``), whether and how fast
compliers come to own the change (``motivation.p_internalise``), how strongly pressure
crowds out motivation and erodes trust per unit (``motivation.crowding``,
``relationships.trust_erosion``), how often adopters test the change
(``adaptation.p_test``), readiness, abandonment, churn and clinical credibility.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lever:
    """One key a leadership model may set: the key, the idea it stands for, and its source."""

    key: str
    idea: str
    source: str


LEVERS: tuple[Lever, ...] = (
    Lever("seeding.strategy", "who starts the change (the board, anyone, where the energy is)", "SCIE 2018"),
    Lever("mandate.on", "make it happen: a top-down mandate", "Greenhalgh et al. 2004"),
    Lever("mandate.start", "week the mandate starts", "Greenhalgh et al. 2004"),
    Lever("mandate.end", "week the mandate is withdrawn", "Greenhalgh et al. 2004"),
    Lever(
        "mandate.strength",
        "how hard the mandate presses (sanctions vs aims and measures)",
        "Greenhalgh et al. 2004",
    ),
    Lever("mandate.scope", "who is mandated (lead organisation or every partner)", "SCIE 2018"),
    Lever("power.mode", "distribute power: who may act without approval", "IHI 2018"),
    Lever("power.decision_level", "centralised: deepest level that decides", "IHI 2018"),
    Lever("power.empowerment", "distributed: power everyone holds at least", "IHI 2018"),
    Lever(
        "power.failure_response", "how leaders respond to a failed test (blame or learning)", "Edmondson 1999"
    ),
    Lever("motivation.recognition", "unleash intrinsic motivation: recognise adopters", "IHI 2018"),
    Lever("co_design.on", "co-design people-driven change", "IHI 2018"),
    Lever("co_design.rule", "who co-designs", "IHI 2018"),
    Lever("co_design.share", "how many staff co-design", "IHI 2018"),
    Lever(
        "co_design.patient_share",
        "seats for patients, carers and people with lived experience",
        "Bate and Robert 2006",
    ),
    Lever("relationships.trust_growth", "co-produce: time given to joint work that builds trust", "IHI 2018"),
    Lever(
        "adaptation.patient_partnership",
        "co-produce with patients and carers: a share of tests run with them",
        "Batalden et al. 2016",
    ),
    Lever(
        "adaptation.adapt",
        "adapt in action: failed tests may rework the change locally",
        "Langley et al. 2009",
    ),
    Lever("org.clinical_leader_share", "clinical leadership: clinicians in senior posts", "FMLM 2018"),
    Lever("leadership.career_path", "FMLM enabler: a clinical leadership career path", "FMLM 2018"),
    Lever("leadership.pay_balance", "FMLM enabler: pay does not penalise leading", "FMLM 2018"),
    Lever("leadership.licence_retention", "FMLM enabler: leaders keep their licence", "FMLM 2018"),
)
"""Every leadership lever, in the order of the IHI domains and the leadership models."""

SETTINGS: tuple[Lever, ...] = (
    Lever("org.kind", "the setting: one organisation or a partnership (integrated care system)", "SCIE 2018"),
)
"""Keys that change the setting, not the leadership: a scenario that sets one runs on a
different organisation, and the comparison says so (it shares seeds, not people)."""

LEVER_KEYS: frozenset[str] = frozenset(lv.key for lv in LEVERS)
SETTING_KEYS: frozenset[str] = frozenset(s.key for s in SETTINGS)


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1} (lists and scalars are leaves)."""
    out: dict[str, object] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def changed_keys(base: dict, scenario: dict) -> dict[str, tuple[object, object]]:
    """Dotted keys whose value differs between two nested config dicts: key -> (base, scenario)."""
    a, b = flatten(base), flatten(scenario)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def undeclared(base: dict, scenario: dict, declared: list[str]) -> list[str]:
    """Keys the scenario changes on the base without declaring them as levers (or settings).

    A declared key covers itself and the keys below it (``org.kind`` covers every ``org.*``
    key that the ICS organisation's config sets).
    """
    return [k for k in changed_keys(base, scenario) if not any(covers(d, k) for d in declared)]


def covers(declared: str, key: str) -> bool:
    """Whether a declared lever or setting covers ``key``: itself, and for a setting its whole group."""
    if key == declared:
        return True
    return declared in SETTING_KEYS and key.startswith(declared.rsplit(".", 1)[0] + ".")
