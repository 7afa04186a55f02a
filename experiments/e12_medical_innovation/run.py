"""e12: calibrate changesim to the Medical Innovation data and validate it out of sample.

    python experiments/e12_medical_innovation/run.py            # both fits + leave one town out (~15 min)
    python experiments/e12_medical_innovation/run.py --collect  # only re-read finished runs into results/

Runs two calibrations through the real command line into ``outputs/e12_medical_innovation/``:

1. ``changesim calibrate loo=true`` (configs/calibration/default.yaml): the threshold rule
   with outside influence; fitted on all four towns, then leave one town out;
2. ``changesim calibrate bass_network``: changesim's Bass rule, whose exact likelihood
   (``likelihood.csv``) cross-checks the ABC posterior.

Then copies the small curated tables and the figure into ``results/e12_medical_innovation/``
and writes ``posterior_summary.csv`` (both models' intervals, one row per parameter), which
``changesim robustness`` (issue 12) can read for its ranges, and ``abc_vs_mle.csv``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

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


def collect() -> None:
    """Copy the curated outputs and write the combined posterior summary and the cross-check."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in FITS:
        src = RUNS / name
        if not (src / "DONE").exists():
            raise SystemExit(f"{src} is not finished; run this script without --collect")
        for f in CURATED:
            shutil.copy2(src / f, RESULTS / f"{name}_{f}")
        s = pd.read_csv(src / "posterior_summary.csv")
        s.insert(0, "model", name)
        summaries.append(s)
    shutil.copy2(RUNS / "threshold" / "validation.csv", RESULTS / "validation.csv")
    summary = pd.concat(summaries, ignore_index=True)
    # Monthly chances as weekly ones (changesim's scenarios step weekly): 1 - (1 - p)^(12/52).
    per_step = summary["parameter"].str.split(".").str[-1].str.match(r"^[pq]_")
    for col in ("median", "q2.5", "q97.5"):
        summary[f"weekly_{col}"] = (1 - (1 - summary[col]) ** (12 / 52)).where(per_step)
    summary["source"] = (
        "ABC-SMC posterior, Medical Innovation data (Coleman, Katz and Menzel 1966), 1 step = 1 month"
    )
    summary.to_csv(RESULTS / "posterior_summary.csv", index=False, float_format="%.4g")
    lik = pd.read_csv(RUNS / "bass_network" / "likelihood.csv")
    mle = lik[lik["model"] == "changesim_bass_rule_mle"].set_index("term")
    abc = summary[summary["model"] == "bass_network"].set_index("parameter")
    cross = pd.DataFrame({
        "abc_median": abc["median"], "abc_q2.5": abc["q2.5"], "abc_q97.5": abc["q97.5"],
        "mle": mle["coef"], "mle_ci_lo": mle["ci_lo"], "mle_ci_hi": mle["ci_hi"],
    }).rename_axis("parameter")  # fmt: skip
    cross.to_csv(RESULTS / "abc_vs_mle.csv", float_format="%.4g")
    prov = {name: json.loads((RUNS / name / "provenance.json").read_text()) for name in FITS}
    print(summary.to_string(index=False))
    print(cross.to_string())
    print(pd.read_csv(RESULTS / "validation.csv").to_string(index=False))
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
