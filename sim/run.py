"""The Python API: run one configuration for one seed or a batch of replicates.

>>> from sim import run_batch
>>> res = run_batch({"org": {"n_staff": 300}, "n_steps": 52}, n_replicates=4)
>>> res.summary[["seed", "final_frac_adopted"]].shape
(4, 2)

``run`` and ``run_batch`` take the same keys as the Hydra configs (a ``ModelConfig`` or
a nested dict), an optional organisation (generated, from ``sim.io.from_csv``, or
``sim.io.from_networkx``), and return a ``Result`` whose tables carry their
configuration and seeds. Replicate k of a batch is identical to ``run`` with that
replicate's seed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import rng
from sim.batch import Runner, shapes_runner
from sim.constants import COMMITTED, COMPLYING
from sim.memory import check_fits, estimate_batch, estimate_config
from sim.metrics import group_matrix, summary, timeseries
from sim.model import ENGINES, ChangeModel, organisation_for
from sim.org import Organisation
from sim.params import FINGERPRINT_KEYS, ConfigError, ModelConfig, content_key, copy_config, shared
from sim.provenance import provenance
from sim.provenance import write as write_provenance
from sim.state import N_STATES
from sim.validate import check_seeds


class _Shared:
    """A configuration that ``sim.params.shared`` keeps and hands to every run of its
    content: a result holding one copies it when its ``config`` is first read.
    """

    __slots__ = ("cfg",)

    def __init__(self, cfg: ModelConfig) -> None:
        self.cfg = cfg


class _OwnConfig:
    """``Result.config``, the result's own copy of the validated configuration. A single
    run of a configuration ``sim.params`` keeps is given that shared object (``_Shared``)
    and copies it here on first read: the copy costs about a tenth of a 100-staff run,
    and a loop of runs rarely reads it. A data descriptor with no class-level value, so
    ``config`` stays a required field of the dataclass.
    """

    def __get__(self, obj: Any, owner: type | None = None) -> ModelConfig:
        if obj is None:
            raise AttributeError("config")
        cfg = obj.__dict__["_config"]
        if type(cfg) is _Shared:
            cfg = obj.__dict__["_config"] = copy_config(cfg.cfg)
        return cfg

    def __set__(self, obj: Any, value: ModelConfig) -> None:
        obj.__dict__["_config"] = value


@dataclass
class Result:
    """The outcome of a run or batch, with everything needed to reproduce it.

    Attributes:
        config: the validated configuration.
        seeds: (R,) seed of each replicate.
        engine: ``kernel`` or ``agents``.
        org: the organisation.
        counts: (R, T+1, G, 4) staff by step, group and adoption state.
        group_labels: (dimension, group) of each group index.
        final_state: (R, n) uint8 adoption state at the end.
        t_adopted: (R, n) int32 step of the latest adoption (-1 never).
        extra: per-(replicate, step) series such as mean motivation and trust.
        timing: seconds in the parallel kernels (``kernel``) and in all of ``run_batch``
            (``total``, including building the organisation when it was not given).
    """

    config: ModelConfig = _OwnConfig()  # type: ignore[assignment]  # required: see _OwnConfig
    seeds: np.ndarray
    engine: str
    org: Organisation
    counts: np.ndarray
    group_labels: list[tuple[str, str]]
    final_state: np.ndarray
    t_adopted: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """Tidy time series (see ``sim.metrics.timeseries``)."""
        df = timeseries(self.counts, self.group_labels, self.seeds, self.extra)
        df.attrs["provenance"] = self.provenance
        return df

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per replicate (see ``sim.metrics.summary``)."""
        df = summary(self.counts, self.seeds, self.config)
        df.attrs["provenance"] = self.provenance
        return df

    @property
    def frac_adopted(self) -> np.ndarray:
        """(R, T+1) share of all staff complying or committed."""
        c = self.counts[:, :, 0, :]
        return (c[:, :, COMPLYING] + c[:, :, COMMITTED]) / c[:, :1, :].sum(axis=2)

    @cached_property
    def provenance(self) -> dict[str, Any]:
        """Configuration, seeds, engine, code version and machine, as plain data (``sim.provenance``)."""
        return provenance(
            config=self.config.to_dict(),
            seeds=[int(s) for s in self.seeds],
            engine=self.engine,
            organisation=self.org.summary(),
        )

    def save(self, folder: str | Path, fmt: str = "parquet") -> dict[str, Path]:
        """Write timeseries, summary and provenance into ``folder``.

        Each file is written to a temporary name and renamed, so a partial file is never
        mistaken for a complete one.

        Args:
            folder: output folder (created).
            fmt: ``parquet`` or ``csv``.
        """
        if fmt not in ("parquet", "csv"):
            raise ConfigError(f"output format {fmt!r} is not one of ['parquet', 'csv']")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, df in (("timeseries", self.timeseries), ("summary", self.summary)):
            path = folder / f"{name}.{fmt}"
            tmp = path.with_name(path.name + ".tmp")
            if fmt == "parquet":
                df.to_parquet(tmp, index=False)
            else:
                df.to_csv(tmp, index=False)
            tmp.replace(path)
            paths[name] = path
        paths["provenance"] = write_provenance(folder / "provenance.json", self.provenance)
        return paths


_CHUNK = 256
_RUNNERS: OrderedDict = OrderedDict()
_RUNNERS_MAX = 16
_RUNNERS_STAFF = 20_000  # staff x runs: larger calls keep no runner (their fixed costs are small beside them)
_FAMILIES: OrderedDict = OrderedDict()
"""A kept runner for each family of configurations: equal in every key that fixes a
runner or shapes its initial states (``sim.batch.shapes_runner``), whatever their kernel
parameters. Entries as ``_RUNNERS``'s: (runner, memory estimate, organisation identity)."""
_RUN_LOCK = threading.Lock()
"""Held by a call of ``_run_kept`` while it reads the two tables and runs on a kept runner's
buffers: calls from several threads run one at a time (the kernels hold the GIL, so they
would gain nothing by overlapping). A lock per runner was not enough: with one, the full
suite under load gave a threaded run different numbers from the same run made alone (about
1 run in 6 of the suite; ``tests/test_small_runs.py``), for a reason not found."""
_FAMILY_OF = itemgetter(*(k for k, key in enumerate(FINGERPRINT_KEYS) if shapes_runner(key)))


def _family(key: Any) -> tuple:
    """The part of a configuration's content key (values and their types) that a runner's
    family shares.
    """
    vals, types = key
    return _FAMILY_OF(vals), _FAMILY_OF(types)


def _estimate(cfg: ModelConfig, org: Organisation, runs: int) -> dict[str, int]:
    """The memory estimate of ``runs`` runs of ``cfg`` on ``org``, counts by every group."""
    return estimate_batch(cfg, org, runs, 1 + org.n_levels + 7 + len(org.org_names))


def _run_kept(cfg: ModelConfig, key: Any, org: Organisation, seeds: np.ndarray, by_group: bool) -> Result:
    """The runs (one per seed) of a configuration that ``sim.params.shared`` keeps (``cfg``,
    never changed: the runner and the result take copies), on a given organisation, up to
    ``_RUNNERS_STAFF`` staff x runs. The ``Runner`` and the memory estimate of (organisation,
    configuration, grouping) are kept from an earlier such run (a few kept, least recently
    used dropped): a loop of small runs pays its fixed costs once, and no large
    organisation is held after its run. A configuration new to ``_RUNNERS`` runs on the
    kept runner of its family (``_FAMILIES``) where one has run. Calls run one at a time
    (``_RUN_LOCK``).
    """
    t_start = time.perf_counter()
    k = (id(org), key, by_group)
    with _RUN_LOCK:
        got = _kept_runs(_RUNNERS, k, org, cfg, seeds)
        if got is None:  # a family's key only where the configuration's own runner is not kept
            fam = (id(org), _family(key), by_group)
            got = _kept_runs(_FAMILIES, fam, org, cfg, seeds)
        if got is None:  # new, or an array of the organisation was replaced since (its runners are stale)
            parts = _estimate(cfg, org, 1)
            check_fits(parts if len(seeds) == 1 else _estimate(cfg, org, len(seeds)), "this batch")
            runner = Runner(copy_config(cfg), org, by_group=by_group, validated=True)
            for kept, entry in ((_RUNNERS, k), (_FAMILIES, fam)):
                kept[entry] = (runner, parts, org.identity())
                kept.move_to_end(entry)
                if len(kept) > _RUNNERS_MAX:
                    kept.popitem(last=False)
            got = runner, runner.run(seeds, check_memory=False)
    return _result(_Shared(cfg), seeds, org, got[0], got[1], t_start)


def _kept_runs(table: OrderedDict, entry: tuple, org: Organisation, cfg: ModelConfig,
               seeds: np.ndarray) -> tuple[Runner, Any] | None:  # fmt: skip
    """(runner, runs) of ``cfg`` on the runner kept in ``table`` (``_RUNNERS``: its own
    configuration; ``_FAMILIES``: ``Runner.run_with``), or None where there is none to use:
    none kept, an array of the organisation replaced since, or a family's runner that has
    not run. Called under ``_RUN_LOCK``.
    """
    hit = table.get(entry)
    if hit is None:
        return None
    table.move_to_end(entry)
    runner, parts, identity = hit
    own = table is _RUNNERS
    if runner.org is not org or not org.same_identity(identity) or not (own or runner.ready):
        return None
    check_fits(parts if len(seeds) == 1 else _estimate(cfg, org, len(seeds)), "this batch")
    return runner, (runner.run(seeds, check_memory=False) if own else runner.run_with(cfg, seeds))


def _result(cfg: ModelConfig | _Shared, seeds: np.ndarray, org: Organisation, runner: Runner, runs: Any,
            t_start: float) -> Result:  # fmt: skip
    """The ``Result`` of a ``Runner``'s runs."""
    extra = {"mean_motivation": runs.extra["mean_motivation"], "mean_trust": runs.extra["mean_trust"]}
    if "mean_belief" in runs.extra:
        extra["mean_belief"] = runs.extra["mean_belief"]
    return Result(config=cfg, seeds=seeds, engine="kernel", org=org, counts=runs.counts,  # type: ignore[arg-type]
                  group_labels=list(runner.group_labels), final_state=runs.final_state,
                  t_adopted=runs.t_adopted, extra=extra,
                  timing=runs.timing | {"total": time.perf_counter() - t_start})  # fmt: skip


def _seeds(cfg: ModelConfig, seeds: Any, n_replicates: int | None) -> np.ndarray:
    if seeds is not None:
        return check_seeds(seeds)
    r = cfg.n_replicates if n_replicates is None else int(n_replicates)
    if r < 1:
        raise ConfigError(f"n_replicates={r} must be at least 1")
    return rng.replicate_seeds(cfg.seed, r)


def run(
    config: ModelConfig | dict[str, Any] | None = None,
    *,
    org: Organisation | None = None,
    seed: int | None = None,
    engine: str = "kernel",
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
    by_group: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Result:
    """Run one replicate.

    Called in a loop on one organisation (``org`` given, up to 20,000 staff), ``run`` (and
    ``run_batch``, up to 20,000 staff x runs) keeps what the calls can share: the runner
    of each configuration, and for a configuration that differs from a kept one only in
    kernel parameters (keys outside ``sim.batch.INIT_KEYS`` and ``FIXED_KEYS``), that
    runner's initial-state inputs and buffers (``Runner.run_with``); each run equals a
    fresh one. Many runs at once: ``sim.batch.Runner.run`` with ``values``.

    Args:
        config: ``ModelConfig`` or nested dict with the configs' keys.
        org: organisation to use (else built from ``config.org``).
        seed: the replicate's seed (else ``config.seed``).
        engine: ``kernel`` (Numba) or ``agents`` (Mesa agents, the reference).
        thresholds: (n,) explicit per-person thresholds.
        initial_adopters: explicit initial adopters (indices or bool mask).
        by_group: also record counts by level, profession and organisation.
        overrides: dotted-key overrides, e.g. ``{"dynamics.rule": "bass"}``.
    """
    cfg, key = shared(config, overrides or {})
    s = cfg.seed if seed is None else int(seed)
    if s < 0:
        raise ConfigError("seeds must be non-negative integers")
    seeds = np.array([s], dtype=np.int64)
    return _dispatch(cfg, key, org, seeds, engine, thresholds, initial_adopters, by_group)


def _dispatch(
    cfg: ModelConfig,
    key: Any,
    org: Organisation | None,
    seeds: np.ndarray,
    engine: str,
    thresholds: np.ndarray | None,
    initial_adopters: np.ndarray | None,
    by_group: bool,
) -> Result:
    """``run`` and ``run_batch`` after validation (``cfg``, ``key`` from ``shared``): small
    runs of the fast engine on a given organisation go through the kept runners
    (``_run_kept``), the rest through ``_run_batch``.
    """
    fresh = key is None  # validated afresh (a dict, overrides, or a warning): the result's own
    if (engine == "kernel" and org is not None and thresholds is None and initial_adopters is None
            and len(seeds) * org.n_staff <= _RUNNERS_STAFF):  # fmt: skip
        if fresh:  # its runner may still be kept: known by its content from here on
            key = content_key(cfg)
        if key is not None:
            return _run_kept(cfg, key, org, seeds, by_group)
    return _run_batch(cfg if fresh else copy_config(cfg), org, seeds, engine, thresholds, initial_adopters,
                      by_group)  # fmt: skip


def run_batch(
    config: ModelConfig | dict[str, Any] | None = None,
    *,
    org: Organisation | None = None,
    seeds: Any = None,
    n_replicates: int | None = None,
    engine: str = "kernel",
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
    by_group: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Result:
    """Run many replicates of one scenario on the fast path (parallel over replicates).

    Args:
        seeds: explicit replicate seeds; else ``rng.replicate_seeds(config.seed, n_replicates)``
            (replicate 0 is the seed itself, the others hashed from (seed, k)).
        n_replicates: number of replicates (else ``config.n_replicates``).
        Other arguments as ``run``; ``thresholds`` and ``initial_adopters`` apply to
        every replicate.
    """
    cfg, key = shared(config, overrides or {})
    seed_arr = _seeds(cfg, seeds, n_replicates)
    return _dispatch(cfg, key, org, seed_arr, engine, thresholds, initial_adopters, by_group)


def _run_batch(
    cfg: ModelConfig,
    org: Organisation | None,
    seed_arr: np.ndarray,
    engine: str,
    thresholds: np.ndarray | None,
    initial_adopters: np.ndarray | None,
    by_group: bool,
) -> Result:
    """``run_batch`` on a validated configuration, the result's own (validated once: it
    costs more than a small run).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine={engine!r} is not one of {list(ENGINES)}")
    t_start = time.perf_counter()
    if org is None:
        check_fits(estimate_config(cfg, len(seed_arr), by_group, timeseries=False), "this batch")
        org = organisation_for(cfg)
    else:
        check_fits(estimate_batch(cfg, org, len(seed_arr), 1 + org.n_levels + 7 + len(org.org_names)),
                   "this batch")  # fmt: skip
    timing: dict[str, float] = {}
    n, t = org.n_staff, cfg.n_steps
    r = len(seed_arr)
    if engine == "kernel":
        runner = Runner(cfg, org, by_group=by_group, thresholds=thresholds, initial_adopters=initial_adopters,
                        validated=True)  # fmt: skip
        return _result(cfg, seed_arr, org, runner, runner.run(seed_arr, check_memory=False), t_start)
    groups, labels = group_matrix(org, by_group)
    counts = np.zeros((r, t + 1, len(labels), N_STATES), dtype=np.int32)
    motivation = np.empty((r, t + 1))
    trust = np.empty((r, t + 1))

    extra_belief = np.empty((r, t + 1)) if cfg.dynamics.rule == "change" else None
    final = np.empty((r, n), np.uint8)
    t_adopted = np.empty((r, n), np.int32)
    for k, s in enumerate(seed_arr):  # the reference engine, agent by agent
        model = ChangeModel(
            cfg,
            org=org,
            seed=int(s),
            engine="agents",
            thresholds=thresholds,
            initial_adopters=initial_adopters,
            by_group=by_group,
        )
        for _ in range(t):
            model.step()
        counts[k] = model.counts
        final[k] = model.state.state
        t_adopted[k] = model.state.t_adopted
        means = model.means
        motivation[k], trust[k] = means[:, 0], means[:, 2]
        if extra_belief is not None:
            extra_belief[k] = means[:, 1]
    return Result(
        config=cfg,
        seeds=seed_arr,
        engine=engine,
        org=org,
        counts=counts,
        group_labels=labels,
        final_state=final,
        t_adopted=t_adopted,
        extra={"mean_motivation": motivation, "mean_trust": trust}
        | ({} if extra_belief is None else {"mean_belief": extra_belief}),
        timing=timing | {"total": time.perf_counter() - t_start},
    )
