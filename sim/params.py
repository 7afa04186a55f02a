"""Every parameter of the model, grouped as dataclasses: defaults live here and only here.

The same dataclasses are the Python API's arguments and the Hydra schema (``sim.cli``
registers them), so a key the model does not know, a wrong type or a value out of range
is rejected where the configuration is made, with the key and the allowed values named.
Each field's ``metadata`` holds its allowed range (``range``) or choices (``choices``)
and its meaning (``help``); ``validate`` checks them and the ODD document's parameter
tables are generated from them.

Why one module of more than 500 lines: it is the single declaration of every parameter,
one dataclass per config group in the order of ``configs/config.yaml``, and each group's
cross-field checks sit beside its fields. A reader looks up a key in one place; splitting
the groups across files would only add imports between them. The memo of validated
configurations (``shared``) sits beside them because it relies on their ``_Tracked`` base.
"""

from __future__ import annotations

import copy
import functools
import math
import operator
import threading
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from itertools import accumulate, chain
from typing import Any

from sim.constants import ORG_KINDS, PROFESSIONS
from sim.errors import ConfigError, ConfigWarning, config_warnings  # noqa: F401  re-exported: sim.params.ConfigError


def _f(default: Any, help: str, range: tuple | None = None, choices: tuple | None = None):
    meta: dict[str, Any] = {"help": help}
    if range is not None:
        meta["range"] = range
    if choices is not None:
        meta["choices"] = choices
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def _validate_fields(obj: Any, prefix: str, skip: frozenset[str] = frozenset()) -> None:
    """Check every field of ``obj`` but those named in ``skip`` (groups already checked)."""
    for name, choices, rng in _field_checks(type(obj)):
        if name in skip:
            continue
        value = getattr(obj, name)
        tv = type(value)
        if rng is not None and (tv is float or tv is int) and rng[0] <= value <= rng[1] and choices is None:
            continue  # a number in range (NaN and bools fail here and are told below)
        key = f"{prefix}.{name}" if prefix else name
        if tv not in _PLAIN and is_dataclass(value):
            _validate_fields(value, key)
            if hasattr(value, "check"):
                value.check(key)
            continue
        if choices is not None and value not in choices:
            raise ConfigError(f"{key}={value!r} is not allowed; choose one of {list(choices)}")
        if rng is not None and value is not None:
            vals = value if isinstance(value, (list, tuple)) else [value]
            lo, hi = rng
            for v in vals:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ConfigError(f"{key}={value!r} must be a number in [{lo}, {hi}]")
                if isinstance(v, float) and math.isnan(v):
                    raise ConfigError(f"{key} is NaN; allowed range is [{lo}, {hi}]")
                if not (lo <= v <= hi):
                    raise ConfigError(f"{key}={value!r} is out of range; allowed range is [{lo}, {hi}]")


_PLAIN = frozenset({bool, int, float, str, type(None), list, tuple})
"""Types of values that are never a configuration group (no dataclass check needed)."""


@functools.cache
def _field_checks(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """(name, choices, range) of each field of a configuration dataclass, read once per class."""
    return tuple((f.name, f.metadata.get("choices"), f.metadata.get("range")) for f in fields(cls))


@functools.cache
def _field_defaults(cls: type) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields of a configuration dataclass by name, and each one's default (a default
    factory called once: the defaults are only read, for their types).
    """
    known = {f.name: f for f in fields(cls)}
    return known, {k: f.default_factory() if f.default_factory is not MISSING else f.default
                   for k, f in known.items()}  # fmt: skip


_EDITS = 0
"""Changes made so far to a field of any configuration object (``_Tracked``): run()'s
memo of the configuration objects it has validated holds while this count stands."""


class _Tracked:
    """Base of the configuration dataclasses: changing a field that is already set (not
    the constructor's first assignment) advances ``_EDITS``, so that ``shared`` can tell,
    at the cost of one comparison, that no configuration object has changed since it
    validated one. Writing into an object's ``__dict__`` directly goes unseen.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__:
            global _EDITS
            _EDITS += 1
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        global _EDITS
        _EDITS += 1
        object.__delattr__(self, name)


@dataclass
class OrgParams(_Tracked):
    """The organisation to build (``sim.org``).

    ``kind`` picks the builder: ``synthetic`` (one health or care organisation), ``ics``
    (partner organisations joined by boundary spanners), ``complete`` and ``random``
    (the structures of the classic diffusion models), ``csv`` (an org chart from a file).
    """

    kind: str = _f(
        "synthetic",
        "which builder makes the organisation",
        choices=("synthetic", "ics", "complete", "random", "csv"),
    )
    n_staff: int = _f(1000, "number of staff (for ics: across all partners)", range=(1, 50_000_000))
    span_of_control: int = _f(8, "most direct reports per manager", range=(2, 1000))
    n_levels: int = _f(
        0, "levels in the hierarchy; 0 derives them from n_staff and span_of_control", range=(0, 50)
    )
    p_team_tie: float = _f(1.0, "probability that two members of one team are tied", range=(0.0, 1.0))
    mean_peer_ties: float = _f(2.0, "mean random peer ties per person across teams", range=(0.0, 1000.0))
    clinical_leader_share: float = _f(
        0.3, "share of senior (above team lead) posts held by clinicians", range=(0.0, 1.0)
    )
    org_kind: str = _f(
        "nhs_trust",
        "kind of organisation (synthetic)",
        choices=("nhs_trust", "local_authority", "independent", "voluntary"),
    )
    name: str = _f("trust", "name of the organisation (synthetic)")
    profession_mix: dict[str, float] | None = _f(
        None, "frontline profession shares; None uses the default mix of org_kind"
    )
    partner_kinds: list[str] = _f(
        ["nhs_trust", "local_authority", "independent", "voluntary"], "ics: kind of each partner"
    )
    partner_shares: list[float] = _f(
        [0.6, 0.25, 0.1, 0.05], "ics: share of staff in each partner", range=(0.0, 1.0)
    )
    n_boundary_spanners: int = _f(10, "ics: boundary spanners in each partner", range=(0, 10_000_000))
    cross_ties_per_pair: int = _f(
        20, "ics: cross-organisation ties between each pair of partners", range=(0, 10_000_000)
    )
    mean_degree: float = _f(
        10.0, "random: mean number of ties (Erdos-Renyi G(n, z/n))", range=(0.0, 10_000.0)
    )
    path: str | None = _f(
        None, "csv: path of the org chart (staff_id, manager_id, profession[, organisation])"
    )

    def check(self, key: str = "org") -> None:
        """Cross-field checks."""
        if self.kind == "ics":
            if len(self.partner_kinds) != len(self.partner_shares):
                raise ConfigError(
                    f"{key}.partner_kinds has {len(self.partner_kinds)} entries but "
                    f"{key}.partner_shares has {len(self.partner_shares)}; give one share per partner"
                )
            for k in self.partner_kinds:
                if k not in ORG_KINDS:
                    raise ConfigError(f"{key}.partner_kinds: {k!r} is not one of {list(ORG_KINDS)}")
            if len(self.partner_kinds) < 2:
                raise ConfigError(f"{key}.partner_kinds: an ICS needs at least two partners")
            if sum(self.partner_shares) <= 0:
                raise ConfigError(f"{key}.partner_shares must have a positive total")
            if self.n_staff < len(self.partner_kinds):
                raise ConfigError(
                    f"{key}.n_staff={self.n_staff} is smaller than the {len(self.partner_kinds)} partners; "
                    "each partner needs at least one member of staff"
                )
        if self.n_levels == 1:
            raise ConfigError(f"{key}.n_levels=1 is not allowed: use 0 (derived) or at least 2")
        if self.kind == "csv" and not self.path:
            raise ConfigError(f"{key}.path is required when {key}.kind=csv")
        if self.profession_mix is not None:
            for k, v in self.profession_mix.items():
                if k not in PROFESSIONS:
                    raise ConfigError(
                        f"{key}.profession_mix: {k!r} is not a profession; allowed: {list(PROFESSIONS)}"
                    )
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ConfigError(f"{key}.profession_mix.{k}={v!r} must be a number >= 0")
                if not (0 <= v) or math.isnan(v):
                    raise ConfigError(f"{key}.profession_mix.{k}={v} must be non-negative")
        from sim.validate import check_org

        check_org(self, key)

    def validate(self) -> None:
        """Check every field; raise ``ConfigError`` naming the first bad key."""
        _validate_fields(self, "org")
        self.check("org")

    def partner_sizes(self) -> list[int]:
        """ics: head-count of each partner (largest-remainder rounding of the shares)."""
        total = sum(self.partner_shares)
        raw = [self.n_staff * s / total for s in self.partner_shares]
        sizes = [max(1, int(math.floor(r))) for r in raw]
        rest = self.n_staff - sum(sizes)
        order = sorted(range(len(raw)), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True)
        for i in order[: max(rest, 0)]:
            sizes[i] += 1
        while sum(sizes) > self.n_staff:  # partners lifted to one person: take from the largest
            sizes[sizes.index(max(sizes))] -= 1
        return sizes


@dataclass
class PeopleParams(_Tracked):
    """How staff attributes are drawn at the start of a run (``sim.state``)."""

    authority_top: float = _f(1.0, "formal authority of the top level", range=(0.0, 1.0))
    authority_frontline: float = _f(0.2, "formal authority of the frontline", range=(0.0, 1.0))
    motivation_mean: float = _f(0.5, "mean intrinsic motivation for the change", range=(0.0, 1.0))
    motivation_sd: float = _f(
        0.15, "sd of intrinsic motivation (normal, clipped to [0, 1])", range=(0.0, 1.0)
    )
    courage_mean: float = _f(0.5, "mean courage (team psychological safety)", range=(0.0, 1.0))
    courage_sd: float = _f(0.15, "sd of courage between teams (normal, clipped)", range=(0.0, 1.0))
    belief_mean: float = _f(0.5, "mean belief that the change is an improvement", range=(0.0, 1.0))
    belief_sd: float = _f(0.15, "sd of belief (normal, clipped)", range=(0.0, 1.0))
    trust_line: float = _f(1.0, "initial trust on line-management ties", range=(0.0, 1.0))
    trust_team: float = _f(1.0, "initial trust on team ties", range=(0.0, 1.0))
    trust_peer: float = _f(1.0, "initial trust on peer ties", range=(0.0, 1.0))
    trust_cross_org: float = _f(1.0, "initial trust on cross-organisation ties", range=(0.0, 1.0))

    def validate(self) -> None:
        """Check every field."""
        _validate_fields(self, "people")


@dataclass
class DynamicsParams(_Tracked):
    """The adoption rule (``sim.dynamics``); classic models are exact special cases.

    ``rule``: ``threshold`` (fractional or count linear threshold: Granovetter 1978,
    Watts 2002, Centola and Macy 2007), ``bass`` (discrete-time Bass 1969: hazard
    p + q * exposure), ``cascade`` (independent cascade: Kempe, Kleinberg and Tardos 2003).
    """

    rule: str = _f(
        "threshold",
        "adoption rule; 'change' is the full psychology-of-change model (threshold core plus the mechanisms)",
        choices=("threshold", "bass", "cascade", "change"),
    )
    threshold_kind: str = _f(
        "fraction",
        "threshold on the share (fraction) or weighted count of adopting contacts",
        choices=("fraction", "count"),
    )
    threshold_mean: float = _f(0.18, "mean adoption threshold", range=(0.0, 1e6))
    threshold_sd: float = _f(
        0.0, "sd of thresholds (normal, clipped at 0; at 1 for fractions)", range=(0.0, 1e6)
    )
    p_spontaneous: float = _f(
        0.0, "per-step chance of adopting from outside the network (Bass p)", range=(0.0, 1.0)
    )
    q_imitation: float = _f(0.0, "bass: per-step imitation coefficient (Bass q)", range=(0.0, 1.0))
    p_transmit: float = _f(
        0.1, "cascade: chance a new adopter converts a contact (times trust)", range=(0.0, 1.0)
    )
    power_gradient: float = _f(
        0.0, "influence of a contact scales as authority**power_gradient (0 = flat)", range=(0.0, 20.0)
    )

    def validate(self) -> None:
        """Check every field."""
        _validate_fields(self, "dynamics")
        if self.threshold_kind == "fraction" and self.threshold_mean > 1.0:
            raise ConfigError(
                f"dynamics.threshold_mean={self.threshold_mean} must be in [0, 1] "
                "when dynamics.threshold_kind=fraction"
            )


@dataclass
class SeedingParams(_Tracked):
    """Who adopts first (``sim.seeding``): a strategy and a budget of initial adopters."""

    strategy: str = _f(
        "random",
        "how initial adopters are chosen",
        choices=("random", "top", "frontline", "motivation", "hubs", "none"),
    )
    n_seeds: int = _f(10, "number of initial adopters (the budget)", range=(0, 50_000_000))

    def validate(self) -> None:
        """Check every field."""
        _validate_fields(self, "seeding")


# --- The psychology of change (rule "change"): one group per domain of the IHI framework ---


@dataclass
class MandateParams(_Tracked):
    """Leadership events: a top-down mandate ("make it happen", Greenhalgh et al. 2004).

    While a mandate is in force, staff in its scope feel extrinsic pressure
    ``strength`` and comply with chance ``p_comply * pressure`` a week; compliance lapses
    with chance ``p_lapse * (1 - pressure)`` a week, so mostly after the pressure goes. No mandate crosses an
    organisation's boundary unless ``scope='all'`` (SCIE 2018: partners in an integrated
    care system influence but cannot command each other).
    """

    on: bool = _f(False, "is there a mandate")
    start: int = _f(0, "step the mandate starts", range=(0, 1_000_000))
    end: int = _f(-1, "step the mandate is withdrawn (-1 = never)", range=(-1, 1_000_000))
    strength: float = _f(0.8, "extrinsic pressure while the mandate is in force", range=(0.0, 1.0))
    scope: str = _f("lead", "who is mandated: the lead organisation only, or all", choices=("lead", "all"))
    p_comply: float = _f(0.15, "weekly chance of complying per unit of pressure", range=(0.0, 1.0))
    p_lapse: float = _f(
        0.1, "weekly chance that compliance lapses per unit of absent pressure", range=(0.0, 1.0)
    )
    pressure_decay: float = _f(
        0.25, "share of pressure that fades each week after withdrawal", range=(0.0, 1.0)
    )


@dataclass
class MotivationParams(_Tracked):
    """Unleash intrinsic motivation (IHI 2018; Ryan and Deci 2000).

    Readiness r = clip((motivation + belief) / 2 + fit, 0, 1) lowers the social threshold:
    theta' = theta + readiness_weight * (0.5 - r). Controlling pressure crowds out
    intrinsic motivation (Frey and Jegen 2001; Deci, Koestner and Ryan 1999: d = -0.28 to
    -0.40) and it recovers only slowly after (the day-care fine's hysteresis: Gneezy and
    Rustichini 2000); recognition and positive feedback raise it (d = +0.33).
    """

    readiness_weight: float = _f(0.0, "how much readiness lowers the social threshold", range=(0.0, 2.0))
    crowding: float = _f(0.0, "weekly crowding-out of motivation per unit of pressure", range=(0.0, 1.0))
    recovery: float = _f(
        0.0, "weekly recovery of crowded-out motivation towards its baseline", range=(0.0, 1.0)
    )
    recognition: float = _f(0.0, "weekly rise of adopters' motivation from recognition", range=(0.0, 1.0))
    p_internalise: float = _f(
        0.0, "weekly chance a complier comes to own the change, per unit of readiness", range=(0.0, 1.0)
    )


@dataclass
class CoDesignParams(_Tracked):
    """Co-design people-driven change (IHI 2018).

    A share of staff, chosen by ``rule``, co-designs the change, so it fits the work of
    the roles that had a voice, as far as the group can speak for them: in a role cell c
    (organisation x level x profession) of n_c staff with k_c co-designers, everyone gains
    fit ``fit_gain * min(1, voice * k_c / n_c)`` (a co-designer speaks for at most ``voice``
    colleagues of their role; 0 = no bound), and co-designers' teammates gain at least
    ``team_spread`` of ``fit_gain``. A diverse group raises fit across the workforce; a
    board-only group only for the board's roles (the Secretary of State's "diversity of
    thought"). Co-designers own the change: under a mandate they commit rather than comply.

    Patients, carers and people with lived experience hold ``patient_share`` of the group's
    seats (experience-based co-design: Bate and Robert 2006; Donetto et al. 2015): their
    experience of the service makes the design fit what matters, multiplying the fit gain
    by (1 + patient_fit * patient_share), and hearing their stories moves the staff who
    co-design with them: m <- m + patient_motivation * patient_share * (1 - m).
    """

    on: bool = _f(False, "is the change co-designed")
    share: float = _f(0.05, "share of staff in the co-design group", range=(0.0, 1.0))
    voice: float = _f(
        10.0, "colleagues of their role one co-designer can speak for (0 = unbounded)", range=(0.0, 1e9)
    )
    patient_share: float = _f(
        0.0,
        "share of the group's seats held by patients, carers and people with lived experience",
        range=(0.0, 0.9),
    )
    patient_fit: float = _f(1.0, "rise of the fit gain per unit patient_share (x)", range=(0.0, 10.0))
    patient_motivation: float = _f(
        0.5, "rise of co-designers' motivation towards 1 per unit patient_share", range=(0.0, 1.0)
    )
    rule: str = _f(
        "diagonal",
        "who co-designs: frontline staff, volunteers (most motivated), a diagonal slice, or the board",
        choices=("frontline", "volunteers", "diagonal", "board"),
    )
    fit_gain: float = _f(0.3, "fit gained by a fully diverse co-design group", range=(0.0, 1.0))
    team_spread: float = _f(0.5, "share of the fit gain passed to co-designers' teams", range=(0.0, 1.0))


@dataclass
class RelationshipParams(_Tracked):
    """Co-produce in authentic relationship (IHI 2018; Centola and Macy 2007; Centola 2010).

    Influence flows along ties weighted by trust. Trust grows through joint work with
    someone who owns the change (either end committed) and erodes under unilateral
    directives (line ties while a mandate presses). Compliers' example counts
    ``compliance_visibility`` of a committed person's.
    """

    trust_growth: float = _f(0.0, "weekly trust gain from joint work, towards 1", range=(0.0, 1.0))
    trust_erosion: float = _f(0.0, "weekly trust loss on line ties per unit of pressure", range=(0.0, 1.0))
    compliance_visibility: float = _f(
        1.0, "weight of a complier's example relative to a committed person's", range=(0.0, 1.0)
    )


@dataclass
class PowerParams(_Tracked):
    """Distribute power (IHI 2018: agency = power + courage).

    ``none``: everyone may act. ``centralised``: only staff at levels <= decision_level
    may adopt on their own account; anyone below needs their line manager to have
    adopted, so a resistant middle manager blocks their subtree (the "frozen middle").
    ``distributed``: everyone holds at least ``empowerment`` power; agency = power *
    courage; staff with agency >= agency_min act without approval. When power is
    modelled, own initiative (the spontaneous chance) scales as agency / agency_ref.

    Courage (psychological safety) changes over time (Edmondson 1999; Edmondson 2019):
    directives erode it, c <- c - courage_erosion * x * c each week under pressure x; after
    a failed test, with leaders' response f = failure_response,
    c <- c + safety_gain * f * (1 - c) - blame * (1 - f) * c.
    """

    mode: str = _f("none", "who may start the change", choices=("none", "centralised", "distributed"))
    decision_level: int = _f(1, "centralised: deepest level that decides without approval", range=(0, 50))
    empowerment: float = _f(0.6, "distributed: power everyone holds at least", range=(0.0, 1.0))
    agency_min: float = _f(0.15, "distributed: agency needed to act without approval", range=(0.0, 1.0))
    agency_ref: float = _f(
        0.25,
        "agency of a typical person (power 0.5, courage 0.5): initiative scales as agency / agency_ref",
        range=(0.01, 1.0),
    )
    failure_response: float = _f(
        0.5, "how leaders respond to a failed test: 0 blame, 1 treat it as learning", range=(0.0, 1.0)
    )
    blame: float = _f(
        0.0, "courage lost after a failed test met with blame (times courage)", range=(0.0, 1.0)
    )
    safety_gain: float = _f(
        0.0, "courage gained after a failed test met as learning (towards 1)", range=(0.0, 1.0)
    )
    courage_erosion: float = _f(
        0.0, "weekly courage lost per unit of pressure (directives), times courage", range=(0.0, 1.0)
    )


@dataclass
class AdaptationParams(_Tracked):
    """Adapt in action: PDSA test cycles (Langley et al. 2009; IHI Model for Improvement).

    Each week an adopter runs a test with chance ``p_test``; it succeeds with chance
    clip(change_quality + fit, 0, 1). Belief moves towards the result (learning_rate);
    success raises motivation (a motivational experience), failure lowers it less where
    courage (psychological safety) is high (Edmondson 1999). With ``adapt`` on, a failed
    test improves the local fit instead of only eroding belief. A share
    ``patient_partnership`` of tests is run with patients and carers (co-production;
    Batalden et al. 2016): such a test reworks the local fit whatever its result, with
    ``adapt`` on or off (``sim.dynamics.adaptation``). Committed adopters abandon the
    change with chance p_abandon * (1 - readiness) a week.
    """

    p_test: float = _f(0.0, "weekly chance an adopter runs a test cycle", range=(0.0, 1.0))
    change_quality: float = _f(0.7, "chance a test succeeds with no local fit", range=(0.0, 1.0))
    learning_rate: float = _f(0.2, "how far belief moves towards a test's result", range=(0.0, 1.0))
    success_boost: float = _f(0.05, "motivation gained from a successful test, towards 1", range=(0.0, 1.0))
    failure_cost: float = _f(0.1, "motivation lost from a failed test at zero courage", range=(0.0, 1.0))
    adapt: bool = _f(False, "does a failed test lead to local adaptation")
    adapt_rate: float = _f(0.2, "share of the remaining misfit a failed test repairs", range=(0.0, 1.0))
    p_abandon: float = _f(
        0.0, "weekly chance a committed adopter abandons, per unit of unreadiness (1 - r)", range=(0.0, 1.0)
    )
    patient_partnership: float = _f(
        0.0,
        "share of test cycles run in partnership with patients and carers (reworks fit on any result)",
        range=(0.0, 1.0),
    )


@dataclass
class LeadershipParams(_Tracked):
    """Leadership churn and clinical leadership (King's Fund 2018; FMLM 2018).

    Senior post-holders (above team lead) leave with a constant weekly hazard
    1 - 0.5 ** (1 / (52 * tenure_years)), so half have left after ``tenure_years``;
    their successor starts unconvinced, and trust on their ties resets to ``trust_new``.
    A successor is a clinician with chance ``clinical_appointment`` plus
    ``enabler_effect`` for each FMLM enabler in place. Clinical leaders' example counts
    ``clinical_credibility`` times as much for clinical staff.
    """

    tenure_years: float = _f(
        0.0, "median tenure of senior leaders in years (0 = no churn)", range=(0.0, 100.0)
    )
    trust_new: float = _f(0.3, "trust on a newcomer's ties", range=(0.0, 1.0))
    clinical_credibility: float = _f(
        1.0, "weight of a clinical leader's example for clinicians", range=(0.0, 10.0)
    )
    clinical_appointment: float = _f(0.3, "chance a senior successor is a clinician", range=(0.0, 1.0))
    career_path: bool = _f(False, "FMLM enabler: leadership is a recognised clinical career path")
    pay_balance: bool = _f(False, "FMLM enabler: pay does not penalise leaving clinical practice")
    licence_retention: bool = _f(False, "FMLM enabler: leaders can keep their licence to practise")
    enabler_effect: float = _f(0.15, "rise in the clinical-appointment chance per enabler", range=(0.0, 1.0))


@dataclass
class ChangeParams(_Tracked):
    """The type of change: its attributes in the diffusion literature (Rogers 2003;
    Greenhalgh et al. 2004, Milbank Q 82:581). Defaults are neutral (the model without them).

    - ``complexity`` c: an unadapted complex change fails in use more often. A test
      succeeds with chance clip(change_quality + fit - c (1 - fit), 0, 1), so fit counts
      (1 + c) times, and local adaptation aims at the fit (1 - change_quality + c) / (1 + c)
      that makes success certain (Greenhalgh et al. 2004: complexity, reinvention;
      Repenning 2002).
    - ``observability`` o and ``evidence`` e: a test's result is seen by the tester's
      contacts and persuades them in proportion to o * e:
      b_j <- b_j + learning_rate * o * e * trust_ij * (y_i - b_j) (Rogers: observability;
      Greenhalgh: relative advantage must be clear and evidenced to persuade).
    - ``trialability`` t: adopters test it more often: p_test' = min(1, 2 t p_test) (t = 0.5
      leaves p_test as set).
    - ``compatibility`` k: fit with existing values and practice before any co-design:
      fit_i starts at k (plus what co-design adds, at most 1).
    - ``urgency`` u: a mandate for an urgent change is seen as legitimate, so it crowds out
      less motivation and erodes less trust: crowding' = (1 - u) crowding, trust_erosion' =
      (1 - u) trust_erosion (Frey and Jegen 2001: interventions perceived as supportive
      crowd out less; Kotter 1995: urgency); and delay costs: the outcome ``timely_use``
      discounts each week's use by (1 - u / 26) per week.
    """

    evidence: float = _f(0.5, "strength of evidence / relative advantage (0-1)", range=(0.0, 1.0))
    complexity: float = _f(0.0, "how much the change needs local fit to work (0-1)", range=(0.0, 1.0))
    trialability: float = _f(
        0.5, "how easily it can be tried on a small scale (0-1; 0.5 neutral)", range=(0.0, 1.0)
    )
    observability: float = _f(0.0, "how visible its results are to colleagues (0-1)", range=(0.0, 1.0))
    compatibility: float = _f(
        0.0, "fit with existing values and practice at the start (0-1)", range=(0.0, 1.0)
    )
    urgency: float = _f(0.0, "how costly delay is (0-1)", range=(0.0, 1.0))


@dataclass
class ModelConfig(_Tracked):
    """One scenario: everything a run needs except the seed of a replicate."""

    org: OrgParams = field(default_factory=OrgParams)
    people: PeopleParams = field(default_factory=PeopleParams)
    dynamics: DynamicsParams = field(default_factory=DynamicsParams)
    seeding: SeedingParams = field(default_factory=SeedingParams)
    mandate: MandateParams = field(default_factory=MandateParams)
    motivation: MotivationParams = field(default_factory=MotivationParams)
    co_design: CoDesignParams = field(default_factory=CoDesignParams)
    relationships: RelationshipParams = field(default_factory=RelationshipParams)
    power: PowerParams = field(default_factory=PowerParams)
    adaptation: AdaptationParams = field(default_factory=AdaptationParams)
    leadership: LeadershipParams = field(default_factory=LeadershipParams)
    change: ChangeParams = field(default_factory=ChangeParams)
    n_steps: int = _f(104, "number of steps (weeks by convention)", range=(0, 1_000_000))
    seed: int = _f(0, "seed of replicate 0; replicate k > 0 uses a hash of (seed, k)", range=(0, 2**63 - 1))
    n_replicates: int = _f(1, "number of replicates", range=(1, 10_000_000))
    org_seed: int = _f(
        -1,
        "seed of the organisation's structure; -1 uses one organisation for all replicates (seed 0)",
        range=(-1, 2**63 - 1),
    )

    def validate(self, checked: frozenset[str] = frozenset()) -> ModelConfig:
        """Check every field of every group (but the groups named in ``checked``, taken
        from configurations validated before: ``sim.params._GROUP_MEMO``), then the checks
        across groups; returns self so calls can chain.
        """
        from sim.validate import check_model

        _validate_fields(self, "", checked)
        if "dynamics" not in checked:
            self.dynamics.validate()
        check_model(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (for provenance and tables)."""
        return asdict(self)


def from_dict(d: dict[str, Any] | ModelConfig | None = None, **overrides: Any) -> ModelConfig:
    """A validated ``ModelConfig`` from a nested dict, with dotted-key overrides.

    Example:
        ``from_dict({"dynamics": {"rule": "bass"}}, **{"org.n_staff": 200})``

    Raises:
        ConfigError: an unknown key (named, with the allowed keys) or a bad value.
    """
    return validated(d, overrides)[0]


def validated(d: dict[str, Any] | ModelConfig | None, overrides: dict[str, Any]) -> tuple[ModelConfig, Any]:
    """``from_dict(d, **overrides)`` and, for a ``ModelConfig`` of plain values, a hashable
    key of its content (else None): equal keys, equal validated configurations.
    """
    cfg, key = shared(d, overrides)
    return (cfg, None) if key is None else (copy_config(cfg), key)


def shared(d: dict[str, Any] | ModelConfig | None, overrides: dict[str, Any]) -> tuple[ModelConfig, Any]:
    """``validated``, without its copy: where the key is not None, the configuration
    returned is the one kept in ``_VALIDATED`` for that content, the same object on every
    call, and the caller must not change it (``sim.run`` gives its runners and results
    copies of it). A ``ModelConfig`` passed again, unchanged since, is known by its
    identity (``_SEEN``) without reading its values.
    """
    if overrides or type(d) is not ModelConfig:
        return _validate(d, overrides, None)
    seen = _SEEN.get(id(d))
    if seen is not None and seen[0] is d and seen[1] == _EDITS and _list_items(seen[4]) == seen[5]:
        return seen[2], seen[3]
    # What the memo will compare, read before the values: a change made while they are
    # read (another thread) leaves the memo stale, never wrong.
    stamp = _EDITS
    lists = tuple(getattr(d.__dict__.get("org"), name, None) for name in _LISTS[OrgParams])
    items = _list_items(lists)
    key = _fingerprint(d)
    if key is None:
        return _validate(d, overrides, None)
    cfg = _VALIDATED.get(key)
    if cfg is None:
        cfg, key = _validate(d, overrides, key)
        if key is None:  # it warned: validated again next time, so that it warns again
            return cfg, None
    _keep(_SEEN, id(d), (d, stamp, cfg, key, lists, items), _SEEN_MAX)
    return cfg, key


def _validate(
    d: dict[str, Any] | ModelConfig | None, overrides: dict[str, Any], key: Any
) -> tuple[ModelConfig, Any]:
    """Validate ``d`` with ``overrides``; with a content ``key`` (``d`` a ``ModelConfig``),
    keep the result in ``_VALIDATED`` unless its validation warns (then the key is None).
    """
    if key is not None:  # plain values only (``_fingerprint``), no overrides (``shared``)
        return _validate_keyed(d, key)
    if type(d) is ModelConfig and tuple(map(type, _GROUPS(d))) == _GROUP_TYPES:
        d = _plain(d)  # asdict's values at a third of its cost (nested mappings copied below)
    elif isinstance(d, ModelConfig):
        d = d.to_dict()
    data: dict[str, Any] = {} if d is None else _deepcopy(d)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    memo = _DictMemo()
    warned = config_warnings()
    cfg = _build(ModelConfig, data, "", memo).validate(frozenset(memo.checked))
    if config_warnings() == warned:  # a validation that warned keeps nothing
        _keep_groups(memo.new, tuple(memo.used))
    # The caller's own: groups taken from or kept in the memo are never handed out.
    return (copy_config(cfg) if memo.checked or memo.new else cfg), None


def _validate_keyed(d: ModelConfig, key: _Key) -> tuple[ModelConfig, Any]:
    """``_validate`` of a configuration of plain values with its content ``key``.

    A group equal in content (values and their types) to a group of a configuration
    validated before without a warning is taken from ``_GROUP_MEMO`` and not checked
    again; the other groups are built and checked as ``_build`` and
    ``ModelConfig.validate`` always did, in the same order (every group's and scalar's
    coercion, then every field's range and choices, then each group's own checks and the
    checks across groups, which always run), so a bad value is refused with the same
    message. A sampler that changes one group's values per call builds and checks that
    group alone (125 to 46 µs for the speed benchmark's full model, 100 staff). Kept in
    ``_VALIDATED`` (and its new groups in ``_GROUP_MEMO``) unless a ``ConfigWarning`` was
    issued (``sim.errors.config_warnings``); warnings are not caught, so the filters in
    force show them as they would any other.
    """
    vals, types = key
    kwargs: dict[str, Any] = {}
    new: list[tuple[tuple, Any]] = []
    checked: set[str] = set()
    used: list[tuple] = []
    warned = config_warnings()
    for name, group, (lo, hi) in zip(_GROUP_NAMES, _GROUPS(d), _GROUP_SPANS, strict=True):
        gk = (name, vals[lo:hi], types[lo:hi])
        g = _GROUP_MEMO.get(gk)
        if g is None:
            cls = type(group)
            values = zip(_FIELD_NAMES[cls], _FIELDS_OF[cls](group), strict=True)
            g = _build(cls, {k: list(v) if type(v) is list else v for k, v in values}, name)
            new.append((gk, g))
        else:
            checked.add(name)
            used.append(gk)
        kwargs[name] = g
    _, defaults = _field_defaults(ModelConfig)
    for name, v in zip(_SCALAR_NAMES, vals[len(vals) - len(_SCALAR_NAMES) :], strict=True):
        kwargs[name] = _coerce(name, v, defaults[name])
    cfg = _construct(ModelConfig, kwargs).validate(frozenset(checked))
    if config_warnings() != warned:  # not kept: validated again next time, and warns again
        return cfg, None
    _keep_groups(new, tuple(used))
    _keep(_VALIDATED, key, cfg, _VALIDATED_MAX)
    return cfg, key


def _list_items(lists: tuple[list, ...]) -> tuple:
    """The items of a configuration's lists and their types: a list changed in place
    (``cfg.org.partner_shares[0] = 0.5``) sets no field, so ``_EDITS`` does not see it.
    """
    return tuple((tuple(v), tuple(map(type, v))) if type(v) is list else v for v in lists)


_VALIDATED: dict[tuple, ModelConfig] = {}
"""Validated configurations by the content of the ``ModelConfig`` they came from
(``_fingerprint``): validating costs more than a small run, and a caller in a loop passes
the same configuration again. Never changed once kept: ``from_dict`` returns a fresh
copy of one, ``shared`` returns one to callers that copy it before anyone may change it.
Configurations whose validation warns are not kept."""
_VALIDATED_MAX = 256

_GROUP_MEMO: dict[tuple, Any] = {}
"""Validated groups, from configurations whose validation raised no warning: by (group
name, its values, their types) for a configuration object (``_validate_keyed``), by the
group's mapping for a configuration given as one (``_DictMemo``). Kept configurations
share these objects, so like them they are never changed: callers get copies
(``copy_config``)."""
_GROUP_MEMO_MAX = 1024

_SEEN: dict[int, tuple] = {}
"""``shared``'s memo by the identity of the caller's ``ModelConfig``: (the object, ``_EDITS``
when it was read, its validated configuration, key, its lists, their items). An entry
holds while no configuration field anywhere has been set since and its lists hold the
same items; the object is kept, so its id is not reused while the entry exists."""
_SEEN_MAX = 16


def content_key(cfg: ModelConfig) -> Any:
    """A hashable key of a validated configuration's content (every value with its type),
    or None where a value is not plain data: equal keys, equal configurations.
    """
    return _fingerprint(cfg)


def _fingerprint(cfg: ModelConfig) -> tuple | None:
    """Every field value of ``cfg`` with its type (1, 1.0 and True validate differently),
    or None when a group is not its declared dataclass or a value is not plain data (then
    ``from_dict`` validates as it always did).
    """
    groups = _GROUPS(cfg)
    if tuple(map(type, groups)) != _GROUP_TYPES:
        return None
    vals = tuple(chain.from_iterable(map(operator.call, _FIELDS, groups))) + _SCALARS(cfg)
    types = tuple(map(type, vals))
    if list in types:  # lists (org.partner_*): their items and the items' types
        out, k = list(vals), -1
        while list in types[k + 1 :]:
            k = types.index(list, k + 1)
            out[k] = (tuple(out[k]), tuple(map(type, out[k])))
        vals = tuple(out)
    try:
        return _Key((vals, types))
    except TypeError:
        return None


class _Key(tuple):
    """A fingerprint that hashes once: it is looked up in ``_VALIDATED`` and in
    ``sim.run``'s runners on every call, and hashing its hundred values costs about a
    microsecond each time. Equality is the tuple's.
    """

    def __new__(cls, items):
        key = super().__new__(cls, items)
        key._hash = tuple.__hash__(key)  # TypeError for unhashable values
        return key

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self):  # hashed again where unpickled (string hashes differ by process)
        return (_Key, (tuple(self),))


def _plain(cfg: ModelConfig) -> dict[str, Any]:
    """``asdict(cfg)`` for a configuration whose values are plain data (``_fingerprint``)."""
    out: dict[str, Any] = {}
    for f, group in zip(_GROUP_NAMES, _GROUPS(cfg), strict=True):
        names = _FIELD_NAMES[type(group)]
        vals = _FIELDS_OF[type(group)](group)
        out[f] = {k: list(v) if type(v) is list else v for k, v in zip(names, vals, strict=True)}
    out.update(zip(_SCALAR_NAMES, _SCALARS(cfg), strict=True))
    return out


def copy_config(cfg: ModelConfig) -> ModelConfig:
    """A copy of a configuration of plain values (new group objects and lists), at a
    fraction of the cost of ``copy.deepcopy``.
    """
    new = object.__new__(ModelConfig)
    out = new.__dict__
    for name, v in cfg.__dict__.items():
        lists = _LISTS.get(type(v))
        if lists is not None:
            g = object.__new__(type(v))
            d = g.__dict__
            d.update(v.__dict__)
            for k in lists:
                if type(d.get(k)) is list:
                    d[k] = list(d[k])
            v = g
        elif hasattr(v, "__dataclass_fields__"):
            v = copy.deepcopy(v)
        out[name] = v
    return new


_LISTS: dict[type, tuple[str, ...]] = {
    type(f.default_factory()): tuple(
        g.name for g in fields(f.default_factory()) if isinstance(getattr(f.default_factory(), g.name), list)
    )
    for f in fields(ModelConfig)
    if f.default_factory is not MISSING
}
"""The configuration groups, each with the names of its list-valued fields."""
_GROUP_TYPES = tuple(_LISTS)
_GROUP_NAMES = tuple(f.name for f in fields(ModelConfig) if f.default_factory is not MISSING)
_SCALAR_NAMES = tuple(f.name for f in fields(ModelConfig) if f.default_factory is MISSING)
_GROUPS = operator.attrgetter(*_GROUP_NAMES)
_SCALARS = operator.attrgetter(*_SCALAR_NAMES)
_FIELD_NAMES = {cls: tuple(f.name for f in fields(cls)) for cls in _GROUP_TYPES}
_FIELDS_OF = {cls: operator.attrgetter(*names) for cls, names in _FIELD_NAMES.items()}
_FIELDS = tuple(_FIELDS_OF[cls] for cls in _GROUP_TYPES)
FINGERPRINT_KEYS = (
    tuple(
        f"{name}.{k}" for name, cls in zip(_GROUP_NAMES, _GROUP_TYPES, strict=True) for k in _FIELD_NAMES[cls]
    )
    + _SCALAR_NAMES
)
"""The dotted key of each value of a configuration's content key (``_fingerprint``), in order."""
_ENDS = tuple(accumulate(len(_FIELD_NAMES[cls]) for cls in _GROUP_TYPES))
_GROUP_SPANS = tuple(zip((0,) + _ENDS[:-1], _ENDS, strict=True))
"""Where each group's values lie in a ``_fingerprint`` (the groups', then the scalars')."""


def _deepcopy(d: dict[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, dict) else v for k, v in d.items()}


def _build(cls: type, data: dict[str, Any], prefix: str, memo: _DictMemo | None = None) -> Any:
    """``cls`` from the mapping ``data``, every value coerced to its field's type; unknown
    keys and wrong types refused in the mapping's order. With ``memo`` (a whole
    configuration), each group given as a mapping is taken from ``memo`` where it can be.
    """
    known, defaults = _field_defaults(cls)
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in known:
            raise ConfigError(f"unknown key {key!r}; allowed keys here: {sorted(known)}")
        default = defaults[k]
        if type(default) not in _PLAIN and is_dataclass(default):
            if not isinstance(v, dict):
                raise ConfigError(f"{key} must be a mapping of {type(default).__name__} fields")
            kwargs[k] = _build(type(default), v, key) if memo is None else memo.group(type(default), v, key)
        else:
            kwargs[k] = _coerce(key, v, default)
    if memo is not None:  # the groups not given: their defaults, from the memo too
        for name, group_cls in zip(_GROUP_NAMES, _GROUP_TYPES, strict=True):
            if name not in kwargs:
                kwargs[name] = memo.group(group_cls, {}, name)
    return _construct(cls, kwargs)


class _DictMemo:
    """``_GROUP_MEMO`` for a configuration given as a mapping: a group given as a mapping
    equal (keys, values and their types, in order) to one a configuration validated before
    without a warning is taken from the memo and not checked again (``checked``); the
    others are built here and kept once the whole configuration has validated (``keep``).
    """

    def __init__(self) -> None:
        self.checked: set[str] = set()
        self.new: list[tuple[tuple, Any]] = []
        self.used: list[tuple] = []

    def group(self, cls: type, data: dict[str, Any], name: str) -> Any:
        key = _mapping_key(name, data)
        g = None if key is None else _GROUP_MEMO.get(key)
        if g is not None:
            self.checked.add(name)
            self.used.append(key)
            return g
        g = _build(cls, data, name)
        if key is not None:
            self.new.append((key, g))
        return g


def _mapping_key(name: str, data: dict[str, Any]) -> tuple | None:
    """A hashable key of a group's mapping (each key, value and value type, lists by their
    items and the items' types), or None where a value is not plain data.
    """
    items = []
    for k, v in data.items():
        t = type(v)
        if t is list:
            v = (tuple(v), tuple(map(type, v)))
        elif t not in _PLAIN:
            return None
        items.append((k, v, t))
    key = ("mapping", name, tuple(items))
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _keep_groups(new: list[tuple[tuple, Any]], used: tuple = ()) -> None:
    """Keep validated groups in ``_GROUP_MEMO``, least recently used dropped first past
    ``_GROUP_MEMO_MAX``: the groups ``used`` from the memo by the configuration just kept
    move to the back, so a sampler changing one group per call never sees the groups it
    leaves alone dropped (they were dropped as the oldest, and built again, once the memo
    had filled up). Moved only once the memo is half full (moving rehashes each key: 8% of
    a validation): a group used at least once in the last half of the memo's insertions
    has been moved to the back before the oldest entries are dropped.
    """
    if used and 2 * len(_GROUP_MEMO) >= _GROUP_MEMO_MAX:
        with _MEMO_LOCK:
            for key in used:
                g = _GROUP_MEMO.pop(key, None)
                if g is not None:
                    _GROUP_MEMO[key] = g
    for key, g in new:
        _keep(_GROUP_MEMO, key, g, _GROUP_MEMO_MAX)


_MEMO_LOCK = threading.Lock()


def _keep(table: dict, key: Any, value: Any, most: int) -> None:
    """``table[key] = value``, the oldest entries dropped to keep at most ``most``. Under a
    lock: dropping the oldest reads the table's order, which another thread adding an
    entry at that moment made fail ("dictionary changed size during iteration"). Reading
    an entry (``get``) needs no lock.
    """
    with _MEMO_LOCK:
        while len(table) >= most:
            table.pop(next(iter(table)))
        table[key] = value


def _construct(cls: type, kwargs: dict[str, Any]) -> Any:
    """``cls(**kwargs)`` for a configuration dataclass, its fields written into its
    ``__dict__`` in declaration order: the dataclass ``__init__`` would call
    ``_Tracked.__setattr__`` once per field, which made ``from_dict`` two thirds slower.
    """
    template, made = _init_plan(cls)
    obj = object.__new__(cls)
    d = obj.__dict__
    d.update(template)
    if kwargs:
        d.update(kwargs)
        for name, make in made:
            if name not in kwargs:
                d[name] = make()
    else:
        for name, make in made:
            d[name] = make()
    return obj


@functools.cache
def _init_plan(cls: type) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """Each field of a configuration dataclass with its default (None where a factory
    makes it), and a maker of each default a factory makes (a group: ``_construct``).
    """
    template = {f.name: None if f.default is MISSING else f.default for f in fields(cls)}
    made = tuple(
        (f.name, functools.partial(_construct, f.default_factory, {}) if is_dataclass(f.default_factory)
         else f.default_factory)
        for f in fields(cls) if f.default_factory is not MISSING
    )  # fmt: skip
    return template, made


def _coerce(key: str, v: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(v, bool):
            raise ConfigError(f"{key}={v!r} must be true or false")
        return v
    if isinstance(default, int):
        if isinstance(v, bool) or not isinstance(v, int):
            if isinstance(v, float) and v.is_integer():
                return int(v)
            raise ConfigError(f"{key}={v!r} must be an integer")
        return v
    if isinstance(default, float):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{key}={v!r} must be a number")
        return float(v)
    if isinstance(default, str):
        if not isinstance(v, str):
            raise ConfigError(f"{key}={v!r} must be a string")
        return v
    if isinstance(default, list) and not isinstance(v, (list, tuple)):
        raise ConfigError(f"{key}={v!r} must be a list")
    return list(v) if isinstance(v, tuple) else v
