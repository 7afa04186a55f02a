"""``changesim calibrate``: fit the model to an observed diffusion, likelihood-free (ABC-SMC).

The simulator is changesim's own fast engine (``sim.run.run_batch``) on the observed
network, one step per observation period (a month for the Medical Innovation data),
nobody adopted at step 0 except those the data say were. Parameters named in the
calibration config get uniform priors; every other key is fixed at the config's value.
pyabc's ABC-SMC (Toni et al. 2009; Klinger, Rickert and Hasenauer 2018) accepts
parameters whose simulations come close to the data on three blocks of individual-level
statistics (``sim.analysis.calibrate_stats``): adoption curves per site, exposure at
adoption (Valente's network thresholds) and the hazard of adoption by exposure. The
distance is a weighted Euclidean norm, each statistic scaled by its spread in the last
generation (pyabc's adaptive distance), each block's weights summing to its config weight.

Exact likelihoods run alongside as a cross-check and baseline
(``sim.analysis.calibrate_hazard``). This module holds the specification, the simulator
and the fit; ``sim.analysis.calibrate_run`` writes the outputs and
``sim.analysis.calibrate_validate`` the leave-one-site-out validation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import rng
from sim.analysis import calibrate_hazard as hz
from sim.analysis.calibrate_stats import Network, summaries, summary_names, weighted_quantile
from sim.dynamics.contagion import rule_of
from sim.engine import simulate, weights
from sim.initial import draw_states
from sim.observed import ObservedDiffusion, medical_innovation_paths, read_observed
from sim.params import ConfigError, ModelConfig, from_dict
from sim.run import run_batch
from sim.state import N_STATES, replicate

BLOCKS: tuple[str, ...] = ("curve", "exposure", "hazard")
"""Blocks of summary statistics a distance can weigh."""


@dataclass
class DataSpec:
    """The observed diffusion (``sim.observed``)."""

    people: str | None = None  # people CSV; None = the committed Medical Innovation data
    ties: str | None = None  # ties CSV; None with people=None = the Medical Innovation ties
    n_steps: int | None = 17  # observation window in steps; None = the latest adoption
    tie_kinds: list[str] | None = None  # kinds of tie to use; None = all


@dataclass
class Budget:
    """How much simulation ABC-SMC may spend."""

    population: int = 500  # accepted particles per generation
    max_simulations: int = 12_000  # stop after a generation once this many simulations ran in total
    max_generations: int = 12  # at most this many generations
    min_epsilon: float = 0.0  # stop once the acceptance threshold falls below this
    n_predictive: int = 300  # posterior draws simulated for the predictive check and attribution


@dataclass
class CalibrationSpec:
    """One calibration: data, model, parameters with priors, statistics, budget."""

    data: DataSpec = field(default_factory=DataSpec)
    model: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, list[float]] = field(default_factory=dict)
    summaries: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BLOCKS, 1.0))
    covariates: list[str] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)
    quick_budget: Budget = field(
        default_factory=lambda: Budget(
            population=100, max_simulations=1500, max_generations=4, n_predictive=60
        )
    )
    quick: bool = False
    n_procs: int = 2
    seed: int = 0
    loo: bool = False
    loo_budget: Budget = field(default_factory=lambda: Budget(population=300, max_simulations=6000))
    n_draws: int = 400
    out: str | None = None
    name: str = "calibration"

    def active_budget(self) -> Budget:
        """The budget in force (``quick_budget`` in quick mode)."""
        return self.quick_budget if self.quick else self.budget

    def digest(self) -> str:
        """Hash of what defines the fit: data, model, priors, statistics, seed.

        Budgets are left out, so rerunning into the same folder with a larger budget
        resumes the database rather than refusing it.
        """
        d = asdict(self)
        for k in ("out", "loo", "n_procs", "loo_budget", "n_draws", "budget", "quick_budget", "quick"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{"dynamics": {"p_spontaneous": [0, 1]}} -> {"dynamics.p_spontaneous": [0, 1]}."""
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out |= _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    return out


def spec_from_dict(d: dict[str, Any]) -> CalibrationSpec:
    """A checked ``CalibrationSpec`` from a nested dict; unknown keys are named.

    ``parameters`` may be nested as in the YAML (``dynamics: {p_spontaneous: [0, 0.3]}``)
    or flat with dotted keys; it is stored flat.
    """
    d = dict(d)
    if "parameters" in d:
        d["parameters"] = _flatten(d["parameters"])
    spec = _build(CalibrationSpec, d, "")
    for block, w in spec.summaries.items():
        if block not in BLOCKS:
            raise ConfigError(f"summaries.{block} is not a block of statistics; choose from {list(BLOCKS)}")
        if not (isinstance(w, (int, float)) and w >= 0):
            raise ConfigError(f"summaries.{block}={w!r} must be a weight >= 0")
    if not any(w > 0 for w in spec.summaries.values()):
        raise ConfigError("summaries: at least one block needs a positive weight")
    if not spec.parameters:
        raise ConfigError(
            "parameters: name at least one model key to fit, e.g. dynamics.p_spontaneous: [0, 0.2]"
        )
    short = [k.split(".")[-1] for k in spec.parameters]
    if len(set(short)) != len(short):
        raise ConfigError(f"parameters {list(spec.parameters)}: the last parts of the keys must differ")
    base = from_dict(spec.model)
    for key, bounds in spec.parameters.items():
        if not (isinstance(bounds, (list, tuple)) and len(bounds) == 2 and bounds[0] < bounds[1]):
            raise ConfigError(
                f"parameters.{key}={bounds!r} must be a prior range [low, high] with low < high"
            )
        for v in bounds:
            from_dict(base, **{key: float(v)})  # the model's own range check names the key
    for b in (spec.budget, spec.quick_budget, spec.loo_budget):
        if (
            b.population < 10
            or b.max_simulations < b.population
            or b.max_generations < 1
            or b.n_predictive < 1
        ):
            raise ConfigError(
                f"budget {asdict(b)}: population >= 10, max_simulations >= population, "
                "max_generations >= 1 and n_predictive >= 1"
            )
    if spec.n_procs < 1:
        raise ConfigError(f"n_procs={spec.n_procs} must be at least 1")
    return spec


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for k, v in (data or {}).items():
        key = f"{prefix}{k}"
        if k not in known:
            raise ConfigError(f"unknown key {key!r}; allowed keys here: {sorted(known)}")
        f = known[k]
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        kwargs[k] = _build(type(default), v, f"{key}.") if is_dataclass(default) else v
    return cls(**kwargs)


def load_data(spec: CalibrationSpec) -> ObservedDiffusion:
    """Read the spec's data (the Medical Innovation files by default) and check covariates."""
    people, ties = spec.data.people, spec.data.ties
    if people is None:
        people, default_ties = medical_innovation_paths()
        ties = default_ties if ties is None else ties
    obs = read_observed(people, ties, n_steps=spec.data.n_steps, tie_kinds=spec.data.tie_kinds)
    missing = [c for c in spec.covariates if c not in obs.covariates.columns]
    if missing:
        raise ConfigError(
            f"covariates {missing} are not columns of {Path(str(people)).name}; "
            f"numeric columns there: {list(obs.covariates.columns)}"
        )
    return obs


class Simulator:
    """changesim on an observed network: parameters -> adoption steps of every person.

    The organisation and the fixed part of the configuration are built once. For the
    classic rules (threshold, bass, cascade) each call sets the fitted keys on one
    configuration object and calls the kernel exactly as ``sim.run.run_batch`` does
    (same initial state, same random streams; ``tests/test_calibrate.py`` holds the two
    to identical results), skipping the per-call validation that costs twice the
    simulation at this size. The full ``change`` rule goes through ``run_batch``.
    """

    def __init__(self, spec: CalibrationSpec, obs: ObservedDiffusion):
        base = {"seeding": {"strategy": "none", "n_seeds": 0}} | spec.model
        self.base: ModelConfig = from_dict(base, n_steps=obs.n_steps)
        self.cfg: ModelConfig = from_dict(self.base)  # mutated per call (fitted keys only)
        self.obs = obs
        self._groups: dict[int, np.ndarray] = {}

    def configure(self, values: dict[str, float]) -> ModelConfig:
        """The configuration with the fitted keys set (ranges were checked on the priors)."""
        for key, v in values.items():
            *path, last = key.split(".")
            node: Any = self.cfg
            for p in path:
                node = getattr(node, p)
            setattr(node, last, float(v))
        return self.cfg

    def run(
        self, values: dict[str, float], seeds: np.ndarray, obs: ObservedDiffusion | None = None
    ) -> np.ndarray:
        """(R, n) adoption steps (-1 = not adopted) for one parameter point, one run per seed."""
        o = self.obs if obs is None else obs
        first = np.flatnonzero(o.t_adopted == 0)
        initial = first if len(first) else None
        cfg = self.configure(values)
        seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
        if cfg.dynamics.rule == "change":
            res = run_batch(cfg, org=o.org, seeds=seeds, by_group=False, initial_adopters=initial)
            return res.t_adopted.astype(np.int64)
        rule = rule_of(cfg.dynamics)
        keys = rng.keys(seeds, rng.ADOPT)
        n = o.n_people
        groups = self._groups.setdefault(n, np.zeros((n, 1), dtype=np.int64))
        out = np.empty((len(seeds), n), dtype=np.int64)
        counts = np.zeros((o.n_steps + 1, 1, N_STATES), dtype=np.int32)
        # Every run's start in one kernel call (row r = sim.state.initial_states of seed r).
        st = draw_states(o.org, cfg, seeds, None, initial, tie_rows=False, minimal=True)
        ties = (o.org.indptr, o.org.indices, weights(o.org, st.row(0)))  # the same for every run
        people = st.people()
        for r in range(len(seeds)):
            counts[:] = 0
            simulate(*ties, replicate(people, r), rule, keys[r], o.n_steps, groups, counts)
            out[r] = st.t_adopted[r]
        return out


def flat_summaries(
    t_adopted: np.ndarray, net: Network, names: dict[str, list[str]], blocks: list[str]
) -> dict:
    """One replicate's statistics as a flat {name: value} dict (pyabc's format)."""
    s = summaries(t_adopted, net)
    return {n: float(v) for b in blocks for n, v in zip(names[b], s[b][0], strict=True)}


def fit_abc(
    spec: CalibrationSpec, obs: ObservedDiffusion, db: Path, budget: Budget, progress: bool = True
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Run (or resume) ABC-SMC; return the last generation (dotted keys + ``weight``) and run facts."""
    import pyabc

    sim = Simulator(spec, obs)
    net = Network.of(obs.org, obs.n_steps)
    names = summary_names(net, obs.site_names)
    blocks = [b for b in BLOCKS if spec.summaries.get(b, 0) > 0]
    short = {k.split(".")[-1]: k for k in spec.parameters}

    def model(par: dict) -> dict:
        seed = np.random.randint(0, 2**62)
        t = sim.run({short[k]: par[k] for k in short}, np.array([seed]))
        return flat_summaries(t[0], net, names, blocks)

    observed = flat_summaries(obs.t_adopted, net, names, blocks)
    fixed = {n: spec.summaries[b] / len(names[b]) for b in blocks for n in names[b]}
    distance = pyabc.AdaptivePNormDistance(
        p=2, scale_function=pyabc.distance.std, fixed_weights=fixed, max_scale_weight_ratio=100
    )
    prior = pyabc.Distribution(**{k: pyabc.RV("uniform", lo, hi - lo) for k, (lo, hi) in
                                  ((s, spec.parameters[d]) for s, d in short.items())})  # fmt: skip
    sampler = (
        pyabc.sampler.SingleCoreSampler()
        if spec.n_procs == 1
        else pyabc.sampler.MulticoreEvalParallelSampler(n_procs=spec.n_procs)
    )
    logging.getLogger("ABC").setLevel(logging.INFO if progress else logging.WARNING)
    for noisy in ("Sampler", "Epsilon", "Distance", "Acceptor", "ABC.Distance"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    np.random.seed(spec.seed)
    abc = pyabc.ABCSMC(model, prior, distance, population_size=budget.population, sampler=sampler)
    url = f"sqlite:///{db}"
    resumed = db.exists()
    done = 0
    if resumed:
        history = abc.load(url, 1)
        done = int(history.max_t) + 1
    else:
        abc.new(url, observed)
    t0 = time.perf_counter()
    # pyabc counts generations from where a resumed run stops, simulations from the start.
    left = budget.max_generations - done
    if left > 0 and (not resumed or history.total_nr_simulations < budget.max_simulations):
        history = abc.run(
            minimum_epsilon=budget.min_epsilon,
            max_nr_populations=left,
            max_total_nr_simulations=budget.max_simulations,
        )
    df, w = history.get_distribution(m=0, t=history.max_t)
    post = df.rename(columns=short).reset_index(drop=True)
    post["weight"] = np.asarray(w) / np.sum(w)
    facts = {
        "generations": int(history.max_t + 1),
        "total_simulations": int(history.total_nr_simulations),
        "final_epsilon": float(history.get_all_populations()["epsilon"].iloc[-1]),
        "seconds_this_run": round(time.perf_counter() - t0, 1),
        "resumed": resumed,
        "effective_sample_size": float(1.0 / np.sum(post["weight"] ** 2)),
    }
    return post, facts


def posterior_tables(post: pd.DataFrame, spec: CalibrationSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weighted summary (mean, sd, median, 95% interval, prior) and correlation of the posterior."""
    w = post["weight"].to_numpy()
    rows = []
    for key, (lo, hi) in spec.parameters.items():
        v = post[key].to_numpy()
        mean = float(np.sum(w * v))
        q = weighted_quantile(v, w, np.array([0.025, 0.05, 0.5, 0.95, 0.975]))
        rows.append({"parameter": key, "mean": mean, "sd": float(np.sqrt(np.sum(w * (v - mean) ** 2))),
                     "q2.5": q[0], "q5": q[1], "median": q[2], "q95": q[3], "q97.5": q[4],
                     "prior_lo": lo, "prior_hi": hi})  # fmt: skip
    keys = list(spec.parameters)
    x = post[keys].to_numpy()
    c = np.cov(x.T, aweights=w) if len(keys) > 1 else np.array([[np.var(x)]])
    sd = np.sqrt(np.diag(np.atleast_2d(c)))
    corr = np.atleast_2d(c) / np.outer(sd, sd)
    return pd.DataFrame(rows), pd.DataFrame(corr, index=keys, columns=keys).rename_axis("parameter")


def draw_posterior(
    post: pd.DataFrame, spec: CalibrationSpec, k: int, rng: np.random.Generator
) -> pd.DataFrame:
    """``k`` parameter points resampled from the weighted posterior."""
    idx = rng.choice(len(post), size=k, p=post["weight"].to_numpy())
    return post.iloc[idx][list(spec.parameters)].reset_index(drop=True)


def predict(sim: Simulator, draws: pd.DataFrame, obs: ObservedDiffusion, seed: int) -> np.ndarray:
    """(R, n) posterior-predictive adoption steps on ``obs``'s network, one run per draw."""
    out = np.empty((len(draws), obs.n_people), dtype=np.int64)
    for r, row in enumerate(draws.itertuples(index=False)):
        out[r] = sim.run(dict(zip(draws.columns, row, strict=True)), np.array([seed + r]), obs)[0]
    return out


def attribution(sim: Simulator, draws: pd.DataFrame, obs: ObservedDiffusion, seed: int) -> pd.DataFrame:
    """How much adoption the fitted model owes to contagion: the network switched off.

    For each posterior draw, the same seed runs on the observed network and on the same
    people with no ties (outside influence only). The contagion share is
    1 - adopted without ties / adopted with ties, by the end of the window.
    """
    alone = hz_without_ties(obs)
    with_net = (predict(sim, draws, obs, seed) >= 0).mean(axis=1)
    without = (predict(sim, draws, alone, seed) >= 0).mean(axis=1)
    share = 1.0 - without / np.maximum(with_net, 1e-12)
    rows = []
    for name, v in (("adopted_with_network", with_net), ("adopted_without_network", without),
                    ("contagion_share", share)):  # fmt: skip
        rows.append({"quantity": name, "mean": v.mean(), "q2.5": np.quantile(v, 0.025),
                     "median": np.median(v), "q97.5": np.quantile(v, 0.975)})  # fmt: skip
    return pd.DataFrame(rows)


def hz_without_ties(obs: ObservedDiffusion) -> ObservedDiffusion:
    """The same people with no ties at all (outside influence only)."""
    from sim.observed import build

    site_names = np.array(obs.site_names, dtype=object)
    return build(site_of=site_names[obs.site], person_id=obs.person_id, t_adopted=obs.t_adopted,
                 profession=obs.org.profession, covariates=obs.covariates, tie_from=np.zeros(0, np.int64),
                 tie_to=np.zeros(0, np.int64), tie_kind=np.zeros(0, dtype=object), n_steps=obs.n_steps,
                 sources=obs.sources)  # fmt: skip


def likelihood_table(obs: ObservedDiffusion, covariates: list[str]) -> pd.DataFrame:
    """The exact-likelihood fits: exposure-logit, external-only logit, changesim's Bass rule."""
    parts = []
    for label, fit in (
        ("exposure_logit", hz.fit_logit(obs, covariates, with_exposure=True)),
        ("external_only_logit", hz.fit_logit(obs, covariates, with_exposure=False)),
    ):
        t = fit.table()
        t.insert(0, "model", label)
        t["loglik"] = fit.loglik
        parts.append(t)
    b = hz.fit_bass_rule(obs)
    t = b.table()
    t.insert(0, "model", "changesim_bass_rule_mle")
    t["loglik"] = b.loglik
    parts.append(t)
    return pd.concat(parts, ignore_index=True)
