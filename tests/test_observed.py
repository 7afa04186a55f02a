"""Observed diffusion: the Medical Innovation files and every way a user's files can be wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.observed import medical_innovation_paths, read_observed
from sim.org import PEER
from sim.params import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def medical():
    return read_observed(*medical_innovation_paths(), n_steps=17)


def test_medical_innovation_numbers_match_the_issue_and_netdiffuser(medical):
    obs = medical
    assert obs.n_people == 125, "125 physicians"
    assert obs.site_names == ["1", "2", "3", "4"], "four towns"
    assert np.bincount(obs.site).tolist() == [62, 24, 21, 18], "town sizes of netdiffuseR's data"
    adopted = obs.t_adopted >= 0
    assert adopted.sum() == 109 and round(adopted.mean(), 2) == 0.87, "87% adopt by month 17"
    assert (obs.t_adopted == 1).sum() == 11, "9% (11/125) in month 1"
    assert ((obs.t_adopted >= 1) & (obs.t_adopted <= 6)).sum() == 62, "50% (62/125) by month 6"
    assert obs.t_adopted.min() >= -1 and obs.t_adopted.max() == 17, "adoption months 1..17, -1 censored"
    # netdiffuseR's medInnovationsDiffNet graph has 294 non-zero directed cells.
    pairs = set(zip(obs.tie_from.tolist(), obs.tie_to.tolist(), strict=True))
    assert len(obs.tie_from) == 450 and len(pairs) == 294, "450 nominations, 294 directed pairs"
    assert (obs.site[obs.tie_from] == obs.site[obs.tie_to]).all(), "nominations stay within a town"
    undirected = {tuple(sorted(p)) for p in pairs}
    assert obs.org.n_ties == len(undirected), "the organisation joins each nominated pair once"
    assert (obs.org.tie_kind == PEER).all(), "observed ties are peer ties"
    assert (obs.org.organisation == obs.site).all(), "a site is an organisation"
    # Person 1 of town 1 adopted in month 1 and named 8, 58 and 112 as friends (netdiffuseR row 1);
    # 112 is not a respondent of town 1 (ids there stop at 108), so that nomination is dropped.
    i = int(np.flatnonzero((obs.site == 0) & (obs.person_id == "1"))[0])
    assert obs.t_adopted[i] == 1
    friends = obs.person_id[obs.tie_to[(obs.tie_from == i) & (obs.tie_kind == "friendship")]]
    assert sorted(friends, key=int) == ["8", "58"]
    curve = obs.frac_adopted_by_site()
    assert curve.shape == (4, 18) and (np.diff(curve, axis=1) >= 0).all() and (curve[:, 0] == 0).all()


def test_tie_kinds_filter_and_subset(medical):
    advice = read_observed(*medical_innovation_paths(), n_steps=17, tie_kinds=["advice"])
    assert set(advice.tie_kind) == {"advice"} and len(advice.tie_from) == (medical.tie_kind == "advice").sum()
    three = medical.subset(["1", "2", "4"])
    assert three.n_people == 104 and three.site_names == ["1", "2", "4"]
    assert len(three.tie_from) == (medical.site[medical.tie_from] != 2).sum(), "town 3's ties go with it"
    assert np.array_equal(np.sort(three.t_adopted), np.sort(medical.t_adopted[medical.site != 2]))


def test_small_file_order_and_covariates(tmp_path):
    people = write(tmp_path, "p.csv", "site,id,adopted,x\nB,1,2,0.5\nA,1,,\nB,2,0,1\n")
    ties = write(tmp_path, "t.csv", "site,from,to,kind\nB,1,2,advice\nB,2,1,advice\n")
    obs = read_observed(people, ties, n_steps=3)
    assert obs.site_names == ["B", "A"], "sites in order of first appearance"
    assert obs.person_id.tolist() == ["1", "2", "1"] and obs.t_adopted.tolist() == [2, 0, -1]
    assert np.isnan(obs.covariates["x"].iloc[2]) and obs.covariates["x"].iloc[0] == 0.5
    assert obs.org.n_ties == 1, "a reciprocated nomination is one undirected tie"


TWO = "site,id,adopted\nA,1,1\nA,2,\n"


@pytest.mark.parametrize(
    ("people", "ties", "message"),
    [
        ("site,id,adopted\nA,1,1\nA,1,2\n", None, "p.csv: duplicate id '1' in site 'A' on lines 2, 3"),
        ("site,id,adopted\nA,1,1\nB,1,2\n", None, None),  # the same id in two sites is fine
        (
            "site,id,adopted\nA,1,18\n",
            None,
            "p.csv line 2: adopted '18' is outside the observation window 0..17",
        ),
        ("site,id,adopted\nA,1,-2\n", None, "p.csv line 2: adopted '-2' is outside the observation window"),
        ("site,id,adopted\nA,1,2.5\n", None, "p.csv line 2: adopted '2.5' must be a whole step number"),
        ("site,id,adopted\nA,1,soon\n", None, "p.csv line 2: adopted 'soon' must be a whole step number"),
        ("site,id,adopted\nA,,1\n", None, "p.csv line 2: id is blank"),
        ("site,id\nA,1\n", None, "people file p.csv is missing column(s) ['adopted']"),
        ("site,id,adopted,x\nA,1,1,high\n", None, "p.csv line 2: covariate x = 'high' is not a number"),
        (
            "site,id,adopted,profession\nA,1,1,wizard\n",
            None,
            "p.csv line 2: profession 'wizard' is not one",
        ),
        (TWO, "site,from,to\nA,1,3\n", "t.csv line 2: to '3' is not an id of site 'A' in p.csv"),
        (TWO, "site,from,to\nA,9,1\n", "t.csv line 2: from '9' is not an id of site 'A'"),
        (TWO, "site,from,to\nA,1,2\nC,1,2\n", "t.csv line 3: site 'C' has no people in p.csv"),
        (TWO, "site,from,to\nA,2,2\n", "t.csv line 2: a tie from '2' to themselves"),
        (TWO, "site,to\nA,1\n", "ties file t.csv is missing column(s) ['from']"),
    ],
)
def test_bad_files_get_one_line_naming_file_row_and_problem(tmp_path, people, ties, message):
    p = write(tmp_path, "p.csv", people)
    t = write(tmp_path, "t.csv", ties) if ties is not None else None
    if message is None:
        assert read_observed(p, t, n_steps=17).n_people == 2
        return
    with pytest.raises(ConfigError) as err:
        read_observed(p, t, n_steps=17)
    text = str(err.value)
    assert message in text and "\n" not in text, f"expected {message!r} in one line, got {text!r}"


def test_unknown_tie_kind_and_missing_file(tmp_path):
    p = write(tmp_path, "p.csv", "site,id,adopted\nA,1,1\nA,2,\n")
    t = write(tmp_path, "t.csv", "site,from,to,kind\nA,1,2,advice\n")
    expected = r"t.csv: no ties of kind \['advise'\]; kinds in the file: \['advice'\]"
    with pytest.raises(ConfigError, match=expected):
        read_observed(p, t, tie_kinds=["advise"])
    with pytest.raises(ConfigError, match="people file .*nope.csv does not exist"):
        read_observed(tmp_path / "nope.csv", t)
