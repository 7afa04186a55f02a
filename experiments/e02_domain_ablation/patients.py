"""e02 addendum: patients and carers as partners in PDSA tests (``adaptation.patient_partnership``).

The full IHI framework (``scenario=full_ihi``) with no test run with patients and carers
(``patient_partnership`` 0) and with half of them so run (0.5), paired over common seeds:
replicate k runs seed k in both arms on one shared organisation, and since a test is
partnered iff its own test draw is below p_test' x patient_partnership, the two arms draw the
same random numbers; only the rework of fit after partnered tests differs.

Four regimes: the change as the common base has it, or a complex change
(``change=complex_adaptive``: it works only where adapted), each with staff-led adaptation
on (as in full_ihi: failed tests rework fit) or off (``adaptation.adapt=false``). A partnered
test reworks fit whatever its result, so partnership adds most where nothing else reworks it.

    python experiments/e02_domain_ablation/patients.py            # about 30 s
    python experiments/e02_domain_ablation/patients.py --quick    # a tiny version (tests)

writes ``results/e02_domain_ablation/patients.md`` and ``patients.csv`` (with ``--out DIR``,
there instead).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.stats import paired_difference
from sim.cli import compose
from sim.model import organisation_for
from sim.rng import replicate_seeds
from sim.run import run_batch

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "results" / "e02_domain_ablation"
N_REPLICATES = 30
PARTNERSHIP = (0.0, 0.5)  # no test run with patients and carers; half of them
REGIMES = {
    "complex change, staff-led adaptation off": ["change=complex_adaptive", "adaptation.adapt=false"],
    "complex change, staff-led adaptation on (full IHI)": ["change=complex_adaptive"],
    "base change, staff-led adaptation off": ["adaptation.adapt=false"],
    "base change, staff-led adaptation on (full IHI)": [],
}
OUTCOMES = {"final_frac_adopted": "use at week {T}", "cumulative_use": "mean use over weeks 0-{T}"}
QUICK = ["org.n_staff=60", "n_steps=8"]


def run(quick: bool = False) -> pd.DataFrame:
    """One row per regime and outcome: both arms' means and the paired difference with its 95% CI."""
    n = 3 if quick else N_REPLICATES
    rows = []
    for regime, extra in REGIMES.items():
        arms = [
            compose(
                [
                    "scenario=full_ihi",
                    *extra,
                    f"adaptation.patient_partnership={p}",
                    *(QUICK if quick else []),
                ]
            )[0]
            for p in PARTNERSHIP
        ]
        seeds = replicate_seeds(arms[0].seed, n)
        org = organisation_for(arms[0])
        off, on = (run_batch(cfg, org=org, seeds=seeds).summary for cfg in arms)
        for col, label in OUTCOMES.items():
            a, b = off[col].to_numpy(), on[col].to_numpy()
            d = paired_difference(a, b).estimate  # partnership 0.5 minus 0, seed by seed
            rows.append({
                "regime": regime, "outcome": label.format(T=arms[0].n_steps), "n_seeds": n,
                "mean_without": 100 * a.mean(), "mean_with": 100 * b.mean(),
                "difference": 100 * d.mean, "ci_lo": 100 * d.lo, "ci_hi": 100 * d.hi,
            })  # fmt: skip
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """The results as a markdown table, with how they were made."""
    lines = [
        "# e02 addendum: patients and carers as partners in tests\n",
        "From: `python experiments/e02_domain_ablation/patients.py`. Full IHI framework, "
        "`adaptation.patient_partnership` "
        f"{PARTNERSHIP[0]} vs {PARTNERSHIP[1]}, {int(table['n_seeds'].iloc[0])} paired seeds; "
        "percent of staff; difference = with minus without, 95% t-interval of the per-seed differences.\n",
        "| Regime | Outcome | Without (%) | With (%) | Difference (points) | 95% CI |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {r.regime} | {r.outcome} | {r.mean_without:.1f} | {r.mean_with:.1f} | "
            f"{r.difference:+.1f} | {r.ci_lo:+.1f} to {r.ci_hi:+.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny organisation, 8 weeks, 3 seeds")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for patients.md and patients.csv")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    table = run(quick=args.quick)
    text = markdown(table)
    args.out.mkdir(parents=True, exist_ok=True)
    table.round(3).to_csv(args.out / "patients.csv", index=False)
    (args.out / "patients.md").write_text(text)
    print(text)
    print(f"{time.perf_counter() - t0:.1f} s")
    return 0 if np.isfinite(table["difference"]).all() else 1


if __name__ == "__main__":
    raise SystemExit(main())
