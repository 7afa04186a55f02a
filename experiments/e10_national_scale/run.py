"""e10: a national workforce (about 1.5 million staff in 300 organisations) for two years, on one machine.

    python experiments/e10_national_scale/run.py                   # 1.5M staff, 300 orgs, 104 weeks
    python experiments/e10_national_scale/run.py --n-staff 150000  # a tenth, for a quick look

Builds the organisations as one ``kind: ics`` system (each partner its own hierarchy, no line
tie across a boundary, boundary spanners between partners), runs the calibrated "change"
rule with ``sim.run.run_batch`` (the fast path, by group so every organisation has its own
curve), and records wall time and peak memory of each phase in ``timing.json`` with the
per-replicate summary and the adoption by organisation at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from sim.model import organisation_for
from sim.params import from_dict
from sim.run import run_batch
from sim.scenarios import calibrated_base

BASE = calibrated_base()  # configs/scenario/change_base.yaml, its parameters
# England-like mix (rounded): acute, mental health and community trusts; councils' adult
# social care; large independent and voluntary providers. (kind, number, mean head-count)
SECTORS = (
    ("nhs_trust", 210, 5_700),
    ("local_authority", 60, 2_500),
    ("independent", 20, 5_000),
    ("voluntary", 10, 5_000),
)


def national_org(n_staff: int, n_orgs: int, seed: int = 0) -> dict:
    """OrgParams of a national system: ``n_orgs`` partners with log-normal sizes by sector."""
    total = sum(k for _, k, _ in SECTORS)
    kinds, shares = [], []
    rng = np.random.default_rng(seed)
    for kind, count, mean in SECTORS:
        k = max(1, round(count * n_orgs / total))
        sizes = mean * rng.lognormal(-0.5 * 0.6**2, 0.6, k)  # spread of trust sizes, mean kept
        kinds += [kind] * k
        shares += list(sizes)
    shares = np.asarray(shares) / np.sum(shares)
    return {
        "kind": "ics",
        "n_staff": n_staff,
        "partner_kinds": kinds,
        "partner_shares": [float(s) for s in shares],
        "n_boundary_spanners": 20,  # staff per organisation who hold its ties to others
        "cross_ties_per_pair": 1,  # one tie between every pair of organisations (~45,000 in all)
    }


def rss_gb() -> float:
    """Resident memory of this process now (GB; Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9


def peak_gb() -> float:
    """Peak resident memory of this process so far (GB; Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main(argv: list[str] | None = None) -> int:
    """Build, run, record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-staff", type=int, default=1_500_000)
    parser.add_argument("--n-orgs", type=int, default=300)
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--steps", type=int, default=104)
    parser.add_argument("--out", type=Path, default=Path("outputs/e10_national_scale"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = from_dict(BASE, org=national_org(args.n_staff, args.n_orgs), n_steps=args.steps)
    record: dict = {
        "n_staff": args.n_staff,
        "n_orgs": len(cfg.org.partner_kinds),
        "n_steps": args.steps,
        "replicates": args.replicates,
        "threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
    }

    t0 = time.perf_counter()
    org = organisation_for(cfg)
    record["build_s"] = round(time.perf_counter() - t0, 1)
    record["n_ties"] = int(org.n_ties)
    record["rss_after_build_gb"] = round(rss_gb(), 2)
    print(f"built {org.n_staff:,} staff, {org.n_ties:,} ties, {len(org.org_names)} organisations "
          f"in {record['build_s']} s; RSS {record['rss_after_build_gb']} GB", flush=True)  # fmt: skip

    # Compile (or load the kernels from Numba's cache) on a tiny organisation, outside the timing.
    run_batch(from_dict(BASE, n_steps=2, org={"n_staff": 50}), seeds=[0], by_group=False)
    t0 = time.perf_counter()
    res = run_batch(cfg, org=org, seeds=np.arange(args.replicates), by_group=True)
    record["run_s"] = round(time.perf_counter() - t0, 1)
    record["staff_weeks_per_s"] = round(args.n_staff * args.steps * args.replicates / record["run_s"])
    record["peak_rss_gb"] = round(peak_gb(), 2)
    s = res.summary
    record["final_frac_adopted"] = [round(float(x), 4) for x in s["final_frac_adopted"]]
    record["t_50"] = [None if pd.isna(x) else int(x) for x in s["t_50"]]  # None: never reached
    rate = f"{record['staff_weeks_per_s']:,} staff-weeks/s"
    print(f"ran {args.replicates} replicates x {args.steps} weeks in {record['run_s']} s "
          f"({rate}); peak RSS {record['peak_rss_gb']} GB", flush=True)  # fmt: skip

    ts = res.timeseries
    by_org = ts[(ts["dimension"] == "organisation") & (ts["step"] == args.steps)]
    spread = by_org.groupby("group", observed=True)["frac_adopted"].mean()
    record["frac_adopted_by_org"] = {
        "min": round(float(spread.min()), 4),
        "median": round(float(spread.median()), 4),
        "max": round(float(spread.max()), 4),
    }
    s.to_csv(args.out / "summary.csv", index=False)
    (args.out / "timing.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
