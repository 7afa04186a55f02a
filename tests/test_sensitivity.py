"""Sensitivity designs (sim.analysis.sensitivity) and the EMA Workbench export (sim.analysis.ema), tiny orgs.

Every point of a design runs the same seeds (common random numbers), so a parameter the
rule never reads leaves every outcome bit-for-bit unchanged and its Sobol indices are 0.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sim.analysis import ema, sensitivity
from sim.params import ConfigError, from_dict
from sim.run import run_batch

TINY_BASE = {
    "org": {"n_staff": 120},
    "n_steps": 15,
    "dynamics": {"rule": "change", "threshold_mean": 0.3, "threshold_sd": 0.1, "p_spontaneous": 0.01},
}


def tiny(method: str = "sobol", n: int = 16, **extra) -> sensitivity.Design:
    return sensitivity.design_from_dict(
        {
            "method": method,
            "n": n,
            "seeds_per_point": 2,
            "base": TINY_BASE,
            "parameters": {
                "dynamics.threshold_mean": [0.1, 0.5],
                "dynamics.p_spontaneous": [0.0, 0.03],
                # read by the Bass rule only: rule "change" ignores it
                "dynamics.q_imitation": [0.0, 0.5],
            },
            **extra,
        }
    )


def test_sobol_indices_are_finite_and_an_ignored_parameter_gets_zero_total_effect():
    design = tiny()
    res = sensitivity.run(design, jobs=1, progress=False)
    assert len(res.runs) == 16 * (3 + 2) * 2, "N(D+2) points x 2 seeds"
    t = res.indices.set_index("parameter")
    values = t[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy()
    assert np.isfinite(values).all(), f"indices and intervals must be finite:\n{t}"
    null = t.loc["dynamics.q_imitation"]
    assert abs(null["ST"]) <= null["ST_conf"] + 1e-12 and abs(null["ST"]) < 0.01, (
        f"a parameter the rule ignores should have a total index of 0 within its CI, got {null.to_dict()}"
    )
    active = t.loc[["dynamics.threshold_mean", "dynamics.p_spontaneous"], "ST"]
    assert (active > 0.05).all(), f"the threshold and spontaneous adoption should matter: {active.to_dict()}"


def test_sobol_confidence_intervals_repeat_with_sample_seed_zero():
    # SALib seeds its bootstrap only when `if seed:` holds; seed 0 (the default) must still
    # give the same intervals twice (same seed, same numbers), and another seed other ones.
    design = tiny()
    x = sensitivity.sample(design)
    y = np.sin(3.0 * x[:, 0]) + x[:, 1] ** 2 + 0.1 * x[:, 2]
    first = sensitivity.analyse(design, x, y)
    second = sensitivity.analyse(design, x, y)
    pd.testing.assert_frame_equal(first, second)
    other = sensitivity.analyse(replace(design, sample_seed=1), x, y)
    assert not np.array_equal(first["S1_conf"].to_numpy(), other["S1_conf"].to_numpy()), (
        "the bootstrap intervals did not depend on the sample seed"
    )


def test_a_point_is_run_batch_with_the_common_seeds():
    design = tiny()
    x = sensitivity.sample(design)[:3]
    runs = sensitivity.run_design(design, x, jobs=1, progress=False)
    for k, row in enumerate(x):
        cfg = from_dict(design.base, **dict(zip(design.names, row, strict=True)))
        direct = run_batch(cfg, seeds=design.seeds, by_group=False).summary
        mine = runs[runs["point"] == k].reset_index(drop=True)
        assert mine["seed"].tolist() == design.seeds.tolist(), "every point runs the design's common seeds"
        np.testing.assert_array_equal(
            mine["final_frac_adopted"], direct["final_frac_adopted"], err_msg=f"point {k} != run_batch"
        )


def test_worker_processes_give_the_same_runs_as_one_process():
    design = tiny(n=8)
    x = sensitivity.sample(design)
    one = sensitivity.run_design(design, x, jobs=1, progress=False)
    two = sensitivity.run_design(design, x, jobs=2, progress=False)
    pd.testing.assert_frame_equal(one, two, obj="runs with 1 and 2 worker processes")


def test_latin_hypercube_gives_first_order_indices_only():
    design = tiny("lhs", n=60)
    res = sensitivity.run(design, jobs=1, progress=False)
    assert len(res.runs) == 60 * 2, "N points x 2 seeds"
    assert np.isfinite(res.indices["S1"]).all(), "RBD-FAST first-order indices must be finite"
    assert res.indices["ST"].isna().all(), "a Latin hypercube gives no total indices"


def test_outputs_table_figure_and_ema_archive(tmp_path):
    design = tiny(n=4)
    res = sensitivity.run(design, out=tmp_path, jobs=1, ema=True, progress=False)
    for name in ("indices.csv", "runs.parquet", "indices.png", "provenance.json", "ema"):
        assert res.paths[name].is_file(), f"{name} should be written"
    table = pd.read_csv(res.paths["indices.csv"])
    assert list(table["parameter"]) == design.names, "one row per parameter, in design order"
    experiments, outcomes = ema.read(res.paths["ema"])
    n_points = design.n_points()
    assert len(experiments) == n_points, "one experiment per point"
    assert set(design.names) <= set(experiments.columns), "uncertainties are columns"
    assert outcomes["final_frac_adopted"].shape == (n_points, 2), "(points, seeds) like a replicator model"
    mean = outcomes["final_frac_adopted"].mean(axis=1)
    np.testing.assert_allclose(
        mean, sensitivity.point_outcome(design, res.runs), err_msg="export keeps values"
    )


def test_ema_archive_round_trips_scalar_and_3d_outcomes(tmp_path):
    experiments = pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [1, 2, 3]})
    outcomes = {"y": np.array([1.0, 2.0, 3.5]), "series": np.arange(24, dtype=float).reshape(3, 2, 4)}
    path = ema.save_results(experiments, outcomes, tmp_path / "r.tar.gz")
    exp2, out2 = ema.read(path)
    pd.testing.assert_frame_equal(exp2, experiments, obj="experiments")
    for k, v in outcomes.items():
        np.testing.assert_array_equal(out2[k], v, err_msg=f"outcome {k}")


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"dynamics.nope": [0, 1]}, "not a ModelConfig key"),
        ({"dynamics.rule": [0, 1]}, "not numeric"),
        ({"dynamics.p_spontaneous": [0.0, 2.0]}, "dynamics.p_spontaneous"),
        ({"dynamics.p_spontaneous": [0.5, 0.1]}, "low < high"),
    ],
)
def test_bad_designs_are_refused_with_the_key_named(parameters, message):
    with pytest.raises(ConfigError, match=message):
        sensitivity.design_from_dict({"base": TINY_BASE, "parameters": parameters})


def test_a_latin_hypercube_too_small_for_rbd_fast_is_refused():
    with pytest.raises(ConfigError, match="lhs needs n > 40"):
        tiny("lhs", n=40)


def test_the_default_design_loads_and_overrides_apply():
    design = sensitivity.load("default", ["n=8", "base.org.n_staff=300", "seeds_per_point=1"])
    assert design.n == 8 and design.seeds_per_point == 1, "key=value overrides apply"
    assert design.base["org"]["n_staff"] == 300, "base.<key> overrides reach the scenario"
    assert design.n_points() == 8 * (len(design.parameters) + 2), "Sobol without second order: N(D+2)"
    assert sensitivity.load("default").n_points() * 2 >= 10_000, "the default is a 10,000-run design"


def test_main_runs_a_small_design(tmp_path, capsys):
    argv = ["default", "n=2", "base.org.n_staff=80", "base.n_steps=5", "seeds_per_point=1"]
    assert sensitivity.main([*argv, "--jobs", "1", "--out", str(tmp_path)]) == 0, "exit code 0"
    assert "dynamics.threshold_mean" in capsys.readouterr().out, "the indices are printed"
    assert sensitivity.main(["default", "n=1"]) == 2, "a bad design exits with 2"
