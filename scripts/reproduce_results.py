"""Re-run a committed comparison from its own record and compare the numbers bit for bit.

    python scripts/reproduce_results.py                                   # e01, all 7 x 30 runs (~1 min)
    python scripts/reproduce_results.py --scenarios command_and_control --replicates 3   # a quick look

A comparison folder written by ``changesim report`` (``results/e01_leadership_models/``)
records the exact configuration of every scenario (``configs.json``) and the seed of every
replicate (``outcomes_by_replicate.csv``). This script rebuilds each scenario from
``configs.json`` (not from today's YAML files, which may have moved on), runs it with
``sim.analysis.compare.run_comparison``'s organisation sharing on the recorded seeds, and
writes the tables the report writes, with the same code, as CSV text; the committed CSV
files must come out identical to the byte. It also checks that today's replicate-seed
derivation (``sim.rng.replicate_seeds``) gives the recorded seeds, so a changed derivation
is reported apart from a changed model.

Exit status 0 when everything reproduces, 1 with one line per difference otherwise. After
a deliberate model change, re-run the experiment (``changesim report
out=results/e01_leadership_models``) and commit the new tables; this check then holds the
new numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "results" / "e01_leadership_models"
TABLES = ("outcomes_by_replicate.csv", "outcomes_summary.csv", "differences.csv", "replicates_needed.csv")


def _csv(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def _first_difference(committed: str, fresh: str, name: str) -> str:
    """Where two CSV texts first differ, with the largest numeric gap when the shapes agree."""
    a = pd.read_csv(io.StringIO(committed))
    b = pd.read_csv(io.StringIO(fresh))
    if a.shape != b.shape or list(a.columns) != list(b.columns):
        return f"{name}: shape {b.shape} {list(b.columns)} instead of {a.shape} {list(a.columns)}"
    for col in a.columns:
        x, y = a[col], b[col]
        if x.equals(y):
            continue
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            gap = np.abs(x.to_numpy(float) - y.to_numpy(float))
            row = int(np.nanargmax(np.where(np.isnan(gap), np.inf, gap)))
            return (f"{name}: column {col} differs in {int((x.ne(y) & ~(x.isna() & y.isna())).sum())} rows; "
                    f"row {row}: committed {x.iloc[row]!r}, now {y.iloc[row]!r}")  # fmt: skip
        row = int(np.flatnonzero(x.astype(str).to_numpy() != y.astype(str).to_numpy())[0])
        return f"{name}: column {col} row {row}: committed {x.iloc[row]!r}, now {y.iloc[row]!r}"
    return f"{name}: same values, different text (number formatting)"


def reproduce(
    folder: Path = DEFAULT, scenarios: list[str] | None = None, replicates: int | None = None
) -> list[str]:
    """Differences between the committed tables in ``folder`` and a fresh run ([] if none).

    ``scenarios`` and ``replicates`` re-run a subset (the first ``replicates`` recorded
    seeds of the named scenarios) and compare only the rows of ``outcomes_by_replicate.csv``
    they produce; the summary tables are compared when everything is re-run.
    """
    from sim import rng
    from sim.analysis.compare import Scenario, run_comparison
    from sim.params import from_dict

    configs = json.loads((folder / "configs.json").read_text())
    committed = {name: (folder / name).read_text() for name in TABLES}
    by_rep = pd.read_csv(io.StringIO(committed["outcomes_by_replicate.csv"]))
    summary = pd.read_csv(io.StringIO(committed["outcomes_summary.csv"]))
    titles = dict(zip(summary["scenario"], summary["title"], strict=False))
    names = list(configs) if scenarios is None else scenarios
    unknown = [n for n in names if n not in configs]
    if unknown:
        raise SystemExit(
            f"error: {folder / 'configs.json'} has no scenario {unknown}; it has {list(configs)}"
        )
    problems = []
    seeds = by_rep.loc[by_rep.scenario == names[0], "seed"].to_numpy(np.uint64)
    first = from_dict(configs[names[0]])
    derived = rng.replicate_seeds(first.seed, first.n_replicates)
    if not np.array_equal(np.asarray(derived, np.uint64), seeds):
        problems.append(
            f"seeds: sim.rng.replicate_seeds({first.seed}, {first.n_replicates}) gives "
            f"{list(map(int, derived[:4]))}..., the committed run used {list(map(int, seeds[:4]))}..."
        )
    full = scenarios is None and replicates is None
    chosen = [Scenario(n, titles.get(n, n), "", from_dict(configs[n])) for n in names]
    if full and not problems:
        comp = run_comparison(chosen, n_replicates=first.n_replicates, seed=first.seed)  # as changesim report
    else:
        comp = _on_seeds(chosen, seeds if replicates is None else seeds[:replicates])
    fresh = comp.outcomes
    if full:
        reference = pd.read_csv(io.StringIO(committed["differences.csv"]))["reference"].iloc[0]
        tables = {
            "outcomes_by_replicate.csv": fresh,
            "outcomes_summary.csv": comp.table(),
            "differences.csv": comp.differences(reference),
            "replicates_needed.csv": comp.replicates_for(0.02),
        }
        for name, df in tables.items():
            if _csv(df) != committed[name]:
                problems.append(_first_difference(committed[name], _csv(df), name))
    else:
        keep = by_rep.scenario.isin(names) & (by_rep.replicate < len(comp.seeds))
        rows = by_rep[keep].reset_index(drop=True)
        rows_csv = _csv(rows)
        if _csv(fresh) != rows_csv:
            problems.append(_first_difference(rows_csv, _csv(fresh), "outcomes_by_replicate.csv (subset)"))
    return problems


def _on_seeds(scenarios: list, seeds: np.ndarray):
    """What ``run_comparison`` does (an organisation per distinct org setting, then ``run_batch``).

    On given seeds: a subset, or the recorded seeds when today's derivation differs.
    """
    from sim.analysis.compare import Comparison
    from sim.model import organisation_for
    from sim.run import run_batch

    orgs, results = {}, {}
    for s in scenarios:
        key = json.dumps(s.config.to_dict()["org"], sort_keys=True) + str(s.config.org_seed)
        if key not in orgs:
            orgs[key] = organisation_for(s.config)
        results[s.name] = run_batch(s.config, org=orgs[key], seeds=seeds)
    return Comparison(scenarios, results, np.asarray(seeds))


def main(argv: list[str] | None = None) -> int:
    """Re-run the comparison in ``--folder`` and report every difference from the committed tables."""
    ap = argparse.ArgumentParser(
        prog="python scripts/reproduce_results.py", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--folder", type=Path, default=DEFAULT, help="a folder written by changesim report")
    ap.add_argument("--scenarios", default=None, help="comma-separated subset (default: all)")
    ap.add_argument("--replicates", type=int, default=None, help="only the first N recorded seeds")
    a = ap.parse_args(argv)
    names = a.scenarios.split(",") if a.scenarios else None
    problems = reproduce(a.folder, names, a.replicates)
    for p in problems:
        print(f"DIFFERS {p}")
    if not problems:
        print(f"reproduced {a.folder} bit for bit")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
