"""e12: calibrate changesim to the Medical Innovation data and validate it out of sample.

    python experiments/e12_medical_innovation/run.py            # both fits + leave one town out (~15 min)
    python experiments/e12_medical_innovation/run.py --collect  # only re-read finished runs into results/

Runs two calibrations through the real command line into ``outputs/e12_medical_innovation/``:

1. ``changesim calibrate loo=true`` (configs/calibration/default.yaml): the threshold rule
   with outside influence; fitted on all four towns, then leave one town out;
2. ``changesim calibrate bass_network``: changesim's Bass rule, whose exact likelihood
   (``likelihood.csv``) cross-checks the ABC posterior.

Then copies the small curated tables and the figure into ``results/e12_medical_innovation/``
and writes ``posterior_summary.csv`` (the main model's intervals, one row per parameter, with
``lo``/``hi`` on changesim's weekly step), which ``changesim robustness`` reads for the ranges
its uncertainty file marks ``calibrated``, and ``abc_vs_mle.csv`` (the cross-check).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from sim.views.calibration import posterior_pairs_figure

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "outputs" / "e12_medical_innovation"
RESULTS = ROOT / "results" / "e12_medical_innovation"
FITS = {"threshold": ["loo=true"], "bass_network": ["bass_network"]}
CURATED = ("posterior_summary.csv", "posterior_correlation.csv", "likelihood.csv", "attribution.csv",
           "fig_posterior_predictive.png", "provenance.json")  # fmt: skip


def run_all() -> None:
    """Both calibrations through the CLI, side by side (each resumes an unfinished run in its folder)."""
    RUNS.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, args in FITS.items():
        cmd = [sys.executable, "-m", "sim", "calibrate", *args, f"out={RUNS / name}"]
        print("$", " ".join(["changesim", *cmd[3:]]), f"> {RUNS / name}.log", flush=True)
        with open(RUNS / f"{name}.log", "w") as log:
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    failed = [name for name, p in procs.items() if p.wait() != 0]
    if failed:
        raise SystemExit(f"calibration(s) {failed} failed; see {RUNS}/<name>.log")


TRANSFER = (
    "Fitted to 125 physicians in four Illinois towns, 1954-55, one step = one month: a low-cost "
    "individual prescribing decision under heavy drug-company detailing. lo/hi give the 95% interval "
    "on changesim's weekly step (1 - (1 - p)^(12/52)); whether that transfers to a 1,000-staff trust "
    "is an assumption, not an estimate."
)


def collect() -> None:
    """Copy the curated outputs; write the posterior summary that `changesim robustness` reads."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in FITS:
        src = RUNS / name
        if not (src / "DONE").exists():
            raise SystemExit(f"{src} is not finished; run this script without --collect")
        for f in CURATED:
            shutil.copy2(src / f, RESULTS / f"{name}_{f}")
        post = pd.read_parquet(src / "posterior.parquet")
        params = [c for c in post.columns if c not in ("weight", "generation")]
        sims = json.loads((src / "provenance.json").read_text())["total_simulations"]
        posterior_pairs_figure(post, params, RESULTS / f"{name}_fig_posterior_pairs.png",
                               note=f"{name}: {sims:,} simulations")  # fmt: skip
    shutil.copy2(RUNS / "threshold" / "validation.csv", RESULTS / "validation.csv")
    # One row per fitted parameter of the main model; lo/hi on changesim's weekly step.
    s = pd.read_csv(RUNS / "threshold" / "posterior_summary.csv")
    per_step = s["parameter"].str.split(".").str[-1].str.match(r"^[pq]_")
    weekly = {c: (1 - (1 - s[c]) ** (12 / 52)).where(per_step, s[c]) for c in ("median", "q2.5", "q97.5")}
    summary = pd.DataFrame({
        "parameter": s["parameter"],
        "unit": ["chance per month" if p else "share of contacts" for p in per_step],
        "median": s["median"], "q2.5": s["q2.5"], "q97.5": s["q97.5"], "mean": s["mean"], "sd": s["sd"],
        "prior_lo": s["prior_lo"], "prior_hi": s["prior_hi"],
        "weekly_median": weekly["median"], "lo": weekly["q2.5"], "hi": weekly["q97.5"],
        "model": "threshold",  # `changesim robustness` names rows model:parameter
        "model_description": "threshold rule + outside influence (configs/calibration/default.yaml)",
        "transfer": TRANSFER,
    })  # fmt: skip
    summary.to_csv(RESULTS / "posterior_summary.csv", index=False, float_format="%.4g")
    lik = pd.read_csv(RUNS / "bass_network" / "likelihood.csv")
    mle = lik[lik["model"] == "changesim_bass_rule_mle"].set_index("term")
    abc = pd.read_csv(RUNS / "bass_network" / "posterior_summary.csv").set_index("parameter")
    cross = pd.DataFrame({
        "abc_median": abc["median"], "abc_q2.5": abc["q2.5"], "abc_q97.5": abc["q97.5"],
        "mle": mle["coef"], "mle_ci_lo": mle["ci_lo"], "mle_ci_hi": mle["ci_hi"],
    }).rename_axis("parameter")  # fmt: skip
    cross.to_csv(RESULTS / "abc_vs_mle.csv", float_format="%.4g")
    prov = {name: json.loads((RUNS / name / "provenance.json").read_text()) for name in FITS}
    print(summary.drop(columns=["transfer", "model_description"]).to_string(index=False))
    print(cross.to_string())
    print(pd.read_csv(RESULTS / "validation.csv").to_string(index=False))
    for name in FITS:
        print(name, pd.read_csv(RUNS / name / "attribution.csv").to_string(index=False), sep="\n")
    print({k: (v["total_simulations"], v["git_commit"][:10], v["git_modified"]) for k, v in prov.items()})


def main() -> None:
    """Run both calibrations (unless --collect), then collect."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--collect", action="store_true", help="only copy finished runs into results/")
    args = ap.parse_args()
    if not args.collect:
        run_all()
    collect()


if __name__ == "__main__":
    main()
