"""Speed targets for calibration-scale work (issue 14), each measured against its reference in one run.

Run ``python experiments/e09_benchmark/bench_speed.py [--quick] [--out results/benchmark]``.
It writes ``speed.csv`` and ``speed.md`` (``speed_quick.*`` with ``--quick``) in the
chassis benchmark's format (``bench.write``), with the machine and the load average.

Sections:

1. **full model**: 1,000 staff x 104 weeks, every mechanism on (mandate, crowding,
   recognition, internalisation, co-design, trust growth and erosion, distributed power,
   adaptation, leadership churn), ``run_batch`` of ``R`` replicates at 2 and 1 threads,
   this tree against commit ``REFERENCE`` (``git archive`` into a temporary folder, its
   own Numba cache), each in its own process, interleaved round by round. Each tree must
   give identical counts, final states and adoption steps at 1 and 2 threads (the digest),
   or the benchmark stops; the table says whether the two trees agree with each other
   (they stop agreeing where a mechanism changed since the reference).
2. **batch overhead**: share of ``run_batch`` wall time outside the parallel kernels
   (``Result.timing``), 2 threads, 2,000 replicates, full model and threshold rule; and
   runs/s at 1 and 2 threads. The parallel kernels are the simulation kernel and the
   initial-state kernel (``sim.initial``), both ``prange`` over replicates, so the share
   is the serial part that bounds scaling (Python, allocation, result assembly); the
   share outside the simulation kernel alone (which counts the initial states as outside)
   and the share in drawing initial states are reported beside it. Scaling from 1 to 16
   threads is measured apart, on a machine with 16 cores (``scaling.py``, run there by
   ``device_scaling.sh``); its targets join this table where ``OUT/scaling.csv`` exists.
3. **small runs**: ``run()`` of a 100-staff organisation against its own kernel time
   (``Result.timing["kernel"]``: the simulation kernel call, nothing else).
4. **calibration-shaped**: ``sim.batch.Runner`` on a 125-person organisation, 18 steps,
   full model, 100,000 runs, each with its own parameter vector (two keys).

The README's table of these targets is generated from ``speed.md`` (``readme_block``):
``--readme README.md`` rewrites it after a run, ``--readme-only`` from the committed
``speed.md`` without running anything; ``tests/test_bench.py`` fails when the two differ.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sim import run, run_batch  # noqa: E402
from sim.batch import Runner  # noqa: E402
from sim.model import organisation_for  # noqa: E402
from sim.params import from_dict  # noqa: E402

from bench import Row, machine, write  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PROG = "python experiments/e09_benchmark/bench_speed.py"
REFERENCE = "c213202"  # the commit issue 14 measured
ALL_MECHANISMS = {
    "n_steps": 104,
    "org": {"n_staff": 1000},
    "dynamics": {"rule": "change", "threshold_mean": 0.55, "threshold_sd": 0.15, "p_spontaneous": 0.003},
    "people": {"trust_line": 0.6, "trust_team": 0.7, "trust_peer": 0.5, "trust_cross_org": 0.3},
    "seeding": {"n_seeds": 10},
    "mandate": {"on": True, "end": 52, "strength": 0.4},
    "motivation": {
        "readiness_weight": 0.4,
        "recovery": 0.01,
        "crowding": 0.005,
        "recognition": 0.02,
        "p_internalise": 0.05,
    },
    "adaptation": {"p_test": 0.25, "change_quality": 0.55, "p_abandon": 0.02, "adapt": True},
    "relationships": {"compliance_visibility": 0.5, "trust_growth": 0.02, "trust_erosion": 0.01},
    "co_design": {"on": True, "rule": "diagonal", "share": 0.05},
    "power": {"mode": "distributed"},
    "leadership": {"tenure_years": 3.0},
}
THRESHOLD_BATCH = {"dynamics": {"rule": "threshold", "threshold_sd": 0.05}, "n_steps": 100}

# Run in a fresh process on either tree (this one or the reference): the API used here
# (run_batch with explicit seeds, organisation_for) is the same in both.
CHILD = """
import hashlib, json, sys, time
import numba, numpy as np
from sim import run_batch
from sim.model import organisation_for
from sim.params import from_dict
a = json.loads(sys.argv[1])
numba.set_num_threads(a["threads"])
cfg = from_dict(a["config"])
org = organisation_for(cfg)
run_batch(cfg, org=org, seeds=np.arange(16), by_group=False)
rates, cpus = [], []
for _ in range(a["repeats"]):
    c0, t0 = time.process_time(), time.perf_counter()
    res = run_batch(cfg, org=org, seeds=np.arange(a["R"]), by_group=False)
    rates.append(a["R"] / (time.perf_counter() - t0)); cpus.append((time.process_time() - c0) / a["R"])
h = hashlib.sha1(res.counts.tobytes() + res.final_state.tobytes() + res.t_adopted.tobytes()).hexdigest()
print(json.dumps({"rate": float(np.median(rates)), "cpu_per_run": float(np.median(cpus)), "digest": h}))
"""


def _child(tree: Path, args: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=1800,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child in {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_full_model(r: int, rounds: int, rows: list[Row], tmp: Path) -> None:
    """Section 1: this tree against the reference commit, 2 and 1 threads, interleaved."""
    ref = tmp / "reference"
    ref.mkdir()
    archive = subprocess.run(["git", "archive", REFERENCE], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(ref)], input=archive, check=True)
    trees = {"this tree": ROOT, f"commit {REFERENCE}": ref}
    got: dict[tuple[str, int], list[dict]] = {}
    for k in range(rounds + 1):  # round 0 compiles (the reference has no cache yet): untimed
        for threads in (2, 1):
            for name, tree in trees.items():
                m = _child(
                    tree, {"config": ALL_MECHANISMS, "threads": threads, "R": r, "repeats": 1 if k else 1}
                )
                if k:
                    got.setdefault((name, threads), []).append(m)
                    print(f"  [full] {name:16s} {threads} thr {m['rate']:7.1f} runs/s", flush=True)
    for name in trees:
        within = {m["digest"] for (tree, _), ms in got.items() if tree == name for m in ms}
        if len(within) != 1:
            raise RuntimeError(f"{name}: thread counts or repeats disagree on the runs: {within}")
    same = len({m["digest"] for ms in got.values() for m in ms}) == 1
    note = f"R={r}, 1,000 staff, 104 weeks, all mechanisms; " + (
        "identical counts, states and adoption steps in both trees"
        if same
        else f"the runs differ from {REFERENCE}'s: mechanisms changed since (each tree agrees with itself)"
    )
    med = {key: float(np.median([m["rate"] for m in ms])) for key, ms in got.items()}
    cpu = {key: float(np.median([m["cpu_per_run"] for m in ms])) for key, ms in got.items()}
    for (name, threads), rate in med.items():
        tgt = ">= 1000" if name == "this tree" and threads == 2 else ""
        rows.append(
            Row(
                "full_model",
                "all mechanisms",
                1000,
                f"{name}, {threads} threads",
                "runs_per_s",
                rate,
                "runs/s",
                rounds,
                target=tgt,
                met=_met(rate >= 1000) if tgt else "",
                note=note,
            )
        )
        rows.append(
            Row(
                "full_model",
                "all mechanisms",
                1000,
                f"{name}, {threads} threads",
                "cpu_per_run",
                cpu[(name, threads)],
                "s",
                rounds,
            )
        )
    for threads in (2, 1):
        ratio = med[("this tree", threads)] / med[(f"commit {REFERENCE}", threads)]
        tgt = ">= 5" if threads == 2 else ""
        rows.append(
            Row(
                "full_model",
                "all mechanisms",
                1000,
                f"this tree / commit {REFERENCE}, {threads} threads",
                "rate_ratio",
                ratio,
                "x",
                rounds,
                target=tgt,
                met=_met(ratio >= 5) if tgt else "",
                note="runs/s medians of the same run",
            )
        )
        cpu_ratio = cpu[(f"commit {REFERENCE}", threads)] / cpu[("this tree", threads)]
        rows.append(
            Row(
                "full_model",
                "all mechanisms",
                1000,
                f"this tree / commit {REFERENCE}, {threads} threads",
                "cpu_ratio",
                cpu_ratio,
                "x",
                rounds,
                note="CPU time per run (robust to a busy machine)",
            )
        )
    sp = med[("this tree", 2)] / med[("this tree", 1)]
    rows.append(
        Row("full_model", "all mechanisms", 1000, "this tree, 2 threads vs 1", "speed_up", sp, "x", rounds)
    )


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def bench_batch_overhead(r: int, repeats: int, rows: list[Row], scaling_csv: Path) -> None:
    """Section 2: share of batch wall time outside the parallel kernels; 1 vs 2 threads."""
    for case, cfg_d in (("full model", ALL_MECHANISMS), ("threshold rule", THRESHOLD_BATCH)):
        cfg = from_dict(cfg_d | {"org": {"n_staff": 1000}})
        org = organisation_for(cfg)
        for threads in (2, 1):
            numba.set_num_threads(threads)
            run_batch(cfg, org=org, seeds=np.arange(16), by_group=False)
            shares, sim_shares, inits, rates = [], [], [], []
            for _ in range(repeats):
                res = run_batch(cfg, org=org, seeds=np.arange(r), by_group=False)
                tm = res.timing
                parallel = tm["kernel"] + tm["initial_state_kernel"]
                shares.append(1.0 - parallel / tm["total"])
                sim_shares.append(1.0 - tm["kernel"] / tm["total"])
                inits.append(tm["initial_state"] / tm["total"])
                rates.append(r / tm["total"])
            impl = f"run_batch R={r}, {threads} threads"

            def add(
                metric: str, value: float, unit: str, case: str = case, impl: str = impl, **kw: str
            ) -> None:
                rows.append(Row("batch_overhead", case, 1000, impl, metric, value, unit, repeats, **kw))

            add(
                "share_in_initial_state",
                100 * float(np.median(inits)),
                "%",
                note="drawing the initial states: its parallel kernel and the Python that prepares it",
            )
            add(
                "share_outside_simulation_kernel",
                100 * float(np.median(sim_shares)),
                "%",
                note="1 - simulation kernel time / wall time: counts the initial-state kernel as outside",
            )
            share, rate = float(np.median(shares)), float(np.median(rates))
            tgt = threads == 2
            add(
                "share_outside_kernels",
                100 * share,
                "%",
                target="< 5" if tgt else "",
                met=_met(share < 0.05) if tgt else "",
                note=(
                    "serial share: 1 - (simulation + initial-state kernel time) / run_batch wall "
                    "time (Result.timing); both kernels are prange over replicates, so what is left "
                    "is Python, allocation and result assembly"
                ),
            )
            add("runs_per_s", rate, "runs/s")
            print(
                f"  [batch] {case:14s} {threads} thr: {rate:8.0f} runs/s, {100 * share:.1f}% outside kernels"
            )
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    rows.extend(scaling_rows(scaling_csv))


def scaling_rows(scaling_csv: Path) -> list[Row]:
    """The 1-to-16-thread targets: the rows ``scaling.py`` wrote (on a machine with 16
    cores: ``device_scaling.sh``) where its ``scaling.csv`` is there, else one row saying
    they were not measured and how to measure them."""
    if scaling_csv.exists():
        with open(scaling_csv, newline="") as fh:
            found = [r for r in csv.DictReader(fh) if r["target"]]
        if found:
            return [
                Row(
                    "batch_overhead",
                    f"scaling, {r['case']}",
                    int(r["n_staff"]),
                    r["implementation"],
                    r["metric"],
                    float(r["value"]),
                    r["unit"],
                    int(r["repeats"]),
                    target=r["target"],
                    met=r["met"],
                    note=f"from {scaling_csv.name} ({scaling_csv.stem}.md: its machine and date)",
                )
                for r in found
            ]
    return [
        Row(
            "batch_overhead",
            "scaling",
            0,
            "1 to 16 threads",
            "not_measured",
            0,
            "",
            0,
            note="no machine with 16 cores was available here; on one, "
            "bash experiments/e09_benchmark/device_scaling.sh measures it (scaling.py)",
        )
    ]


def bench_small_runs(repeats: int, rows: list[Row]) -> None:
    """Section 3: run() of a 100-staff organisation against its own kernel time."""
    for case, rule in (("full model", "change"), ("threshold rule", "threshold")):
        cfg = from_dict({"org": {"n_staff": 100}, "dynamics": {"rule": rule}, "n_steps": 104})
        org = organisation_for(cfg)
        run(cfg, org=org, seed=0)
        total, kernel = [], []
        for s in range(repeats):
            t0 = time.perf_counter()
            res = run(cfg, org=org, seed=s)
            total.append(time.perf_counter() - t0)
            kernel.append(res.timing["kernel"])
        ratio = float(np.median(total) / np.median(kernel))
        rows.append(
            Row(
                "small_runs",
                case,
                100,
                "run() end to end",
                "time_per_run",
                float(np.median(total)),
                "s",
                repeats,
            )
        )
        rows.append(
            Row("small_runs", case, 100, "its kernel", "time_per_run", float(np.median(kernel)), "s", repeats)
        )
        rows.append(
            Row(
                "small_runs",
                case,
                100,
                "run() / kernel",
                "ratio",
                ratio,
                "x",
                repeats,
                target="<= 3",
                met=_met(ratio <= 3),
                note=(
                    "104 weeks, default scenario of the rule, org given, the same configuration each call "
                    "(run() keeps its validated copy and Runner: the untimed first call pays for them); "
                    "kernel = the simulation kernel call alone (Result.timing); run() adds the config "
                    "check, the memory check, the initial state (its own kernel) and the Result"
                ),
            )
        )
        # A new configuration each call (a sampler's loop through run()), changed in one
        # kernel parameter: validated anew (its changed group only) and run on the kept
        # runner of its family (Runner.run_with).
        fresh, fresh_kernel = [], []
        for s in range(repeats):
            c = from_dict(cfg)
            c.dynamics.p_spontaneous = 1e-6 * (s + 1)
            t0 = time.perf_counter()
            res = run(c, org=org, seed=s)
            fresh.append(time.perf_counter() - t0)
            fresh_kernel.append(res.timing["kernel"])
        rows.append(
            Row(
                "small_runs",
                case,
                100,
                "run() / kernel, new configuration each call",
                "ratio",
                float(np.median(fresh) / np.median(fresh_kernel)),
                "x",
                repeats,
                note=f"run() {1e6 * np.median(fresh):.0f} µs: p_spontaneous changed each call (its group "
                "validated anew, the family's kept runner)",
            )
        )
        print(
            f"  [small] {case:14s} run() {1e6 * np.median(total):7.0f} µs, "
            f"kernel {1e6 * np.median(kernel):6.0f} µs, new configuration each call "
            f"{1e6 * np.median(fresh):7.0f} µs"
        )


def bench_calibration(r: int, rows: list[Row]) -> None:
    """Section 4: many runs of a 125-person organisation, one parameter vector each."""
    cfg = from_dict(ALL_MECHANISMS | {"org": {"n_staff": 125}, "n_steps": 18})
    runner = Runner(cfg)
    g = np.random.default_rng(0)
    values = {
        "dynamics.p_spontaneous": g.uniform(0.0, 0.05, r),
        "relationships.trust_growth": g.uniform(0.0, 0.1, r),
    }
    runner.run(np.arange(64), {k: v[:64] for k, v in values.items()})
    c0, t0 = time.process_time(), time.perf_counter()
    out = runner.run(np.arange(r), values)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    digest = hashlib.sha1(out.counts.tobytes()).hexdigest()[:12]
    tgt = r >= 100_000
    note = (
        f"125 staff, 18 steps, all mechanisms, 2 keys per run; simulation kernel "
        f"{out.timing['kernel']:.1f} s, initial states {out.timing['initial_state']:.1f} s (a parallel "
        f"kernel); counts {digest}"
    )
    rows.append(
        Row(
            "calibration",
            "Runner.run",
            125,
            f"{r:,} runs",
            "wall_time",
            wall,
            "s",
            1,
            target="< 30" if tgt else "",
            met=_met(wall < 30) if tgt else "",
            note=note,
        )
    )
    rows.append(
        Row(
            "calibration",
            "Runner.run",
            125,
            f"{r:,} runs",
            "cpu_time",
            cpu,
            "s",
            1,
            note="both threads together",
        )
    )
    print(f"  [calib] {r:,} runs in {wall:.1f} s (CPU {cpu:.1f} s)")


README_START = "<!-- speed-targets: generated by bench_speed.py --readme-only; do not edit -->"
README_END = "<!-- speed-targets: end -->"


def readme_block(speed_md: Path) -> str:
    """The README's section on these targets, built from a written ``speed.md``: when and
    under what load it was measured, then its targets table as it stands there."""
    lines = speed_md.read_text(encoding="utf-8").splitlines()
    facts = {}
    for ln in lines:
        if ln.startswith("- **") and "**: " in ln:
            key, _, val = ln[4:].partition("**: ")
            facts[key] = val
    start = lines.index("## Targets") + 2
    stop = next((k for k in range(start, len(lines)) if not lines[k].startswith("|")), len(lines))
    table = lines[start:stop]
    when = facts.get("date (UTC)", "unknown date")[:16].replace("T", " ")
    head = (
        f"Measured {when} UTC by `{PROG} --out results/benchmark` "
        f"(`results/benchmark/speed.md`, machine and every figure there); CPUs: "
        f"{facts.get('lscpu CPU(s)', '?')}, load average at start / end "
        f"{facts.get('load average (1 min) at start / end', '?')}."
    )
    return "\n".join([README_START, "", head, "", *table, "", README_END])


def update_readme(readme: Path, speed_md: Path) -> None:
    """Replace the block between the README's markers with ``readme_block(speed_md)``."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{readme}: no speed-targets markers ({README_START!r} ... {README_END!r})")
    before, _, rest = text.partition(README_START)
    _, _, after = rest.partition(README_END)
    readme.write_text(before + readme_block(speed_md) + after, encoding="utf-8")
    print(f"rewrote the speed-targets table in {readme} from {speed_md}")


def main(argv: list[str] | None = None) -> int:
    """Run the sections and write the tables."""
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--out", default="results/benchmark", help="output folder")
    ap.add_argument("--skip-reference", action="store_true", help=f"do not build and time commit {REFERENCE}")
    ap.add_argument("--readme", type=Path, help="after the run, rewrite this README's speed-targets table")
    ap.add_argument(
        "--readme-only", action="store_true", help="rewrite README.md's table from OUT/speed.md; run nothing"
    )
    a = ap.parse_args(argv)
    if a.readme_only:
        update_readme(a.readme or ROOT / "README.md", Path(a.out) / "speed.md")
        return 0
    command = PROG + (" --quick" if a.quick else "") + f" --out {a.out}"
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="changesim-speed-") as tmp:
        if not a.skip_reference:
            bench_full_model(50 if a.quick else 400, 1 if a.quick else 3, rows, Path(tmp))
    bench_batch_overhead(200 if a.quick else 2000, 1 if a.quick else 3, rows, Path(a.out) / "scaling.csv")
    bench_small_runs(20 if a.quick else 200, rows)
    bench_calibration(2_000 if a.quick else 100_000, rows)
    info = machine()
    info["load average (1 min) at start / end"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
    info["benchmark wall time"] = f"{time.perf_counter() - t_start:.0f} s"
    stem = "speed_quick" if a.quick else "speed"
    write(rows, info, Path(a.out), stem, command)
    missed = [r for r in rows if r.met == "NO"]
    print(f"wrote {Path(a.out) / stem}.csv and .md; targets missed: {len(missed)}")
    if a.readme and not a.quick:
        update_readme(a.readme, Path(a.out) / f"{stem}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
