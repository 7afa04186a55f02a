"""Chassis benchmark: the changesim kernels against plain C, idiomatic Mesa 3, scale, batch and cache.

Run ``python experiments/e09_benchmark/bench.py [--quick] [--out results/benchmark]``
(``make bench``). It writes ``chassis.csv`` (one row per measurement) and ``chassis.md``
(tables, targets and the machine) into the output folder; ``--quick`` runs small sizes
only (a smoke test, under 30 s) and writes ``chassis_quick.*`` instead.

Protocol (``/work/shared/research/perf.md``): implementations compared with each other
run interleaved (round-robin) in one process, after an untimed warm-up round, with
``gc.collect()`` before every timed run; tables give medians, and every ratio comes from
medians of the same run. Set-up (copying the initial state, building models) is never
timed. Each compared run must reach the identical final state, or the benchmark stops.
The box is shared: the 1-minute load average is logged at the start and the end.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import datetime as dt
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba import njit

from sim import rng, run, run_batch
from sim.dynamics.contagion import FRACTION, THRESHOLD, Rule, rule_of
from sim.engine import kernel_step, simulate, weights
from sim.org import Organisation, random_graph, synthetic
from sim.params import ModelConfig, from_dict
from sim.state import State, initial_state
from sim.state import frontier as frontier_space

C_SOURCE = Path(__file__).resolve().parent / "threshold.c"
PROG = "python experiments/e09_benchmark/bench.py"
N_STEPS = 100
MEAN_DEGREE = 10.0
# Thresholds clip(N(0.18, sd)): sd 0.05 gives a global cascade; sd 0 (0.18 for all)
# stalls at about 2% after a dozen steps, the worst case for a full scan.
SCENARIOS = {"cascade": 0.05, "stall": 0.0}


@dataclass
class Row:
    """One measurement (one line of ``chassis.csv``)."""

    section: str
    case: str
    n_staff: int
    implementation: str
    metric: str
    value: float
    unit: str
    repeats: int = 1
    target: str = ""
    met: str = ""
    note: str = ""


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- timing -------------------------------------------------------------------------


Timed = Callable[[], tuple[float, float, Any]]


def _clock(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, process CPU s, result) of one call."""
    gc.collect()
    # After a parallel kernel, libgomp's workers spin for a while before sleeping; on a
    # loaded 2-core box that took the timed thread's core (measured: 2.9 -> 5.1 ms at 1e4).
    time.sleep(0.02)
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def interleaved(runs: dict[str, Timed], repeats: int, warmup: int = 1) -> dict[str, dict[str, Any]]:
    """Run every implementation round-robin; medians of the timed rounds.

    Args:
        runs: name -> callable that does its own untimed set-up and returns
            (wall s, CPU s, result), usually through ``_clock``.
        repeats: timed rounds.
        warmup: untimed rounds first (JIT cache load, page faults of fresh memory).

    Returns:
        name -> {"median", "min", "cpu", "repeats", "result"} (result of the last round).
    """
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    result: dict[str, Any] = {}
    for r in range(warmup + repeats):
        for name, fn in runs.items():
            w, c, result[name] = fn()
            if r >= warmup:
                wall[name].append(w)
                cpu[name].append(c)
    return {
        k: {
            "median": float(np.median(wall[k])),
            "min": float(np.min(wall[k])),
            "cpu": float(np.median(cpu[k])),
            "repeats": repeats,
            "result": result[k],
        }
        for k in runs
    }


# --- 1. the threshold kernel against plain C ----------------------------------------


def compile_c(build_dir: Path) -> ctypes.CDLL | None:
    """Compile ``threshold.c`` (beside this file) with ``cc -O3 -march=native``; None without cc."""
    cc = shutil.which("cc")
    if cc is None:
        return None
    so = Path(build_dir) / "libthreshold.so"
    cmd = [cc, "-O3", "-march=native", "-shared", "-fPIC", str(C_SOURCE), "-o", str(so)]
    subprocess.run(cmd, check=True, capture_output=True)
    lib = ctypes.CDLL(str(so))
    p = ctypes.c_void_p
    lib.threshold_run.restype = ctypes.c_int64
    lib.threshold_run.argtypes = [ctypes.c_int64, p, p, p, p, p, p, ctypes.c_int64, ctypes.c_int, p]
    return lib


@dataclass
class Case:
    """A graph, a scenario and the starting state of one replicate (seed 0)."""

    org: Organisation
    cfg: ModelConfig
    st: State
    weight: np.ndarray
    key: np.uint64


def threshold_case(n: int, threshold_sd: float, n_steps: int = N_STEPS) -> Case:
    """Random graph with ~10 ties each, thresholds clip(N(0.18, sd)), 1% random seeds."""
    org = random_graph(n, MEAN_DEGREE)
    cfg = from_dict(
        {
            "dynamics": {"rule": "threshold", "threshold_sd": threshold_sd},
            "seeding": {"strategy": "random", "n_seeds": max(1, n // 100)},
            "n_steps": n_steps,
        }
    )
    st = initial_state(org, cfg, 0)
    return Case(org, cfg, st, weights(org, st), np.uint64(rng.key_py(0, rng.ADOPT)))


@njit(cache=True)
def _full_scan(indptr, indices, weight, people, front, n_steps, counts):  # pragma: no cover
    """``simulate`` without the frontier: ``kernel_step`` examines every non-adopter each step."""
    state = people.state
    rule = Rule(THRESHOLD, FRACTION, 0.0, 0.0, 0.0)
    for i in range(len(state)):
        counts[0, state[i]] += 1
    for t in range(1, n_steps + 1):
        counts[t] = counts[t - 1]
        n_new = kernel_step(t, indptr, indices, weight, people, rule, np.uint64(0), front, 0, False, 0)
        for k in range(n_new):
            counts[t, front.old[k]] -= 1
            counts[t, state[front.new[k]]] += 1
        if n_new == 0:
            for s in range(t + 1, n_steps + 1):
                counts[s] = counts[t]
            break


def _changesim(case: Case, frontier: bool = True) -> Timed:
    def go() -> tuple[float, float, Any]:
        st, org = case.st, case.org
        state, t_adopted = st.state.copy(), st.t_adopted.copy()
        people = st.people()._replace(state=state, t_adopted=t_adopted)
        n_steps = case.cfg.n_steps
        if frontier:
            groups = np.zeros((org.n_staff, 1), np.int64)
            counts = np.zeros((n_steps + 1, 1, 4), np.int32)
            rule = rule_of(case.cfg.dynamics)
            fn = lambda: simulate(  # noqa: E731
                org.indptr, org.indices, case.weight, people, rule, case.key, n_steps, groups, counts
            )
        else:
            counts = np.zeros((n_steps + 1, 1, 4), np.int32)
            front = frontier_space(org.n_staff)
            fn = lambda: _full_scan(  # noqa: E731
                org.indptr, org.indices, case.weight, people, front, n_steps, counts[:, 0, :]
            )
        w, c, _ = _clock(fn)
        return w, c, (state, t_adopted, counts[:, 0, :])

    return go


def _c(lib: ctypes.CDLL, case: Case, frontier: bool = True) -> Timed:
    def go() -> tuple[float, float, Any]:
        st, org = case.st, case.org
        state, t_adopted = st.state.copy(), st.t_adopted.copy()
        counts = np.zeros((case.cfg.n_steps + 1, 4), np.int32)
        args = (org.indptr, org.indices, case.weight, st.threshold, state, t_adopted)
        assert all(a.flags.c_contiguous for a in args), "C needs contiguous arrays"
        ptrs = [a.ctypes.data for a in args]
        fn = lambda: lib.threshold_run(  # noqa: E731
            org.n_staff, *ptrs, case.cfg.n_steps, int(frontier), counts.ctypes.data
        )
        w, c, last = _clock(fn)
        assert last >= 0, "C kernel ran out of memory"
        return w, c, (state, t_adopted, counts)

    return go


def _run_api(case: Case) -> Timed:
    def go() -> tuple[float, float, Any]:
        w, c, res = _clock(lambda: run(case.cfg, org=case.org, seed=0, by_group=False))
        return w, c, (res.final_state[0], res.t_adopted[0], res.counts[0, :, 0, :])

    return go


def _same(results: dict[str, Any], what: str) -> None:
    """Every implementation ended in the same state, adoption steps and counts."""
    names = list(results)
    ref = results[names[0]]
    for name in names[1:]:
        for k, label in enumerate(("final state", "t_adopted", "counts by step")):
            assert np.array_equal(ref[k], results[name][k]), (
                f"{what}: {name} and {names[0]} disagree on the {label}; they must run the same rule"
            )


def correctness_checks(lib: ctypes.CDLL, n: int = 1000) -> dict[str, int]:
    """C and changesim (frontier and full scan) reach identical final states at size n.

    Returns:
        scenario -> number of staff adopted at the end.
    """
    out = {}
    for scenario, sd in SCENARIOS.items():
        case = threshold_case(n, sd)
        res = {
            "changesim": _changesim(case)()[2],
            "changesim_full_scan": _changesim(case, frontier=False)()[2],
            "c": _c(lib, case)()[2],
            "c_full_scan": _c(lib, case, frontier=False)()[2],
        }
        _same(res, f"{scenario} n={n}")
        out[scenario] = int(np.isin(res["c"][0], (1, 2)).sum())
    return out


def bench_threshold_vs_c(lib: ctypes.CDLL | None, sizes: dict[int, int], rows: list[Row]) -> None:
    """Section 1: time per run and changesim/C ratios, cascade and stall, frontier and full scan."""
    sec = "1_threshold_vs_c"
    if lib is None:
        print("  [1] skipped: no C compiler (cc) on PATH")
        rows.append(Row(sec, "all", 0, "c", "skipped", float("nan"), "", note="no cc on PATH"))
        return
    for n, repeats in sizes.items():
        for scenario, sd in SCENARIOS.items():
            case = threshold_case(n, sd)
            runs = {
                "changesim simulate (frontier)": _changesim(case),
                "C -O3 (frontier)": _c(lib, case),
                "changesim kernel_step (full scan)": _changesim(case, frontier=False),
                "C -O3 (full scan)": _c(lib, case, frontier=False),
            }
            if scenario == "cascade":
                runs["changesim run() end to end"] = _run_api(case)
            m = interleaved(runs, repeats)
            _same({k: v["result"] for k, v in m.items()}, f"{scenario} n={n}")
            adopted = int(np.isin(m["C -O3 (frontier)"]["result"][0], (1, 2)).sum())
            note = f"{adopted} of {n} adopted; mean degree {case.org.degree.mean():.2f}"
            for name, r in m.items():
                for metric, key in (("time_per_run", "median"), ("time_per_run_min", "min")):
                    rows.append(Row(sec, scenario, n, name, metric, r[key], "s", repeats, note=note))
                rows.append(Row(sec, scenario, n, name, "cpu_per_run", r["cpu"], "s", repeats))
            for a, b, target in (
                ("changesim simulate (frontier)", "C -O3 (frontier)", n >= 100_000),
                ("changesim kernel_step (full scan)", "C -O3 (full scan)", False),
                ("changesim simulate (frontier)", "changesim kernel_step (full scan)", False),
            ):
                ratio = m[a]["median"] / m[b]["median"]
                rows.append(
                    Row(
                        sec, scenario, n, f"{a} / {b}", "ratio", ratio, "x", repeats,
                        target="<= 1.5" if target else "", met=_met(ratio <= 1.5) if target else "",
                        note="wall-time medians",
                    )
                )  # fmt: skip
                # CPU time is not inflated by waiting for a core on the shared box.
                cpu = m[a]["cpu"] / m[b]["cpu"]
                rows.append(Row(sec, scenario, n, f"{a} / {b}", "ratio_cpu", cpu, "x", repeats))
            med = {k: v["median"] for k, v in m.items()}
            fr, fc = med["changesim simulate (frontier)"], med["C -O3 (frontier)"]
            full = med["changesim kernel_step (full scan)"] / med["C -O3 (full scan)"]
            print(
                f"  [1] n={n:>9,} {scenario:7s} changesim {fr * 1e3:9.3f} ms  C {fc * 1e3:9.3f} ms"
                f"  ratio {fr / fc:.2f}  (full scan {full:.2f})",
                flush=True,
            )


# --- 2. against idiomatic Mesa 3 ----------------------------------------------------


def _mesa_model(graph: Any, threshold: np.ndarray, adopted: np.ndarray) -> Any:
    """The threshold rule written the way a Mesa 3 user would (Network space, one agent per node)."""
    import mesa
    from mesa.discrete_space import FixedAgent, Network

    class Adopter(FixedAgent):
        def __init__(self, model: mesa.Model, cell: Any, threshold: float, adopted: bool) -> None:
            super().__init__(model)
            self.cell = cell
            self.threshold = threshold
            self.adopted = adopted
            self.adopt_next = adopted

        def step(self) -> None:
            if self.adopted:
                return
            neighbours = list(self.cell.neighborhood.agents)
            share = sum(a.adopted for a in neighbours) / len(neighbours) if neighbours else 0.0
            self.adopt_next = share >= self.threshold

        def advance(self) -> None:
            if self.adopt_next and not self.adopted:
                self.adopted = True
                self.model.n_changed += 1

    class ThresholdModel(mesa.Model):
        def __init__(self) -> None:
            super().__init__(seed=0)
            self.grid = Network(graph, random=self.random)
            self.n_changed = 0
            for cell in self.grid.all_cells:
                i = cell.coordinate
                Adopter(self, cell, float(threshold[i]), bool(adopted[i]))

        def step(self) -> None:
            self.n_changed = 0
            self.agents.do("step")
            self.agents.do("advance")
            # Stop at the fixed point, as changesim does (Mesa's batch_run honours running).
            self.running = self.n_changed > 0

    return ThresholdModel()


def _to_networkx(org: Organisation) -> Any:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(org.n_staff))
    src = org.tie_sources()
    dst = org.indices.astype(np.int64)
    keep = src < dst
    g.add_edges_from(zip(src[keep].tolist(), dst[keep].tolist(), strict=True))
    return g


def _mesa(case: Case, graph: Any, builds: list[float]) -> Timed:
    adopted0 = np.isin(case.st.state, (1, 2))

    def go() -> tuple[float, float, Any]:
        t0 = time.perf_counter()
        model = _mesa_model(graph, case.st.threshold, adopted0)
        builds.append(time.perf_counter() - t0)

        def loop() -> np.ndarray:
            while model.running and model.steps < case.cfg.n_steps:
                model.step()
            out = np.zeros(case.org.n_staff, bool)
            for a in model.agents:
                out[a.cell.coordinate] = a.adopted
            return out

        return _clock(loop)

    return go


def _initial(case: Case) -> Timed:
    def go() -> tuple[float, float, Any]:
        def draw() -> State:
            st = initial_state(case.org, case.cfg, 0)
            weights(case.org, st)
            return st

        return _clock(draw)

    return go


def bench_vs_mesa(sizes: dict[int, int], rows: list[Row]) -> None:
    """Section 2: Mesa 3 step loop vs the changesim kernel on the same graph and state."""
    import mesa

    sec = "2_vs_mesa"
    for n, repeats in sizes.items():
        case = threshold_case(n, SCENARIOS["cascade"])
        assert np.all(case.weight == 1.0), "the Mesa model counts neighbours, so every tie weight must be 1"
        graph = _to_networkx(case.org)
        builds: list[float] = []
        runs = {
            "changesim simulate": _changesim(case),
            "Mesa 3 idiomatic": _mesa(case, graph, builds),
            "changesim initial_state + weights": _initial(case),
        }
        m = interleaved(runs, repeats)
        final_c = np.isin(m["changesim simulate"]["result"][0], (1, 2))
        assert np.array_equal(final_c, m["Mesa 3 idiomatic"]["result"]), (
            f"n={n}: Mesa and changesim must reach the same final adopted set"
        )
        note = f"{int(final_c.sum())} of {n} adopted; Mesa {mesa.__version__}; stop at the fixed point"
        for name in ("changesim simulate", "Mesa 3 idiomatic"):
            r = m[name]
            rows.append(Row(sec, "cascade", n, name, "time_per_run", r["median"], "s", repeats, note=note))
            rows.append(Row(sec, "cascade", n, name, "cpu_per_run", r["cpu"], "s", repeats))
        b = float(np.median(builds[1:] if len(builds) > 1 else builds))
        rows.append(Row(sec, "cascade", n, "Mesa 3 idiomatic", "build (Network + agents)", b, "s", repeats))
        rows.append(
            Row(sec, "cascade", n, "changesim initial_state + weights", "build (initial state)",
                m["changesim initial_state + weights"]["median"], "s", repeats)
        )  # fmt: skip
        ratio = m["Mesa 3 idiomatic"]["median"] / m["changesim simulate"]["median"]
        big = n >= 10_000
        rows.append(
            Row(sec, "cascade", n, "Mesa 3 / changesim simulate", "ratio", ratio, "x", repeats,
                target=">= 200" if big else "", met=_met(ratio >= 200) if big else "",
                note="wall-time medians")
        )  # fmt: skip
        cpu = m["Mesa 3 idiomatic"]["cpu"] / m["changesim simulate"]["cpu"]
        rows.append(Row(sec, "cascade", n, "Mesa 3 / changesim simulate", "ratio_cpu", cpu, "x", repeats))
        print(
            f"  [2] n={n:>7,} Mesa {m['Mesa 3 idiomatic']['median'] * 1e3:9.2f} ms  changesim "
            f"{m['changesim simulate']['median'] * 1e3:8.3f} ms  ratio {ratio:,.0f}x",
            flush=True,
        )


# --- 3 and 5: fresh processes -------------------------------------------------------

_SCALE_CHILD = r"""
import json, resource, sys, time
import numba
numba.set_num_threads(1)
from sim import run
from sim.org import synthetic
n, rule, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dyn = {"rule": "threshold", "threshold_sd": 0.05}
if rule == "bass":
    dyn = {"rule": "bass", "p_spontaneous": 0.001, "q_imitation": 0.3}
cfg = {"dynamics": dyn, "seeding": {"strategy": "random", "n_seeds": n // 100}, "n_steps": 100}
t0 = time.perf_counter()
run(dict(cfg, seeding={"n_seeds": 1}), org=synthetic(n_staff=100))
warm = time.perf_counter() - t0
t0 = time.perf_counter()
org = synthetic(n_staff=n)
build = time.perf_counter() - t0
times = []
for _ in range(2):
    t0 = time.perf_counter()
    res = run(cfg, org=org, seed=0)
    times.append(time.perf_counter() - t0)
out = {"build_s": build, "run_s": times[0], "run2_s": times[1], "warmup_s": warm,
       "frac_adopted": float(res.frac_adopted[0, -1]), "n_ties": int(org.n_ties),
       "threads": numba.get_num_threads(),
       "maxrss_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
       # VmHWM belongs to this process's own address space (ru_maxrss carries the forking
       # parent's peak across exec on Linux, which inflated earlier figures).
       "vmhwm_mib": next(int(x.split()[1]) for x in open("/proc/self/status")
                         if x.startswith("VmHWM")) / 1024}
json.dump(out, open(path, "w"))
"""

_CACHE_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import sim
t1 = time.perf_counter()
sim.run({"org": {"n_staff": 200}, "n_steps": 10})
t2 = time.perf_counter()
json.dump({"import_s": t1 - t0, "run_s": t2 - t1}, open(sys.argv[1], "w"))
"""


def _spawn(code: str, args: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run ``python -c code args`` in a fresh process; (wall s, peak RSS MiB, exit status)."""
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-c", code, *args], env=env, stdout=fh, stderr=subprocess.STDOUT
        )
        # wait4 gives this child's own rusage (RUSAGE_CHILDREN would be the max over all children).
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
    return wall, ru.ru_maxrss / 1024.0, p.returncode


def bench_scale(n: int, tmp: Path, rows: list[Row]) -> None:
    """Section 3: build a synthetic organisation of n staff and run 100 steps, 1 thread."""
    sec = "3_scale"
    env = dict(os.environ)
    for rule in ("threshold", "bass"):
        path = tmp / f"scale_{rule}.json"
        wall, rss, code = _spawn(_SCALE_CHILD, [str(n), rule, str(path)], env, tmp / f"scale_{rule}.log")
        if code != 0:
            raise RuntimeError(f"scale child failed:\n{(tmp / f'scale_{rule}.log').read_text()[-3000:]}")
        r = json.loads(path.read_text())
        rss = r.get("vmhwm_mib", rss)
        big = n >= 1_000_000
        note = (
            f"{r['n_ties']:,} ties; final frac adopted {r['frac_adopted']:.4f}; {r['threads']} numba thread"
        )
        impl = f"synthetic org, {rule} rule"
        if rule == "threshold":
            rows.append(Row(sec, "build", n, impl, "build_time", r["build_s"], "s",
                            target="< 30" if big else "", met=_met(r["build_s"] < 30) if big else "",
                            note="sim.org.synthetic(n_staff=n)"))  # fmt: skip
        rows.append(Row(sec, rule, n, impl, "run_time_100_steps", r["run_s"], "s",
                        target="< 10" if big else "", met=_met(r["run_s"] < 10) if big else "",
                        note=note + "; sim.run() end to end, first call after a warm-up"))  # fmt: skip
        rows.append(Row(sec, rule, n, impl, "run_time_100_steps_second", r["run2_s"], "s"))
        rows.append(Row(sec, rule, n, impl, "peak_rss", rss, "MiB",
                        target="< 2048" if big else "", met=_met(rss < 2048) if big else "",
                        note="whole process (import, build, two runs); VmHWM of the child"))  # fmt: skip
        rows.append(
            Row(sec, rule, n, impl, "process_wall", wall, "s", note="incl. interpreter start and imports")
        )
        print(
            f"  [3] n={n:,} {rule:9s} build {r['build_s']:.2f} s  run {r['run_s']:.2f} s "
            f"(second {r['run2_s']:.2f} s)  peak RSS {rss:,.0f} MiB",
            flush=True,
        )


def bench_compile_cache(tmp: Path, rows: list[Row]) -> None:
    """Section 5: two fresh processes on an empty Numba cache; the second must not compile."""
    sec = "5_compile_cache"
    cache = tmp / "numba_cache"
    cache.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), NUMBA_DEBUG_CACHE="1")
    for k, label in ((1, "first process (empty cache)"), (2, "second process")):
        path, log = tmp / f"cache{k}.json", tmp / f"cache{k}.log"
        wall, _, code = _spawn(_CACHE_CHILD, [str(path)], env, log)
        if code != 0:
            raise RuntimeError(f"cache child failed:\n{log.read_text()[-3000:]}")
        r = json.loads(path.read_text())
        text = log.read_text(errors="replace")
        saved, loaded = text.count("data saved to"), text.count("data loaded from")
        note = f"NUMBA_DEBUG_CACHE: {saved} compiled and saved, {loaded} loaded from cache"
        ok = saved == 0
        what = "import sim + sim.run (200 staff, 10 steps)"
        rows.append(Row(sec, label, 200, what, "process_wall", wall, "s", note=note))
        rows.append(Row(sec, label, 200, "import sim", "import_time", r["import_s"], "s"))
        rows.append(Row(sec, label, 200, "sim.run", "first_run_time", r["run_s"], "s"))
        tgt = "0 (no recompile)" if k == 2 else ""
        rows.append(Row(sec, label, 200, "numba cache", "functions_compiled", saved, "count",
                        target=tgt, met=_met(ok) if tgt else ""))  # fmt: skip
        rows.append(Row(sec, label, 200, "numba cache", "functions_loaded", loaded, "count"))
        print(f"  [5] {label:28s} wall {wall:6.2f} s  run {r['run_s']:6.2f} s  ({note})", flush=True)


# --- 4. batch throughput -------------------------------------------------------------


def bench_batch(n_replicates: int, repeats: int, rows: list[Row]) -> None:
    """Section 4: run_batch replicate-runs per second, 1 and 2 threads, with and without groups."""
    import cProfile
    import pstats

    sec = "4_batch"
    org = synthetic(n_staff=1000)
    cfg = {"dynamics": {"rule": "threshold", "threshold_sd": 0.05}, "n_steps": N_STEPS}
    n_threads = min(2, numba.config.NUMBA_NUM_THREADS)
    configs = [(n_threads, False), (n_threads, True), (1, False), (1, True)]

    def runner(threads: int, by_group: bool) -> Timed:
        def go() -> tuple[float, float, Any]:
            numba.set_num_threads(threads)
            w, c, res = _clock(lambda: run_batch(cfg, org=org, n_replicates=n_replicates, by_group=by_group))
            return w, c, res.final_state

        return go

    runs = {f"{t} threads, by_group={g}": runner(t, g) for t, g in configs}
    m = interleaved(runs, repeats)
    finals = [v["result"] for v in m.values()]
    assert all(np.array_equal(finals[0], f) for f in finals), "thread count or grouping changed the results"
    frac = float(np.isin(finals[0], (1, 2)).mean())
    note = f"R={n_replicates}, 1,000 staff, 100 steps; mean final frac adopted {frac:.4f}"
    for (t, g), (name, r) in zip(configs, m.items(), strict=True):
        rate = n_replicates / r["median"]
        tgt = t == n_threads == 2 and n_replicates >= 2000
        rows.append(Row(sec, f"by_group={g}", 1000, name, "runs_per_s", rate, "runs/s", repeats,
                        target=">= 5000" if tgt else "", met=_met(rate >= 5000) if tgt else "",
                        note=note))  # fmt: skip
        rows.append(Row(sec, f"by_group={g}", 1000, name, "time_per_batch", r["median"], "s", repeats))
        rows.append(Row(sec, f"by_group={g}", 1000, name, "cpu_per_batch", r["cpu"], "s", repeats))
        print(f"  [4] {name:26s} {rate:8,.0f} runs/s  ({r['median']:.3f} s per batch)", flush=True)
    for g in (False, True):
        sp = m[f"1 threads, by_group={g}"]["median"] / m[f"{n_threads} threads, by_group={g}"]["median"]
        rows.append(
            Row(sec, f"by_group={g}", 1000, f"{n_threads} threads vs 1", "speed_up", sp, "x", repeats)
        )
    # Where a batch spends its time (2 threads, no groups): the top functions by own time.
    numba.set_num_threads(n_threads)
    prof = cProfile.Profile()
    k = 3
    prof.enable()
    for _ in range(k):
        run_batch(cfg, org=org, n_replicates=n_replicates, by_group=False)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:8]
    total = sum(v[2] for v in stats.values()) / k
    for (file, line, func), (_, ncalls, tt, ct, _) in top:
        where = f"{Path(file).name}:{line} {func}" if line else func
        rows.append(Row(sec, "profile by_group=False", 1000, where, "own_time_per_batch", tt / k, "s", k,
                        note=f"{100 * tt / k / total:.0f}% of profiled time; cumulative {ct / k:.3f} s; "
                             f"{ncalls // k} calls per batch"))  # fmt: skip


# --- machine and output --------------------------------------------------------------


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        return "not initialised"


def machine() -> dict[str, str]:
    """Description of the box and the software (lscpu model, cores, RAM, versions, load)."""
    info: dict[str, str] = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "CPU(s)", "Thread(s) per core", "L2 cache", "L3 cache"):
                info[f"lscpu {key.strip()}"] = val.strip()
    except (OSError, subprocess.CalledProcessError):
        info["lscpu"] = "unavailable"
    try:
        kb = next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
        info["RAM"] = f"{int(kb.split()[1]) / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    import mesa

    cc = shutil.which("cc")
    ccv = (
        subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        if cc
        else "none"
    )
    info.update(
        {
            "OS": platform.platform(),
            "Python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "Mesa": mesa.__version__,
            "cc": ccv,
            "numba threads available": str(numba.config.NUMBA_NUM_THREADS),
            "numba threading layer": _threading_layer(),
            "date (UTC)": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "code measured": _code_measured(),
        }
    )
    return info


def _code_measured() -> str:
    """The commit of the tree measured (``sim.provenance.git_state``), and whether its
    tracked files differed from it when the benchmark started."""
    from sim.provenance import git_state

    g = git_state()
    if g["git_commit"] is None:
        return "not a git checkout"
    return g["git_commit"][:12] + (" with uncommitted changes" if g["git_modified"] else "")


def _fmt(v: float, unit: str) -> str:
    if unit == "s":
        if v < 1e-3:
            return f"{v * 1e6:.1f} µs"
        if v < 1:
            return f"{v * 1e3:.2f} ms"
        return f"{v:.2f} s"
    if unit == "x":
        return f"{v:,.0f}×" if v >= 100 else f"{v:.2f}×"
    if unit in ("runs/s", "MiB"):
        return f"{v:,.0f} {unit}"
    if unit == "count":
        return f"{v:.0f}"
    return f"{v:.4g} {unit}"


def write(rows: list[Row], info: dict[str, str], out: Path, stem: str, command: str) -> None:
    """Write ``<stem>.csv`` (every row) and ``<stem>.md`` (targets, tables, machine)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Row)])
        w.writeheader()
        for r in rows:
            w.writerow(asdict(r))
    md = [f"# changesim chassis benchmark ({stem})", "", f"Command: `{command}`", "", "## Machine", ""]
    md += [f"- **{k}**: {v}" for k, v in info.items()]
    md += [
        "",
        "## Targets",
        "",
        "| section | case | n | measure | value | target | met |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for r in rows:
        if r.target:
            md.append(
                f"| {r.section} | {r.case} | {r.n_staff:,} | {r.implementation}: {r.metric} | "
                f"{_fmt(r.value, r.unit)} | {r.target} | {r.met} |"
            )
    for sec in dict.fromkeys(r.section for r in rows):
        md += ["", f"## {sec}", "", "| case | n | implementation | metric | value | repeats | note |"]
        md.append("|---|---:|---|---|---:|---:|---|")
        for r in rows:
            if r.section == sec and not r.metric.endswith("_min"):
                md.append(
                    f"| {r.case} | {r.n_staff:,} | {r.implementation} | {r.metric} | "
                    f"{_fmt(r.value, r.unit)} | {r.repeats} | {r.note} |"
                )
    md += ["", "Medians of interleaved repeats after one warm-up round; ratios from medians of the same run.",
           "Full rows (with minima) in the CSV.", ""]  # fmt: skip
    (out / f"{stem}.md").write_text("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the tables."""
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (smoke test, < 30 s)")
    ap.add_argument("--out", default="results/benchmark", help="output folder")
    a = ap.parse_args(argv)
    command = PROG + (" --quick" if a.quick else "") + f" --out {a.out}"
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="changesim-bench-") as tmp_s:
        tmp = Path(tmp_s)
        lib = compile_c(tmp)
        if lib is None:
            print("no C compiler (cc): the comparison with C is skipped")
        else:
            checked = correctness_checks(lib, 1000)
            print(f"  correctness at n=1,000: C and changesim agree ({checked})", flush=True)
        if a.quick:
            bench_threshold_vs_c(lib, {1000: 5}, rows)
            bench_vs_mesa({1000: 1}, rows)
            bench_scale(10_000, tmp, rows)
            bench_batch(200, 2, rows)
        else:
            bench_threshold_vs_c(lib, {10_000: 21, 100_000: 11, 1_000_000: 7}, rows)
            bench_vs_mesa({1000: 5, 10_000: 3}, rows)
            bench_scale(1_000_000, tmp, rows)
            bench_batch(2000, 5, rows)
            bench_compile_cache(tmp, rows)
    info = machine()
    info["load average (1 min) at start / end"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
    info["benchmark wall time"] = f"{time.perf_counter() - t_start:.0f} s"
    stem = "chassis_quick" if a.quick else "chassis"
    write(rows, info, Path(a.out), stem, command)
    missed = [r for r in rows if r.met == "NO"]
    print(f"wrote {Path(a.out) / stem}.csv and .md; targets missed: {len(missed)}")
    for r in missed:
        print(f"  missed: {r.section} {r.case} n={r.n_staff} {r.implementation} {r.metric}", end="")
        print(f" = {r.value:.4g} (target {r.target})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
