"""`changesim calibrate`: statistics, exact likelihoods, the simulator, the CLI and the validation."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.analysis import calibrate as cal
from sim.analysis import calibrate_hazard as hz
from sim.analysis import calibrate_stats as cs
from sim.analysis.calibrate_validate import METHODS, leave_one_site_out, score
from sim.cli import CONFIG_DIR
from sim.observed import ObservedDiffusion, build, medical_innovation_paths, read_observed
from sim.params import ConfigError, from_dict
from sim.run import run_batch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def medical() -> ObservedDiffusion:
    return read_observed(*medical_innovation_paths(), n_steps=17)


def default_spec(**changes) -> cal.CalibrationSpec:
    d = yaml.safe_load((CONFIG_DIR / "calibration" / "default.yaml").read_text())
    d.update(changes)
    return cal.spec_from_dict(d)


def chain(t_adopted: list[int], n_steps: int = 4, sites: list[str] | None = None) -> ObservedDiffusion:
    """People 0-1-2-... in a line within each site (one site unless given), with the given adoption steps."""
    n = len(t_adopted)
    site = np.array(sites or ["A"] * n, dtype=object)
    u = np.flatnonzero(site[:-1] == site[1:])
    return build(
        site_of=site,
        person_id=np.array([str(i) for i in range(n)], dtype=object),
        t_adopted=np.array(t_adopted),
        profession=np.zeros(n, np.uint8),
        covariates=pd.DataFrame({"x": np.arange(n, dtype=float)}),
        tie_from=u,
        tie_to=u + 1,
        tie_kind=np.array(["k"] * len(u), dtype=object),
        n_steps=n_steps,
    )


# --- Statistics, exact on tiny cases ---------------------------------------------------


def test_exposure_and_hazard_on_a_chain_by_hand():
    # 0 - 1 - 2: person 0 adopts in step 1, person 1 in step 3, person 2 never (window 4).
    obs = chain([1, 3, -1])
    net = cs.Network.of(obs.org, 4)
    e = cs.exposure(obs.t_adopted, net)[0]
    assert e[0].tolist() == [0, 0, 0], "nobody adopted by the end of step 0"
    assert e[1].tolist() == [0, 0.5, 0], "after step 1, person 1 has one of two contacts adopted"
    assert e[3].tolist() == [1.0, 0.5, 1.0], "after step 3: 0 and 2 see their only contact adopted"
    (at_adoption,) = cs.exposure_at_adoption(obs.t_adopted, e[None])
    assert sorted(at_adoption.tolist()) == [0.0, 0.5], "0 adopted at exposure 0, 1 at exposure 1/2"
    tab = cs.hazard_table(obs.t_adopted, e[None])[0]
    # Person-steps at risk: 0 in step 1 (e=0); 1 in steps 1 (e=0), 2 and 3 (e=.5);
    # 2 in steps 1-3 (e=0), 4 (e=1).
    assert tab[:, 0].tolist() == [5, 0, 2, 1], "person-steps at risk by exposure bin"
    assert tab[:, 1].tolist() == [1, 0, 1, 0], "adoptions by exposure bin"
    s = cs.summaries(obs.t_adopted, net)
    assert s["curve"][0].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert s["exposure"][0].tolist() == pytest.approx([0.25, 0.125, 0.25, 0.375, 0.5])
    overall = 2 / 8
    assert s["hazard"][0].tolist() == pytest.approx(
        [(1 + overall) / 6, overall, (1 + overall) / 3, overall / 2]
    )


def test_scoring_rules_exact():
    y = np.array([0.3, 0.8])
    assert cs.crps_ensemble(np.array([[0.5, 0.5]]), y).tolist() == pytest.approx([0.2, 0.3]), (
        "one member: |x - y|"
    )
    # Two members a < b around y: E|X-y| - |a-b|/2 = ((y-a) + (b-y))/2 - (b-a)/4 = (b-a)/4.
    assert cs.crps_ensemble(np.array([[0.1], [0.5]]), np.array([0.3])).tolist() == pytest.approx([0.1])
    truth = np.array([1, 3, -1])
    perfect = np.repeat(truth[None], 10, axis=0)
    assert cs.brier_by_step(perfect, truth, 4).tolist() == [0, 0, 0], "a sure, right forecast scores 0"
    wrong = np.full((10, 3), 2)
    # Person 0 (step 1): forecast "by step 2" -> wrong at m = 1 only: Brier 1/4.
    assert cs.brier_by_step(wrong, truth, 4)[0] == pytest.approx(0.25)
    k = 5
    assert cs.log_score(perfect, truth, 4).tolist() == pytest.approx([-np.log(10.5 / (10 + 0.5 * k))] * 3)
    assert (cs.log_score(wrong, truth, 4) > cs.log_score(perfect, truth, 4)).all()


# --- Exact likelihoods recover known parameters ------------------------------------------


def test_bass_rule_mle_recovers_p_and_q_from_changesim_simulations(medical):
    """changesim's own Bass rule, simulated on the Medical Innovation network, is fitted back.

    40 independent data sets; the mean estimate must lie within 4 standard errors of the
    mean (SE = mean per-fit SE / sqrt(40)) of the truth: false-failure rate < 1e-4.
    """
    p, q = 0.05, 0.6
    cfg = from_dict(
        {
            "dynamics": {"rule": "bass", "p_spontaneous": p, "q_imitation": q},
            "seeding": {"strategy": "none"},
            "n_steps": 17,
        }
    )
    runs = run_batch(cfg, org=medical.org, seeds=np.arange(40), by_group=False).t_adopted
    fits = [hz.fit_bass_rule(dataclasses.replace(medical, t_adopted=t.astype(np.int32))) for t in runs]
    est = np.array([[f.p, f.q] for f in fits])
    se = np.array([np.sqrt(np.diag(f.cov)) for f in fits]).mean(axis=0) / np.sqrt(len(fits))
    assert abs(est[:, 0].mean() - p) < 4 * se[0], (
        f"p: mean estimate {est[:, 0].mean():.4f} vs {p} (se {se[0]:.4f})"
    )
    assert abs(est[:, 1].mean() - q) < 4 * se[1], (
        f"q: mean estimate {est[:, 1].mean():.4f} vs {q} (se {se[1]:.4f})"
    )
    assert est[:, 1].mean() > 0.3, "contagion is found when it is there"


def test_exposure_logit_recovers_known_coefficients(medical):
    """A logistic hazard with known b0, b_e and b_x, simulated forward, is fitted back by statsmodels.

    Mean of 30 fits within 4 SE of the truth; a one-step error in the exposure lag biases b_e
    far outside this.
    """
    b0, be, bx = -2.6, 2.0, 0.5
    std = hz.Standardiser.fit(medical, ["nojourn"])
    x = std.apply(medical)[:, 0]
    rng = np.random.default_rng(7)
    sims = hz.simulate_hazard(lambda e: 1 / (1 + np.exp(-(b0 + be * e + bx * x))), medical, 30, rng)
    fits = [
        hz.fit_logit(dataclasses.replace(medical, t_adopted=t.astype(np.int32)), ["nojourn"]) for t in sims
    ]
    est = np.array([f.params for f in fits])
    se = np.array([np.sqrt(np.diag(f.cov)) for f in fits]).mean(axis=0) / np.sqrt(len(fits))
    for k, (name, truth) in enumerate((("intercept", b0), ("exposure", be), ("nojourn", bx))):
        assert abs(est[:, k].mean() - truth) < 4 * se[k], (
            f"{name}: {est[:, k].mean():.3f} vs {truth} (se {se[k]:.3f})"
        )


def test_bass_curve_fit_recovers_its_parameters():
    truth = hz.BassCurve(p=0.08, q=0.3, m=0.85)
    obs = chain([0] * 1, n_steps=17)
    rng = np.random.default_rng(3)
    n = 4000
    people = build(
        site_of=np.array(["A"] * n, dtype=object),
        person_id=np.arange(n).astype(str).astype(object),
        t_adopted=np.zeros(n, int),
        profession=np.zeros(n, np.uint8),
        covariates=pd.DataFrame(index=range(n)),
        tie_from=np.zeros(0, int),
        tie_to=np.zeros(0, int),
        tie_kind=np.zeros(0, object),
        n_steps=17,
    )
    t = hz.simulate_bass_curve(truth, people, 1, rng)[0]
    fit = hz.fit_bass_curve(dataclasses.replace(people, t_adopted=t.astype(np.int32)))
    assert fit.m == pytest.approx(0.85, abs=0.03) and fit.p == pytest.approx(0.08, abs=0.015)
    assert fit.q == pytest.approx(0.3, abs=0.08)
    assert obs.n_people == 1


# --- The simulator ---------------------------------------------------------------------


@pytest.mark.parametrize("rule", ["threshold", "bass"])
def test_fast_simulator_equals_run_batch(medical, rule):
    spec = default_spec()
    sim = cal.Simulator(spec, medical)
    sim.cfg.dynamics.rule = rule
    values = {"dynamics.p_spontaneous": 0.04, "dynamics.threshold_mean": 0.35, "dynamics.threshold_sd": 0.2,
              "dynamics.q_imitation": 0.5}  # fmt: skip
    fast = sim.run(values, np.arange(6))
    cfg = from_dict(sim.base, **values, **{"dynamics.rule": rule})
    ref = run_batch(cfg, org=medical.org, seeds=np.arange(6), by_group=False).t_adopted
    assert np.array_equal(fast, ref), "the calibration's simulator is changesim's engine, draw for draw"


# --- The command line --------------------------------------------------------------------


def changesim(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim", "calibrate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_quick_calibration_end_to_end_on_the_real_data_and_resume(tmp_path):
    out = tmp_path / "cal"
    run = changesim("quick=true", "n_procs=1", f"out={out}", cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    for f in (
        "abc.db",
        "posterior.parquet",
        "posterior_summary.csv",
        "posterior_correlation.csv",
        "likelihood.csv",
        "attribution.csv",
        "predictive.parquet",
        "fig_posterior_predictive.png",
        "fig_posterior_pairs.png",
        "provenance.json",
        "DONE",
    ):
        assert (out / f).is_file(), f"{f} written"
    assert "ABC INFO: t: 0" in run.stdout + run.stderr, "progress is shown while it runs"
    summary = pd.read_csv(out / "posterior_summary.csv").set_index("parameter")
    assert list(summary.index) == [
        "dynamics.p_spontaneous",
        "dynamics.threshold_mean",
        "dynamics.threshold_sd",
    ]
    assert ((summary["q2.5"] >= summary["prior_lo"]) & (summary["q97.5"] <= summary["prior_hi"])).all()
    # Month 1 has 11/125 adopters with nobody exposed: outside influence of a few percent a month is needed.
    assert 0.01 < summary.loc["dynamics.p_spontaneous", "median"] < 0.2
    pred = pd.read_parquet(out / "predictive.parquet")
    final = pred[pred["step"] == 17].groupby("draw")["frac_adopted"].mean()
    assert abs(final.median() - 0.872) < 0.15, (
        f"predicted final adoption {final.median():.2f} vs observed 0.87"
    )
    prov = json.loads((out / "provenance.json").read_text())
    assert len(prov["git_commit"]) == 40 and isinstance(prov["git_modified"], bool) and prov["created"]
    assert prov["command"] == f"changesim calibrate quick=true n_procs=1 out={out}"
    lik = pd.read_csv(out / "likelihood.csv")
    assert set(lik["model"]) == {"exposure_logit", "external_only_logit", "changesim_bass_rule_mle"}
    first_total = prov["total_simulations"]
    changed = "parameters.dynamics.threshold_sd=[0,0.3]"
    again = changesim("quick=true", "n_procs=1", f"out={out}", changed, cwd=ROOT)
    assert again.returncode == 2 and "different configuration" in again.stderr, (
        "a changed model never reuses a db"
    )
    bigger = ("quick_budget.max_generations=4", "quick_budget.max_simulations=100000")
    more = changesim("quick=true", "n_procs=1", f"out={out}", *bigger, cwd=ROOT)
    assert more.returncode == 0, more.stderr[-2000:]
    prov2 = json.loads((out / "provenance.json").read_text())
    assert prov2["resumed"] is True, "rerunning with a larger budget resumes the database"
    assert prov2["generations"] == prov["generations"] + 1, "the resumed run adds one generation"
    assert prov2["total_simulations"] > first_total


def test_bad_data_and_bad_keys_get_one_line_and_write_nothing(tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("site,id,adopted\nA,1,1\nA,2,30\n")
    ties = tmp_path / "ties.csv"
    ties.write_text("site,from,to\nA,1,2\n")
    out = tmp_path / "out"
    run = changesim(f"data.people={people}", f"data.ties={ties}", f"out={out}", cwd=tmp_path, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "error: people.csv line 3: adopted '30' is outside the observation window 0..17 "
        "(0 = adopted before the start; blank = not adopted by step 17)"
    )
    assert not out.exists(), "nothing written for bad data"
    for args, message in (
        (["budget.populaton=5"], "budget.populaton"),
        (["parameters.dynamics.p_spontaneous=[0.5,0.1]"], "must be a prior range"),
        (["parameters.dynamics.threshold_mean=[0,2]"], "dynamics.threshold_mean"),
        (["nonsense_preset"], "calibration preset 'nonsense_preset' is not one of"),
        (["covariates=[age]"], "covariates ['age'] are not columns of medical_innovation_people.csv"),
    ):
        bad = changesim(*args, f"out={out}", cwd=tmp_path, timeout=120)
        assert bad.returncode == 2 and message in bad.stderr, (args, bad.stderr)
        assert len(bad.stderr.strip().splitlines()) == 1, f"one line: {bad.stderr!r}"
        assert not out.exists()


# --- Leave one site out ------------------------------------------------------------------


def test_leave_one_site_out_on_a_tiny_case(tmp_path):
    """Two sites of 12 people in a line each; every method is scored on each held-out site."""
    rng = np.random.default_rng(0)
    t = rng.integers(1, 7, size=24)
    t[rng.random(24) < 0.2] = -1
    sites = ["A"] * 12 + ["B"] * 12
    obs = chain(list(t), n_steps=6, sites=sites)
    tiny = cal.Budget(population=10, max_simulations=30, max_generations=2, n_predictive=5)
    spec = dataclasses.replace(default_spec(), loo_budget=tiny, n_draws=50, n_procs=1, covariates=["x"])
    table = leave_one_site_out(spec, obs, tmp_path, progress=False)
    assert len(table) == 3 * len(METHODS), "a row per held-out site and method, then pooled rows"
    assert set(table["held_out"]) == {"A", "B", "all"}
    pooled = table[table["held_out"] == "all"].set_index("method")
    assert pooled.loc["external_only", "log_score_vs_external"] == 0.0
    assert (pooled["n_people"] == 24).all()
    assert np.isfinite(table[["crps_curve", "brier", "log_score"]].to_numpy()).all()
    # The score itself: the truth as a forecast beats the Bass curve's guess.
    test = obs.subset(["A"])
    sure = score(np.repeat(test.t_adopted[None], 20, axis=0).astype(np.int64), test)
    assert sure["crps_curve"] == pytest.approx(0.0, abs=1e-12) and sure["brier"].max() == 0.0
    assert (tmp_path / "loo" / "site_0" / "abc.db").is_file(), "each fold keeps its own resumable database"


def test_spec_checks():
    with pytest.raises(ConfigError, match="summaries.shape is not a block"):
        default_spec(summaries={"shape": 1.0})
    with pytest.raises(ConfigError, match="name at least one model key"):
        default_spec(parameters={})
    with pytest.raises(ConfigError, match="unknown key 'budget.populaton'"):
        default_spec(budget={"populaton": 5})
    assert default_spec().parameters["dynamics.p_spontaneous"] == [0.0, 0.3], "nested YAML keys are flattened"
