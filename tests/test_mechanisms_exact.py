"""Mechanisms pinned exactly, on organisations small enough to work out by hand.

Each test sets up a tiny organisation, fixes the people's state by hand, advances one or
a few steps on both engines, and compares with a value derived from the equation in the
mechanism's docstring (written out again here, not read from the code). Probabilities are
set to 0 or 1 where a random draw would otherwise decide, so the expected value is exact;
where a draw must decide, the expectation is worked out from the same counter-based draw
(``sim.rng.uniform_py``), which is a pure function of (seed, purpose, step, person). A
test here fails when its mechanism is removed, reversed or halved.

The five-person organisation (``TINY``): person 0 manages persons 1-4, who form one team;
ties 0-k are line ties, ties among 1-4 team ties; no peer ties. Initial trust: line 0.6,
team 0.7.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import ChangeModel, from_dict, rng
from sim.dynamics import co_design, layout
from sim.dynamics.change import senior_mask, stream_keys
from sim.model import organisation_for
from sim.params import ConfigError
from sim.state import COMMITTED, COMPLYING, LAPSED, NOT_ADOPTED

ENGINES = ("kernel", "agents")

TINY = {
    "org": {"kind": "synthetic", "n_staff": 5, "span_of_control": 4, "mean_peer_ties": 0.0},
    "dynamics": {"rule": "change", "threshold_mean": 1.0, "threshold_sd": 0.0, "p_spontaneous": 0.0},
    "people": {"trust_line": 0.6, "trust_team": 0.7},
    "seeding": {"strategy": "none", "n_seeds": 0},
    "n_steps": 5,
}
"""Nobody adopts by example (threshold 1 with nobody adopted) or on their own (p = 0)."""


def tiny(engine: str, **changes) -> ChangeModel:
    """A ChangeModel of ``TINY`` with dotted-key changes, on ``engine``."""
    m = ChangeModel(TINY, engine=engine, seed=7, overrides=changes)
    org = m.org
    assert list(org.manager) == [-1, 0, 0, 0, 0] and set(org.team) == {0}, "TINY is not as described"
    return m


def tie(m: ChangeModel, i: int, j: int) -> int:
    """Index in ``state.trust`` of the tie (i, j): the undirected tie of stored tie (i, j)."""
    org = m.org
    row = org.indices[org.indptr[i] : org.indptr[i + 1]]
    return int(m.pair[org.indptr[i] + np.flatnonzero(row == j)[0]])


# --- motivation: recognition ---------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_recognition_raises_an_adopters_motivation_by_its_share_of_the_gap(engine: str) -> None:
    # m <- m + recognition (1 - m) for adopters only: 0.4 + 0.1 * 0.6 = 0.46.
    m = tiny(engine, **{"motivation.recognition": 0.1})
    st = m.state
    st.state[1] = COMMITTED
    st.motivation[:] = 0.4
    st.motivation0[:] = 0.4
    m.step()
    assert st.motivation[1] == pytest.approx(0.46, abs=1e-12)
    assert st.motivation[2] == pytest.approx(0.4, abs=1e-12), "recognition reached a non-adopter"


# --- relationships: erosion on line ties only, growth with committed colleagues ------------


@pytest.mark.parametrize("engine", ENGINES)
def test_directives_erode_trust_on_line_ties_only(engine: str) -> None:
    # A mandate in force from step 1 at strength 0.8: x = 0.8 for everyone. Line tie:
    # 0.6 - 0.1 * 0.8 * 0.6 = 0.552; team ties stay 0.7 (nobody committed, no growth).
    m = tiny(engine, **{"mandate.on": True, "mandate.strength": 0.8, "mandate.p_comply": 0.0,
                        "relationships.trust_erosion": 0.1})  # fmt: skip
    m.step()
    tr = m.state.trust
    assert tr[tie(m, 0, 1)] == pytest.approx(0.552, abs=1e-12)
    assert tr[tie(m, 1, 0)] == pytest.approx(0.552, abs=1e-12)
    assert tr[tie(m, 1, 2)] == pytest.approx(0.7, abs=1e-12), "a team tie eroded under a directive"


@pytest.mark.parametrize("engine", ENGINES)
def test_erosion_reads_the_mean_pressure_of_both_ends_of_each_line_tie(engine: str) -> None:
    # No mandate and no decay: pressure stays as set by hand, different at each end.
    # Line ties 0-k: 0.6 - 0.1 * ((0.8 + x_k) / 2) * 0.6 for x_k = 0.2, 0.4, 0.0, 0.8:
    # 0.57, 0.564, 0.576, 0.552 (one end's pressure alone would give 0.552 or 0.588, 0.576,
    # 0.6, 0.552); the team ties among 1-4 stay 0.7.
    m = tiny(engine, **{"mandate.pressure_decay": 0.0, "mandate.p_comply": 0.0,
                        "relationships.trust_erosion": 0.1})  # fmt: skip
    m.state.pressure[:] = [0.8, 0.2, 0.4, 0.0, 0.8]
    m.step()
    tr = m.state.trust
    got = [tr[tie(m, 0, k)] for k in (1, 2, 3, 4)]
    assert got == pytest.approx([0.57, 0.564, 0.576, 0.552], abs=1e-12)
    assert tr[tie(m, 2, 1)] == pytest.approx(0.7, abs=1e-12), "a team tie eroded"


@pytest.mark.parametrize("engine", ENGINES)
def test_joint_work_builds_trust_on_ties_of_committed_people(engine: str) -> None:
    # tau <- tau + growth (1 - tau) where either end is committed: 0.7 + 0.1 * 0.3 = 0.73
    # on team ties of person 1 (once: a tie moved from both its ends would reach 0.757);
    # ties among 2-4 unchanged.
    m = tiny(engine, **{"relationships.trust_growth": 0.1})
    m.state.state[1] = COMMITTED
    m.step()
    tr = m.state.trust
    assert tr[tie(m, 1, 2)] == pytest.approx(0.73, abs=1e-12)
    assert tr[tie(m, 2, 1)] == pytest.approx(0.73, abs=1e-12)
    assert tr[tie(m, 0, 1)] == pytest.approx(0.6 + 0.1 * 0.4, abs=1e-12)
    assert tr[tie(m, 2, 3)] == pytest.approx(0.7, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_trust_grows_only_while_an_end_is_committed_as_states_change(engine: str) -> None:
    # Growth 0.1, states set by hand between steps (as churn or a lapse would set them):
    # step 1 with 1 and 2 committed, step 2 with 2 and 3, step 3 with nobody (2 and 3
    # stop together). g(tau) = tau + 0.1 (1 - tau): g(0.7) = 0.73, g(0.73) = 0.757,
    # g(0.6) = 0.64. A tie left growing after its ends stopped (tie 1-4 at step 2, tie
    # 2-3 at step 3) would reach 0.757 and 0.7813.
    m = tiny(engine, **{"relationships.trust_growth": 0.1, "adaptation.p_abandon": 0.0})
    for step, committed, grown in (
        (1, (1, 2), {(1, 2): 0.73, (1, 3): 0.73, (2, 3): 0.73, (1, 4): 0.73, (3, 4): 0.7, (0, 1): 0.64}),
        (2, (2, 3), {(1, 2): 0.757, (1, 3): 0.757, (2, 3): 0.757, (1, 4): 0.73, (3, 4): 0.73, (0, 1): 0.64}),
        (3, (), {(1, 2): 0.757, (1, 3): 0.757, (2, 3): 0.757, (1, 4): 0.73, (3, 4): 0.73, (0, 1): 0.64}),
    ):
        m.state.state[:] = [NOT_ADOPTED] + [COMMITTED if k in committed else LAPSED for k in (1, 2, 3, 4)]
        m.step()
        assert list(m.state.state[1:]) == [COMMITTED if k in committed else LAPSED for k in (1, 2, 3, 4)]
        got = {pair: m.state.trust[tie(m, *pair)] for pair in grown}
        assert got == pytest.approx(grown, abs=1e-12), f"trust after step {step}"


# --- mandate: compliance, co-designers commit, pressure fades -------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_co_designers_commit_where_others_comply_under_a_mandate(engine: str) -> None:
    # p_comply * pressure = 1: everyone not adopted takes the mandate up; co-designer 2
    # owns the change and commits, the rest comply.
    m = tiny(engine, **{"mandate.on": True, "mandate.strength": 1.0, "mandate.p_comply": 1.0})
    m.state.co_designer[:] = 0
    m.state.co_designer[2] = 1
    m.step()
    assert list(m.state.state) == [COMPLYING, COMPLYING, COMMITTED, COMPLYING, COMPLYING]


@pytest.mark.parametrize("engine", ENGINES)
def test_pressure_fades_by_the_decay_share_each_week_after_withdrawal(engine: str) -> None:
    # In force at steps 1 and 2 (withdrawn at 3): 0.8, 0.8, then 0.8 * 0.75 = 0.6, 0.45.
    m = tiny(engine, **{"mandate.on": True, "mandate.end": 3, "mandate.strength": 0.8,
                        "mandate.pressure_decay": 0.25, "mandate.p_comply": 0.0})  # fmt: skip
    seen = []
    for _ in range(4):
        m.step()
        seen.append(float(m.state.pressure[3]))
    assert seen == pytest.approx([0.8, 0.8, 0.6, 0.45], abs=1e-12)


# --- adaptation: PDSA tests --------------------------------------------------------------


def _tester(engine: str, quality: float, **changes) -> ChangeModel:
    m = tiny(engine, **{"adaptation.p_test": 1.0, "adaptation.change_quality": quality, **changes})
    st = m.state
    st.state[1] = COMMITTED
    st.motivation[:] = 0.5
    st.motivation0[:] = 0.5
    st.belief[:] = 0.5
    st.courage[:] = 0.2
    st.fit[:] = 0.0
    return m


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_test_costs_motivation_in_proportion_to_missing_courage(engine: str) -> None:
    # Quality 0 and no fit: the test fails for sure. m <- m - failure_cost (1 - c) m =
    # 0.5 - 0.1 * 0.8 * 0.5 = 0.46; b <- b + lr (0 - b) = 0.5 - 0.3 * 0.5 = 0.35.
    m = _tester(engine, 0.0, **{"adaptation.failure_cost": 0.1, "adaptation.learning_rate": 0.3})
    m.step()
    assert m.state.motivation[1] == pytest.approx(0.46, abs=1e-12)
    assert m.state.belief[1] == pytest.approx(0.35, abs=1e-12)
    assert m.state.motivation[2] == 0.5 and m.state.belief[2] == 0.5, "a non-adopter ran a test"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_successful_test_raises_motivation_and_belief(engine: str) -> None:
    # Quality 1: success for sure. m <- m + success_boost (1 - m) = 0.5 + 0.1 * 0.5 = 0.55;
    # b <- b + lr (1 - b) = 0.5 + 0.3 * 0.5 = 0.65.
    m = _tester(engine, 1.0, **{"adaptation.success_boost": 0.1, "adaptation.learning_rate": 0.3})
    m.step()
    assert m.state.motivation[1] == pytest.approx(0.55, abs=1e-12)
    assert m.state.belief[1] == pytest.approx(0.65, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_adaptation_repairs_a_share_of_the_remaining_misfit(engine: str) -> None:
    # Quality 0, fit 0: fails for sure; fit <- fit + adapt_rate (1 - q - fit) = 0.25 * 1.
    m = _tester(engine, 0.0, **{"adaptation.adapt": True, "adaptation.adapt_rate": 0.25})
    m.step()
    assert m.state.fit[1] == pytest.approx(0.25 * 1.0, abs=1e-12)
    assert m.state.fit[2] == 0.0


# --- adaptation: tests run in partnership with patients and carers --------------------------


def _all_testing(engine: str, p_test: float, partnership: float, adapt: bool) -> ChangeModel:
    """Everyone committed, fit 0, quality 0.5 (c = 0): each test succeeds with chance 0.5 and
    rework aims at f* = (1 - 0.5 + 0) / (1 + 0) = 0.5, closing adapt_rate 0.25 of the gap."""
    m = _tester(engine, 0.5, **{"adaptation.p_test": p_test, "adaptation.adapt": adapt,
                                "adaptation.adapt_rate": 0.25,
                                "adaptation.patient_partnership": partnership})  # fmt: skip
    m.state.state[:] = COMMITTED
    return m


def _draws() -> tuple[list[float], list[bool]]:
    """Step 1's test draws u_i and outcomes y_i (chance 0.5) of TINY's seed 7."""
    keys = [int(k) for k in stream_keys(np.array([7]))[0]]
    u = [rng.uniform_py(keys[layout.K_TEST], 1, i) for i in range(5)]
    y = [rng.uniform_py(keys[layout.K_OUTCOME], 1, i) < 0.5 for i in range(5)]
    return u, y


@pytest.mark.parametrize("engine", ENGINES)
def test_partnered_tests_rework_fit_on_success_and_failure_alike(engine: str) -> None:
    # Every test partnered (p_test 1, partnership 1), staff-led adaptation off: each of the five
    # moves fit 0 -> 0 + 0.25 (0.5 - 0) = 0.125, whether its test succeeded or failed.
    _, y = _draws()
    assert any(y) and not all(y), "seed 7 should give both successes and failures at step 1"
    m = _all_testing(engine, 1.0, 1.0, adapt=False)
    m.step()
    assert m.state.fit == pytest.approx([0.125] * 5, abs=1e-12)
    # Without partnership and without adaptation nobody's fit moves; with adaptation only
    # the failed tests are reworked (the staff-led rule, unchanged).
    m = _all_testing(engine, 1.0, 0.0, adapt=False)
    m.step()
    assert list(m.state.fit) == [0.0] * 5, "fit moved with no partner and no adaptation"
    m = _all_testing(engine, 1.0, 0.0, adapt=True)
    m.step()
    assert m.state.fit == pytest.approx([0.0 if yi else 0.125 for yi in y], abs=1e-12)
    # A failed partnered test with adaptation on is reworked once, not twice.
    m = _all_testing(engine, 1.0, 1.0, adapt=True)
    m.step()
    assert m.state.fit == pytest.approx([0.125] * 5, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("adapt", [False, True])
def test_a_test_is_partnered_iff_its_draw_is_below_p_test_times_partnership(engine: str, adapt: bool) -> None:
    # p_test' = 2 trialability p_test = 0.75 (trialability 0.5); partnership 0.5: person i tests
    # iff u_i < 0.75 and the test is partnered iff u_i < 0.375. Seed 7 at step 1 gives a
    # partnered success, an unpartnered success, unpartnered failures and an untested person.
    u, y = _draws()
    partnered = [ui < 0.375 for ui in u]
    tested = [ui < 0.75 for ui in u]
    kinds = {(t, pa, yi) for t, pa, yi in zip(tested, partnered, y, strict=True)}
    assert {(True, True, True), (True, False, True), (True, False, False)} <= kinds and not all(tested)
    m = _all_testing(engine, 0.75, 0.5, adapt=adapt)
    m.step()
    cases = zip(tested, partnered, y, strict=True)
    expect = [0.125 if pa or (adapt and t and not yi) else 0.0 for t, pa, yi in cases]
    assert m.state.fit == pytest.approx(expect, abs=1e-12)
    # Belief after the step depends only on who tested and the outcomes: the same whatever
    # the partnership (common random numbers: no new draw, none shifted).
    base = _all_testing(engine, 0.75, 0.0, adapt=adapt)
    base.step()
    np.testing.assert_array_equal(m.state.belief, base.state.belief)


def test_patient_partnership_out_of_range_is_rejected_with_its_key() -> None:
    with pytest.raises(ConfigError, match=r"adaptation\.patient_partnership=1\.5 is out of range"):
        from_dict(TINY, **{"adaptation.patient_partnership": 1.5})


# --- leadership: churn and the clinical pipeline ---------------------------------------------


def test_churn_hazard_gives_the_median_tenure() -> None:
    # Half of a cohort stays after 52 * tenure weeks: (1 - p) ** (52 T) = 1/2.
    for tenure in (0.5, 3.0, 7.0):
        cfg = from_dict({"dynamics": {"rule": "change"}, "leadership": {"tenure_years": tenure}})
        p = layout.pack(cfg)[layout.P_CHURN]
        assert (1.0 - p) ** (52 * tenure) == pytest.approx(0.5, rel=1e-12)
        assert p == pytest.approx(1.0 - 2.0 ** (-1.0 / (52.0 * tenure)), rel=1e-12)


def test_clinical_appointment_rises_by_the_enabler_effect_per_enabler() -> None:
    base = {
        "dynamics": {"rule": "change"},
        "leadership": {"clinical_appointment": 0.2, "enabler_effect": 0.15},
    }
    for n, flags in enumerate(([], ["career_path"], ["career_path", "pay_balance"],
                               ["career_path", "pay_balance", "licence_retention"])):  # fmt: skip
        cfg = from_dict(base, **{f"leadership.{f}": True for f in flags})
        assert layout.pack(cfg)[layout.P_CLINICAL_APPOINTMENT] == pytest.approx(0.2 + 0.15 * n, abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_leavers_and_clinical_successors_follow_their_draws(engine: str) -> None:
    # 300 staff; each senior post is vacated where its churn draw < p, and the successor
    # is a clinician where the pipeline draw < clinical_appointment + 3 * enabler_effect.
    cfg = {**TINY, "org": {"kind": "synthetic", "n_staff": 300, "span_of_control": 3}}
    # A count threshold nobody reaches: a successor cannot re-adopt in the same step.
    changes = {"dynamics.threshold_kind": "count", "dynamics.threshold_mean": 1e5,
               "leadership.tenure_years": 0.02, "leadership.clinical_appointment": 0.1,
               "leadership.enabler_effect": 0.2, "leadership.career_path": True,
               "leadership.pay_balance": True, "leadership.licence_retention": True}  # fmt: skip
    m = ChangeModel(cfg, engine=engine, seed=3, overrides=changes)
    senior = senior_mask(m.org).astype(bool)
    assert senior.sum() >= 30
    m.state.state[:] = COMMITTED
    m.state.clinical_leader[:] = 0
    m.step()
    keys = [int(k) for k in stream_keys(np.array([3]))[0]]
    p = 1.0 - 0.5 ** (1.0 / (52.0 * 0.02))
    for i in np.flatnonzero(senior):
        left = rng.uniform_py(keys[2], 1, int(i)) < p
        assert (m.state.state[i] == NOT_ADOPTED) == left, f"post {i}: left={left}"
        if left:
            clin = rng.uniform_py(keys[3], 1, int(i)) < 0.1 + 3 * 0.2
            assert m.state.clinical_leader[i] == int(clin), f"post {i}: successor clinician={clin}"


def test_at_least_200_senior_posts_turn_over_at_the_median_tenure() -> None:
    # 2,000 staff at span 3 have over 200 senior posts; after 52 * tenure weeks each post
    # has been vacated at least once with chance 1/2. The share pooled over posts and
    # replicates is within 3 standard errors of 1/2 (SE = sqrt(1/4 / N)); a 48-week year
    # gives 1 - 0.5 ** (52 / 48) = 0.528, which the bound excludes at these N.
    from sim import run_batch

    # Everyone starts committed and nobody can adopt again (a count threshold no one
    # reaches), so a post ends not adopted exactly when it was vacated at least once.
    cfg = {**TINY, "org": {"kind": "synthetic", "n_staff": 2000, "span_of_control": 3},
           "dynamics": {"rule": "change", "threshold_kind": "count", "threshold_mean": 1e5},
           "leadership": {"tenure_years": 0.25}, "n_steps": 13}  # fmt: skip
    org = organisation_for(from_dict(cfg))
    senior = senior_mask(org).astype(bool)
    assert senior.sum() >= 200
    seeds = np.arange(30)
    res = run_batch(cfg, org=org, seeds=seeds, by_group=False, initial_adopters=np.ones(org.n_staff, bool))
    keys = stream_keys(seeds)
    p = 1.0 - 0.5 ** (1.0 / 13.0)
    idx = np.flatnonzero(senior).astype(np.uint64)
    left = np.zeros((len(seeds), len(idx)), dtype=bool)
    for t in range(1, 14):
        out = np.empty((len(seeds), len(idx)))
        rng.uniform_rows_nb(keys[:, 2], t, idx, out)
        left |= out < p
    share = left.mean()
    n = left.size
    assert abs(share - 0.5) < 3 * math.sqrt(0.25 / n), f"{share:.4f} of {n} posts vacated; expected 0.5"
    # The engine vacated exactly those posts, and no other.
    np.testing.assert_array_equal(res.final_state[:, senior] == NOT_ADOPTED, left)
    assert (res.final_state[:, ~senior] == COMMITTED).all()


# --- co-design: who is chosen, and how far the fit reaches -----------------------------------


def _org(n: int = 400, span: int = 6):
    return organisation_for(from_dict({"org": {"kind": "synthetic", "n_staff": n, "span_of_control": span}}))


def _cells(org) -> np.ndarray:
    return np.array(
        [
            hash((int(o), int(lv), int(p)))
            for o, lv, p in zip(org.organisation, org.level, org.profession, strict=True)
        ]
    )


def test_frontline_rule_picks_only_frontline_staff() -> None:
    org = _org()
    p = from_dict(
        {"dynamics": {"rule": "change"}, "co_design": {"on": True, "rule": "frontline", "share": 0.1}}
    ).co_design
    g = co_design.choose_group(org, np.full((3, org.n_staff), 0.5), p, np.arange(3))
    assert (g.sum(axis=1) == 40).all()
    assert (org.level[np.flatnonzero(g[0])] == org.n_levels - 1).all()


def test_board_rule_picks_the_most_senior() -> None:
    org = _org()
    p = from_dict(
        {"dynamics": {"rule": "change"}, "co_design": {"on": True, "rule": "board", "share": 0.01}}
    ).co_design
    g = co_design.choose_group(org, np.full((1, org.n_staff), 0.5), p, np.arange(1))
    chosen = org.level[g[0]]
    assert chosen.max() <= np.sort(org.level)[3]


def test_volunteers_rule_picks_the_most_motivated() -> None:
    org = _org()
    motivation = np.random.default_rng(0).random((2, org.n_staff))
    p = from_dict(
        {"dynamics": {"rule": "change"}, "co_design": {"on": True, "rule": "volunteers", "share": 0.05}}
    ).co_design
    g = co_design.choose_group(org, motivation, p, np.arange(2))
    for r in range(2):
        top = np.argsort(-motivation[r])[:20]
        assert set(np.flatnonzero(g[r])) == set(top)


def test_diagonal_rule_takes_one_from_every_role_before_a_second_from_any() -> None:
    org = _org()
    cells = _cells(org)
    uniq, inv, size = np.unique(cells, return_inverse=True, return_counts=True)
    p = from_dict(
        {"dynamics": {"rule": "change"}, "co_design": {"on": True, "rule": "diagonal", "share": 0.05}}
    ).co_design
    g = co_design.choose_group(org, np.full((2, org.n_staff), 0.5), p, np.arange(2))
    for r in range(2):
        k = np.bincount(inv, weights=g[r], minlength=len(uniq)).astype(int)
        top = k.max()
        # every cell with enough staff has at least top - 1 members in the group
        assert (k >= np.minimum(size, top - 1)).all(), (k, size)


def test_co_design_fit_by_hand_on_the_tiny_organisation() -> None:
    # Co-designer 1 (the only member of their role cell): fit_gain 0.3 for them; the rest
    # of the one team gain team_spread 0.5 of it, 0.15, unless their own role is covered.
    m = tiny("kernel")
    group = np.zeros((1, 5), dtype=bool)
    group[0, 1] = True
    p = from_dict(
        {"dynamics": {"rule": "change"}, "co_design": {"on": True, "fit_gain": 0.3, "team_spread": 0.5}}
    ).co_design
    fit = co_design.fit_gain(m.org, group, p)[0]
    assert fit[1] == pytest.approx(0.3)
    assert fit[[0, 2, 3, 4]] == pytest.approx([0.15] * 4)


def test_co_design_reach_is_bounded_by_whom_the_group_can_speak_for() -> None:
    # Re-derived from the organisation: in a role cell of n_c staff with k_c co-designers,
    # fit = fit_gain min(1, voice k_c / n_c), or team_spread fit_gain if that is larger
    # and a teammate co-designed.
    org = _org(1000, 8)
    cells = _cells(org)
    p = from_dict(
        {
            "dynamics": {"rule": "change"},
            "co_design": {"on": True, "rule": "diagonal", "share": 0.05, "voice": 4.0},
        }
    ).co_design
    g = co_design.choose_group(org, np.full((1, org.n_staff), 0.5), p, np.arange(1))
    fit = co_design.fit_gain(org, g, p)[0]
    expect = np.zeros(org.n_staff)
    for c in np.unique(cells):
        members = cells == c
        k = g[0, members].sum()
        expect[members] = 0.3 * min(1.0, 4.0 * k / members.sum())
    teams = np.unique(org.team[g[0]])
    expect = np.maximum(expect, np.where(np.isin(org.team, teams), 0.5 * 0.3, 0.0))
    np.testing.assert_allclose(fit, expect, atol=1e-12)
    # A 5% group no longer reaches everyone at full strength.
    assert (fit >= 0.3 - 1e-12).mean() < 0.5


def test_patients_in_co_design_raise_the_fit_gain_and_move_co_designers() -> None:
    m = tiny("kernel")
    group = np.zeros((1, 5), dtype=bool)
    group[0, 1] = True
    design = {"on": True, "fit_gain": 0.3, "team_spread": 0.5, "patient_share": 0.25, "patient_fit": 2.0,
              "patient_motivation": 0.4}  # fmt: skip
    p = from_dict({"dynamics": {"rule": "change"}, "co_design": design}).co_design
    fit = co_design.fit_gain(m.org, group, p)[0]
    assert fit[1] == pytest.approx(0.3 * 1.5)  # (1 + 2.0 * 0.25)
    mot = np.full((1, 5), 0.5)
    co_design.motivation_boost(mot, group, p)
    assert mot[0, 1] == pytest.approx(0.5 + 0.4 * 0.25 * 0.5)
    assert mot[0, 2] == 0.5


# --- the parameter vector, re-derived -----------------------------------------------------


def test_parameter_packing_re_derived_slot_by_slot() -> None:
    cfg = from_dict({
        "dynamics": {"rule": "change", "threshold_kind": "count", "threshold_mean": 2.0,
                     "p_spontaneous": 0.01},
        "mandate": {"on": True, "start": 3, "end": 40, "strength": 0.7, "scope": "all", "p_comply": 0.2,
                    "p_lapse": 0.3, "pressure_decay": 0.4},
        "motivation": {"readiness_weight": 0.5, "crowding": 0.06, "recovery": 0.07, "recognition": 0.08,
                       "p_internalise": 0.09},
        "relationships": {"trust_growth": 0.11, "trust_erosion": 0.12, "compliance_visibility": 0.13},
        "power": {"mode": "distributed", "decision_level": 2, "empowerment": 0.4, "agency_min": 0.2,
                  "agency_ref": 0.3, "failure_response": 0.7, "blame": 0.14, "safety_gain": 0.15,
                  "courage_erosion": 0.16},
        "adaptation": {"p_test": 0.3, "change_quality": 0.45, "learning_rate": 0.25, "success_boost": 0.06,
                       "failure_cost": 0.17, "adapt": True, "adapt_rate": 0.35, "p_abandon": 0.04,
                       "patient_partnership": 0.55},
        "leadership": {"tenure_years": 2.0, "trust_new": 0.2, "clinical_credibility": 1.7,
                       "clinical_appointment": 0.3, "career_path": True, "enabler_effect": 0.1},
        "people": {"belief_mean": 0.45},
        "change": {"evidence": 0.8, "complexity": 0.6, "trialability": 0.9, "observability": 0.5,
                   "urgency": 0.25},
    })  # fmt: skip
    par = layout.pack(cfg)
    expect = {
        "threshold_count": 1.0, "p_spontaneous": 0.01, "mandate_on": 1.0, "mandate_start": 3.0,
        "mandate_end": 40.0, "mandate_strength": 0.7, "mandate_all": 1.0, "p_comply": 0.2, "p_lapse": 0.3,
        "pressure_decay": 0.4, "readiness_weight": 0.5, "crowding": 0.06 * 0.75, "recovery": 0.07,
        "recognition": 0.08, "p_internalise": 0.09, "trust_growth": 0.11, "trust_erosion": 0.12 * 0.75,
        "compliance_visibility": 0.13, "power_mode": 2.0, "decision_level": 2.0, "empowerment": 0.4,
        "agency_min": 0.2, "agency_ref": 0.3, "p_test": min(1.0, 2 * 0.9 * 0.3), "change_quality": 0.45,
        "learning_rate": 0.25, "success_boost": 0.06, "failure_cost": 0.17, "adapt": 1.0, "adapt_rate": 0.35,
        "p_abandon": 0.04, "p_churn": 1.0 - 2.0 ** (-1.0 / 104.0), "trust_new": 0.2,
        "clinical_credibility": 1.7, "p_clinical_appointment": 0.4, "newcomer_belief": 0.45,
        "complexity": 0.6, "persuasion": 0.5 * 0.8, "failure_response": 0.7, "blame": 0.14,
        "safety_gain": 0.15, "courage_erosion": 0.16, "patient_partnership": 0.55,
    }  # fmt: skip
    assert set(expect) == set(layout.SLOT), f"slots not re-derived here: {set(layout.SLOT) ^ set(expect)}"
    for name, value in expect.items():
        assert par[layout.SLOT[name]] == pytest.approx(value, rel=1e-12, abs=1e-15), name


# --- the type of change ------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_complexity_makes_an_unadapted_change_fail_and_fit_count_more(engine: str) -> None:
    # s = clip(q + fit - c (1 - fit), 0, 1). Person 1: fit 0, q 0.7, c 0.7 -> s = 0: fails
    # for sure (without complexity it would succeed with chance 0.7). Person 2: fit 0.3 ->
    # s = 0.7 + 0.3 - 0.7 * 0.7 = 0.51; its result is decided by its own draw.
    m = _tester(engine, 0.7, **{"change.complexity": 0.7, "adaptation.adapt": True,
                                "adaptation.adapt_rate": 0.5})  # fmt: skip
    st = m.state
    st.state[2] = COMMITTED
    st.fit[2] = 0.3
    m.step()
    assert st.belief[1] == pytest.approx(0.5 - 0.2 * 0.5, abs=1e-12), "an unfitted complex change succeeded"
    # Adaptation aims at f* = (1 - q + c) / (1 + c) = 1 / 1.7: fit = 0.5 * f*.
    assert st.fit[1] == pytest.approx(0.5 / 1.7, abs=1e-12)
    keys = [int(k) for k in stream_keys(np.array([7]))[0]]
    y2 = rng.uniform_py(keys[5], 1, 2) < 0.7 + 0.3 - 0.7 * 0.7
    assert st.belief[2] == pytest.approx(0.5 + 0.2 * ((1.0 if y2 else 0.0) - 0.5), abs=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_observed_results_persuade_colleagues_by_observability_times_evidence(engine: str) -> None:
    # Person 1 fails a test (q 0). Colleagues j move: b_j <- b_j + lr o e trust_1j (0 - b_j):
    # teammates (trust 0.7): 0.5 - 0.2 * 0.5 * 0.8 * 0.7 * 0.5; the manager (line 0.6) likewise.
    m = _tester(engine, 0.0, **{"change.observability": 0.5, "change.evidence": 0.8})
    m.step()
    b = m.state.belief
    assert b[2] == pytest.approx(0.5 - 0.2 * 0.4 * 0.7 * 0.5, abs=1e-12)
    assert b[0] == pytest.approx(0.5 - 0.2 * 0.4 * 0.6 * 0.5, abs=1e-12)
    m = _tester(engine, 0.0, **{"change.observability": 0.0, "change.evidence": 0.8})
    m.step()
    assert m.state.belief[2] == 0.5, "unobservable results persuaded a colleague"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("response", [0.0, 0.25, 1.0])
def test_leaders_response_to_failure_moves_courage(engine: str, response: float) -> None:
    # c <- c + gain f (1 - c) - blame (1 - f) c with c = 0.2, gain 0.3, blame 0.4.
    m = _tester(engine, 0.0, **{"power.failure_response": response, "power.blame": 0.4,
                                "power.safety_gain": 0.3})  # fmt: skip
    m.step()
    expect = 0.2 + 0.3 * response * 0.8 - 0.4 * (1 - response) * 0.2
    assert m.state.courage[1] == pytest.approx(expect, abs=1e-12)
    assert m.state.courage[2] == 0.2, "courage moved for someone who ran no test"


@pytest.mark.parametrize("engine", ENGINES)
def test_directives_erode_courage(engine: str) -> None:
    # c <- c - k x c under pressure x = 0.8: 0.2 - 0.1 * 0.8 * 0.2, then again next week.
    m = tiny(engine, **{"mandate.on": True, "mandate.strength": 0.8, "mandate.p_comply": 0.0,
                        "power.courage_erosion": 0.1})  # fmt: skip
    m.state.courage[:] = 0.2
    m.step()
    assert m.state.courage[3] == pytest.approx(0.2 * (1 - 0.08), abs=1e-12)
    m.step()
    assert m.state.courage[3] == pytest.approx(0.2 * (1 - 0.08) ** 2, abs=1e-12)


def test_compatibility_is_the_fit_before_co_design() -> None:
    m = ChangeModel(TINY, seed=1, overrides={"change.compatibility": 0.15})
    assert m.state.fit == pytest.approx([0.15] * 5)
    m = ChangeModel(
        TINY,
        seed=1,
        overrides={
            "change.compatibility": 0.15,
            "co_design.on": True,
            "co_design.share": 0.2,
            "co_design.rule": "frontline",
        },
    )
    # One frontline co-designer (20% of 5): own cell 0.3, teammates 0.15; plus 0.15 each.
    assert sorted(m.state.fit) == pytest.approx([0.3, 0.3, 0.3, 0.3, 0.45])


def test_trialability_and_urgency_rescale_their_rates() -> None:
    cfg = {"dynamics": {"rule": "change"}, "adaptation": {"p_test": 0.3}, "motivation": {"crowding": 0.1},
           "relationships": {"trust_erosion": 0.2}}  # fmt: skip
    for t, u in ((0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (0.9, 0.2)):
        par = layout.pack(from_dict(cfg, **{"change.trialability": t, "change.urgency": u}))
        assert par[layout.P_TEST] == pytest.approx(min(1.0, 2 * t * 0.3))
        assert par[layout.CROWDING] == pytest.approx(0.1 * (1 - u))
        assert par[layout.TRUST_EROSION] == pytest.approx(0.2 * (1 - u))


# --- outcomes -------------------------------------------------------------------------------


def test_use_outcomes_by_hand() -> None:
    from sim.metrics import use_outcomes

    a = np.array([[0.0, 0.5, 1.0, 1.0, 0.5]])
    out = use_outcomes(a, mandate_end=1, urgency=1.0)
    assert out["cumulative_use"][0] == pytest.approx(3.0 / 5)
    w = (1 - 1 / 26) ** np.arange(5)
    assert out["timely_use"][0] == pytest.approx((a[0] * w).sum() / w.sum())
    assert np.isnan(out["use_after_mandate"][0]), "52 weeks after week 1 is past the end of the run"
    b = np.tile(np.linspace(0, 1, 60), (2, 1))
    out = use_outcomes(b, mandate_end=5, urgency=0.0)
    assert out["use_after_mandate"] == pytest.approx(b[:, 57])
    assert out["timely_use"] == pytest.approx(out["cumulative_use"])
    assert np.isnan(use_outcomes(b, mandate_end=-1)["use_after_mandate"]).all()
