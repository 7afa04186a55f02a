"""Helpers shared by the test modules: Hypothesis strategies for organisations and full-model configs,
the step-by-step comparisons of the two engines and of ``ChangeModel`` with ``sim.run``, and
the ``changesim`` command run as a user runs it.

A test module imports them with ``from helpers import ...`` (pytest puts ``tests/`` on the
path); no test module imports another.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from sim import ChangeModel, from_dict, run
from sim.constants import ORG_KINDS
from sim.model import organisation_for

# Edge values (0, 1, subnormals) find exact-comparison bugs; interior values make the
# mechanisms act. Draw both.
unit = st.one_of(st.floats(0.0, 1.0), st.floats(0.05, 0.95))
seeds = st.integers(0, 2**32)


@st.composite
def small_org(draw) -> dict:
    """A synthetic organisation of 2..50 staff or a small integrated care system."""
    org = {
        "kind": draw(st.sampled_from(["synthetic", "ics"])),
        "span_of_control": draw(st.integers(2, 6)),
        "p_team_tie": draw(unit),
        "mean_peer_ties": draw(st.floats(0.0, 4.0)),
        "clinical_leader_share": draw(unit),
    }
    if org["kind"] == "synthetic":
        org["n_staff"] = draw(st.integers(2, 50))
        org["org_kind"] = draw(st.sampled_from(ORG_KINDS))
        return org
    n_partners = draw(st.integers(2, 3))
    org["n_staff"] = draw(st.integers(2 * n_partners, 50))
    org["partner_kinds"] = draw(
        st.lists(st.sampled_from(ORG_KINDS), min_size=n_partners, max_size=n_partners)
    )
    org["partner_shares"] = draw(st.lists(st.floats(0.1, 1.0), min_size=n_partners, max_size=n_partners))
    org["n_boundary_spanners"] = draw(st.integers(0, 4))
    org["cross_ties_per_pair"] = draw(st.integers(0, 6))
    return org


@st.composite
def change_configs(draw) -> dict:
    """A full-model scenario: every mechanism group drawn on or off, with random rates."""
    org = draw(small_org())
    # Long runs are drawn more often than short ones: slow mechanisms need steps to act.
    n_steps = draw(st.one_of(st.integers(0, 30), st.integers(20, 30)))
    kind = draw(st.sampled_from(["fraction", "count"]))
    dynamics = {
        "rule": "change",
        "threshold_kind": kind,
        "threshold_mean": draw(unit if kind == "fraction" else st.floats(0.0, 3.0)),
        "threshold_sd": draw(st.floats(0.0, 0.4)),
        "p_spontaneous": draw(st.one_of(st.just(0.0), st.floats(0.0, 0.2))),
        "power_gradient": draw(st.one_of(st.just(0.0), st.floats(0.0, 2.0))),
    }
    people = {
        "authority_top": draw(unit),
        "authority_frontline": draw(unit),
        "motivation_mean": draw(unit),
        "motivation_sd": draw(st.floats(0.0, 0.4)),
        "courage_mean": draw(unit),
        "courage_sd": draw(st.floats(0.0, 0.4)),
        "belief_mean": draw(unit),
        "belief_sd": draw(st.floats(0.0, 0.4)),
        "trust_line": draw(unit),
        "trust_team": draw(unit),
        "trust_peer": draw(unit),
        "trust_cross_org": draw(unit),
    }
    seeding = {
        "strategy": draw(st.sampled_from(["random", "top", "frontline", "motivation", "hubs", "none"])),
        "n_seeds": draw(st.integers(0, min(5, org["n_staff"]))),
    }
    start = draw(st.one_of(st.just(0), st.integers(0, 20)))
    mandate = {
        "on": draw(st.sampled_from([True, True, False])),
        "start": start,
        "end": draw(st.one_of(st.just(-1), st.integers(start + 1, 31))),  # a mandate ends after it starts
        "strength": draw(unit),
        "scope": draw(st.sampled_from(["lead", "all"])),
        "p_comply": draw(unit),
        "p_lapse": draw(unit),
        "pressure_decay": draw(unit),
    }
    motivation = {
        "readiness_weight": draw(st.floats(0.0, 2.0)),
        "crowding": draw(st.one_of(st.just(0.0), unit)),
        "recovery": draw(st.one_of(st.just(0.0), unit)),
        "recognition": draw(st.one_of(st.just(0.0), unit)),
        "p_internalise": draw(unit),
    }
    co_design = {
        "on": draw(st.sampled_from([True, True, False])),
        "share": draw(unit),
        "rule": draw(st.sampled_from(["frontline", "volunteers", "diagonal", "board"])),
        "fit_gain": draw(unit),
        "team_spread": draw(unit),
        "voice": draw(st.one_of(st.just(0.0), st.floats(0.5, 20.0))),
        "patient_share": draw(st.one_of(st.just(0.0), st.floats(0.0, 0.9))),
        "patient_fit": draw(st.floats(0.0, 3.0)),
        "patient_motivation": draw(unit),
    }
    relationships = {
        "trust_growth": draw(st.one_of(st.just(0.0), unit)),
        "trust_erosion": draw(st.one_of(st.just(0.0), unit)),
        "compliance_visibility": draw(unit),
    }
    power = {
        "mode": draw(st.sampled_from(["none", "centralised", "distributed"])),
        "decision_level": draw(st.integers(0, 4)),
        "empowerment": draw(unit),
        "agency_min": draw(unit),
        "failure_response": draw(unit),
        "blame": draw(st.one_of(st.just(0.0), unit)),
        "safety_gain": draw(st.one_of(st.just(0.0), unit)),
        "courage_erosion": draw(st.one_of(st.just(0.0), unit)),
    }
    change = {
        "evidence": draw(unit),
        "complexity": draw(st.one_of(st.just(0.0), unit)),
        "trialability": draw(unit),
        "observability": draw(st.one_of(st.just(0.0), unit)),
        "compatibility": draw(st.one_of(st.just(0.0), unit)),
        "urgency": draw(st.one_of(st.just(0.0), unit)),
    }
    adaptation = {
        "p_test": draw(st.one_of(st.just(0.0), unit)),
        "change_quality": draw(unit),
        "learning_rate": draw(unit),
        "success_boost": draw(unit),
        "failure_cost": draw(unit),
        "adapt": draw(st.booleans()),
        "adapt_rate": draw(unit),
        "p_abandon": draw(st.one_of(st.just(0.0), unit)),
        "patient_partnership": draw(st.one_of(st.just(0.0), unit)),
    }
    leadership = {
        # Weekly churn hazard 1 / (52 tenure): 0.01..0.5 years is 2% to 100% a week, so
        # senior posts do turn over within 30 steps; 0 is no churn.
        "tenure_years": draw(st.one_of(st.just(0.0), st.floats(0.01, 0.5))),
        "trust_new": draw(unit),
        "clinical_credibility": draw(st.floats(0.0, 5.0)),
        "clinical_appointment": draw(unit),
        "career_path": draw(st.booleans()),
        "pay_balance": draw(st.booleans()),
        "licence_retention": draw(st.booleans()),
        "enabler_effect": draw(unit),
    }
    return {
        "org": org,
        "people": people,
        "dynamics": dynamics,
        "seeding": seeding,
        "mandate": mandate,
        "motivation": motivation,
        "co_design": co_design,
        "relationships": relationships,
        "power": power,
        "adaptation": adaptation,
        "leadership": leadership,
        "change": change,
        "n_steps": n_steps,
        "org_seed": draw(st.integers(0, 3)),
    }


def assert_engines_agree(cfg: dict, seed: int, arrays: tuple[str, ...], means: bool = False) -> None:
    """The kernel and agent engines, from one seed, agree to the bit at the start and after every step.

    Compares the state ``arrays`` (names of ``model.state`` attributes) at the start, and the
    counts, those arrays and, with ``means``, the mean series after each of ``cfg["n_steps"]``.
    """
    org = organisation_for(from_dict(cfg))
    fast = ChangeModel(cfg, org=org, seed=seed, engine="kernel")
    ref = ChangeModel(cfg, org=org, seed=seed, engine="agents")
    for name in arrays:
        np.testing.assert_array_equal(
            getattr(fast.state, name), getattr(ref.state, name), err_msg=f"initial {name} differs"
        )
    for t in range(1, cfg["n_steps"] + 1):
        fast.step()
        ref.step()
        np.testing.assert_array_equal(fast.counts, ref.counts, err_msg=f"counts differ after step {t}")
        for name in arrays:
            np.testing.assert_array_equal(
                getattr(fast.state, name), getattr(ref.state, name), err_msg=f"{name} differs after step {t}"
            )
        if means:
            np.testing.assert_array_equal(fast.means, ref.means, err_msg=f"mean series differ after step {t}")


def assert_stepped_equals_run(cfg: dict, seed: int, extra: tuple[str, ...] = ()) -> None:
    """``ChangeModel`` stepped by hand ends where ``sim.run`` does from the same seed.

    Counts, final states and adoption steps, and the ``extra`` mean series of ``run`` against
    the columns of ``model.means`` in that order (NaN equal to NaN).
    """
    org = organisation_for(from_dict(cfg))
    model = ChangeModel(cfg, org=org, seed=seed)
    for _ in range(cfg["n_steps"]):
        model.step()
    res = run(cfg, org=org, seed=seed)
    np.testing.assert_array_equal(res.counts[0], model.counts, err_msg="run vs ChangeModel: counts")
    np.testing.assert_array_equal(res.final_state[0], model.state.state, err_msg="run vs ChangeModel: states")
    np.testing.assert_array_equal(
        res.t_adopted[0], model.state.t_adopted, err_msg="run vs ChangeModel: adoption steps"
    )
    if extra:
        means = model.means
        for k, name in enumerate(extra):
            assert np.array_equal(res.extra[name][0], means[:, k], equal_nan=True), (
                f"run vs ChangeModel: {name} differs"
            )


def changesim(
    *args: str, cwd: Path, env: dict | None = None, timeout: float = 180
) -> subprocess.CompletedProcess:
    """Run ``python -m sim ...`` as a user would, in ``cwd``, with ``env`` added to this process's."""
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
