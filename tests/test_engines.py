"""The fast engine and the reference engine tell the same story, and runs are reproducible.

The Numba kernels (``engine="kernel"``) and the Mesa agents (``engine="agents"``) state
the same rules; every random number is a pure function of (seed, purpose, step, person),
so the two must agree to the last bit on any organisation, any rule and any seed. The
same property makes a replicate independent of the batch it runs in and of the number
of threads, and gives common random numbers between scenarios run from one seed.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from helpers import assert_engines_agree, assert_stepped_equals_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import ChangeModel, from_dict, rng, run, run_batch
from sim.model import organisation_for
from sim.org import PROFESSIONS, Organisation

EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW_EXAMPLES = settings(EXAMPLES, max_examples=40)

unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def org_params(draw) -> dict:
    """A small organisation of every kind the builders make."""
    kind = draw(st.sampled_from(["synthetic", "ics", "random", "complete"]))
    if kind == "complete":
        return {"kind": "complete", "n_staff": draw(st.integers(2, 30))}
    if kind == "random":
        n = draw(st.integers(2, 60))  # a mean degree above n - 1 is refused (it would be capped)
        return {"kind": "random", "n_staff": n, "mean_degree": draw(st.floats(0.0, min(8.0, n - 1)))}
    org = {
        "kind": kind,
        "span_of_control": draw(st.integers(2, 6)),
        "p_team_tie": draw(unit),
        "mean_peer_ties": draw(st.floats(0.0, 4.0)),
        "clinical_leader_share": draw(unit),
    }
    if kind == "synthetic":
        org["n_staff"] = draw(st.integers(2, 60))
        org["org_kind"] = draw(st.sampled_from(["nhs_trust", "local_authority", "independent", "voluntary"]))
    else:
        n_partners = draw(st.integers(2, 4))
        org["n_staff"] = draw(st.integers(2 * n_partners, 60))
        org["partner_kinds"] = draw(
            st.lists(
                st.sampled_from(["nhs_trust", "local_authority", "independent", "voluntary"]),
                min_size=n_partners,
                max_size=n_partners,
            )
        )
        org["partner_shares"] = draw(st.lists(st.floats(0.05, 1.0), min_size=n_partners, max_size=n_partners))
        org["n_boundary_spanners"] = draw(st.integers(0, 5))
        org["cross_ties_per_pair"] = draw(st.integers(0, 8))
    return org


@st.composite
def configs(draw, rules=("threshold", "bass", "cascade")) -> dict:
    """A scenario on a small organisation with any rule, parameters and seeding."""
    org = draw(org_params())
    kind = draw(st.sampled_from(["fraction", "count"]))
    dynamics = {
        "rule": draw(st.sampled_from(rules)),
        "threshold_kind": kind,
        "threshold_mean": draw(unit if kind == "fraction" else st.floats(0.0, 4.0)),
        "threshold_sd": draw(st.floats(0.0, 0.5)),
        "p_spontaneous": draw(st.one_of(st.just(0.0), st.floats(0.0, 0.3))),
        "q_imitation": draw(unit),
        "p_transmit": draw(unit),
        "power_gradient": draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0))),
    }
    people = {
        "authority_top": draw(unit),
        "authority_frontline": draw(unit),
        "trust_line": draw(unit),
        "trust_team": draw(unit),
        "trust_peer": draw(unit),
        "trust_cross_org": draw(unit),
    }
    seeding = {
        "strategy": draw(st.sampled_from(["random", "top", "frontline", "motivation", "hubs", "none"])),
        "n_seeds": draw(st.integers(0, min(5, org["n_staff"]))),
    }
    return {
        "org": org,
        "people": people,
        "dynamics": dynamics,
        "seeding": seeding,
        "n_steps": draw(st.integers(0, 30)),
        "org_seed": draw(st.integers(0, 3)),
    }


seeds = st.integers(0, 2**32)


def assert_same_run(a: sim.Result, b: sim.Result, what: str) -> None:
    """Counts, final states and adoption times identical, element for element."""
    np.testing.assert_array_equal(a.counts, b.counts, err_msg=f"{what}: counts differ")
    np.testing.assert_array_equal(a.final_state, b.final_state, err_msg=f"{what}: final states differ")
    np.testing.assert_array_equal(a.t_adopted, b.t_adopted, err_msg=f"{what}: adoption steps differ")


# --- kernel engine == agent engine -----------------------------------------------------


@EXAMPLES
@given(cfg=configs(), seed=seeds, data=st.data())
def test_kernel_and_agents_agree_exactly(cfg: dict, seed: int, data: st.DataObject) -> None:
    org = organisation_for(from_dict(cfg))
    explicit = data.draw(
        st.one_of(st.none(), st.lists(st.integers(0, org.n_staff - 1), max_size=4)), label="initial_adopters"
    )
    kwargs = {"org": org, "seed": seed, "initial_adopters": explicit}
    fast = run(cfg, engine="kernel", **kwargs)
    ref = run(cfg, engine="agents", **kwargs)
    assert_same_run(fast, ref, f"kernel vs agents for {cfg}")


@EXAMPLES
@given(cfg=configs(), seed=seeds)
def test_explicit_thresholds_give_the_same_run_on_both_engines(cfg: dict, seed: int) -> None:
    org = organisation_for(from_dict(cfg))
    # Thresholds on a grid of 1/4, so exposures that hit them exactly are common.
    th = (np.arange(org.n_staff) % 5) / 4.0
    fast = run(cfg, org=org, seed=seed, thresholds=th)
    ref = run(cfg, org=org, seed=seed, thresholds=th, engine="agents")
    assert_same_run(fast, ref, f"explicit thresholds, kernel vs agents for {cfg}")


@FEW_EXAMPLES
@given(cfg=configs(), seed=seeds)
def test_model_engines_agree_at_every_step(cfg: dict, seed: int) -> None:
    assert_engines_agree(cfg, seed, ("state", "t_adopted"))


@FEW_EXAMPLES
@given(cfg=configs(), seed=seeds)
def test_model_stepped_by_hand_equals_run(cfg: dict, seed: int) -> None:
    # run() skips decisions that cannot change (frontier) and stops stepping at a fixed
    # point; ChangeModel examines everyone every step. They must still agree.
    assert_stepped_equals_run(cfg, seed)


# --- batches, threads, reproducibility --------------------------------------------------

BATCH_CFG = {
    "org": {"kind": "synthetic", "n_staff": 300, "span_of_control": 5, "mean_peer_ties": 2.0},
    "dynamics": {"rule": "bass", "p_spontaneous": 0.01, "q_imitation": 0.3, "power_gradient": 1.0},
    "people": {"trust_peer": 0.6},
    "seeding": {"strategy": "random", "n_seeds": 3},
    "n_steps": 40,
}


@pytest.mark.parametrize("rule", ["threshold", "bass", "cascade"])
def test_batch_replicate_equals_single_run(rule: str) -> None:
    cfg = {**BATCH_CFG, "dynamics": {**BATCH_CFG["dynamics"], "rule": rule, "threshold_sd": 0.1}}
    seed_list = [3, 11, 12, 2**40 + 5, 0]
    batch = run_batch(cfg, seeds=seed_list)
    for k, s in enumerate(seed_list):
        one = run(cfg, seed=s)
        np.testing.assert_array_equal(batch.counts[k], one.counts[0], err_msg=f"{rule}: replicate {k} counts")
        np.testing.assert_array_equal(
            batch.final_state[k], one.final_state[0], err_msg=f"{rule}: replicate {k} final state"
        )
        np.testing.assert_array_equal(
            batch.t_adopted[k], one.t_adopted[0], err_msg=f"{rule}: replicate {k} adoption steps"
        )


def test_agents_batch_replicate_equals_single_run() -> None:
    cfg = {**BATCH_CFG, "org": {**BATCH_CFG["org"], "n_staff": 60}, "n_steps": 15}
    batch = run_batch(cfg, seeds=[4, 9], engine="agents")
    for k, s in enumerate([4, 9]):
        one = run(cfg, seed=s, engine="agents")
        np.testing.assert_array_equal(batch.counts[k], one.counts[0], err_msg=f"agents replicate {k}")


def test_replicate_does_not_depend_on_batch_composition() -> None:
    a = run_batch(BATCH_CFG, seeds=[7, 8, 9, 10])
    b = run_batch(BATCH_CFG, seeds=[100, 9, 7])
    for ka, kb in ((2, 1), (0, 2)):
        np.testing.assert_array_equal(
            a.counts[ka], b.counts[kb], err_msg="seed's counts changed with the batch around it"
        )
        np.testing.assert_array_equal(
            a.t_adopted[ka], b.t_adopted[kb], err_msg="seed's adoption steps changed with the batch around it"
        )


def test_n_replicates_means_hashed_seeds() -> None:
    cfg = {**BATCH_CFG, "seed": 20}
    a = run_batch(cfg, n_replicates=3)
    expected = [20, rng.replicate_seed(20, 1), rng.replicate_seed(20, 2)]
    np.testing.assert_array_equal(a.seeds, expected, err_msg="replicate 0 is the seed, k > 0 hash(seed, k)")
    b = run_batch(cfg, seeds=expected)
    np.testing.assert_array_equal(a.counts, b.counts, err_msg="n_replicates vs explicit seeds")
    for k in (1, 2):
        one = run(cfg, seed=int(a.seeds[k]))
        np.testing.assert_array_equal(
            a.counts[k], one.counts[0], err_msg=f"replicate {k} should equal a run with its derived seed"
        )
    assert all(0 <= s < 2**63 for s in a.seeds), "derived seeds fit a non-negative int64"


def test_base_seeds_share_no_replicate() -> None:
    """Sweeping seed=0..49 with 100 replicates each: 5,000 distinct seeds (seed + k would give 149)."""
    all_seeds = np.concatenate([rng.replicate_seeds(b, 100) for b in range(50)])
    assert len(np.unique(all_seeds)) == len(all_seeds), "two base seeds must never share a replicate seed"
    a = run_batch({**BATCH_CFG, "seed": 0}, n_replicates=10)
    b = run_batch({**BATCH_CFG, "seed": 1}, n_replicates=10)
    assert not set(a.seeds) & set(b.seeds), "batches from seeds 0 and 1 share no replicate"


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
@pytest.mark.parametrize("rule", ["threshold", "bass", "cascade"])
def test_batch_does_not_depend_on_thread_count(rule: str) -> None:
    cfg = {**BATCH_CFG, "dynamics": {**BATCH_CFG["dynamics"], "rule": rule, "threshold_sd": 0.1}}
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_batch(cfg, n_replicates=8)
        numba.set_num_threads(2)
        two = run_batch(cfg, n_replicates=8)
    finally:
        numba.set_num_threads(before)
    assert_same_run(one, two, f"{rule}: 1 thread vs 2 threads")


def test_same_seed_same_run_different_seed_different_run() -> None:
    a = run(BATCH_CFG, seed=5)
    b = run(BATCH_CFG, seed=5)
    c = run(BATCH_CFG, seed=6)
    assert_same_run(a, b, "same config and seed twice")
    # 300 staff each adopting at a random step: two seeds giving the same adoption steps
    # would need ~300 coincidences.
    assert not np.array_equal(a.t_adopted, c.t_adopted), "seeds 5 and 6 gave identical adoption steps"
    assert not np.array_equal(a.counts, c.counts), "seeds 5 and 6 gave identical counts"


# --- common random numbers ----------------------------------------------------------------


@EXAMPLES
@given(
    org=org_params(),
    seed=seeds,
    p=st.floats(1e-3, 0.3),
    q=st.tuples(unit, unit).map(sorted),
    kind=st.sampled_from(["fraction", "count"]),
    gradient=st.floats(0.0, 2.0),
    n_seeds=st.integers(0, 2),
)
def test_bass_more_imitation_adopts_a_superset_at_every_step(
    org: dict, seed: int, p: float, q: list[float], kind: str, gradient: float, n_seeds: int
) -> None:
    # Monotone coupling. Both runs use the same uniform u(t, i) and the same initial
    # adopters (seeding does not read q). Claim: A_low(t) is a subset of A_high(t) for all t.
    # Induction on t: true at t = 0 (same seeds). Suppose A_low(t-1) <= A_high(t-1). No one
    # lapses, so everyone in A_high(t-1) is in A_high(t). A person i outside A_high(t-1)
    # is outside A_low(t-1) too, and
    #   exposure e_i(A) = sum_{j in A} w_ij / sum_j w_ij (or the sum alone, count kind) is
    #   non-decreasing in A: weights are >= 0, and each floating-point addition is
    #   monotone (round-to-nearest is monotone), summed in the same CSR order;
    #   P = 1 - (1 - p)(1 - q e) is non-decreasing in q and in e, again step by
    #   floating-point step (each operation is monotone in its arguments, 1 - p >= 0).
    # So P_low(i, t) <= P_high(i, t), and u < P_low implies u < P_high (P >= 1 adopts in
    # both, P <= 0 in neither): i in A_low(t) implies i in A_high(t).
    # The cascade rule has no such coupling: its draw for (t, i) meets the hazard from
    # contacts who adopted at t-1 exactly, and an earlier adoption in the high run moves
    # that hazard to a different step and a different draw.
    q_lo, q_hi = q
    base = {
        "org": org,
        "dynamics": {"rule": "bass", "threshold_kind": kind, "p_spontaneous": p, "power_gradient": gradient},
        "seeding": {"strategy": "random", "n_seeds": min(n_seeds, org["n_staff"])},
        "n_steps": 25,
    }
    lo = run(base, seed=seed, overrides={"dynamics.q_imitation": q_lo})
    hi = run(base, seed=seed, overrides={"dynamics.q_imitation": q_hi})
    t_lo, t_hi = lo.t_adopted[0], hi.t_adopted[0]
    adopted_lo = t_lo >= 0
    assert (t_hi[adopted_lo] >= 0).all(), f"q={q_hi} run missed people the q={q_lo} run converted"
    assert (t_hi[adopted_lo] <= t_lo[adopted_lo]).all(), (
        f"q={q_hi} run adopted someone later than the q={q_lo} run from the same draws"
    )
    assert (hi.frac_adopted >= lo.frac_adopted).all(), "higher q gave a lower adoption curve"


def test_common_random_numbers_share_the_initial_people() -> None:
    # Scenarios that differ only in the rule start from identical people and seeds.
    a = ChangeModel(BATCH_CFG, seed=42)
    b = ChangeModel(BATCH_CFG, seed=42, overrides={"dynamics.rule": "cascade", "dynamics.p_transmit": 0.3})
    np.testing.assert_array_equal(a.state.state, b.state.state, err_msg="initial adopters differ")
    np.testing.assert_array_equal(a.state.motivation, b.state.motivation, err_msg="motivation differs")
    np.testing.assert_array_equal(a.state.threshold, b.state.threshold, err_msg="thresholds differ")


# --- properties ---------------------------------------------------------------------------


def group_sizes(org: Organisation, labels: list[tuple[str, str]]) -> np.ndarray:
    """Head-count of each labelled group, counted directly from the organisation."""
    level = np.bincount(org.level, minlength=org.n_levels)
    prof = np.bincount(org.profession, minlength=len(PROFESSIONS))
    part = np.bincount(org.organisation, minlength=len(org.org_names))
    sizes = []
    for dim, name in labels:
        if dim == "all":
            sizes.append(org.n_staff)
        elif dim == "level":
            sizes.append(level[org.level_names.index(name)])
        elif dim == "profession":
            sizes.append(prof[PROFESSIONS.index(name)])
        else:
            sizes.append(part[org.org_names.index(name)])
    return np.array(sizes)


@EXAMPLES
@given(cfg=configs(), seed=seeds, n_rep=st.integers(1, 3))
def test_counts_shares_and_adoption_times_are_consistent(cfg: dict, seed: int, n_rep: int) -> None:
    res = run_batch(cfg, seeds=seed + np.arange(n_rep))
    r, t1 = n_rep, cfg["n_steps"] + 1
    assert res.counts.shape[:2] == (r, t1), f"counts shape {res.counts.shape} for {r} reps, {t1} rows"
    assert (res.counts >= 0).all(), "negative count"

    sizes = group_sizes(res.org, res.group_labels)
    np.testing.assert_array_equal(
        res.counts.sum(axis=3), np.broadcast_to(sizes, (r, t1, len(sizes))),
        err_msg="counts of a group do not add up to its head-count at some step",
    )  # fmt: skip

    frac = res.frac_adopted
    assert ((frac >= 0) & (frac <= 1)).all(), "frac_adopted outside [0, 1]"
    assert (np.diff(frac, axis=1) >= 0).all(), "adopted share fell although no rule lapses"
    ts = res.timeseries
    share_cols = [c for c in ts.columns if c.startswith("frac_")]
    assert ((ts[share_cols] >= 0) & (ts[share_cols] <= 1)).all().all(), "a timeseries share outside [0, 1]"
    summ = res.summary
    assert summ["final_frac_adopted"].between(0, 1).all(), "summary share outside [0, 1]"

    # With no lapse, the adopted count at step t is the number who adopted by step t.
    t_ad = res.t_adopted
    adopted_by = ((t_ad[:, None, :] >= 0) & (t_ad[:, None, :] <= np.arange(t1)[None, :, None])).sum(axis=2)
    counted = res.counts[:, :, 0, 1] + res.counts[:, :, 0, 2]
    np.testing.assert_array_equal(counted, adopted_by, err_msg="counts disagree with t_adopted")
    np.testing.assert_array_equal(
        res.final_state != 0, t_ad >= 0, err_msg="final adopters disagree with t_adopted"
    )
    assert (t_ad <= cfg["n_steps"]).all(), "adoption recorded after the last step"


@pytest.mark.parametrize("n_staff", [4, 5])
def test_ics_has_the_configured_head_count(n_staff: int) -> None:
    # Counts add up to the organisation's head-count; that head-count should be the one asked for.
    res = run({"org": {"kind": "ics", "n_staff": n_staff}, "seeding": {"strategy": "none"}, "n_steps": 1})
    assert res.org.n_staff == n_staff, f"asked for {n_staff} staff across the partners, got {res.org.n_staff}"
    assert res.counts[0, 0, 0].sum() == n_staff, "counts should cover the configured staff"


@EXAMPLES
@given(cfg=configs(), seed=seeds, rule=st.sampled_from(["threshold", "bass", "cascade"]))
def test_a_change_nobody_can_adopt_never_spreads(cfg: dict, seed: int, rule: str) -> None:
    # Fraction exposure is at most 1 (a sub-sum over the same weights, in the same order),
    # so thresholds above 1 can never be met; with no seeds and no spontaneous adoption the
    # Bass and cascade rules have nothing to imitate either.
    cfg = {
        **cfg,
        "dynamics": {
            **cfg["dynamics"],
            "rule": rule,
            "threshold_kind": "fraction",
            "threshold_mean": 0.5,
            "p_spontaneous": 0.0,
        },
        "seeding": {"strategy": "none", "n_seeds": 0},
    }
    org = organisation_for(from_dict(cfg))
    th = 1.0 + np.linspace(1e-9, 3.0, org.n_staff)
    for engine in ("kernel", "agents"):
        res = run(cfg, org=org, seed=seed, thresholds=th, engine=engine)
        assert (res.frac_adopted == 0).all(), f"{engine}: {rule} spread with nobody able to adopt"
        assert (res.t_adopted == -1).all(), f"{engine}: someone has an adoption step"


@EXAMPLES
@given(cfg=configs(), seed=seeds)
def test_by_group_false_gives_the_same_overall_counts(cfg: dict, seed: int) -> None:
    org = organisation_for(from_dict(cfg))
    grouped = run(cfg, org=org, seed=seed)
    overall = run(cfg, org=org, seed=seed, by_group=False)
    assert overall.counts.shape[2] == 1, "by_group=False should record only the whole workforce"
    np.testing.assert_array_equal(
        overall.counts[:, :, 0, :], grouped.counts[:, :, 0, :], err_msg="overall counts depend on by_group"
    )
    np.testing.assert_array_equal(overall.t_adopted, grouped.t_adopted, err_msg="run depends on by_group")
