"""Peer benchmark: changesim against the diffusion tools people would otherwise use.

Run ``python experiments/e09_benchmark/bench_peers.py [--quick] [--out results/benchmark]``
(or ``changesim bench``). It writes ``peers.csv`` (one row per measurement), ``peers.md``
(tables, targets, machine, load) and ``peers.png`` (time per step against size) into the
output folder; ``--quick`` (sizes 1e2 and 1e3, about a minute) writes ``peers_quick.*``
instead.

Three rules, each run by every tool that has it:

1. **fractional linear threshold** (deterministic): changesim's fast engine
   (``sim.engine.simulate``, and ``sim.run`` end to end), its reference engine
   (``engine="agents"``), the plain C -O3 loop and the idiomatic Mesa 3 model of
   ``bench.py``, and NDlib's ``ThresholdModel`` configured per node. Every one must
   reach exactly the same final adopted set, or the benchmark raises ``Disagreement``.
2. **independent cascade** (stochastic): changesim fast and reference (identical per
   seed: one counter-based stream), NDlib's ``IndependentCascadesModel`` configured per
   edge, an idiomatic Mesa 3 model, and ``EoN.basic_discrete_SIR`` with transmission p,
   which is the same process (an infected node gets one chance at each susceptible
   contact, then recovers) and serves as an anchor. Distributions are compared: each
   tool's mean final size must lie within Z = 4 standard errors of changesim's.
3. **the full model** (rule ``change``, a calibrated configuration): fast kernel
   against its own reference engine, which is timed over a few steps and scaled per step.

Sizes 1e2..1e6 with about ten ties each, on random graphs and on hierarchical
organisations with teams (``sim.org.synthetic``). Protocol as ``bench.py`` (from
``/work/shared/research/perf.md``): implementations run round-robin in one process after
an untimed warm-up round, medians of the timed rounds, ratios from medians of the same
run, wall and CPU time both, construction (graphs, models, agents) timed apart from
stepping. A slow peer gets the rounds that fit in ``SLOW_BUDGET_S``; where one run would
take longer than ``SKIP_OVER_S`` it is skipped with a printed reason and its time is
extrapolated linearly in size from the largest size measured (labelled "extrapolated").
Peak memory is each implementation's own process (``os.wait4`` ru_maxrss) at one size.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from sim import rng, run, run_batch, scenarios
from sim.dynamics import change, layout
from sim.dynamics.contagion import CASCADE, FRACTION, Rule
from sim.engine import simulate, weights
from sim.model import ChangeModel
from sim.org import Organisation, random_graph, synthetic
from sim.params import ModelConfig, from_dict
from sim.state import initial_state, n_pairs, org_arrays, scratch

import bench  # the chassis benchmark beside this file (its runners, clock and C loop)
from bench import Case, Timed, _clock

HERE = Path(__file__).resolve().parent
PROG = "python experiments/e09_benchmark/bench_peers.py"
SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (100, 1_000)
FAMILIES: dict[str, Callable[[int], Organisation]] = {
    "random": lambda n: random_graph(n, bench.MEAN_DEGREE),
    "organisation": lambda n: synthetic(n_staff=n),
}
# Thresholds clip(N(0.18, 0.05), 0.01, 1): a global cascade, and no threshold of 0. NDlib
# lets a node adopt only with at least one contact (deg > 0), while a threshold of 0 would
# let changesim's isolated staff adopt on exposure 0; with thresholds >= 0.01 both say no.
THRESHOLD_MEAN, THRESHOLD_SD, THRESHOLD_MIN = 0.18, 0.05, 0.01
P_TRANSMIT = 0.2  # independent cascade: R0 about 2 on ~10 ties, final size ~80% on a random graph
N_SEEDS_MIN = 5  # 1% of staff, at least 5 (one seed at n=100 often spreads nowhere)
STEP_CAP = 1000  # the threshold and cascade runs stop at their fixed point long before
Z = 4.0  # two-sided false-failure rate 6e-5 per comparison
# The calibrated base (configs/scenario/change_base.yaml), power distributed and co-design on.
CHANGE_CONFIG: dict[str, Any] = scenarios.merge(
    scenarios.calibrated_base(), {"power": {"mode": "distributed"}, "co_design": {"on": True}}
)
CHANGE_STEPS = 26  # half a year of weeks; the rule is not a pure network rule, so every step runs
REFERENCE_STEPS = {100: 10, 1_000: 5, 10_000: 3, 100_000: 2, 1_000_000: 1}
FAST_REPEATS = {100: 21, 1_000: 21, 10_000: 15, 100_000: 7, 1_000_000: 3}
SLOW_ROUNDS = {100: 6, 1_000: 6, 10_000: 4, 100_000: 3, 1_000_000: 2}  # incl. one warm-up round
# Limits that keep the full run near 15 minutes on the shared 2-vCPU box.
SLOW_BUDGET_S = 15.0  # time one slow implementation may take at one size
SKIP_OVER_S = 45.0  # skip (and extrapolate) where one run would take longer than this
# Estimating the next size: from 1e5 to 1e6 the Python peers took 1.7-2.4x the linear
# extrapolation of their run (NDlib threshold 2.4x here; perf.md: NDlib 1.7x, Mesa 1.3x).
GROWTH = 2.0
MEMORY_N = 100_000
DIST_N = 1000  # size of the correctness checks and the cascade distributions

CS = "changesim fast engine"
CS_RUN = "changesim run() end to end"
REF = "changesim reference engine (agents)"
C_LOOP = "C -O3 loop"
MESA = "Mesa 3 idiomatic"
ND_T = "NDlib ThresholdModel"
ND_IC = "NDlib IndependentCascadesModel"
EON = "EoN basic_discrete_SIR (anchor)"
CS_K = "changesim fast engine, first k steps"
REF_K = "changesim reference engine, first k steps"
SLOW = {REF, MESA, ND_T, ND_IC, EON, REF_K}
PACKAGES = {ND_T: "ndlib", ND_IC: "ndlib", EON: "EoN"}
PEER_MODULES = {"ndlib": "ndlib.models.epidemics", "EoN": "EoN"}


class Disagreement(RuntimeError):
    """Two implementations of one deterministic rule (or one seed) ended differently."""


class Out(NamedTuple):
    """What one run of any implementation reports."""

    adopted: np.ndarray | None  # (n,) bool final adopted set (None: the tool gives only a count)
    final: int  # number adopted at the end
    steps: int  # steps computed (the last one changes nothing for threshold and cascade)
    build_s: float  # untimed construction before the run (model, config, agents)


@dataclass
class Row:
    """One measurement (one line of ``peers.csv``)."""

    rule: str
    family: str
    n_staff: int
    implementation: str
    metric: str
    value: float
    unit: str
    repeats: int = 1
    extrapolated: bool = False
    note: str = ""


def importable(package: str) -> str:
    """Why an optional peer package cannot be used ("" when it can).

    Imports the modules the benchmark uses: NDlib needs ``six`` without declaring it, so
    finding the package is not enough.
    """
    try:
        importlib.import_module(PEER_MODULES[package])
    except ImportError as e:
        return f"{package} cannot be imported ({e}); pip install 'changesim[bench]'"
    return ""


Clock = Callable[[Callable[[], Any]], tuple[float, float, Any]]


def _unclocked(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """For replicates that are counted, not timed (``bench._clock`` sleeps and collects garbage)."""
    return 0.0, 0.0, fn()


def settle() -> None:
    """Move every object alive now out of the cyclic garbage collector's way.

    ``bench._clock`` runs ``gc.collect()`` before each timed call. With Numba, Mesa and
    NDlib imported a full collection took 61 ms, and 238 ms with a 1e5-node NetworkX
    graph alive (measured here), longer than many of the runs it precedes. Frozen objects
    are still freed by reference counting; call this after building long-lived structures.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _steps(counts: np.ndarray) -> int:
    """Steps a fixed-point run computed: the first step that changed nothing (or all of them)."""
    adopted = counts[:, 1] + counts[:, 2]
    same = np.flatnonzero(adopted[1:] == adopted[:-1])
    return int(same[0]) + 1 if len(same) else len(adopted) - 1


def _out(adopted: np.ndarray, steps: int, build_s: float = 0.0) -> Out:
    return Out(adopted, int(adopted.sum()), steps, build_s)


# --- the cases ----------------------------------------------------------------------


def case_for(org: Organisation, rule: str) -> Case:
    """Thresholds clip(N(0.18, 0.05), 0.01, 1), 1% random seeds (at least 5), unit tie weights (seed 0)."""
    n = org.n_staff
    cfg = from_dict(
        {
            "dynamics": {"rule": rule, "threshold_mean": THRESHOLD_MEAN, "threshold_sd": THRESHOLD_SD,
                         "p_transmit": P_TRANSMIT},
            "seeding": {"strategy": "random", "n_seeds": max(N_SEEDS_MIN, n // 100)},
            "n_steps": STEP_CAP,
        }
    )  # fmt: skip
    st = initial_state(org, cfg, 0)
    st.threshold[:] = np.clip(st.threshold, THRESHOLD_MIN, 1.0)
    w = weights(org, st)
    if not np.all(w == 1.0):
        raise Disagreement("the peers count neighbours, so every changesim tie weight must be 1")
    return Case(org, cfg, st, w, np.uint64(rng.key_py(0, rng.ADOPT)))


def _seeds(case: Case) -> list[int]:
    return np.flatnonzero(case.st.adopted()).tolist()


def networkx_graph(org: Organisation) -> Any:
    """The NetworkX graph the peers read (``bench.py``'s CSR conversion), degrees checked."""
    g = bench._to_networkx(org)
    deg = np.fromiter((d for _, d in g.degree()), np.int64, org.n_staff)
    if not np.array_equal(deg, org.degree):
        raise Disagreement("the NetworkX graph and changesim's CSR have different degrees")
    return g


# --- implementations: every factory returns a Timed whose result is an Out ----------


def _from_bench(timed: Timed, steps: int, builds: list[float] | None = None) -> Timed:
    """Adapt ``bench.py``'s runners (changesim kernel, C, Mesa) to ``Out``."""

    def go() -> tuple[float, float, Out]:
        w, c, res = timed()
        adopted = np.isin(res[0], (1, 2)) if isinstance(res, tuple) else np.asarray(res, bool)
        return w, c, _out(adopted, steps, builds[-1] if builds else 0.0)

    return go


def _run_api(case: Case, steps: int) -> Timed:
    def go() -> tuple[float, float, Out]:
        w, c, res = _clock(
            lambda: run(case.cfg, org=case.org, seed=0, thresholds=case.st.threshold,
                        initial_adopters=case.st.adopted(), by_group=False)
        )  # fmt: skip
        return w, c, _out(np.isin(res.final_state[0], (1, 2)), steps)

    return go


def _threshold_fast(case: Case) -> tuple[Out, int]:
    """One untimed run of the fast engine on the threshold rule: (result, steps to the fixed point)."""
    state, _, counts = bench._changesim(case)()[2]
    steps = _steps(counts)
    return _out(np.isin(state, (1, 2)), steps), steps


def _reference(case: Case, seed: int = 0, max_steps: int = STEP_CAP, clock: Clock = _clock) -> Timed:
    """The reference engine (changesim's Mesa agents), stepped until a step changes nothing."""

    def go() -> tuple[float, float, Out]:
        t0 = time.perf_counter()
        model = ChangeModel(case.cfg, org=case.org, seed=seed, engine="agents",
                            thresholds=case.st.threshold, initial_adopters=case.st.adopted(),
                            by_group=False)  # fmt: skip
        build = time.perf_counter() - t0

        def loop() -> None:
            while model.steps < max_steps:
                model.step()
                c = model.counts
                if np.array_equal(c[-1], c[-2]):
                    break

        w, c, _ = clock(loop)
        return w, c, _out(model.state.adopted(), int(model.steps), build)

    return go


def _ndlib_threshold(case: Case, graph: Any, steps: int) -> Timed:
    import ndlib.models.epidemics as ep
    import ndlib.models.ModelConfig as mc

    threshold, seeds = case.st.threshold.tolist(), _seeds(case)

    def go() -> tuple[float, float, Out]:
        t0 = time.perf_counter()
        model = ep.ThresholdModel(graph, seed=0)
        config = mc.Configuration()
        for i, th in enumerate(threshold):
            config.add_node_configuration("threshold", i, th)
        config.add_model_initial_configuration("Infected", seeds)
        model.set_initial_status(config)
        build = time.perf_counter() - t0
        # Iteration 0 only reports the initial state, so `steps` steps take steps + 1 iterations.
        w, c, _ = _clock(lambda: model.iteration_bunch(steps + 1, node_status=False))
        adopted = np.array([model.status[i] == 1 for i in range(len(threshold))])
        return w, c, _out(adopted, steps, build)

    return go


def _changesim_cascade(case: Case, seed: int = 0, clock: Clock = _clock) -> Timed:
    key = np.uint64(rng.key_py(seed, rng.ADOPT))
    org, st = case.org, case.st
    groups = np.zeros((org.n_staff, 1), np.int64)

    def go() -> tuple[float, float, Out]:
        state, t_adopted = st.state.copy(), st.t_adopted.copy()
        people = st.people()._replace(state=state, t_adopted=t_adopted)
        counts = np.zeros((STEP_CAP + 1, 1, 4), np.int32)
        rule = Rule(CASCADE, FRACTION, 0.0, 0.0, P_TRANSMIT)
        w, c, _ = clock(
            lambda: simulate(
                org.indptr, org.indices, case.weight, people, rule, key, STEP_CAP, groups, counts
            )
        )
        return w, c, _out(np.isin(state, (1, 2)), _steps(counts[:, 0, :]))

    return go


def _ndlib_cascade(case: Case, graph: Any, seed: int = 0, clock: Clock = _clock) -> Timed:
    import ndlib.models.epidemics as ep
    import ndlib.models.ModelConfig as mc

    seeds, edges = _seeds(case), list(graph.edges())

    def go() -> tuple[float, float, Out]:
        t0 = time.perf_counter()
        model = ep.IndependentCascadesModel(graph, seed=seed)  # seeds NumPy's global generator
        config = mc.Configuration()
        # Without a value on every edge NDlib uses 1/degree of the infecting node.
        for e in edges:
            config.add_edge_configuration("threshold", e, P_TRANSMIT)
        config.add_model_initial_configuration("Infected", seeds)
        model.set_initial_status(config)
        build = time.perf_counter() - t0

        def loop() -> int:
            model.iteration(node_status=False)  # iteration 0: the initial state
            k = 0
            while True:
                k += 1
                if model.iteration(node_status=False)["node_count"][1] == 0:
                    return k

        w, c, k = clock(loop)
        adopted = np.array([model.status[i] != 0 for i in range(case.org.n_staff)])
        return w, c, _out(adopted, k, build)

    return go


def _eon_cascade(case: Case, graph: Any, seed: int = 0, clock: Clock = _clock) -> Timed:
    import EoN

    seeds, n = _seeds(case), case.org.n_staff

    def go() -> tuple[float, float, Out]:
        gen = np.random.default_rng(seed)
        w, c, (t, s, _, _) = clock(
            lambda: EoN.basic_discrete_SIR(graph, P_TRANSMIT, initial_infecteds=seeds, rng=gen)
        )
        return w, c, Out(None, int(n - s[-1]), len(t) - 1, 0.0)

    return go


def _mesa_cascade_model(graph: Any, adopted: np.ndarray, seed: int) -> Any:
    """The independent cascade written the way a Mesa 3 user would (as ``bench.py``'s threshold model)."""
    import mesa
    from mesa.discrete_space import FixedAgent, Network

    class Adopter(FixedAgent):
        def __init__(self, model: mesa.Model, cell: Any, adopted: bool) -> None:
            super().__init__(model)
            self.cell = cell
            self.adopted = adopted
            self.new = adopted  # adopted last step: one chance at each contact now
            self.adopt_next = False

        def step(self) -> None:
            if self.new:
                for other in self.cell.neighborhood.agents:
                    if not other.adopted and self.random.random() < P_TRANSMIT:
                        other.adopt_next = True

        def advance(self) -> None:
            self.new = self.adopt_next and not self.adopted
            self.adopt_next = False
            if self.new:
                self.adopted = True
                self.model.n_changed += 1

    class CascadeModel(mesa.Model):
        def __init__(self) -> None:
            super().__init__(seed=seed)
            self.grid = Network(graph, random=self.random)
            self.n_changed = 0
            for cell in self.grid.all_cells:
                Adopter(self, cell, bool(adopted[cell.coordinate]))

        def step(self) -> None:
            self.n_changed = 0
            self.agents.do("step")
            self.agents.do("advance")
            self.running = self.n_changed > 0

    return CascadeModel()


def _mesa_cascade(case: Case, graph: Any, seed: int = 0, clock: Clock = _clock) -> Timed:
    adopted0 = case.st.adopted()

    def go() -> tuple[float, float, Out]:
        t0 = time.perf_counter()
        model = _mesa_cascade_model(graph, adopted0, seed)
        build = time.perf_counter() - t0

        def loop() -> None:
            while model.running and model.steps < STEP_CAP:
                model.step()

        w, c, _ = clock(loop)
        adopted = np.zeros(case.org.n_staff, bool)
        for a in model.agents:
            adopted[a.cell.coordinate] = a.adopted
        return w, c, _out(adopted, int(model.steps), build)

    return go


def change_config() -> ModelConfig:
    """The calibrated full-model configuration of the benchmark."""
    return from_dict(CHANGE_CONFIG, n_steps=CHANGE_STEPS)


def _change_kernel(org: Organisation, cfg: ModelConfig, n_steps: int) -> Timed:
    """The full model's fast path for one replicate (as ``run`` calls it), stepping timed alone."""
    arrays, par = org_arrays(org), layout.pack(cfg)
    keys = layout.stream_keys(np.array([0]))[0]
    groups = np.zeros((org.n_staff, 1), np.int64)

    def go() -> tuple[float, float, Any]:
        t0 = time.perf_counter()
        st = initial_state(org, cfg, 0)
        build = time.perf_counter() - t0
        people, work = st.people(), scratch(org.n_staff, n_pairs=n_pairs(org))
        counts = np.zeros((n_steps + 1, 1, 4), np.int32)
        extra = np.empty((n_steps + 1, 3))
        w, c, _ = _clock(
            lambda: change.simulate_change(par, keys, arrays, people, work, n_steps, groups, counts, extra)
        )
        return w, c, (_out(st.adopted(), n_steps, build), st)

    return go


def _change_reference(org: Organisation, cfg: ModelConfig, n_steps: int) -> Timed:
    def go() -> tuple[float, float, Any]:
        t0 = time.perf_counter()
        model = ChangeModel(cfg, org=org, seed=0, engine="agents", by_group=False)
        build = time.perf_counter() - t0

        def loop() -> None:
            for _ in range(n_steps):
                model.step()

        w, c, _ = _clock(loop)
        return w, c, (_out(model.state.adopted(), n_steps, build), model.state)

    return go


def _same_state(a: Any, b: Any, what: str) -> None:
    for name in ("state", "t_adopted", "motivation", "belief", "trust"):
        if not np.array_equal(getattr(a, name), getattr(b, name)):
            raise Disagreement(f"{what}: fast and reference engines disagree on {name}")


# --- correctness --------------------------------------------------------------------


def _check_sets(results: dict[str, Out], what: str) -> int:
    """Every implementation reached the same final adopted set; returns its size."""
    names = [k for k, v in results.items() if v.adopted is not None]
    ref = results[names[0]].adopted
    for name in names[1:]:
        if not np.array_equal(ref, results[name].adopted):
            diff = int((ref != results[name].adopted).sum())
            raise Disagreement(
                f"{what}: {name} and {names[0]} end with different adopted sets ({diff} staff differ); "
                "they must run the same deterministic rule"
            )
    return int(ref.sum())


def _finals(make: Callable[[int], Timed], n_rep: int) -> np.ndarray:
    return np.array([make(s)()[2].final for s in range(n_rep)], dtype=np.float64)


def cascade_distribution(case: Case, graph: Any, replicates: dict[str, int], peers: set[str]) -> list[dict]:
    """Mean final size of each implementation against changesim's, Z standard errors.

    changesim's reference engine draws from the same counter-based stream as the fast
    engine, so it must match it seed by seed (checked exactly); the other tools use
    their own generators and must agree in distribution. Raises ``Disagreement``.
    """
    r_cs = replicates[CS]
    res = run_batch(case.cfg, org=case.org, seeds=np.arange(r_cs), initial_adopters=case.st.adopted(),
                    by_group=False)  # fmt: skip
    adopted = np.isin(res.final_state, (1, 2))
    ref_final = adopted.sum(axis=1).astype(np.float64)
    for s in range(replicates[REF]):
        out = _reference(case, s, clock=_unclocked)()[2]
        if not np.array_equal(out.adopted, adopted[s]):
            raise Disagreement(f"cascade seed {s}: reference engine and run_batch differ")
        if not np.array_equal(_changesim_cascade(case, s, _unclocked)()[2].adopted, adopted[s]):
            raise Disagreement(f"cascade seed {s}: simulate and run_batch differ")
    samples = {CS: ref_final, REF: ref_final[: replicates[REF]]}
    makers = {ND_IC: _ndlib_cascade, EON: _eon_cascade, MESA: _mesa_cascade}
    for name, make in makers.items():
        if name in peers:
            samples[name] = _finals(lambda s, make=make: make(case, graph, s, _unclocked), replicates[name])
    m0, se0 = ref_final.mean(), ref_final.std(ddof=1) / math.sqrt(len(ref_final))
    out = []
    for name, x in samples.items():
        m, se = x.mean(), x.std(ddof=1) / math.sqrt(len(x))
        # The reference engine's sample is the fast engine's first seeds (identical, checked above).
        z = 0.0 if name in (CS, REF) else (m - m0) / math.sqrt(se**2 + se0**2)
        out.append({"implementation": name, "replicates": len(x), "mean": m, "se": se, "z": z})
        if abs(z) > Z:
            raise Disagreement(
                f"cascade n={case.org.n_staff}: {name} mean final size {m:.1f} ± {se:.1f} is {z:+.1f} SE "
                f"from changesim's {m0:.1f} ± {se0:.1f} (limit {Z}); it does not run the same process"
            )
    return out


def available_peers(lib: Any) -> tuple[set[str], dict[str, str]]:
    """(peers that can run, peer -> why it is skipped)."""
    peers, skipped = {MESA}, {}
    for name, pkg in PACKAGES.items():
        why = importable(pkg)
        if why:
            skipped[name] = why
        else:
            peers.add(name)
    if lib is not None:
        peers.add(C_LOOP)
    else:
        skipped[C_LOOP] = "no C compiler (cc) on PATH"
    return peers, skipped


def correctness_checks(n: int = 1000, lib: Any = None, peers: set[str] | None = None,
                       replicates: dict[str, int] | None = None) -> dict[str, Any]:  # fmt: skip
    """The quick mode's checks at size n, on both graph families; raises ``Disagreement``.

    Threshold rule: identical final adopted sets across every implementation given.
    Cascade: the distribution check (``cascade_distribution``). Full model: fast and
    reference engines identical after a few steps, and the fast path equal to ``run``.

    Returns:
        {"threshold": {family: adopted}, "cascade": {family: table}, "change": steps checked}.
    """
    peers = available_peers(lib)[0] if peers is None else peers
    replicates = replicates or {CS: 2000, REF: 10, ND_IC: 100, EON: 300, MESA: 60}
    report: dict[str, Any] = {"threshold": {}, "cascade": {}}
    for family, build in FAMILIES.items():
        org = build(n)
        graph = networkx_graph(org) if peers & {MESA, ND_T, ND_IC, EON} else None
        case = case_for(org, "threshold")
        settle()
        first, steps = _threshold_fast(case)
        res = {CS: first, CS_RUN: _run_api(case, steps)()[2], REF: _reference(case)()[2]}
        if C_LOOP in peers:
            res[C_LOOP] = _from_bench(bench._c(lib, case), steps)()[2]
        if MESA in peers:
            res[MESA] = _from_bench(bench._mesa(case, graph, []), steps)()[2]
        if ND_T in peers:
            res[ND_T] = _ndlib_threshold(case, graph, steps)()[2]
        if res[REF].steps != steps:
            raise Disagreement(f"threshold {family}: reference took {res[REF].steps} steps, kernel {steps}")
        report["threshold"][family] = _check_sets(res, f"threshold {family} n={n}")
        report["cascade"][family] = cascade_distribution(case_for(org, "cascade"), graph, replicates, peers)
    org, cfg, k = synthetic(n_staff=n), change_config(), REFERENCE_STEPS.get(n, 3)
    fast, slow = _change_kernel(org, cfg, k)()[2][1], _change_reference(org, cfg, k)()[2][1]
    _same_state(fast, slow, f"change n={n} after {k} steps")
    api = run(cfg, org=org, seed=0, by_group=False, overrides={"n_steps": k})
    if not np.array_equal(api.final_state[0], fast.state):
        raise Disagreement("change: the benchmark's direct kernel call and run() differ")
    report["change"] = k
    gc.unfreeze()
    return report


# --- timing -------------------------------------------------------------------------


def round_robin(runs: dict[str, Timed], plan: dict[str, tuple[int, int]]) -> dict[str, dict[str, Any]]:
    """Round-robin over implementations, each for its own (warm-up, timed) rounds.

    ``bench.interleaved`` with a per-implementation number of rounds: a slow peer
    takes part in the first rounds only. Returns name -> {"median", "min", "cpu",
    "repeats", "result"} (result: the last round's).
    """
    wall: dict[str, list[float]] = {k: [] for k in runs}
    cpu: dict[str, list[float]] = {k: [] for k in runs}
    result: dict[str, Any] = {}
    for r in range(max(sum(p) for p in plan.values())):
        for name, fn in runs.items():
            warm, timed = plan[name]
            if r < warm + timed:
                w, c, result[name] = fn()
                if r >= warm:
                    wall[name].append(w)
                    cpu[name].append(c)
    return {
        k: {"median": float(np.median(wall[k])), "min": float(np.min(wall[k])),
            "cpu": float(np.median(cpu[k])), "repeats": len(wall[k]), "result": result[k]}
        for k in runs
    }  # fmt: skip


class Budget:
    """Per (rule, family, implementation): the last size measured and its cost, to plan the next."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str, str], dict[str, float]] = {}

    def plan(self, key: tuple[str, str, str], n: int) -> tuple[tuple[int, int] | None, str]:
        """(warm-up, timed) rounds for a slow implementation at size n, or None with a reason."""
        prev = self.last.get(key)
        rounds = SLOW_ROUNDS[n]
        if prev is not None:
            est = prev["round_s"] * n / prev["n"] * GROWTH
            if est > SKIP_OVER_S:
                return None, (
                    f"one run estimated at {est:.0f} s ({prev['round_s']:.2f} s at n={prev['n']:,.0f}, "
                    f"scaled by size x{GROWTH}) > {SKIP_OVER_S:.0f} s"
                )
            rounds = max(1, min(rounds, int(SLOW_BUDGET_S // est)))
        return ((1, rounds - 1) if rounds >= 2 else (0, 1)), ""

    def record(self, key: tuple[str, str, str], n: int, m: dict[str, Any]) -> None:
        """Remember a measured implementation: per-step wall and CPU time and its construction."""
        out: Out = m["result"]
        self.last[key] = {
            "n": n, "round_s": m["median"] + out.build_s, "per_step": m["median"] / max(out.steps, 1),
            "cpu_per_step": m["cpu"] / max(out.steps, 1), "build_s": out.build_s,
        }  # fmt: skip


def _emit(rows: list[Row], rule: str, family: str, n: int, name: str, m: dict[str, Any], note: str) -> None:
    out: Out = m["result"]
    steps, k = max(out.steps, 1), m["repeats"]
    for metric, v, unit in (
        ("time_per_run", m["median"], "s"), ("time_per_run_min", m["min"], "s"),
        ("cpu_per_run", m["cpu"], "s"), ("time_per_step", m["median"] / steps, "s"),
        ("cpu_per_step", m["cpu"] / steps, "s"), ("steps", out.steps, "count"),
        ("final_adopted", out.final, "count"), ("build_time", out.build_s, "s"),
    ):  # fmt: skip
        if metric != "build_time" or v > 0:  # the fast engines and EoN build nothing beyond the network
            rows.append(Row(rule, family, n, name, metric, float(v), unit, k, note=note))


def _extrapolate(rows: list[Row], rule: str, family: str, n: int, name: str, prev: dict[str, float],
                 steps: int, reason: str) -> dict[str, Any]:  # fmt: skip
    """Rows for a skipped implementation, linear in size from the largest size measured."""
    f = n / prev["n"]
    note = f"extrapolated linearly from n={prev['n']:,.0f} (skipped: {reason})"
    per_step, cpu_step = prev["per_step"] * f, prev["cpu_per_step"] * f
    for metric, v in (("time_per_step", per_step), ("cpu_per_step", cpu_step),
                      ("time_per_run", per_step * steps), ("cpu_per_run", cpu_step * steps),
                      ("build_time", prev["build_s"] * f)):  # fmt: skip
        if metric != "build_time" or v > 0:
            rows.append(Row(rule, family, n, name, metric, v, "s", 0, True, note))
    return {"median": per_step * steps, "cpu": cpu_step * steps, "repeats": 0,
            "result": Out(None, -1, steps, prev["build_s"] * f), "extrapolated": True}  # fmt: skip


def bench_case(rule: str, family: str, n: int, org: Organisation, graph: Callable[[], Any], lib: Any,
               peers: set[str], budget: Budget, rows: list[Row], fast_repeats: int) -> None:  # fmt: skip
    """Time every implementation of ``rule`` ("threshold" or "cascade") at one size."""
    t0 = time.perf_counter()
    case = case_for(org, rule)
    rows.append(Row(rule, family, n, "changesim initial state", "build_time", time.perf_counter() - t0, "s",
                    note="initial_state + weights: thresholds, seeds, tie weights"))  # fmt: skip
    load = os.getloadavg()[0]
    if rule == "threshold":
        steps = _threshold_fast(case)[1]
        runs = {CS: _from_bench(bench._changesim(case), steps), CS_RUN: _run_api(case, steps)}
        if C_LOOP in peers:
            runs[C_LOOP] = _from_bench(bench._c(lib, case), steps)
        slow: dict[str, Callable[[], Timed]] = {REF: lambda: _reference(case)}
        if MESA in peers:
            builds: list[float] = []
            slow[MESA] = lambda: _from_bench(bench._mesa(case, graph(), builds), steps, builds)
        if ND_T in peers:
            slow[ND_T] = lambda: _ndlib_threshold(case, graph(), steps)
    else:
        steps = _changesim_cascade(case)()[2].steps
        runs = {CS: _changesim_cascade(case)}
        slow = {REF: lambda: _reference(case)}
        for name, make in ((ND_IC, _ndlib_cascade), (EON, _eon_cascade), (MESA, _mesa_cascade)):
            if name in peers:
                slow[name] = lambda make=make: make(case, graph())
    plan = dict.fromkeys(runs, (1, fast_repeats))
    skipped: dict[str, str] = {}
    for name, make in slow.items():
        p, why = budget.plan((rule, family, name), n)
        if p is None:
            skipped[name] = why
            print(f"  [{rule}] {family} n={n:,}: {name} skipped: {why}; extrapolated", flush=True)
        else:
            runs[name], plan[name] = make(), p
    settle()
    m = round_robin(runs, plan)
    # Threshold: every tool's final set; cascade: the reference shares the fast engine's stream.
    same = [k for k in m if rule == "threshold" or k in (CS, REF)]
    adopted = _check_sets({k: m[k]["result"] for k in same}, f"{rule} {family} n={n}")
    note = (f"{adopted:,} of {n:,} adopted (changesim, seed 0); mean degree {org.degree.mean():.2f}; "
            f"load {load:.1f}")  # fmt: skip
    for name, r in m.items():
        _emit(rows, rule, family, n, name, r, note)
        if name in SLOW:
            budget.record((rule, family, name), n, r)
    for name, why in skipped.items():
        m[name] = _extrapolate(rows, rule, family, n, name, budget.last[(rule, family, name)], steps, why)
    _ratios(rows, rule, family, n, m, CS)
    fast = m[CS]["median"] / steps
    line = "  ".join(f"{k.split(' (')[0]} {v['median'] / max(v['result'].steps, 1) / fast:,.0f}x"
                     for k, v in m.items() if k != CS)  # fmt: skip
    print(f"  [{rule}] {family:12s} n={n:>9,} changesim {fast * 1e6:9.2f} µs/step  {line}", flush=True)


def _ratios(rows: list[Row], rule: str, family: str, n: int, m: dict[str, dict], base: str) -> None:
    """Per-step time of each implementation over the base's, wall and CPU (same run)."""
    b = m[base]
    bs = max(b["result"].steps, 1)
    for name, r in m.items():
        if name == base:
            continue
        s = max(r["result"].steps, 1)
        ext = bool(r.get("extrapolated"))
        wall = (r["median"] / s) / (b["median"] / bs)
        cpu = (r["cpu"] / s) / (b["cpu"] / bs)
        note = "per-step medians of the same run" + ("; peer time extrapolated" if ext else "")
        rows.append(Row(rule, family, n, f"{name} / {base}", "ratio", wall, "x", r["repeats"], ext, note))
        rows.append(Row(rule, family, n, f"{name} / {base}", "ratio_cpu", cpu, "x", r["repeats"], ext, note))


def bench_change(n: int, org: Organisation, budget: Budget, rows: list[Row], fast_repeats: int) -> None:
    """Full model: the fast kernel (CHANGE_STEPS steps, and the first k) against the reference (k steps)."""
    cfg, k = change_config(), REFERENCE_STEPS[n]
    runs = {CS: _change_kernel(org, cfg, CHANGE_STEPS), CS_K: _change_kernel(org, cfg, k)}
    plan = {CS: (1, max(3, fast_repeats // 3)), CS_K: (1, fast_repeats)}
    key = ("change", "organisation", REF_K)
    p, why = budget.plan(key, n)
    if p is not None:
        runs[REF_K], plan[REF_K] = _change_reference(org, cfg, k), p
    else:
        print(f"  [change] n={n:,}: reference skipped: {why}; extrapolated", flush=True)
    load = os.getloadavg()[0]
    settle()
    m = round_robin(runs, plan)
    if REF_K in m:
        _same_state(m[CS_K]["result"][1], m[REF_K]["result"][1], f"change n={n} after {k} steps")
    for r in m.values():
        r["result"] = r["result"][0]
    frac = m[CS]["result"].final / n
    note = f"k = {k}; final frac adopted {frac:.3f} after {CHANGE_STEPS} steps; load {load:.1f}"
    for name, r in m.items():
        extra = "; timed over the first k steps, scaled per step" if name in (CS_K, REF_K) else ""
        _emit(rows, "change", "organisation", n, name, r, note + extra)
    if REF_K in m:
        budget.record(key, n, m[REF_K])
    else:
        m[REF_K] = _extrapolate(rows, "change", "organisation", n, REF_K, budget.last[key], k, why)
    _ratios(rows, "change", "organisation", n, {CS: m[CS], REF_K: m[REF_K]}, CS)
    _ratios(rows, "change", "organisation", n, {CS_K: m[CS_K], REF_K: m[REF_K]}, CS_K)
    fast, slow = m[CS]["median"] / CHANGE_STEPS, m[REF_K]["median"] / k
    print(
        f"  [change] n={n:>9,} kernel {fast * 1e3:9.3f} ms/step  reference {slow * 1e3:10.1f} ms/step"
        f"{' (extrapolated)' if m[REF_K].get('extrapolated') else ''}  ratio {slow / fast:,.0f}x",
        flush=True,
    )


# --- peak memory: one fresh process per implementation ------------------------------

_MEMORY_CHILD = r"""
import sys
sys.path.insert(0, sys.argv[5])  # the folder of bench_peers.py
from bench_peers import memory_child
memory_child(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
"""
# ru_maxrss of a process forked straight from this one starts at this process's own peak
# (Linux records the pre-exec high-water mark: a 600 MiB parent made `python -c pass` report
# 626 MiB, 10.6 MiB through this launcher), so a small launcher forks the measured child.
_LAUNCHER = r"""
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, ru = os.wait4(pid, 0)
json.dump({"maxrss_kib": ru.ru_maxrss, "exit": os.waitstatus_to_exitcode(status)}, open(sys.argv[1], "w"))
"""
MEMORY_IMPLS = {
    "baseline": ("threshold", "random"), CS: ("threshold", "random"), C_LOOP: ("threshold", "random"),
    REF: ("threshold", "random"), MESA: ("threshold", "random"), ND_T: ("threshold", "random"),
    ND_IC: ("cascade", "random"), EON: ("cascade", "random"), f"{MESA} cascade": ("cascade", "random"),
    f"{CS} change": ("change", "organisation"), f"{REF} change": ("change", "organisation"),
}  # fmt: skip


def memory_child(name: str, family: str, n: int, path: str) -> None:
    """In a fresh process: build the network and one implementation, run it once, save timings."""
    org = FAMILIES[family](n)
    rule = MEMORY_IMPLS[name][0]
    if rule == "change":
        k = 1 if name.startswith(REF) else CHANGE_STEPS
        make = _change_reference if name.startswith(REF) else _change_kernel
        w, _, (out, _) = make(org, change_config(), k)()
    elif name == "baseline":
        case_for(org, rule)
        w, out = 0.0, Out(None, 0, 0, 0.0)
    else:
        case = case_for(org, rule)
        graph = networkx_graph(org) if name not in (CS, C_LOOP, REF) else None
        if name == C_LOOP:
            timed = _from_bench(bench._c(bench.compile_c(Path(path).parent), case), _threshold_fast(case)[1])
        elif rule == "cascade":
            make = {ND_IC: _ndlib_cascade, EON: _eon_cascade}.get(name, _mesa_cascade)
            timed = make(case, graph)
        else:
            # The reference runs 3 steps only (its whole run is the slowest here): construction
            # sets its memory.
            steps = _threshold_fast(case)[1]
            timed = {CS: lambda: _from_bench(bench._changesim(case), steps),
                     REF: lambda: _reference(case, 0, 3),
                     MESA: lambda: _from_bench(bench._mesa(case, graph, []), steps),
                     ND_T: lambda: _ndlib_threshold(case, graph, steps)}[name]()  # fmt: skip
        w, _, out = timed()
    status = Path("/proc/self/status").read_text()
    hwm = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM")), -1)
    Path(path).write_text(
        json.dumps({"run_s": w, "build_s": out.build_s, "steps": out.steps, "vmhwm_kib": hwm})
    )


def peak_rss(code: str, args: list[str], tmp: Path) -> tuple[float, float, int]:
    """Run ``python -c code args`` in a fresh process; (wall s, peak RSS MiB by ru_maxrss, exit status)."""
    out, log = tmp / "rss.json", tmp / "mem.log"
    with open(log, "wb") as fh:
        t0 = time.perf_counter()
        cmd = [sys.executable, "-c", _LAUNCHER, str(out), "-c", code, *args]
        subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=True)
        wall = time.perf_counter() - t0
    r = json.loads(out.read_text())
    return wall, r["maxrss_kib"] / 1024.0, r["exit"]


def bench_memory(n: int, peers: set[str], tmp: Path, rows: list[Row]) -> None:
    """Peak RSS of one fresh process per implementation (ru_maxrss, see ``peak_rss``), network of size n."""
    for name, (rule, family) in MEMORY_IMPLS.items():
        base = name.replace(" cascade", "").replace(" change", "")
        if (base in PACKAGES or base == C_LOOP) and base not in peers:
            continue
        path = tmp / f"mem_{abs(hash(name))}.json"
        wall, rss, code = peak_rss(_MEMORY_CHILD, [name, family, str(n), str(path), str(HERE)], tmp)
        if code != 0:
            raise RuntimeError(f"memory child {name} failed:\n{(tmp / 'mem.log').read_text()[-3000:]}")
        r = json.loads(path.read_text())
        note = (f"{rule} rule, {family}; whole process: import, network, model, one run "
                f"({r['steps']} steps, {r['run_s']:.2f} s); process wall {wall:.1f} s; "
                f"VmHWM {r['vmhwm_kib'] / 1024:,.0f} MiB")  # fmt: skip
        if name == "baseline":
            note = "import bench_peers, build the network and the initial state only"
        rows.append(Row(rule, family, n, name, "peak_rss", rss, "MiB", note=note))
        print(f"  [memory] n={n:,} {name:48s} {rss:8,.0f} MiB", flush=True)


# --- output -------------------------------------------------------------------------


def provenance() -> dict[str, str]:
    """Versions of the peers and the changesim commit measured (the kernels change often)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("ndlib", "EoN", "networkx", "six"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    root = HERE.parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "sim"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        out["changesim commit"] = head + (" (sim/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        out["changesim commit"] = "unknown (not a git checkout)"
    return out


def _pick(rows: list[Row], **kw: Any) -> list[Row]:
    return [r for r in rows if all(getattr(r, k) == v for k, v in kw.items())]


def _cell(rows: list[Row], **kw: Any) -> str:
    hit = _pick(rows, **kw)
    if not hit:
        return "—"
    r = hit[0]
    s = bench._fmt(r.value, r.unit)
    return f"≈{s}*" if r.extrapolated else s


def _table(rows: list[Row], rule: str, family: str, names: list[str], sizes: list[int],
           cell: Callable[..., str]) -> list[str]:  # fmt: skip
    """Markdown table: one row per implementation that has a cell, one column per size."""
    md = [
        "| implementation | " + " | ".join(f"n={n:,}" for n in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for name in names:
        cells = [cell(rows, rule=rule, family=family, n_staff=n, implementation=name) for n in sizes]
        if any(c != "—" for c in cells):
            md.append(f"| {name} | " + " | ".join(cells) + " |")
    return md


def _metric(metric: str) -> Callable[..., str]:
    return lambda rows, **kw: _cell(rows, metric=metric, **kw)


def _ratio_cell(rows: list[Row], **kw: Any) -> str:
    wall, cpu = _cell(rows, metric="ratio", **kw), _cell(rows, metric="ratio_cpu", **kw)
    return "—" if wall == "—" else f"{wall} ({cpu.strip('≈*')})"


def targets(rows: list[Row]) -> list[tuple[str, str, float, float, str, bool]]:
    """(what, network, wall ratio, CPU ratio, target, met) for the issue's targets (not asserted)."""
    out = []

    def ratio(rule: str, family: str, n: int, name: str) -> tuple[float, float] | None:
        w = _pick(rows, rule=rule, family=family, n_staff=n, implementation=name, metric="ratio")
        c = _pick(rows, rule=rule, family=family, n_staff=n, implementation=name, metric="ratio_cpu")
        return (w[0].value, c[0].value) if w and c and not w[0].extrapolated else None

    for family in FAMILIES:
        for peer in (MESA, ND_T):
            if r := ratio("threshold", family, 10_000, f"{peer} / {CS}"):
                out.append((f"threshold, n=10^4: {peer} / changesim", family, *r, ">= 200", r[0] >= 200))
        for n in (100_000, 1_000_000):
            if r := ratio("threshold", family, n, f"{C_LOOP} / {CS}"):  # C's time over changesim's
                what = f"threshold, n=10^{round(math.log10(n))}: changesim / C"
                out.append((what, family, 1 / r[0], 1 / r[1], "<= 1.5", 1 / r[0] <= 1.5))
    for base, label in ((CS, f"all {CHANGE_STEPS} steps"), (CS_K, "the same first k steps")):
        if r := ratio("change", "organisation", 10_000, f"{REF_K} / {base}"):
            what = f"full model, n=10^4: reference / fast ({label})"
            out.append((what, "organisation", *r, ">= 100", r[0] >= 100))
    return out


TITLES = {
    "threshold": "Fractional linear threshold (deterministic: identical final sets checked)",
    "cascade": f"Independent cascade, p = {P_TRANSMIT} (stochastic: seed 0 for every tool)",
    "change": f"Full model (rule change), {CHANGE_STEPS} steps; the reference timed over the first k steps",
}
NAMES = [CS, CS_RUN, C_LOOP, REF, MESA, ND_T, ND_IC, EON, CS_K, REF_K]
BUILDS = ["network (changesim CSR)", "changesim initial state", "NetworkX graph"]


def report(rows: list[Row], dist: dict[str, list[dict]], info: dict[str, str], command: str,
           skipped: dict[str, str]) -> str:  # fmt: skip
    """The Markdown report: targets, then per rule and network: time per step, ratios, construction."""
    sizes = sorted({r.n_staff for r in rows if r.metric == "time_per_step"})
    md = ["# changesim against its peers", "", f"Command: `{command}`", "",
          "Medians of interleaved repeats after a warm-up round; every ratio comes from one run. A ratio is "
          "the tool's time per step over changesim's fast engine's, wall time first and CPU time in brackets "
          "(the machine is shared, so CPU time is the steadier of the two). `≈…*` = not measured: "
          "extrapolated linearly in size from the largest size measured, where one run would take too "
          "long (the CSV says from where and why); the Python tools grew faster than linearly from 1e5 to "
          "1e6 where they were measured, so these are likely lower bounds.", "", "## Set-up", "",
          f"- Networks: random graphs (`sim.org.random_graph`, mean degree {bench.MEAN_DEGREE:g}) and "
          "hierarchical organisations with teams (`sim.org.synthetic`, defaults: mean degree about 11); "
          "the Python tools read a NetworkX graph built from the same CSR (degrees checked).",
          f"- Seeds: 1% of staff at random (at least {N_SEEDS_MIN}), the same set for every tool. "
          f"Threshold rule: thresholds clip(N({THRESHOLD_MEAN}, {THRESHOLD_SD}), {THRESHOLD_MIN}, 1), "
          "every tool runs to the fixed point (the same number of steps), and NDlib's rule "
          "`float(k)/deg >= phi` with deg > 0 is changesim's with no threshold of 0. Cascade: "
          f"p = {P_TRANSMIT} on every tie, every tool runs until a step adds nobody.",
          f"- Full model: the calibrated configuration `CHANGE_CONFIG`, {CHANGE_STEPS} steps for the fast "
          f"engine; the reference engine (Mesa agents) over the first k = {REFERENCE_STEPS} steps, per "
          "step, and checked identical to the fast engine after those steps.",
          f"- Repeats: fast engines {FAST_REPEATS} timed rounds after one warm-up; Python tools as many "
          f"rounds as fit in {SLOW_BUDGET_S:g} s (at most {SLOW_ROUNDS}, the first a warm-up), skipped "
          f"where one run is estimated (linear in size x{GROWTH:g}) above {SKIP_OVER_S:g} s"
          + (" (--quick: 5 timed rounds, sizes 1e2 and 1e3)." if "--quick" in command else "."), "",
          "## Targets (reported, not asserted)", "",
          "| measure | network | wall | CPU | target | met |", "|---|---|---:|---:|---|---|"]  # fmt: skip
    if not targets(rows):
        md.append("| (the targets are at n = 10^4 to 10^6: run without --quick) | | | | | |")
    for what, family, wall, cpu, tgt, ok in targets(rows):
        md.append(f"| {what} | {family} | {bench._fmt(wall, 'x')} | {bench._fmt(cpu, 'x')} | {tgt} | "
                  f"{'yes' if ok else 'NO'} |")  # fmt: skip
    for rule, title in TITLES.items():
        for family in FAMILIES:
            if not _pick(rows, rule=rule, family=family, metric="time_per_step"):
                continue
            ratio_names = [f"{a} / {b}" for b in (CS, CS_K) for a in NAMES]
            md += ["", f"## {title}: {family} network", "", "Time per step (wall, median):", ""]
            md += _table(rows, rule, family, NAMES, sizes, _metric("time_per_step"))
            md += ["", "Time per step relative to changesim's fast engine, wall (CPU):", ""]
            md += _table(rows, rule, family, ratio_names, sizes, _ratio_cell)
            md += ["", "Construction, not part of the times above:", ""]
            md += _table(rows, rule, family, BUILDS + NAMES, sizes, _metric("build_time"))
            fast = _pick(rows, rule=rule, family=family, implementation=CS)
            done = {r.n_staff: r.value for r in fast if r.metric == "final_adopted"}
            steps = {r.n_staff: r.value for r in fast if r.metric == "steps"}
            pairs = "; ".join(f"n={n:,}: {done[n]:,.0f} / {steps[n]:.0f}" for n in sorted(done))
            md += ["", f"Adopted at the end / steps (changesim, seed 0): {pairs}."]
    if dist:
        md += ["", f"## Independent cascade: final-size distributions at n={DIST_N:,}", "",
               f"Each tool's mean final size against changesim's: |z| <= {Z:g} or the benchmark stops.", "",
               "| network | implementation | replicates | mean final size | SE | z vs changesim |",
               "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for family, table in dist.items():
            for d in table:
                z = "identical per seed" if d["implementation"] == REF else f"{d['z']:+.2f}"
                md.append(f"| {family} | {d['implementation']} | {d['replicates']} | {d['mean']:.1f} | "
                          f"{d['se']:.2f} | {z} |")  # fmt: skip
        md += ["", "The reference engine draws from the fast engine's counter-based stream, so it is checked "
               "seed by seed. EoN's `basic_discrete_SIR` runs the same process (each new infection gets one "
               "chance at each susceptible contact, then recovers) and is an anchor: EoN has no threshold "
               "model, and its epidemic code is not a tool for organisational change."]  # fmt: skip
    mem = [r for r in rows if r.metric == "peak_rss"]
    if mem:
        md += ["", f"## Peak memory at n={mem[0].n_staff:,} (one fresh process each, ru_maxrss)", "",
               "| implementation | rule | network | peak RSS | note |", "|---|---|---|---:|---|"]  # fmt: skip
        md += [f"| {r.implementation} | {r.rule} | {r.family} | {r.value:,.0f} MiB | {r.note} |" for r in mem]
    if skipped:
        md += ["", "## Tools not run", ""] + [f"- {k}: {v}" for k, v in skipped.items()]
    md += ["", "## Machine", ""] + [f"- **{k}**: {v}" for k, v in info.items()] + [""]
    return "\n".join(md)


def write(rows: list[Row], dist: dict[str, list[dict]], info: dict[str, str], out: Path, stem: str,
          command: str, skipped: dict[str, str]) -> None:  # fmt: skip
    """Write ``<stem>.csv`` (every row), ``<stem>.md`` (the report) and ``<stem>.png`` (the figure)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / f"{stem}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[f.name for f in fields(Row)])
        w.writeheader()
        for r in rows:
            w.writerow(asdict(r))
    (out / f"{stem}.md").write_text(report(rows, dist, info, command, skipped))
    figure(rows, out / f"{stem}.png")


STYLE = {CS: ("C0", "o", "-"), CS_RUN: ("C0", ".", ":"), C_LOOP: ("k", "s", "-"), REF: ("C1", "D", "-"),
         MESA: ("C2", "^", "-"), ND_T: ("C3", "v", "-"), ND_IC: ("C3", "v", "-"), EON: ("C4", "P", "-"),
         CS_K: ("C0", ".", ":"), REF_K: ("C1", "D", "-")}  # fmt: skip


def figure(rows: list[Row], path: Path) -> None:
    """Time per step against size, log-log, one line per tool; extrapolated points hollow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(rule, fam) for rule in TITLES for fam in FAMILIES
              if _pick(rows, rule=rule, family=fam, metric="time_per_step")]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.5))
    seen: dict[str, Any] = {}
    for ax, (rule, fam) in zip(axes.flat, panels, strict=False):
        for name, (color, marker, ls) in STYLE.items():
            pts = sorted(_pick(rows, rule=rule, family=fam, implementation=name, metric="time_per_step"),
                         key=lambda r: r.n_staff)  # fmt: skip
            if not pts:
                continue
            ax.plot([r.n_staff for r in pts], [r.value for r in pts], color=color, ls=ls, lw=1)
            for r in pts:
                ax.plot(
                    r.n_staff,
                    r.value,
                    marker=marker,
                    color=color,
                    ms=6,
                    mfc="white" if r.extrapolated else color,
                )
            label = name.replace("NDlib ThresholdModel", "NDlib").replace(
                "NDlib IndependentCascadesModel", "NDlib"
            )
            seen.setdefault(label, plt.Line2D([], [], color=color, marker=marker, ls=ls, label=label))
        ax.set(xscale="log", yscale="log", xlabel="staff (nodes)", ylabel="wall time per step (s)",
               title=f"{rule}, {fam} network")  # fmt: skip
        ax.grid(True, which="major", alpha=0.3)
    legend_ax = axes.flat[len(panels)] if len(panels) < 6 else None
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    hollow = plt.Line2D(
        [], [], color="grey", marker="o", mfc="white", ls="", label="extrapolated, not measured"
    )
    handles = [*seen.values(), hollow]
    if legend_ax is not None:
        legend_ax.legend(handles=handles, loc="center", frameon=False, fontsize=9,
                         title="NDlib = ThresholdModel / IndependentCascadesModel")  # fmt: skip
    else:
        fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle("changesim and its peers: time per step (median of interleaved repeats)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the tables and the figure."""
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1e2 and 1e3 only (about a minute)")
    ap.add_argument("--out", default="results/benchmark", help="output folder")
    a = ap.parse_args(argv)
    command = PROG + (" --quick" if a.quick else "") + f" --out {a.out}"
    warnings.filterwarnings("ignore", module="ndlib")
    load0, t_start = os.getloadavg()[0], time.perf_counter()
    versions = provenance()  # at the start: the code this process loaded
    sizes = QUICK_SIZES if a.quick else SIZES
    rows: list[Row] = []
    budget = Budget()
    with tempfile.TemporaryDirectory(prefix="changesim-peers-") as tmp_s:
        tmp = Path(tmp_s)
        lib = bench.compile_c(tmp)
        peers, skipped = available_peers(lib)
        for name, why in skipped.items():
            print(f"  {name} skipped: {why}")
        reps = {CS: 2000, REF: 10, ND_IC: 100, EON: 300, MESA: 60} if a.quick else \
            {CS: 4000, REF: 20, ND_IC: 300, EON: 1000, MESA: 200}  # fmt: skip
        checked = correctness_checks(DIST_N, lib, peers, reps)
        print(
            f"  correctness at n={DIST_N:,}: threshold sets identical {checked['threshold']}; cascade means "
            f"within {Z:g} SE; full model fast == reference over {checked['change']} steps",
            flush=True,
        )
        for family, build in FAMILIES.items():
            for n in sizes:
                t0 = time.perf_counter()
                org = build(n)
                dt_org = time.perf_counter() - t0
                for rule in ("threshold", "cascade") + (("change",) if family == "organisation" else ()):
                    rows.append(Row(rule, family, n, "network (changesim CSR)", "build_time", dt_org, "s",
                                    note=f"{org.n_ties:,} ties"))  # fmt: skip
                cache: dict[str, Any] = {}

                def graph(
                    org: Organisation = org, cache: dict = cache, family: str = family, n: int = n
                ) -> Any:
                    if "g" not in cache:
                        t0 = time.perf_counter()
                        cache["g"] = networkx_graph(org)
                        for rule in ("threshold", "cascade"):
                            rows.append(
                                Row(
                                    rule,
                                    family,
                                    n,
                                    "NetworkX graph",
                                    "build_time",
                                    time.perf_counter() - t0,
                                    "s",
                                    note="from changesim's CSR",
                                )
                            )
                    return cache["g"]

                fast = 5 if a.quick else FAST_REPEATS[n]
                for rule in ("threshold", "cascade"):
                    bench_case(rule, family, n, org, graph, lib, peers, budget, rows, fast)
                if family == "organisation":
                    bench_change(n, org, budget, rows, fast)
                del org, cache
        bench_memory(DIST_N if a.quick else MEMORY_N, peers, tmp, rows)
    info = bench.machine() | versions
    info["load average (1 min) at start / end"] = f"{load0:.2f} / {os.getloadavg()[0]:.2f}"
    info["benchmark wall time"] = f"{time.perf_counter() - t_start:.0f} s"
    stem = "peers_quick" if a.quick else "peers"
    write(rows, checked["cascade"], info, Path(a.out), stem, command, skipped)
    print(f"wrote {Path(a.out) / stem}.csv, .md and .png in {info['benchmark wall time']}")
    for what, family, wall, cpu, tgt, ok in targets(rows):
        print(
            f"  target {what} ({family}): {wall:,.2f}x wall, {cpu:,.2f}x CPU (target {tgt}): "
            f"{'met' if ok else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
