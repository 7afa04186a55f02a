"""Leave one site out: fit on the other sites, predict the held-out site, score with proper rules.

For each site k: every method is fitted on the other sites only, then predicts site k
from step 0 (who adopts in which step, and so the site's curve) as an ensemble of
``n_draws`` simulated histories. Methods:

- ``changesim`` (the calibrated model): ABC-SMC posterior on the other sites, one
  simulation per posterior draw on site k's network;
- ``exposure_logit``: the discrete-time logistic hazard with exposure and covariates
  (maximum likelihood), run forward on site k's network;
- ``external_only``: the same hazard without exposure (no contagion);
- ``bass_rule_mle``: changesim's Bass rule h = 1 - (1 - p)(1 - q e), exact maximum likelihood;
- ``bass_curve``: the aggregate Bass (1969) curve with a ceiling (no network, no covariates).

Scores (lower is better; Gneiting and Raftery 2007): the CRPS of the site's share
adopted, averaged over steps 1..T; each person's Brier score of "adopted by step m",
averaged over m; each person's log score of their adoption step (T + 1 outcomes). The
``all`` rows pool the held-out people of every fold (CRPS: mean over sites) and give the
paired difference of each method's log score from ``external_only`` with its standard
error over people: negative means the method predicts better than outside influence alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import calibrate as cal
from sim.analysis import calibrate_hazard as hz
from sim.analysis.calibrate_stats import Network, brier_by_step, crps_ensemble, curves, log_score
from sim.observed import ObservedDiffusion

METHODS: tuple[str, ...] = ("changesim", "exposure_logit", "external_only", "bass_rule_mle", "bass_curve")


def predict_site(
    spec: cal.CalibrationSpec, train: ObservedDiffusion, test: ObservedDiffusion, folder: Path, seed: int,
    progress: bool = False,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Every method's (R, n_test) ensemble of adoption steps for ``test``, fitted on ``train``."""
    r = spec.n_draws
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    folder.mkdir(parents=True, exist_ok=True)
    post, _ = cal.fit_abc(spec, train, folder / "abc.db", spec.loo_budget, progress=progress)
    draws = cal.draw_posterior(post, spec, r, rng)
    out["changesim"] = cal.predict(cal.Simulator(spec, train), draws, test, seed + 17)
    for name, with_exposure in (("exposure_logit", True), ("external_only", False)):
        fit = hz.fit_logit(train, spec.covariates, with_exposure=with_exposure)
        x = fit.standardiser.apply(test)
        out[name] = hz.simulate_hazard(lambda e, f=fit, x=x: f.hazard(e, x), test, r, rng)
    b = hz.fit_bass_rule(train)
    out["bass_rule_mle"] = hz.simulate_hazard(lambda e: 1.0 - (1.0 - b.p) * (1.0 - b.q * e), test, r, rng)
    out["bass_curve"] = hz.simulate_bass_curve(hz.fit_bass_curve(train), test, r, rng)
    return out


def score(pred: np.ndarray, test: ObservedDiffusion) -> dict[str, np.ndarray | float]:
    """CRPS of the curve (a number), per-person Brier and log scores (arrays)."""
    net = Network.of(test.org, test.n_steps)
    sim_curve = curves(pred, net)[:, 0, 1:]
    obs_curve = test.frac_adopted_by_site()[0, 1:]
    return {
        "crps_curve": float(crps_ensemble(sim_curve, obs_curve).mean()),
        "brier": brier_by_step(pred, test.t_adopted, test.n_steps),
        "log_score": log_score(pred, test.t_adopted, test.n_steps),
        "predicted_final": float(np.median(sim_curve[:, -1])),
        "observed_final": float(obs_curve[-1]),
    }


def leave_one_site_out(
    spec: cal.CalibrationSpec, obs: ObservedDiffusion, out: Path, progress: bool = True
) -> pd.DataFrame:
    """The validation table: one row per held-out site and method, then pooled ``all`` rows."""
    if obs.n_sites < 2:
        raise cal.ConfigError("leave-one-site-out validation needs at least two sites in the data")
    rows = []
    per_person: dict[str, dict[str, list[np.ndarray]]] = {m: {"brier": [], "log_score": []} for m in METHODS}
    for k, site in enumerate(obs.site_names):
        if progress:
            print(
                f"validation: fitting on sites other than {site!r} ({k + 1} of {obs.n_sites}) ...", flush=True
            )
        train = obs.subset([s for s in obs.site_names if s != site])
        test = obs.subset([site])
        preds = predict_site(spec, train, test, out / "loo" / f"site_{k}", spec.seed + 101 * (k + 1))
        for method in METHODS:
            sc = score(preds[method], test)
            per_person[method]["brier"].append(sc["brier"])
            per_person[method]["log_score"].append(sc["log_score"])
            rows.append({"held_out": site, "method": method, "n_people": test.n_people,
                         "crps_curve": sc["crps_curve"], "brier": float(sc["brier"].mean()),
                         "log_score": float(sc["log_score"].mean()), "predicted_final": sc["predicted_final"],
                         "observed_final": sc["observed_final"]})  # fmt: skip
    table = pd.DataFrame(rows)
    base = np.concatenate(per_person["external_only"]["log_score"])
    for method in METHODS:
        ls = np.concatenate(per_person[method]["log_score"])
        diff = ls - base
        sub = table[table["method"] == method]
        rows.append({"held_out": "all", "method": method, "n_people": len(ls),
                     "crps_curve": float(sub["crps_curve"].mean()),
                     "brier": float(np.concatenate(per_person[method]["brier"]).mean()),
                     "log_score": float(ls.mean()), "predicted_final": np.nan, "observed_final": np.nan,
                     "log_score_vs_external": float(diff.mean()),
                     "log_score_vs_external_se": float(diff.std(ddof=1) / np.sqrt(len(diff)))})  # fmt: skip
    return pd.DataFrame(rows)
