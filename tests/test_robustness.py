"""Assumptions as ranges and the robustness of the leadership comparison.

The uncertainty file is validated at the edge; every lever a leadership model sets has a
range; a sampled point reaches the model exactly as stated; the ranking statistics are exact
on hand-made tables; PRIM and the tree find a planted condition; and the real command runs
end to end on a tiny design.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import robustness as rob
from sim.analysis import uncertainty as unc_mod
from sim.analysis.compare import outcomes_of
from sim.analysis.stats import clopper_pearson, wilson
from sim.cli import LEADERSHIP_MODELS, compose
from sim.params import ConfigError, from_dict
from sim.run import run_batch

ROOT = Path(__file__).resolve().parents[1]
NAMES = [n for n, _ in LEADERSHIP_MODELS]


def _write(tmp_path: Path, data: dict, name: str = "u.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def _minimal(**extra) -> dict:
    return {"parameters": {"dynamics.threshold_mean": {"range": [0.4, 0.7], "source": "assumption"}}} | extra


@pytest.fixture(scope="module")
def leadership():
    base = compose(["scenario=change_base"])[0]
    return base, {n: compose([f"scenario={n}"])[0] for n in NAMES}


def test_default_file_has_a_range_and_source_for_every_assumption_and_lever(leadership) -> None:
    unc = unc_mod.load("default")
    assert len(unc.parameters) >= 20 and len(unc.levers) >= 5, "the default file should cover the assumptions"
    for a in unc.parameters:
        assert a.source.strip(), f"{a.key} needs a source or 'assumption'"
        lo, hi = unc_mod.allowed_range(a.key) or (-np.inf, np.inf)
        assert lo <= a.low <= a.high <= hi, f"{a.key}: [{a.low}, {a.high}] outside [{lo}, {hi}]"
    base, scenarios = leadership
    # Every numeric key a leadership model sets away from the common base has a range (or a reason).
    unc_mod.check_levers(unc, base, scenarios)
    used = {lv.key for lv in unc.levers if any(unc_mod.uses(c, base, lv) for c in scenarios.values())}
    assert used == {lv.key for lv in unc.levers}, (
        f"levers no model uses: {sorted({lv.key for lv in unc.levers} - used)}"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_minimal(nonsense=1), "unknown key 'nonsense'"),
        (
            {"parameters": {"dynamics.threshold_mean": {"range": [0.7, 0.4], "source": "x"}}},
            r"parameters.dynamics.threshold_mean.range: low 0.7 > high 0.4",
        ),
        (
            {"parameters": {"dynamics.no_such": {"range": [0, 1], "source": "x"}}},
            "'dynamics.no_such' is not a ModelConfig key",
        ),
        ({"parameters": {"dynamics.threshold_mean": {"range": [0.4, 0.7]}}}, "needs both range"),
        (
            {"parameters": {"dynamics.threshold_mean": {"range": [0.4, 0.7], "source": "x", "sorce": 1}}},
            "unknown key 'sorce'",
        ),
        (
            {"parameters": {"dynamics.p_spontaneous": {"range": [0.0, 1.5], "source": "x"}}},
            "outside the allowed range",
        ),
        ({"parameters": {"dynamics.rule": {"range": [0, 1], "source": "x"}}}, "not numeric"),
        (_minimal(levers={"mandate.strength": {"factor": [0, 2], "source": "x"}}), "must be positive"),
        (_minimal(design={"method": "grid"}), "design.method='grid'"),
        (_minimal(design={"points": 1}), "design.points must be at least 2"),
    ],
)
def test_bad_files_are_refused_in_one_line_naming_the_key(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        unc_mod.load(_write(tmp_path, data))
    assert "\n" not in str(e.value), f"one line: {e.value}"


def test_calibrated_parameters_use_the_fitted_interval_or_say_they_fall_back(tmp_path: Path) -> None:
    spec = {
        "parameters": {
            "dynamics.p_spontaneous": {
                "range": [0.001, 0.008],
                "source": "assumption",
                "calibrated": "p_external",
            }
        }
    }
    missing = unc_mod.load(_write(tmp_path, spec | {"calibration": {"file": str(tmp_path / "none.csv")}}))
    a = missing.parameters[0]
    assert (a.low, a.high) == (0.001, 0.008) and "calibration file not found" in a.basis
    assert "not found" in missing.calibration_note
    cal = tmp_path / "posterior_summary.csv"
    cal.write_text("parameter,mean,q025,q975\np_external,0.004,0.0025,0.0061\nq,0.1,0.05,0.2\n")
    fitted = unc_mod.load(_write(tmp_path, spec | {"calibration": {"file": str(cal)}}))
    a = fitted.parameters[0]
    assert (a.low, a.high) == (0.0025, 0.0061), f"the fitted interval should replace the assumed range: {a}"
    assert a.basis.startswith("fitted interval"), a.basis
    # Several fitted models, monthly chances with weekly equivalents: model:parameter, weekly columns.
    cal.write_text(
        "model,parameter,q2.5,q97.5,weekly_q2.5,weekly_q97.5\n"
        "threshold,p_external,0.026,0.125,0.0061,0.0302\nbass,p_external,0.06,0.14,0.014,0.034\n"
    )
    ambiguous = unc_mod.load(_write(tmp_path, spec | {"calibration": {"file": str(cal)}}))
    assert "several models" in ambiguous.parameters[0].basis, ambiguous.parameters[0].basis
    spec["parameters"]["dynamics.p_spontaneous"]["calibrated"] = "threshold:p_external"
    chosen = unc_mod.load(_write(tmp_path, spec | {"calibration": {"file": str(cal)}}))
    assert (chosen.parameters[0].low, chosen.parameters[0].high) == (0.0061, 0.0302), "weekly interval used"
    cal.write_text("parameter,mean\np_external,0.004\n")
    with pytest.raises(ConfigError, match="needs a name column .* and interval columns"):
        unc_mod.load(_write(tmp_path, spec | {"calibration": {"file": str(cal)}}))


def test_a_lever_without_a_range_is_refused(leadership, tmp_path: Path) -> None:
    base, scenarios = leadership
    data = yaml.safe_load((ROOT / "configs/uncertainty/default.yaml").read_text())
    data["levers"].pop("motivation.recognition")
    data.pop("calibration")
    unc = unc_mod.load(_write(tmp_path, data))
    with pytest.raises(ConfigError, match=r"sets lever motivation.recognition=.* no factor range"):
        unc_mod.check_levers(unc, base, scenarios)


def test_a_point_reaches_each_model_as_stated(leadership) -> None:
    base, scenarios = leadership
    unc = unc_mod.load("default")
    row = unc.central().iloc[0].to_dict()
    row["factor:mandate.strength"] = 0.5
    row["factor:motivation.recognition"] = 2.0
    row["dynamics.threshold_mean"] = 0.61
    got = {n: from_dict(c, **unc_mod.apply(c, base, unc, row)) for n, c in scenarios.items()}
    for n, c in got.items():
        assert c.dynamics.threshold_mean == 0.61, f"{n}: a shared assumption takes the point's value"
    assert got["command_and_control"].mandate.strength == pytest.approx(0.4), (
        "0.8 x 0.5 (lever applies via mandate.on)"
    )
    assert got["hybrid"].mandate.strength == pytest.approx(0.2), "hybrid's lighter 0.4 x 0.5 stays lighter"
    assert got["help_it_happen"].motivation.recognition == pytest.approx(0.04), "0.02 x 2"
    assert got["let_it_happen"].motivation.recognition == 0.0, "a model without the lever keeps it off"
    assert got["let_it_happen"].co_design.patient_share == 0.0, (
        "no lever factor on a model that does not use it"
    )
    # Clinical credibility is a shared assumption of the common base (sim.levers), not a lever.
    assert {c.leadership.clinical_credibility for c in got.values()} == {1.5}
    row["factor:mandate.strength"] = 1.25
    c = from_dict(
        scenarios["command_and_control"], **unc_mod.apply(scenarios["command_and_control"], base, unc, row)
    )
    assert c.mandate.strength == 1.0, "0.8 x 1.25 is clipped to the allowed maximum 1"


def test_rank_first_and_pairwise_are_exact_on_a_hand_made_table() -> None:
    # 4 points x 3 models, one replicate: a wins twice, b once, a and c tie once.
    vals = {"a": [0.9, 0.8, 0.1, 0.5], "b": [0.1, 0.2, 0.7, 0.3], "c": [0.5, 0.5, 0.2, 0.5]}
    runs = pd.DataFrame(
        [
            {"point": p, "scenario": s, "replicate": 0, "sustained": v[p]}
            for s, v in vals.items()
            for p in range(4)
        ]
    )
    o = next(o for o in rob.ranked_outcomes() if o.key == "sustained")
    means = rob.point_means(runs, 104, [o])
    rf = rob.rank_first(means, ["a", "b", "c"], [o]).set_index("scenario")
    assert rf.p_first.to_dict() == pytest.approx({"a": 2.5 / 4, "b": 1 / 4, "c": 0.5 / 4})
    assert (rf.lo >= 0).all() and (rf.hi <= 1).all() and (rf.lo <= rf.p_first).all()
    pw = rob.pairwise(runs, ["a", "b", "c"], 104, [o]).set_index(["a", "b"])
    assert pw.loc[("a", "c"), "share"] == pytest.approx(2.5 / 4), "a beats c at 2 points and ties at 1"
    assert pw.loc[("c", "a"), "share"] == pytest.approx(1.5 / 4), "the shares of a pair add to 1"
    assert pw.loc[("a", "b"), "share_clearly"] == 0.0, "one replicate cannot make a win clear"
    m = rob.margin(means, o, ["a", "b", "c"], "a")
    assert m == pytest.approx([0.4, 0.3, -0.6, 0.0]), "lead over the best of the rest"


def test_lower_is_better_outcomes_rank_the_smallest_first() -> None:
    o = next(o for o in rob.ranked_outcomes() if o.key == "t_50")
    runs = pd.DataFrame(
        {
            "point": [0, 0, 1, 1],
            "scenario": ["a", "b", "a", "b"],
            "replicate": 0,
            "t_50": [10.0, 20.0, np.nan, 30.0],
        }
    )
    rf = rob.rank_first(rob.point_means(runs, 52, [o]), ["a", "b"], [o]).set_index("scenario")
    # point 0: a is faster; point 1: a never reaches 50% (counted as week 53), b at week 30.
    assert rf.p_first.to_dict() == {"a": 0.5, "b": 0.5}


def test_prim_and_the_tree_find_a_planted_condition() -> None:
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.uniform(size=(400, 6)), columns=[f"x{k}" for k in range(6)])
    y = ((x.x1 > 0.7) & (x.x4 < 0.4)).to_numpy()
    for finder in (rob.prim_box, rob.tree_box):
        box = finder(x, y)
        assert box is not None, f"{finder.__name__} found nothing"
        lims = {name: (lo, hi) for name, lo, hi in box.limits}
        assert set(lims) == {"x1", "x4"}, f"{box.method} should restrict exactly the planted inputs: {lims}"
        assert lims["x1"][0] == pytest.approx(0.7, abs=0.05) and lims["x1"][1] is None, lims
        assert lims["x4"][1] == pytest.approx(0.4, abs=0.05) and lims["x4"][0] is None, lims
        assert box.coverage >= 0.9 and box.density >= 0.9, f"{box.method}: {box.coverage}, {box.density}"
        words = box.words()
        assert words.startswith("x") and " above 0." in words and " below 0." in words, words
    assert rob.prim_box(x, np.zeros(400, bool)) is None, "no cases: no box"


def test_wilson_and_clopper_pearson_match_published_values() -> None:
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4), "Wilson 0/10 (Newcombe 1998 table)"
    assert clopper_pearson(0, 10)[1] == pytest.approx(0.3085, abs=1e-4), "exact 0/10 upper limit"
    assert clopper_pearson(10, 10) == pytest.approx((0.6915, 1.0), abs=1e-4)
    lo, hi = wilson(15, 148)
    assert (lo, hi) == pytest.approx((0.0624, 0.1605), abs=1e-4), "Newcombe 1998 example 15/148"


def test_robustness_command_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "rob"
    names = "command_and_control,let_it_happen,help_it_happen"
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "robustness",
        "points=6",
        "replicates=2",
        f"scenarios={names}",
        "org.n_staff=120",
        "n_steps=20",
        "jobs=1",
        f"out={out}",
    ]
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "ranks first under" in p.stdout, p.stdout
    for f in (
        "rank_first.csv",
        "pairwise.csv",
        "conditions.csv",
        "indices.csv",
        "design.csv",
        "runs.parquet",
        "robustness.png",
        "provenance.json",
        "point_means.csv",
    ):
        assert (out / f).is_file(), f"{f} missing"
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["git_commit"]) == 40 and prov["command"].startswith("changesim robustness points=6")
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 6 * 3 * 2, "points x models x replicates"
    seeds = runs.groupby(["point", "scenario"]).seed.apply(tuple)
    assert seeds.nunique() == 1, "every model at every point runs the same seeds (common random numbers)"
    rf = pd.read_csv(out / "rank_first.csv")
    assert np.allclose(rf.groupby("outcome").p_first.sum(), 1.0), "rank-first probabilities add to 1"
    # The runs at a point are exactly what the model gives with that point's values.
    design = pd.read_csv(out / "design.csv")
    unc = unc_mod.load("default", {"points": 6, "replicates": 2})
    overrides = [f"scenarios={names}", "org.n_staff=120", "n_steps=20"][1:]
    base = compose(["scenario=change_base", *overrides])[0]
    cfg = compose(["scenario=help_it_happen", *overrides])[0]
    row = design.drop(columns="point").iloc[4].to_dict()
    direct = outcomes_of(
        "help_it_happen",
        run_batch(from_dict(cfg, **unc_mod.apply(cfg, base, unc, row)), seeds=[0, 1], by_group=False),
    )
    got = runs[(runs.point == 4) & (runs.scenario == "help_it_happen")].sort_values("replicate")
    assert np.allclose(got.sustained.to_numpy(), direct.sustained.to_numpy()), "stored runs reproduce exactly"

    # The report reads the saved run: each headline carries its share of plausible assumptions.
    from sim.cli import report

    rep = tmp_path / "report"
    assert report([f"scenarios={names}", "org.n_staff=120", "n_steps=20", "n_replicates=2",
                   f"robustness={out}", f"out={rep}"]) == 0  # fmt: skip
    md = (rep / "report.md").read_text()
    rf = rf.set_index(["outcome", "scenario"])
    lasting = next(line for line in md.splitlines() if line.startswith("- **Most lasting:**"))
    shares = [
        f"{100 * rf.loc[('sustained', n), 'p_first']:.0f}% of 6 plausible sets" for n in names.split(",")
    ]
    assert any(s in lasting for s in shares) or "every one of 6" in lasting or "none of 6" in lasting, lasting
