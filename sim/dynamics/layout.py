"""The parameter vector and the stream keys of the full model: named slots.

Kernels take scalars in one float64 array (as LASER and Starsim pass parameter structs)
and the replicate's random streams in one uint64 array, so a phase's signature stays
short: ``change_step(t, par, keys, org, people, scratch)`` with the array bundles of
``sim.state``. ``pack`` fills the parameters from a ``ModelConfig``; every kernel and
the reference agents read the same slots by these names.
"""

from __future__ import annotations

import numpy as np

from sim import rng
from sim.constants import POWER_MODES  # noqa: F401  re-exported: layout.POWER_MODES
from sim.params import ModelConfig

# Random streams of the full model, in the order of the ``keys`` vector.
KEY_PURPOSES = (rng.ADOPT, rng.LAPSE, rng.CHURN, rng.PIPELINE, rng.TEST, rng.OUTCOME)
K_ADOPT, K_LAPSE, K_CHURN, K_PIPELINE, K_TEST, K_OUTCOME = range(len(KEY_PURPOSES))

_NAMES = (
    "threshold_count",  # 1: thresholds compare weighted counts, 0: fractions
    "p_spontaneous",
    "mandate_on",
    "mandate_start",
    "mandate_end",  # -1 = never withdrawn
    "mandate_strength",
    "mandate_all",  # 1: every organisation is mandated, 0: the lead organisation only
    "p_comply",
    "p_lapse",
    "pressure_decay",
    "readiness_weight",
    "crowding",
    "recovery",
    "recognition",
    "p_internalise",
    "trust_growth",
    "trust_erosion",
    "compliance_visibility",
    "power_mode",  # 0 none, 1 centralised, 2 distributed
    "decision_level",
    "empowerment",
    "agency_min",
    "agency_ref",
    "p_test",
    "change_quality",
    "learning_rate",
    "success_boost",
    "failure_cost",
    "adapt",
    "adapt_rate",
    "p_abandon",
    "p_churn",  # weekly hazard of a senior leader leaving (median tenure = tenure_years)
    "trust_new",
    "clinical_credibility",
    "p_clinical_appointment",
    "newcomer_belief",
    "complexity",  # change.complexity: how far misfit makes tests fail
    "persuasion",  # change.observability * change.evidence: how far colleagues' results persuade
    "failure_response",  # 0 blame, 1 learning
    "blame",
    "safety_gain",
    "courage_erosion",
    "patient_partnership",  # share of tests run with patients and carers
)
SLOT = {name: k for k, name in enumerate(_NAMES)}
N_SLOTS = len(_NAMES)
# Power modes: the codes of the power_mode slot (kernels read int(par[POWER_MODE]) and
# compare with sim.constants.NO_POWER, CENTRALISED, DISTRIBUTED).

# Slot indices as module constants, so Numba folds them in.
THRESHOLD_COUNT = SLOT["threshold_count"]
P_SPONTANEOUS = SLOT["p_spontaneous"]
MANDATE_ON = SLOT["mandate_on"]
MANDATE_START = SLOT["mandate_start"]
MANDATE_END = SLOT["mandate_end"]
MANDATE_STRENGTH = SLOT["mandate_strength"]
MANDATE_ALL = SLOT["mandate_all"]
P_COMPLY = SLOT["p_comply"]
P_LAPSE = SLOT["p_lapse"]
PRESSURE_DECAY = SLOT["pressure_decay"]
READINESS_WEIGHT = SLOT["readiness_weight"]
CROWDING = SLOT["crowding"]
RECOVERY = SLOT["recovery"]
RECOGNITION = SLOT["recognition"]
P_INTERNALISE = SLOT["p_internalise"]
TRUST_GROWTH = SLOT["trust_growth"]
TRUST_EROSION = SLOT["trust_erosion"]
COMPLIANCE_VISIBILITY = SLOT["compliance_visibility"]
POWER_MODE = SLOT["power_mode"]
DECISION_LEVEL = SLOT["decision_level"]
EMPOWERMENT = SLOT["empowerment"]
AGENCY_MIN = SLOT["agency_min"]
AGENCY_REF = SLOT["agency_ref"]
P_TEST = SLOT["p_test"]
CHANGE_QUALITY = SLOT["change_quality"]
LEARNING_RATE = SLOT["learning_rate"]
SUCCESS_BOOST = SLOT["success_boost"]
FAILURE_COST = SLOT["failure_cost"]
ADAPT = SLOT["adapt"]
ADAPT_RATE = SLOT["adapt_rate"]
P_ABANDON = SLOT["p_abandon"]
P_CHURN = SLOT["p_churn"]
TRUST_NEW = SLOT["trust_new"]
CLINICAL_CREDIBILITY = SLOT["clinical_credibility"]
P_CLINICAL_APPOINTMENT = SLOT["p_clinical_appointment"]
NEWCOMER_BELIEF = SLOT["newcomer_belief"]
COMPLEXITY = SLOT["complexity"]
PERSUASION = SLOT["persuasion"]
FAILURE_RESPONSE = SLOT["failure_response"]
BLAME = SLOT["blame"]
SAFETY_GAIN = SLOT["safety_gain"]
COURAGE_EROSION = SLOT["courage_erosion"]
PATIENT_PARTNERSHIP = SLOT["patient_partnership"]


def stream_keys(seeds: np.ndarray) -> np.ndarray:
    """(R, 6) uint64 stream keys of each replicate, in ``KEY_PURPOSES`` order."""
    return np.stack([rng.keys(seeds, p) for p in KEY_PURPOSES], axis=1)


def pack(cfg: ModelConfig) -> np.ndarray:
    """The (N_SLOTS,) float64 parameter vector of ``cfg``.

    The type of change (``cfg.change``, sim.params.ChangeParams) enters here where it only
    rescales a rate: p_test' = min(1, 2 trialability p_test); crowding' = (1 - urgency)
    crowding; trust_erosion' = (1 - urgency) trust_erosion; persuasion = observability *
    evidence. Complexity has its own slot (``adaptation.test_cycles``).
    """
    m, mo, rel, pw, ad, ld, ch = (
        cfg.mandate, cfg.motivation, cfg.relationships, cfg.power, cfg.adaptation, cfg.leadership,
        cfg.change,
    )  # fmt: skip
    n_enablers = int(ld.career_path) + int(ld.pay_balance) + int(ld.licence_retention)
    values = {
        "threshold_count": 1.0 if cfg.dynamics.threshold_kind == "count" else 0.0,
        "p_spontaneous": cfg.dynamics.p_spontaneous,
        "mandate_on": float(m.on),
        "mandate_start": float(m.start),
        "mandate_end": float(m.end),
        "mandate_strength": m.strength,
        "mandate_all": 1.0 if m.scope == "all" else 0.0,
        "p_comply": m.p_comply,
        "p_lapse": m.p_lapse,
        "pressure_decay": m.pressure_decay,
        "readiness_weight": mo.readiness_weight,
        "crowding": mo.crowding * (1.0 - ch.urgency),
        "recovery": mo.recovery,
        "recognition": mo.recognition,
        "p_internalise": mo.p_internalise,
        "trust_growth": rel.trust_growth,
        "trust_erosion": rel.trust_erosion * (1.0 - ch.urgency),
        "compliance_visibility": rel.compliance_visibility,
        "power_mode": float(POWER_MODES[pw.mode]),
        "decision_level": float(pw.decision_level),
        "empowerment": pw.empowerment,
        "agency_min": pw.agency_min,
        "agency_ref": pw.agency_ref,
        "p_test": min(1.0, 2.0 * ch.trialability * ad.p_test),
        "change_quality": ad.change_quality,
        "learning_rate": ad.learning_rate,
        "success_boost": ad.success_boost,
        "failure_cost": ad.failure_cost,
        "adapt": float(ad.adapt),
        "adapt_rate": ad.adapt_rate,
        "p_abandon": ad.p_abandon,
        "p_churn": 0.0 if ld.tenure_years <= 0 else 1.0 - 0.5 ** (1.0 / (52.0 * ld.tenure_years)),
        "trust_new": ld.trust_new,
        "clinical_credibility": ld.clinical_credibility,
        "p_clinical_appointment": min(1.0, ld.clinical_appointment + ld.enabler_effect * n_enablers),
        "newcomer_belief": cfg.people.belief_mean,
        "complexity": ch.complexity,
        "persuasion": ch.observability * ch.evidence,
        "failure_response": pw.failure_response,
        "blame": pw.blame,
        "safety_gain": pw.safety_gain,
        "courage_erosion": pw.courage_erosion,
        "patient_partnership": ad.patient_partnership,
    }
    par = np.empty(N_SLOTS, dtype=np.float64)
    for name, k in SLOT.items():
        par[k] = values[name]
    return par
