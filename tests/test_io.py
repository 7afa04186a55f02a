"""Bring-your-own organisations: NetworkX graphs and org-chart CSVs, and every way they can be wrong."""

from __future__ import annotations

import time
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.io import example_path, from_csv, from_networkx
from sim.org import CROSS_ORG, LINE, PEER, PROFESSIONS, TEAM, TIE_KINDS, Organisation, ics, synthetic
from sim.params import ConfigError


def write(tmp_path: Path, text: str, name: str = "chart.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def ties_by_id(org: Organisation) -> set[tuple[str, str, str]]:
    """Every tie as (id, id, kind), ids sorted: comparable across numberings."""
    ids = org.staff_id if org.staff_id is not None else np.arange(org.n_staff).astype(str)
    src, dst = org.tie_sources(), org.indices.astype(np.int64)
    keep = src < dst
    return {
        (*sorted((str(ids[a]), str(ids[b]))), TIE_KINDS[k])
        for a, b, k in zip(src[keep], dst[keep], org.tie_kind[keep], strict=True)
    }


def managers_by_id(org: Organisation) -> dict[str, str | None]:
    ids = org.staff_id if org.staff_id is not None else np.arange(org.n_staff).astype(str)
    return {str(ids[i]): (str(ids[m]) if m >= 0 else None) for i, m in enumerate(org.manager)}


def assert_csr_ok(org: Organisation) -> None:
    src, dst = org.tie_sources(), org.indices.astype(np.int64)
    assert org.indices.dtype == np.uint32 and org.indptr.dtype == np.int64, "CSR dtypes uint32 / int64"
    assert not (src == dst).any(), "no self ties"
    row = src[1:] == src[:-1]
    assert (dst[1:][row] > dst[:-1][row]).all(), "rows sorted without duplicates"
    fwd = np.stack([src, dst, org.tie_kind])[:, np.lexsort((org.tie_kind, dst, src))]
    back = np.stack([dst, src, org.tie_kind])[:, np.lexsort((org.tie_kind, src, dst))]
    assert np.array_equal(fwd, back), "every tie stored both ways with one kind"
    assert np.array_equal(np.unique(org.level), np.arange(org.n_levels)), "levels run 0..L-1"


def chart(org: Organisation) -> pd.DataFrame:
    """An org chart table for a built organisation, ids s0, s1, ..."""
    ids = np.array([f"s{i}" for i in range(org.n_staff)], dtype=object)
    return pd.DataFrame(
        {
            "staff_id": ids,
            "manager_id": np.where(org.manager >= 0, ids[np.maximum(org.manager, 0)], ""),
            "profession": np.array(PROFESSIONS, dtype=object)[org.profession],
            "organisation": np.array(org.org_names, dtype=object)[org.organisation],
        }
    )


# --- NetworkX ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: synthetic(n_staff=300, seed=4), lambda: ics(n_staff=600, seed=4)])
def test_round_trip_through_networkx_keeps_the_structure(make):
    org = make()
    back = from_networkx(org.to_networkx())
    assert_csr_ok(back)
    was = np.asarray(back.staff_id).astype(int)  # node labels were 0..n-1: the old numbering
    assert sorted(was) == list(range(org.n_staff)), "every person comes back once"
    assert managers_by_id(back) == managers_by_id(org), "everyone keeps their manager"
    assert ties_by_id(back) == ties_by_id(org), "the same ties with the same kinds"
    assert np.array_equal(back.level, org.level[was]), "levels are kept"
    assert np.array_equal(back.profession, org.profession[was]), "professions are kept"
    names = np.array(back.org_names)[back.organisation]
    assert np.array_equal(names, np.array(org.org_names)[org.organisation[was]]), "organisations kept"
    # Team ids are renumbered; the partition into teams is what matters.
    same_before = org.team[was][:, None] == org.team[was][None, :]
    same_after = back.team[:, None] == back.team[None, :]
    assert np.array_equal(same_before, same_after), "the same people share a team"


def test_a_graph_without_attributes_uses_every_default():
    g = nx.karate_club_graph()
    org = from_networkx(g)
    assert org.n_staff == 34 and org.n_ties == g.number_of_edges(), "all people and ties are kept"
    assert (org.manager == -1).all(), "with no manager attribute everyone is a root"
    assert org.n_levels == 1 and org.level_names == ["frontline"], "one level when no one manages"
    assert {PROFESSIONS[c] for c in org.profession} == {"other"}, "profession defaults to 'other'"
    assert org.org_names == ["org"] and org.org_kinds == ["nhs_trust"], "one default organisation"
    assert (org.tie_kind == PEER).all(), "ties between non-managers default to peer"
    assert np.array_equal(org.team, np.arange(34)), "each root is their own team"
    result = sim.run({"n_steps": 3, "seeding": {"n_seeds": 2}}, org=org)
    assert result.counts.shape[1] == 4, "the model runs on a user's graph"


def test_directed_graph_with_labels_managers_and_inferred_kinds():
    g = nx.DiGraph()
    g.add_node("ceo", profession="manager", organisation="trust")
    g.add_node("ward_sister", manager="ceo", profession="nurse", organisation="trust")
    g.add_node(("nurse", 1), manager="ward_sister", profession="Nurse", organisation="trust")
    g.add_node("sw", profession="social_care", organisation="council", org_kind="local_authority")
    g.add_edge(("nurse", 1), "ward_sister")  # a report's edge to the manager: a line tie
    g.add_edge("ward_sister", ("nurse", 1))  # and back: still one tie
    g.add_edge("ceo", ("nurse", 1))  # neither manages the other directly: peer
    g.add_edge("sw", "ward_sister")  # between organisations: cross_org
    org = from_networkx(g)
    ties = ties_by_id(org)
    assert ties == {
        ("ceo", "ward_sister", "line"),  # added from the manager attribute, no edge needed
        ("('nurse', 1)", "ward_sister", "line"),
        ("('nurse', 1)", "ceo", "peer"),
        ("sw", "ward_sister", "cross_org"),
    }, f"unexpected ties {ties}"
    assert org.org_names == ["trust", "council"], "organisations in order of first appearance"
    assert org.org_kinds == ["nhs_trust", "local_authority"], "org_kind per organisation"
    level = dict(zip(org.staff_id, org.level, strict=True))
    assert level == {"ceo": 0, "ward_sister": 1, "('nurse', 1)": 2, "sw": 2}, (
        f"levels are depths, aligned on each organisation's deepest level: {level}"
    )


def test_given_levels_and_teams_are_kept_in_order():
    g = nx.path_graph(4)
    nx.set_node_attributes(g, {0: 3, 1: 7, 2: 7, 3: 9}, "level")  # e.g. pay bands, any scale
    nx.set_node_attributes(g, {0: "a", 1: "a", 2: "b", 3: "b"}, "team")
    org = from_networkx(g)
    assert org.level.tolist() == [0, 1, 1, 2], "levels renumbered 0..L-1 keeping their order"
    assert org.team.tolist() == [0, 0, 2, 2], "a named team is known by its first member"
    assert {k for *_, k in ties_by_id(org)} == {"peer"}, "edges between non-managers are peer ties"
    teams = from_networkx(g, p_team_tie=1.0)
    kinds = {(a, b): k for a, b, k in ties_by_id(teams)}
    assert kinds == {("0", "1"): "team", ("1", "2"): "peer", ("2", "3"): "team"}, (
        f"with team ties a pair in one team is tied as a team (the stronger kind wins): {kinds}"
    )


def test_team_ties_can_be_added_to_a_graph():
    g = nx.Graph()
    g.add_node("lead")
    g.add_nodes_from(["a", "b", "c"], manager="lead")
    alone = from_networkx(g)
    teams = from_networkx(g, p_team_tie=1.0)
    assert alone.n_ties == 3, "only the three line ties without p_team_tie"
    assert teams.n_ties == 6, "three line ties plus the three pairs of colleagues"
    assert sorted(TIE_KINDS[k] for k in teams.tie_kind) == ["line"] * 6 + ["team"] * 6, "kinds"


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda g: g.add_node("x", manager="nobody"), r"node 'x': manager 'nobody' is not a node"),
        (lambda g: g.add_node("x", profession="surgeon"), r"node 'x': profession 'surgeon' is not one of \["),
        (lambda g: g.add_node("x", org_kind="charity"), r"node 'x': org_kind 'charity' is not one of"),
        (lambda g: g.add_node("x", level=-1), r"node 'x': level -1 must be a whole number"),
        (lambda g: g.add_edge("a", "c", kind="friend"), r"edge \('a', 'c'\): kind 'friend' is not one of"),
        (lambda g: g.add_edge("b", "c", kind="line"), r"edge \('b', 'c'\) is a line tie but neither"),
        (lambda g: g.add_edge("a", "c", kind="cross_org"), r"edge \('a', 'c'\) is cross_org but both"),
        (lambda g: g.add_node("z", staff_id="a"), r"node 'a' and node 'z' have the same staff_id 'a'"),
    ],
)
def test_graph_errors_name_the_node_and_the_problem(build, match):
    g = nx.Graph()
    g.add_node("a")
    g.add_node("b", manager="a")
    g.add_node("c", manager="a")
    build(g)
    with pytest.raises(ConfigError, match=match):
        from_networkx(g)


def test_graph_manager_cycle_lists_the_cycle():
    g = nx.Graph()
    g.add_node("boss")
    g.add_node("a", manager="c")
    g.add_node("b", manager="a")
    g.add_node("c", manager="b")
    with pytest.raises(
        ConfigError, match=r"manager cycle of 3 staff.*node 'a' -> node 'c' -> node 'b' -> node 'a'"
    ):
        from_networkx(g)


def test_graph_line_authority_does_not_cross_organisations():
    g = nx.Graph()
    g.add_node("director", organisation="trust")
    g.add_node("sw", manager="director", organisation="council")
    with pytest.raises(ConfigError, match=r"node 'sw' in organisation 'council' has manager node 'director'"):
        from_networkx(g)
    g2 = nx.Graph()
    g2.add_nodes_from(["t1", "t2"], organisation="trust")
    g2.add_node("c1", organisation="council")
    g2.add_edge("t1", "c1", kind="peer")
    with pytest.raises(ConfigError, match=r"edge \('t1', 'c1'\) joins two organisations.*'cross_org'"):
        from_networkx(g2)


def test_empty_graph_is_an_error():
    with pytest.raises(ConfigError, match="no nodes"):
        from_networkx(nx.Graph())


# --- CSV -----------------------------------------------------------------------------------------


def test_the_example_org_chart_loads_as_one_ward():
    org = from_csv(example_path())
    assert_csr_ok(org)
    assert 30 <= org.n_staff <= 50, f"the example is a ward of about 40 staff, got {org.n_staff}"
    assert (org.manager < 0).sum() == 1, "one root: the service manager"
    assert int((org.tie_kind == LINE).sum()) // 2 == org.n_staff - 1, "a tree of line ties"
    assert (org.tie_kind == TEAM).any(), "colleagues sharing a manager are tied"
    have = {PROFESSIONS[c] for c in org.profession}
    assert {"doctor", "nurse", "ahp", "admin", "manager", "other"} <= have, f"a mixed ward, got {have}"
    assert org.level_names[-1] == "frontline" and org.n_levels == 4, f"four levels, got {org.level_names}"
    assert "SM01" in set(org.staff_id), "ids are kept"


def test_the_example_ics_joins_a_ward_and_a_council_team():
    org = from_csv(example_path("example_ics.csv"), ties=example_path("example_ics_ties.csv"))
    assert_csr_ok(org)
    assert org.org_kinds == ["nhs_trust", "local_authority"], f"two kinds of partner, got {org.org_kinds}"
    crosses = org.organisation[org.tie_sources()] != org.organisation[org.indices]
    assert crosses.any() and (org.tie_kind[crosses] == CROSS_ORG).all(), "partners joined by cross_org ties"
    assert (org.tie_kind[~crosses] != CROSS_ORG).all(), "cross_org only between partners"
    for k in range(2):
        deepest = org.level[org.organisation == k].max()
        assert deepest == org.n_levels - 1, f"partner {k}'s frontline is the last level"


def test_run_end_to_end_on_the_example_csv():
    result = sim.run({"org": {"kind": "csv", "path": str(example_path())}, "n_steps": 5})
    assert result.counts.shape[:2] == (1, 6), "one replicate, steps 0..5"
    assert result.org.n_staff == from_csv(example_path()).n_staff, "the run used the example chart"
    frac = result.frac_adopted
    assert ((frac >= 0) & (frac <= 1)).all(), "shares stay in [0, 1]"


def test_an_org_chart_written_and_read_back_has_the_same_ties(tmp_path):
    org = synthetic(n_staff=500, mean_peer_ties=0.0)  # line and team ties only, as a chart gives
    path = tmp_path / "chart.csv"
    chart(org).sample(frac=1.0, random_state=1).to_csv(path, index=False)  # any row order
    back = from_csv(path)
    ids = {f"s{i}": i for i in range(org.n_staff)}
    org.staff_id = np.array(list(ids), dtype=object)
    assert ties_by_id(back) == ties_by_id(org), "line ties plus a team tie per pair sharing a manager"
    assert managers_by_id(back) == managers_by_id(org), "managers kept"
    was = np.array([ids[s] for s in back.staff_id])
    assert np.array_equal(back.level, org.level[was]), "levels are depths in the tree"
    assert (np.diff(back.level) >= 0).all(), "staff renumbered level by level"


def test_ids_are_text_and_blank_professions_are_other(tmp_path):
    path = write(tmp_path, "staff_id,manager_id,profession\n007,,manager\n0070,007,\n 7 , 007 , NURSE \n")
    org = from_csv(path)
    assert list(org.staff_id) == ["007", "0070", "7"], "ids are kept as text, stripped"
    assert [PROFESSIONS[c] for c in org.profession] == ["manager", "other", "nurse"], "professions"


def test_team_tie_draws_are_reproducible_and_seeded(tmp_path):
    path = tmp_path / "chart.csv"
    chart(synthetic(n_staff=400, span_of_control=12)).to_csv(path, index=False)
    a, b = from_csv(path, p_team_tie=0.5), from_csv(path, p_team_tie=0.5)
    c = from_csv(path, p_team_tie=0.5, seed=1)
    assert np.array_equal(a.indices, b.indices), "same file and seed give the same ties"
    assert not np.array_equal(a.indices, c.indices), "another seed draws other team ties"
    full, none = from_csv(path, p_team_tie=1.0), from_csv(path, p_team_tie=0.0)
    n_team = [int((o.tie_kind == TEAM).sum()) // 2 for o in (none, a, full)]
    assert n_team[0] == 0 and 0.4 * n_team[2] < n_team[1] < 0.6 * n_team[2], f"about half: {n_team}"


def test_several_roots_are_allowed_when_asked(tmp_path):
    path = write(tmp_path, "staff_id,manager_id,profession\na,,nurse\nb,,nurse\nc,a,nurse\n")
    org = from_csv(path, single_root=False)
    assert (org.manager < 0).sum() == 2, "two roots kept"


GOOD = "staff_id,manager_id,profession\nboss,,manager\nn1,boss,nurse\nn2,boss,nurse\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"chart.csv is empty"),
        ("staff_id,manager_id,profession\n", r"chart.csv has a header but no rows"),
        (
            "staff_id,profession\na,nurse\n",
            r"missing column\(s\) \['manager_id'\]; "
            r"required columns: \['staff_id', 'manager_id', 'profession'\]",
        ),
        (GOOD + "n1,boss,doctor\n", r"duplicate staff_id 'n1' on lines 3, 5"),
        (GOOD + "n3,bos,nurse\n", r"line 5 \(staff_id 'n3'\): manager_id 'bos' is not a staff_id"),
        (
            GOOD + "n3,boss,surgeon\n",
            r"line 5 \(staff_id 'n3'\): profession 'surgeon' is not one of \['doctor'",
        ),
        (GOOD + ",boss,nurse\n", r"chart.csv line 5: staff_id is blank"),
        (
            GOOD + "n3,,nurse\nn4,,nurse\n",
            r"organisation 'org' has 3 roots.*'boss' \(line 2\), 'n3' \(line 5\)",
        ),
        (GOOD + "n3,boss,nurse,extra\n", r"not a readable CSV"),
        (
            GOOD + "x,y,nurse\ny,z,nurse\nz,x,nurse\n",
            r"manager cycle of 3 staff.*line 5 \(staff_id 'x'\) -> line 6 \(staff_id 'y'\) -> "
            r"line 7 \(staff_id 'z'\) -> line 5",
        ),
        (GOOD + "me,me,nurse\n", r"manager cycle of 1 staff.*'me'\) -> line 5 \(staff_id 'me'\)"),
    ],
)
def test_csv_errors_name_the_line_and_the_problem(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        from_csv(write(tmp_path, text))


def test_csv_errors_about_organisations(tmp_path):
    text = (
        "staff_id,manager_id,profession,organisation,org_kind\n"
        "boss,,manager,trust,nhs_trust\n"
        "sw,boss,social_care,council,local_authority\n"
    )
    with pytest.raises(ConfigError, match=r"line 3 \(staff_id 'sw'\) in organisation 'council' has manager"):
        from_csv(write(tmp_path, text))
    text = "staff_id,manager_id,profession,org_kind\nboss,,manager,hospice\n"
    with pytest.raises(ConfigError, match=r"line 2 \(staff_id 'boss'\): org_kind 'hospice' is not one of"):
        from_csv(write(tmp_path, text))
    text = "staff_id,manager_id,profession,org_kind\nboss,,manager,nhs_trust\nn,boss,nurse,voluntary\n"
    with pytest.raises(ConfigError, match=r"line 3 .*org_kind 'voluntary' contradicts 'nhs_trust'"):
        from_csv(write(tmp_path, text))


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        from_csv(tmp_path / "nowhere.csv")


@pytest.mark.parametrize(
    ("ties", "match"),
    [
        ("source,target\nn1,ghost\n", r"ties.csv line 2: target 'ghost' is not a staff_id in chart.csv"),
        ("source,target,kind\nn1,n2,friend\n", r"ties.csv line 2: kind 'friend' is not one of"),
        ("source,target,kind\nn1,n2,line\n", r"ties.csv line 2 \('n1' - 'n2'\) is a line tie but neither"),
        ("src,target\nn1,n2\n", r"missing column\(s\) \['source'\]"),
    ],
)
def test_ties_file_errors_name_the_line(tmp_path, ties, match):
    with pytest.raises(ConfigError, match=match):
        from_csv(write(tmp_path, GOOD), ties=write(tmp_path, ties, "ties.csv"))


def test_ties_file_adds_peer_ties(tmp_path):
    org = from_csv(
        write(tmp_path, GOOD), p_team_tie=0.0, ties=write(tmp_path, "source,target\nn1,n2\n", "t.csv")
    )
    assert ties_by_id(org) == {("boss", "n1", "line"), ("boss", "n2", "line"), ("n1", "n2", "peer")}, (
        "two line ties from the chart and the peer tie from the file"
    )


@settings(max_examples=40, deadline=None)
@given(
    parents=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=60),
    seed=st.integers(0, 2**31),
)
def test_any_forest_chart_loads_with_its_managers(tmp_path_factory, parents, seed):
    # Person k > 0 reports to a random earlier person, or is a root when the draw is < 0.1.
    n = len(parents)
    manager = [-1] + [int(u * k) if u >= 0.1 else -1 for k, u in enumerate(parents[1:], start=1)]
    order = np.random.default_rng(seed).permutation(n)  # any row order
    ids = [f"p{i}" for i in range(n)]
    rows = [f"{ids[i]},{ids[manager[i]] if manager[i] >= 0 else ''},nurse" for i in order]
    path = tmp_path_factory.mktemp("forest") / "chart.csv"
    path.write_text("staff_id,manager_id,profession\n" + "\n".join(rows) + "\n")
    org = from_csv(path, single_root=False)
    assert_csr_ok(org)
    expected = {ids[i]: (ids[m] if m >= 0 else None) for i, m in enumerate(manager)}
    assert managers_by_id(org) == expected, "everyone keeps their manager"
    has = org.manager >= 0
    assert (org.level[has] == org.level[org.manager[has]] + 1).all(), "reports sit one level below"
    assert int((org.tie_kind == LINE).sum()) // 2 == int(has.sum()), "one line tie per manager relationship"


def test_a_hundred_thousand_rows_load_quickly(tmp_path):
    org = synthetic(n_staff=100_000, mean_peer_ties=0.0)
    path = tmp_path / "big.csv"
    table = chart(org)
    table.to_csv(path, index=False)
    # CPU time, not wall time: other jobs on a shared machine must not fail the test.
    start = time.process_time()
    back = from_csv(path)
    seconds = time.process_time() - start
    assert back.n_staff == 100_000 and back.n_ties == org.n_ties, "every person and tie loaded"
    assert seconds < 5.0, f"10^5 rows should load in well under a few seconds, took {seconds:.2f}s"
    root = int(np.flatnonzero(org.manager < 0)[0])
    table.loc[root, "manager_id"] = table.loc[org.n_staff - 1, "staff_id"]  # the top reports to the bottom
    table.to_csv(path, index=False)
    start = time.process_time()
    with pytest.raises(ConfigError, match=rf"manager cycle of {org.n_levels} staff"):
        from_csv(path)
    seconds = time.process_time() - start
    assert seconds < 5.0, f"a cycle among 10^5 rows should be found quickly, took {seconds:.2f}s"


def test_a_one_person_chart_is_an_organisation(tmp_path):
    org = from_csv(write(tmp_path, "staff_id,manager_id,profession\nonly,,nurse\n"))
    assert org.n_staff == 1 and org.n_ties == 0, "one person, no ties"
    assert org.level_names == ["frontline"] and org.indptr.tolist() == [0, 0], "one level, empty CSR"


def test_team_tie_probability_must_be_a_probability(tmp_path):
    with pytest.raises(ConfigError, match=r"p_team_tie=1.5 must be a probability"):
        from_csv(write(tmp_path, GOOD), p_team_tie=1.5)
