"""The full psychology-of-change model (rule ``change``) runs the same on both engines.

The Numba phases in ``sim.dynamics`` and the Mesa reference in ``sim.agents.ChangeStaffMember``
state the same equations; every random number is a pure function of (seed, purpose,
step, person). So for any organisation, any setting of every mechanism group and any
seed, the two engines must agree to the last bit: counts, states, adoption steps, and
the mean motivation, belief and trust after every step. With every mechanism off, the
full model is the threshold rule with spontaneous adoption, draw for draw.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_engines_agree, assert_stepped_equals_run, change_configs, seeds, small_org, unit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import ChangeModel, from_dict, run, run_batch
from sim.model import organisation_for

EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW_EXAMPLES = settings(EXAMPLES, max_examples=30)

EXTRA = ("mean_motivation", "mean_belief", "mean_trust")
STATE_ARRAYS = (
    "state",
    "t_adopted",
    "motivation",
    "belief",
    "fit",
    "pressure",
    "trust",
    "clinical_leader",
    "co_designer",
    "courage",
)


def assert_same_change_run(a: sim.Result, b: sim.Result, what: str) -> None:
    """Counts, final states, adoption steps and the mean-state series identical."""
    np.testing.assert_array_equal(a.counts, b.counts, err_msg=f"{what}: counts differ")
    np.testing.assert_array_equal(a.final_state, b.final_state, err_msg=f"{what}: final states differ")
    np.testing.assert_array_equal(a.t_adopted, b.t_adopted, err_msg=f"{what}: adoption steps differ")
    for name in EXTRA:
        assert name in a.extra and name in b.extra, f"{what}: {name} missing from extra"
        assert np.array_equal(a.extra[name], b.extra[name], equal_nan=True), (
            f"{what}: {name} differs between the runs (expected identical to the last bit)"
        )


@EXAMPLES
@given(cfg=change_configs(), seed=seeds)
def test_full_model_kernel_and_agents_agree_exactly(cfg: dict, seed: int) -> None:
    org = organisation_for(from_dict(cfg))
    fast = run(cfg, org=org, seed=seed)
    ref = run(cfg, org=org, seed=seed, engine="agents")
    assert_same_change_run(fast, ref, "full model, kernel vs agents")


@FEW_EXAMPLES
@given(cfg=change_configs(), seed=seeds, data=st.data())
def test_full_model_explicit_thresholds_and_adopters_agree(cfg: dict, seed: int, data: st.DataObject) -> None:
    org = organisation_for(from_dict(cfg))
    # Thresholds on a grid of 1/4 so that exposures landing exactly on them are common.
    th = (np.arange(org.n_staff) % 5) / 4.0
    adopters = data.draw(st.lists(st.integers(0, org.n_staff - 1), max_size=4), label="initial_adopters")
    kwargs = {"org": org, "seed": seed, "thresholds": th, "initial_adopters": adopters}
    fast = run(cfg, **kwargs)
    ref = run(cfg, engine="agents", **kwargs)
    assert_same_change_run(fast, ref, "full model with explicit thresholds, kernel vs agents")


@FEW_EXAMPLES
@given(cfg=change_configs(), seed=seeds)
def test_full_model_engines_agree_after_every_step(cfg: dict, seed: int) -> None:
    assert_engines_agree(cfg, seed, STATE_ARRAYS, means=True)


@FEW_EXAMPLES
@given(cfg=change_configs(), seed=seeds)
def test_full_model_stepped_by_hand_equals_run(cfg: dict, seed: int) -> None:
    assert_stepped_equals_run(cfg, seed, EXTRA)


@FEW_EXAMPLES
@given(cfg=change_configs(), seed=st.integers(0, 2**40), n_rep=st.integers(2, 4))
def test_full_model_batch_replicate_equals_single_run(cfg: dict, seed: int, n_rep: int) -> None:
    org = organisation_for(from_dict(cfg))
    seed_list = [seed + 7 * k for k in range(n_rep)]
    batch = run_batch(cfg, org=org, seeds=seed_list)
    for k, s in enumerate(seed_list):
        one = run(cfg, org=org, seed=s)
        what = f"replicate {k} (seed {s}) of a batch vs a single run"
        np.testing.assert_array_equal(batch.counts[k], one.counts[0], err_msg=f"{what}: counts")
        np.testing.assert_array_equal(batch.final_state[k], one.final_state[0], err_msg=f"{what}: states")
        np.testing.assert_array_equal(batch.t_adopted[k], one.t_adopted[0], err_msg=f"{what}: adoption steps")
        for name in EXTRA:
            assert np.array_equal(batch.extra[name][k], one.extra[name][0], equal_nan=True), (
                f"{what}: {name} differs"
            )


@EXAMPLES
@given(
    org=small_org(),
    seed=seeds,
    kind=st.sampled_from(["fraction", "count"]),
    mean=unit,
    sd=st.floats(0.01, 0.4),
    p=st.one_of(st.just(0.0), st.floats(1e-3, 0.2)),
    gradient=st.one_of(st.just(0.0), st.floats(0.0, 2.0)),
    strategy=st.sampled_from(["random", "top", "frontline", "motivation", "hubs"]),
    n_steps=st.integers(1, 30),
)
def test_full_model_with_every_mechanism_off_is_the_threshold_rule(
    org: dict,
    seed: int,
    kind: str,
    mean: float,
    sd: float,
    p: float,
    gradient: float,
    strategy: str,
    n_steps: int,
) -> None:
    # The "change" groups default to off (no mandate, readiness_weight 0, no co-design,
    # no trust dynamics, power mode none, no tests, no churn). Then agency = 1 and the
    # initiative factor is exactly 1.0, the exposure is the same weighted sum in the same
    # CSR order, and both rules draw from the replicate's ADOPT stream: identical runs.
    base = {
        "org": org,
        "dynamics": {
            "threshold_kind": kind,
            "threshold_mean": mean if kind == "fraction" else 3.0 * mean,
            "threshold_sd": sd,
            "p_spontaneous": p,
            "power_gradient": gradient,
        },
        "people": {"trust_peer": 0.7, "trust_team": 0.9},
        "seeding": {"strategy": strategy, "n_seeds": min(3, org["n_staff"])},
        "n_steps": n_steps,
    }
    o = organisation_for(from_dict(base))
    change = run(base, org=o, seed=seed, overrides={"dynamics.rule": "change"})
    threshold = run(base, org=o, seed=seed, overrides={"dynamics.rule": "threshold"})
    what = "rule change with every mechanism off vs rule threshold"
    np.testing.assert_array_equal(change.counts, threshold.counts, err_msg=f"{what}: counts")
    np.testing.assert_array_equal(change.final_state, threshold.final_state, err_msg=f"{what}: states")
    np.testing.assert_array_equal(change.t_adopted, threshold.t_adopted, err_msg=f"{what}: adoption steps")
    for name in ("mean_motivation", "mean_trust"):
        assert np.array_equal(change.extra[name], threshold.extra[name], equal_nan=True), (
            f"{what}: {name} differs (nothing should move motivation or trust)"
        )


# Every mechanism on at moderate rates, so the equivalence above is tested on runs where
# each one visibly acts (the random scenarios sometimes leave a mechanism idle).
BUSY = {
    "dynamics": {
        "rule": "change",
        "threshold_mean": 0.3,
        "threshold_sd": 0.15,
        "p_spontaneous": 0.02,
        "power_gradient": 0.5,
    },
    "people": {"trust_peer": 0.6, "trust_cross_org": 0.5, "motivation_sd": 0.2},
    "seeding": {"strategy": "top", "n_seeds": 3},
    "mandate": {"on": True, "start": 2, "end": 15, "strength": 0.8, "scope": "lead", "p_comply": 0.3},
    "motivation": {
        "readiness_weight": 0.4,
        "crowding": 0.05,
        "recovery": 0.05,
        "recognition": 0.05,
        "p_internalise": 0.1,
    },
    "co_design": {"on": True, "share": 0.1, "rule": "diagonal", "voice": 3.0, "patient_share": 0.2},
    "relationships": {"trust_growth": 0.1, "trust_erosion": 0.1, "compliance_visibility": 0.5},
    "power": {
        "mode": "distributed",
        "empowerment": 0.5,
        "agency_min": 0.2,
        "failure_response": 0.3,
        "blame": 0.1,
        "safety_gain": 0.1,
        "courage_erosion": 0.05,
    },
    "change": {
        "evidence": 0.7,
        "complexity": 0.5,
        "trialability": 0.7,
        "observability": 0.5,
        "compatibility": 0.05,
        "urgency": 0.3,
    },
    "adaptation": {"p_test": 0.3, "change_quality": 0.4, "adapt": True, "p_abandon": 0.1},
    "leadership": {"tenure_years": 0.05, "clinical_credibility": 2.0, "career_path": True},
    "n_steps": 30,
}


@pytest.mark.parametrize(
    "org",
    [
        {"kind": "synthetic", "n_staff": 50, "span_of_control": 4},
        {
            "kind": "ics",
            "n_staff": 48,
            "span_of_control": 3,
            "n_boundary_spanners": 3,
            "cross_ties_per_pair": 4,
        },
    ],
    ids=["synthetic", "ics"],
)
@pytest.mark.parametrize("power", ["centralised", "distributed"])
@pytest.mark.parametrize("partnership", [0.0, 0.5], ids=["staff_tests", "patient_partners"])
def test_busy_full_model_agrees_on_both_engines(org: dict, power: str, partnership: float) -> None:
    # patient_partnership 0.5: half the tests are run with patients and carers, so partnered
    # rework on success and on failure (with adapt on) is exercised on both engines.
    adaptation = {**BUSY["adaptation"], "patient_partnership": partnership}
    cfg = {**BUSY, "org": org, "power": {**BUSY["power"], "mode": power}, "adaptation": adaptation}
    seed_list = [1, 2, 3]
    fast = run_batch(cfg, seeds=seed_list)
    ref = run_batch(cfg, seeds=seed_list, engine="agents")
    assert_same_change_run(fast, ref, f"busy scenario ({org['kind']}, {power} power), kernel vs agents")
    c = fast.counts[:, :, 0, :]
    assert (c[:, :, 1] > 0).any(), "busy scenario: nobody complied, so the mandate went untested"
    assert (c[:, :, 3] > 0).any(), "busy scenario: nobody lapsed, so lapse and abandonment went untested"
    for name in EXTRA:
        assert (np.ptp(fast.extra[name], axis=1) > 0).all(), f"busy scenario: {name} never moved"
    # A successor starts with belief exactly people.belief_mean (0.5); drawn and tested
    # beliefs are never exactly that, so this counts senior posts that changed hands.
    n_replaced = 0
    for s in seed_list:
        model = ChangeModel(cfg, seed=s)
        for _ in range(cfg["n_steps"]):
            model.step()
            n_replaced += int((model.state.belief[model.senior == 1] == 0.5).sum())
    assert n_replaced > 0, "busy scenario: no senior post changed hands, so churn went untested"


def test_busy_full_model_without_persuasion_agrees_on_both_engines() -> None:
    """Without persuasion (observability 0) the tests run as one branch-free pass over
    everyone (``adaptation.test_cycles``); with it, tester by tester. Both must match the
    agents: blame, safety gain, partnered and failed-test rework all act here.
    """
    cfg = {
        **BUSY,
        "org": {"kind": "synthetic", "n_staff": 50, "span_of_control": 4},
        "change": {**BUSY["change"], "observability": 0.0},
        "adaptation": {**BUSY["adaptation"], "patient_partnership": 0.5},
    }
    fast = run_batch(cfg, seeds=[1, 2, 3])
    ref = run_batch(cfg, seeds=[1, 2, 3], engine="agents")
    assert_same_change_run(fast, ref, "busy scenario without persuasion, kernel vs agents")
    assert (np.ptp(fast.extra["mean_belief"], axis=1) > 0).all(), "tests never moved belief"


@pytest.mark.parametrize("power", ["none", "centralised", "distributed"])
def test_both_decision_passes_agree_with_the_agents_at_the_switch(power: str) -> None:
    """``adoption.decide`` decides everyone in vector loops while more than one in eight
    is not committed, and person by person below that. From states set by hand with 0 to
    all of 48 people not committed (both sides of the switch, and every other count), one
    step on each engine must give the same states, adoption steps and attributes."""
    org = {"kind": "synthetic", "n_staff": 48, "span_of_control": 4}
    dynamics = {**BUSY["dynamics"], "p_spontaneous": 0.3}
    cfg = {**BUSY, "org": org, "power": {**BUSY["power"], "mode": power}, "dynamics": dynamics}
    rng = np.random.default_rng(11)
    n = 48
    seen = set()
    for k in range(n + 1):
        models = [ChangeModel(cfg, seed=k, engine=e) for e in ("kernel", "agents")]
        chosen = rng.choice(n, k, replace=False)
        state = np.full(n, 2, np.uint8)  # committed
        state[chosen] = rng.choice([0, 1, 3], k)  # not adopted, complying, lapsed
        pressure = rng.random(n) * 0.8
        for m in models:
            m.state.state[:] = state
            m.state.pressure[:] = pressure
            m.step()
        a, b = (m.state for m in models)
        for name in STATE_ARRAYS:
            np.testing.assert_array_equal(
                getattr(a, name), getattr(b, name), err_msg=f"{power}, k={k}: {name}"
            )
        seen.add(tuple(np.bincount(a.state, minlength=4) > 0))
    assert len(seen) > 3, "the steps moved people into too few kinds of state to test the passes"
