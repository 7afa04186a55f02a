"""The organisation builders: hierarchy, teams, peer ties, partners, and the CSR arrays."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import org as orgmod
from sim.io import build
from sim.org import (
    CROSS_ORG,
    DEFAULT_MIX,
    LINE,
    PEER,
    PROFESSIONS,
    Organisation,
    complete,
    ics,
    random_graph,
    synthetic,
)
from sim.params import ConfigError, OrgParams


def assert_valid_csr(org: Organisation) -> None:
    """Every engine relies on these: symmetric, sorted, no self ties, no duplicates, fixed dtypes."""
    n = org.n_staff
    assert org.indptr.dtype == np.int64, f"indptr should be int64, is {org.indptr.dtype}"
    assert org.indices.dtype == np.uint32, f"indices should be uint32, is {org.indices.dtype}"
    assert org.tie_kind.dtype == np.uint8, f"tie_kind should be uint8, is {org.tie_kind.dtype}"
    assert org.indptr.shape == (n + 1,), f"indptr should have n+1={n + 1} entries, has {org.indptr.shape}"
    assert org.indptr[0] == 0 and org.indptr[-1] == len(org.indices), "indptr should span indices"
    assert (np.diff(org.indptr) >= 0).all(), "indptr should never decrease"
    assert len(org.tie_kind) == len(org.indices), "one kind per stored tie"
    src, dst, kind = org.tie_sources(), org.indices.astype(np.int64), org.tie_kind
    assert not (src == dst).any(), "no one should be tied to themselves"
    if len(dst):
        assert dst.max() < n, "every contact should be a member of staff"
    same_row = src[1:] == src[:-1]
    assert (dst[1:][same_row] > dst[:-1][same_row]).all(), "rows should be strictly sorted (no duplicates)"
    forward = np.stack([src, dst, kind])[:, np.lexsort((kind, dst, src))]
    backward = np.stack([dst, src, kind])[:, np.lexsort((kind, src, dst))]
    assert np.array_equal(forward, backward), "each stored (i, j) should have (j, i) with the same kind"


def reports_per_manager(org: Organisation) -> np.ndarray:
    return np.bincount(org.manager[org.manager >= 0], minlength=org.n_staff)


# --- one organisation ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_staff", [1, 2, 3, 7, 30, 100, 999, 5000])
@pytest.mark.parametrize("span", [2, 3, 8, 15])
def test_synthetic_has_exactly_the_staff_asked_for(n_staff, span):
    org = synthetic(n_staff=n_staff, span_of_control=span)
    assert org.n_staff == n_staff, f"asked for {n_staff} staff (span {span}), got {org.n_staff}"
    assert_valid_csr(org)


@settings(max_examples=60, deadline=None)
@given(
    n_staff=st.integers(1, 3000),
    span=st.integers(2, 12),
    p_team_tie=st.floats(0, 1),
    mean_peer_ties=st.floats(0, 5),
    seed=st.integers(0, 2**32),
)
def test_synthetic_hierarchy_is_one_tree_within_span(n_staff, span, p_team_tie, mean_peer_ties, seed):
    org = synthetic(
        n_staff=n_staff,
        span_of_control=span,
        p_team_tie=p_team_tie,
        mean_peer_ties=mean_peer_ties,
        seed=seed,
    )
    assert org.n_staff == n_staff, f"asked for {n_staff} staff, got {org.n_staff}"
    assert_valid_csr(org)
    assert (org.manager < 0).sum() == 1, "one organisation should have exactly one root"
    n_line = int((org.tie_kind == LINE).sum()) // 2
    assert n_line == n_staff - 1, f"a tree of {n_staff} has {n_staff - 1} line ties, found {n_line}"
    has = org.manager >= 0
    assert (org.level[has] == org.level[org.manager[has]] + 1).all(), "reports sit one level below"
    src = org.tie_sources()
    line = org.tie_kind == LINE
    manages = (org.manager[src[line]] == org.indices[line]) | (org.manager[org.indices[line]] == src[line])
    assert manages.all(), "every line tie should join a manager and a report"
    most = reports_per_manager(org).max()
    assert most <= span, f"no one should have more than span={span} reports; someone has {most}"
    sizes = np.bincount(org.level)
    assert (np.diff(sizes) >= 0).all(), f"level sizes should shrink upwards, got {sizes.tolist()}"
    assert org.level_names[-1] == "frontline", "the last level is the frontline"


def test_level_sizes_keep_the_span_for_every_small_organisation():
    # Exhaustive where hand-made shapes go wrong: the remainder after a full chain.
    for span in range(2, 10):
        for n in range(1, 400):
            sizes = orgmod.level_sizes(n, span)
            assert sum(sizes) == n and sizes[0] == 1, f"level_sizes({n}, {span})={sizes} should total {n}"
            over = [k for k in range(1, len(sizes)) if sizes[k] > span * sizes[k - 1]]
            assert not over, f"level_sizes({n}, {span})={sizes} puts more than {span} under someone"


def test_team_ties_make_clusters_and_a_pure_tree_has_none():
    teams = synthetic(n_staff=400, p_team_tie=1.0, mean_peer_ties=0.0)
    tree = synthetic(n_staff=400, p_team_tie=0.0, mean_peer_ties=0.0)
    c_teams = nx.average_clustering(teams.to_networkx())
    c_tree = nx.average_clustering(tree.to_networkx())
    assert c_teams > 0.3, f"dense teams should give clearly positive clustering, got {c_teams:.3f}"
    assert c_tree == 0.0, f"a pure line tree has no triangles, got clustering {c_tree}"
    assert tree.n_ties == tree.n_staff - 1, "without team and peer ties only the n-1 line ties remain"


def test_same_seed_same_organisation_different_seed_different_peer_ties():
    a, b, c = (synthetic(n_staff=2000, seed=s) for s in (7, 7, 8))
    for name in ("indptr", "indices", "tie_kind", "profession", "manager", "level", "team"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), f"same seed should give identical {name}"
    peer_a = set(zip(a.tie_sources()[a.tie_kind == PEER], a.indices[a.tie_kind == PEER], strict=True))
    peer_c = set(zip(c.tie_sources()[c.tie_kind == PEER], c.indices[c.tie_kind == PEER], strict=True))
    assert peer_a != peer_c, "a different seed should draw different peer ties"
    assert np.array_equal(a.manager, c.manager), "the hierarchy does not depend on the seed"


@pytest.mark.parametrize("n_levels", [2, 3, 4, 5, 6])
def test_n_levels_sets_the_depth_of_the_hierarchy(n_levels):
    org = synthetic(n_staff=1000, n_levels=n_levels)
    assert org.n_levels == n_levels, f"asked for {n_levels} levels, got {org.n_levels}"
    assert org.level.max() == n_levels - 1, "levels should run 0..n_levels-1"
    assert org.level_names == orgmod.default_level_names(n_levels), "levels should carry the default names"


@settings(max_examples=30, deadline=None)
@given(n_staff=st.integers(2, 2000), n_levels=st.integers(3, 8))
def test_n_levels_is_never_exceeded(n_staff, n_levels):
    deepest = len(orgmod.level_sizes(n_staff, 2))
    if n_levels > deepest:  # more levels than n_staff can fill is refused, not quietly cut (issue 17)
        with pytest.raises(ConfigError, match=f"org.n_levels={n_levels} cannot be reached"):
            synthetic(n_staff=n_staff, n_levels=n_levels)
        return
    org = synthetic(n_staff=n_staff, n_levels=n_levels)
    assert org.n_levels <= n_levels, f"asked for at most {n_levels} levels, got {org.n_levels}"


def test_frontline_profession_mix_matches_the_configured_shares():
    org = synthetic(n_staff=100_000, seed=3)
    mix = DEFAULT_MIX["nhs_trust"]
    total = sum(mix.values())
    drawn = org.level >= max(org.n_levels - 2, 1)  # team leads and frontline draw from the mix
    m = int(drawn.sum())
    counts = np.bincount(org.profession[drawn], minlength=len(PROFESSIONS))
    for code, name in enumerate(PROFESSIONS):
        p = mix.get(name, 0.0) / total
        share = counts[code] / m
        # 4 binomial standard errors: a false failure about 6 times in 100,000 per share
        # (the seed is fixed, so the test is deterministic; the bound is what makes it honest).
        tol = 4 * math.sqrt(p * (1 - p) / m)
        assert abs(share - p) <= tol, f"{name}: share {share:.4f}, configured {p:.4f} +- {tol:.4f}"


def test_custom_profession_mix_is_used():
    org = synthetic(n_staff=20_000, profession_mix={"doctor": 1.0, "ahp": 1.0}, clinical_leader_share=1.0)
    names = {PROFESSIONS[c] for c in np.unique(org.profession)}
    assert names == {"doctor", "ahp"}, f"only the professions in the mix should appear, got {names}"


def test_no_clinical_leaders_means_every_senior_post_is_a_manager():
    org = synthetic(n_staff=5000, clinical_leader_share=0.0)
    senior = org.level < max(org.n_levels - 2, 1)
    held = {PROFESSIONS[c] for c in org.profession[senior]}
    assert held == {"manager"}, f"with clinical_leader_share=0 senior posts are managers, got {held}"
    clinical = synthetic(n_staff=5000, clinical_leader_share=1.0)
    held = {PROFESSIONS[c] for c in clinical.profession[senior]}
    assert held <= {"doctor", "nurse", "ahp"}, f"with share 1 senior posts are clinical, got {held}"


def test_bad_parameters_are_config_errors_naming_the_key():
    with pytest.raises(ConfigError, match="org.span_of_control"):
        synthetic(n_staff=10, span_of_control=1)
    with pytest.raises(ConfigError, match="org.profession_mix: 'surgeon'"):
        synthetic(n_staff=10, profession_mix={"surgeon": 1.0})


# --- an integrated care system -----------------------------------------------------------------


def test_ics_no_line_tie_crosses_an_organisation():
    org = ics(n_staff=3000, seed=1)
    assert_valid_csr(org)
    has = org.manager >= 0
    assert (org.organisation[org.manager[has]] == org.organisation[has]).all(), "managers are in-house"
    roots = np.bincount(org.organisation[~has], minlength=len(org.org_names))
    assert (roots == 1).all(), f"each partner should have one root, got {roots.tolist()}"


def test_ics_ties_between_organisations_are_cross_org_between_boundary_spanners():
    p = OrgParams(kind="ics", n_staff=3000, n_boundary_spanners=5, cross_ties_per_pair=20)
    org = ics(p, seed=2)
    src, dst = org.tie_sources(), org.indices.astype(np.int64)
    crosses = org.organisation[src] != org.organisation[dst]
    assert crosses.any(), "partners should be joined"
    assert (org.tie_kind[crosses] == CROSS_ORG).all(), "every tie between organisations is cross_org"
    assert (org.tie_kind[~crosses] != CROSS_ORG).all(), "no cross_org tie inside an organisation"
    spanners = orgmod.boundary_spanners(org)
    per_org = np.bincount(org.organisation[spanners], minlength=len(org.org_names))
    assert (per_org <= 5).all(), f"at most n_boundary_spanners=5 per partner, got {per_org.tolist()}"
    assert (org.manager[spanners] >= 0).all(), "spanners are drawn below each partner's top"


@pytest.mark.parametrize("overrides", [{"n_boundary_spanners": 0}, {"cross_ties_per_pair": 0}])
def test_ics_without_spanners_or_cross_ties_is_disconnected_partners(overrides):
    org = ics(n_staff=1000, **overrides)
    crosses = org.organisation[org.tie_sources()] != org.organisation[org.indices]
    assert not crosses.any(), f"with {overrides} no tie should cross an organisation"
    assert not (org.tie_kind == CROSS_ORG).any(), f"with {overrides} there are no cross_org ties"


def test_ics_partner_sizes_follow_the_shares():
    p = OrgParams(kind="ics", n_staff=2001, partner_shares=[0.5, 0.3, 0.15, 0.05])
    org = ics(p)
    sizes = np.bincount(org.organisation, minlength=4)
    assert sizes.sum() == 2001, "partners should add up to n_staff"
    assert sizes.tolist() == p.partner_sizes(), f"sizes {sizes.tolist()} should be {p.partner_sizes()}"
    for size, share in zip(sizes, p.partner_shares, strict=True):
        assert abs(size - 2001 * share) < 1, f"size {size} should round 2001 x {share}"


def test_ics_levels_are_aligned_on_the_frontline():
    org = ics(n_staff=3000)
    assert org.level_names[-1] == "frontline", "the last level is the frontline"
    for k, name in enumerate(org.org_names):
        deepest = org.level[org.organisation == k].max()
        assert deepest == org.n_levels - 1, f"{name}'s frontline should be the last level, is {deepest}"


def test_ics_needs_one_share_per_partner():
    with pytest.raises(ConfigError, match="partner_shares has 2"):
        ics(n_staff=100, partner_shares=[0.5, 0.5])


# --- the classic structures ---------------------------------------------------------------------


@pytest.mark.parametrize("n_staff", [1, 2, 10, 60])
def test_complete_graph_ties_everyone_to_everyone(n_staff):
    org = complete(n_staff)
    assert_valid_csr(org)
    expected = n_staff * (n_staff - 1) // 2
    assert org.n_ties == expected, f"complete graph of {n_staff} has {expected} ties, got {org.n_ties}"
    assert (org.degree == n_staff - 1).all(), "everyone is tied to everyone else"


def test_random_graph_mean_degree_is_as_requested():
    n, z = 4000, 10.0
    org = random_graph(n, z, seed=5)
    assert_valid_csr(org)
    # Degrees are about Poisson(z): the mean of n of them has SE sqrt(z / n) (0.05 here);
    # dropped self-pairs and repeats cost about (1 + z / 2) z / n (0.015), well inside 3 SE.
    se = math.sqrt(z / n)
    mean = org.degree.mean()
    assert abs(mean - z) < 3 * se, f"mean degree {mean:.3f} should be {z} +- {3 * se:.3f}"


@settings(max_examples=25, deadline=None)
@given(n_staff=st.integers(1, 300), z=st.floats(0, 20), seed=st.integers(0, 1000))
def test_random_graph_is_a_valid_csr(n_staff, z, seed):
    assert_valid_csr(random_graph(n_staff, z, seed))


def test_build_dispatches_on_kind():
    for kind in ("synthetic", "ics", "complete", "random"):
        org = build(OrgParams(kind=kind, n_staff=300))
        assert org.n_staff == 300, f"kind={kind} should give 300 staff, got {org.n_staff}"
        assert_valid_csr(org)
