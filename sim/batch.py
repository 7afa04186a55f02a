"""Many runs on one prebuilt organisation: the fast entry for sweeps and inference loops.

``Runner`` validates a configuration and builds the organisation's kernel arrays once;
each ``run(seeds, values)`` then draws the initial states of all runs together and
advances them in parallel kernel calls (prange over runs), with no Mesa objects and no
Python per run. ``values`` sets configuration keys for one call: a scalar applies to
every run, an (R,) array gives each run its own value, so one call can carry one
parameter vector per run as an ABC or MCMC sampler proposes them. Run r equals
``sim.run`` with ``seeds[r]`` and run r's values (``tests/test_batch.py``).

>>> import numpy as np
>>> runner = Runner({"org": {"n_staff": 125}, "dynamics": {"rule": "change"}, "n_steps": 18})
>>> out = runner.run(np.arange(100), {"dynamics.p_spontaneous": np.linspace(0.0, 0.05, 100)})
>>> out.counts.shape  # (runs, steps + 1, groups, adoption states)
(100, 19, 1, 4)

Keys that shape the initial state (``INIT_KEYS``: people, seeding, co-design,
thresholds, power gradient) may vary per run too, but then the runs are initialised in
groups of equal values (one initialisation per distinct value), which is slower when
every run differs. The organisation, the rule and ``n_steps`` are fixed for a runner, and
so is its configuration (read once: change it per call with ``values``). A runner keeps
the arrays of its largest chunk of runs (``sim.memory.chunk_size``) between
calls, so a loop of calls allocates nothing per call.
"""

from __future__ import annotations

import copy
import time
from collections import namedtuple
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

from sim import initial, rng
from sim.constants import N_STATES
from sim.dynamics import change, layout
from sim.dynamics.contagion import Rule, rule_of
from sim.engine import simulate, simulate_batch
from sim.memory import check_fits, chunk_size, estimate_batch
from sim.metrics import group_matrix
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig, from_dict
from sim.state import (
    STAFF_ATTRIBUTES,
    TIE_ATTRIBUTES,
    State,
    n_pairs,
    org_arrays,
    replicate,
    scratch,
    tie_pairs,
)

INIT_KEYS = (
    "people.",
    "seeding.",
    "co_design.",
    "dynamics.threshold_mean",
    "dynamics.threshold_sd",
    "dynamics.threshold_kind",
    "dynamics.power_gradient",
)
"""Configuration keys (prefixes) that the initial state depends on (``sim.state.initial_states``)."""

FIXED_KEYS = ("org.", "org_seed", "n_steps", "dynamics.rule", "n_replicates", "seed")
"""Keys a runner cannot vary per call (build another ``Runner``)."""


@dataclass
class Runs:
    """What ``Runner.run`` returns (arrays with a leading run axis).

    Attributes:
        counts: (R, T+1, G, 4) int32 staff by step, group and adoption state.
        final_state: (R, n) uint8 adoption state at the end.
        t_adopted: (R, n) int32 step of the latest adoption (-1 never).
        extra: (R, T+1) series: mean_motivation, mean_belief (full model), mean_trust.
        timing: seconds in the parallel simulation kernels (``kernel``), in drawing the
            initial states (``initial_state``: parallel draws, allocation and Python) and
            in all (``total``).
    """

    counts: np.ndarray
    final_state: np.ndarray
    t_adopted: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)


def _check_range(cfg: ModelConfig, key: str, values: np.ndarray) -> None:
    """One-line ConfigError when a value of ``key`` is outside the range its field declares."""
    *path, last = key.split(".")
    node: Any = cfg
    for p in path:
        if not is_dataclass(node) or not hasattr(node, p):
            raise ConfigError(f"values key {key!r}: no group {p!r}")
        node = getattr(node, p)
    spec = {f.name: f for f in fields(node)} if is_dataclass(node) else {}
    if last not in spec:
        raise ConfigError(f"values key {key!r}: no key {last!r}")
    lo, hi = spec[last].metadata.get("range", (-np.inf, np.inf))
    bad = ~((values >= lo) & (values <= hi))  # NaN fails too
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ConfigError(f"values[{key!r}][{k}]={values[k]!r} is out of range; allowed: [{lo}, {hi}]")


def _set(cfg: ModelConfig, key: str, value: Any) -> None:
    *path, last = key.split(".")
    node: Any = cfg
    for p in path:
        if not hasattr(node, p):
            raise ConfigError(f"values key {key!r}: no group {p!r}")
        node = getattr(node, p)
    if not hasattr(node, last):
        raise ConfigError(f"values key {key!r}: no key {last!r}")
    old = getattr(node, last)
    setattr(node, last, type(old)(value) if isinstance(old, bool | int | float) else value)


class Runner:
    """One scenario family on one organisation, run many times (see the module docstring).

    A runner keeps its buffers between calls, so one runner is not for calls from several
    threads at once (``sim.run.run`` and ``run_batch`` lock the runners they keep).

    Args:
        config: ``ModelConfig`` or nested dict (validated once, here).
        org: the organisation (else built from ``config.org``).
        by_group: also count by level, profession and organisation.
        thresholds: (n,) explicit thresholds for every run.
        initial_adopters: explicit initial adopters for every run (indices or bool mask).
    """

    def __init__(
        self,
        config: ModelConfig | dict[str, Any] | None = None,
        org: Organisation | None = None,
        *,
        by_group: bool = False,
        thresholds: np.ndarray | None = None,
        initial_adopters: np.ndarray | None = None,
        validated: bool = False,
    ) -> None:
        from sim.io import build

        # ``validated``: config is a ModelConfig that from_dict has just returned (run_batch).
        self.cfg = config if validated and isinstance(config, ModelConfig) else from_dict(config)
        self.org = build(self.cfg.org, seed=max(self.cfg.org_seed, 0)) if org is None else org
        self.full_model = self.cfg.dynamics.rule == "change"
        # Per organisation, computed once and kept on it (Organisation.derived).
        self.groups, labels = self.org.derived(("groups", by_group), lambda: group_matrix(self.org, by_group))
        self.group_labels = list(labels)
        self.thresholds, self.initial_adopters = thresholds, initial_adopters
        self.arrays = (
            self.org.derived("org_arrays", lambda: org_arrays(self.org)) if self.full_model else None
        )
        self._work_cfg: ModelConfig | None = None
        self._rule = None if self.full_model else rule_of(self.cfg.dynamics)
        # Kernel parameters and initial-state inputs of the configuration as given (runs
        # that set no keys use them as they are: read once, here and on first use).
        self._params0 = layout.pack(self.cfg)[None, :] if self.full_model else np.array([self._rule[2:]])
        self._prepared0: tuple | None = None
        self._buf: tuple | None = None
        self._fill1: tuple | None = None  # (chunk, inputs, their initial.serial_fill) for _run_one
        self._chunks: dict[int, _Chunk] = {}
        self._slots: dict[str, int | None] = {}

    def _plan(self, values: dict[str, Any], r: int) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The varied keys, their distinct value rows (D, K) and each run's row index (R,)."""
        per_run = {}
        for key, v in values.items():
            if _is_fixed_key(key):
                raise ConfigError(f"values key {key!r} is fixed for a Runner; build another Runner")
            arr = np.asarray(v, dtype=np.float64)
            if arr.ndim == 0:
                arr = np.full(r, float(arr))
            elif arr.shape != (r,):
                raise ConfigError(f"values[{key!r}] must be a scalar or have shape ({r},), got {arr.shape}")
            _check_range(self.cfg, key, arr)
            per_run[key] = arr
        if not per_run:
            return [], np.zeros((1, 0)), np.zeros(r, np.int64)
        table = np.stack(list(per_run.values()), axis=1)
        rows, index = np.unique(table, axis=0, return_inverse=True)
        return list(per_run), rows, index.reshape(-1)

    def _slot_of(self, key: str) -> int | None:
        """The parameter slot that ``key`` sets verbatim (``pack`` copies it), else None."""
        if key not in self._slots:
            slot = layout.SLOT.get(key.split(".")[-1])
            if slot is not None:
                probe = copy.deepcopy(self.cfg)
                base = layout.pack(probe)
                for v in (0.125, 0.375):  # two values any rate or chance may take
                    try:
                        _set(probe, key, v)
                    except (TypeError, ValueError):
                        slot = None
                        break
                    par = layout.pack(probe)
                    changed = np.flatnonzero(par != base)
                    if par[slot] != v or set(changed) - {slot}:
                        slot = None
                        break
            self._slots[key] = slot
        return self._slots[key]

    def _configured(self, keys: list[str], row: np.ndarray) -> ModelConfig:
        """The runner's working configuration with ``keys`` set to ``row`` (mutated in place:
        a copy per distinct value would cost more than the run at calibration sizes).
        """
        if not keys:
            return self.cfg
        if self._work_cfg is None:
            self._work_cfg = copy.deepcopy(self.cfg)
        for key, v in zip(keys, row, strict=True):
            _set(self._work_cfg, key, v)
        return self._work_cfg

    def run(self, seeds: Any, values: dict[str, Any] | None = None, *, check_memory: bool = True) -> Runs:
        """Run once per seed; ``values`` sets keys for every run (scalar) or per run ((R,) array)."""
        return self._run(seeds, values, check_memory, None)

    def _run(self, seeds: Any, values: dict[str, Any] | None, check_memory: bool, params: Any) -> Runs:
        """``run``; ``params`` (with no ``values``): the kernel parameters to run with
        instead of the runner's own (``run_with``).
        """
        t_start = time.perf_counter()
        if type(seeds) is not np.ndarray or seeds.dtype != np.int64 or seeds.ndim != 1:
            seeds = np.atleast_1d(np.asarray(seeds, dtype=np.int64))
        r, n, t = len(seeds), self.org.n_staff, self.cfg.n_steps
        if seeds[0] < 0 if r == 1 else (seeds < 0).any():  # one seed: no array reduction (a small run's loop)
            raise ConfigError("seeds must be non-negative integers")
        if check_memory:
            check_fits(estimate_batch(self.cfg, self.org, r, len(self.group_labels)), "this batch")
        if r == 1 and not values and self._prepared0 is not None:
            return self._run_one(seeds, t_start, params)
        keys, rows, which = self._plan(values or {}, r)
        if keys:
            self._configured(keys, rows[0])  # fails early on an unknown key
        # Kernel parameters of each distinct value row (the full model's slot vector, or
        # the classic rule's chances).
        if not keys:
            params = self._params0 if params is None else params
        elif self.full_model and all(self._slot_of(key) is not None for key in keys):
            # Every varied key is one slot of the parameter vector: fill columns, no pack per row.
            params = np.tile(layout.pack(self._configured(keys, rows[0])), (len(rows), 1))
            for k, key in enumerate(keys):
                params[:, self._slot_of(key)] = rows[:, k]
        elif self.full_model:
            params = np.stack([layout.pack(self._configured(keys, row)) for row in rows])
        else:
            params = np.array([tuple(rule_of(self._configured(keys, row).dynamics))[2:] for row in rows])
        init_groups = [np.arange(r)] if not keys else _init_groups(keys, rows, which)
        counts = np.zeros((r, t + 1, len(self.group_labels), N_STATES), dtype=np.int32)
        final = np.empty((r, n), np.uint8)
        t_adopted = np.empty((r, n), np.int32)
        extra3 = np.empty((r, t + 1, 3))
        kernel_s = init_s = init_kernel_s = 0.0
        chunk = chunk_size(self.cfg, self.org, r)
        step = self._change if self.full_model else self._classic
        for members in init_groups:
            t0 = time.perf_counter()
            fixed = len(init_groups) == 1 and not any(_is_init_key(key) for key in keys)
            prepared = self._prepared0 if fixed else None
            if prepared is None:
                cfg0 = self._configured(keys, rows[which[members[0]]])
                prepared = self._prepare(cfg0)
                if fixed and self.thresholds is None and self.initial_adopters is None:
                    self._prepared0 = prepared  # the runner's own initial-state inputs, kept
            init_s += time.perf_counter() - t0
            for lo in range(0, len(members), chunk):
                t0 = time.perf_counter()
                idx = members[lo : lo + chunk]
                a, b = int(idx[0]), int(idx[-1]) + 1
                part = slice(a, b) if b - a == len(idx) else idx  # contiguous runs: views, not copies
                # A large contiguous chunk is drawn and run in the output rows themselves;
                # a small one in the runner's buffers (their bundles kept), then copied.
                in_place = type(part) is slice and len(idx) > _IN_PLACE_MIN
                ch = self._chunk(
                    len(idx), final[part] if in_place else None, t_adopted[part] if in_place else None
                )
                s = seeds[part]
                t1 = time.perf_counter()
                initial.fill(s, prepared[0], ch.st, ch.work, ch.means, people=ch.people)
                t2 = time.perf_counter()
                init_kernel_s += t2 - t1
                init_s += t2 - t0
                par = params if len(params) == len(idx) == 1 else params[which[idx]]
                kernel_s += step(ch, prepared, s, par, counts, extra3, idx)
                if not in_place:
                    final[part] = ch.st.state
                    t_adopted[part] = ch.st.t_adopted
        extra = {"mean_motivation": extra3[:, :, 0], "mean_trust": extra3[:, :, 2]}
        if self.full_model:
            extra["mean_belief"] = extra3[:, :, 1]
        timing = {"kernel": kernel_s, "initial_state": init_s, "initial_state_kernel": init_kernel_s,
                  "total": time.perf_counter() - t_start}  # fmt: skip
        return Runs(counts, final, t_adopted, extra, timing)

    @property
    def ready(self) -> bool:
        """Whether the runner keeps its own initial-state inputs (it has run once without
        varying a key, and with neither explicit thresholds nor initial adopters).
        """
        return self._prepared0 is not None

    def run_with(self, config: ModelConfig, seeds: np.ndarray) -> Runs:
        """The runs (one per seed) of ``config``, a validated configuration that differs from
        the runner's own in keys that neither fix a runner nor shape its initial states
        (``shapes_runner``) only: the runner's initial-state inputs and buffers, the kernel
        parameters of ``config``. The runs a new ``Runner(config)`` gives, without building
        one (``sim.run.run`` and ``run_batch`` in a loop over parameter values); the runner
        must have run once, and its own configuration is unchanged.
        """
        if not self.ready:
            raise ValueError("Runner.run_with: the runner has not yet run its own configuration")
        params = layout.pack(config)[None, :] if self.full_model else np.array([rule_of(config.dynamics)[2:]])
        return self._run(seeds, None, False, params)

    def _run_one(self, seeds: np.ndarray, t_start: float, params: np.ndarray | None = None) -> Runs:
        """One run of the runner's own configuration (its inputs kept from an earlier call),
        or of the kernel parameters ``params`` (``run_with``): the loop of ``run`` for a
        single run, without its bookkeeping (a loop of small runs).
        """
        t = self.cfg.n_steps
        counts = np.zeros((1, t + 1, len(self.group_labels), N_STATES), dtype=np.int32)
        extra3 = np.empty((1, t + 1, 3))
        ch = self._chunk(1, None, None)
        prepared = self._prepared0[0]
        if self._fill1 is None or self._fill1[0] is not ch or self._fill1[1] is not prepared:
            self._fill1 = (ch, prepared, initial.serial_fill(prepared, ch.st, ch.work, ch.means, ch.people))
        t0 = time.perf_counter()
        self._fill1[2](seeds)
        init_s = time.perf_counter() - t0
        step = self._change if self.full_model else self._classic
        par = self._params0 if params is None else params
        kernel_s = step(ch, self._prepared0, seeds, par, counts, extra3, _FIRST)
        extra = {"mean_motivation": extra3[:, :, 0], "mean_trust": extra3[:, :, 2]}
        if self.full_model:
            extra["mean_belief"] = extra3[:, :, 1]
        timing = {"kernel": kernel_s, "initial_state": init_s, "initial_state_kernel": init_s,
                  "total": time.perf_counter() - t_start}  # fmt: skip
        return Runs(counts, ch.st.state.copy(), ch.st.t_adopted.copy(), extra, timing)

    def _prepare(self, cfg: ModelConfig) -> tuple:
        """``sim.initial.prepare`` for ``cfg``, and the classic rules' tie weights."""
        prepared = initial.prepare(self.org, cfg, self.thresholds, self.initial_adopters,
                                   tie_rows=self.full_model, minimal=not self.full_model,
                                   means=not self.full_model)  # fmt: skip
        if self.full_model:
            return prepared, None
        # sim.engine.weights: shared trust times each contact's influence (exact products)
        inputs = prepared[2]
        return prepared, inputs.trust[tie_pairs(self.org)[0]] * inputs.influence[self.org.indices]

    def _chunk(self, rows: int, state: np.ndarray | None, t_adopted: np.ndarray | None) -> _Chunk:
        """State, bundles, work space and means of ``rows`` runs: views of buffers kept
        between chunks and calls (allocated once, for the largest chunk yet); ``state`` and
        ``t_adopted`` are the output rows themselves where given (no copy afterwards).
        """
        n, m = self.org.n_staff, n_pairs(self.org)
        if self._buf is None or len(self._buf[2]) < rows:
            work = scratch(n, rows, n_pairs=m) if self.full_model else ()
            self._buf = (initial.empty_state(n, m, rows, tie_rows=self.full_model), work, np.empty((rows, 3)))
            self._chunks = {}
        if state is None and rows in self._chunks:
            return self._chunks[rows]
        full, work, means = self._buf
        st = State.__new__(State)
        for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES:
            arr = getattr(full, a.name)
            setattr(st, a.name, arr[:rows] if arr.ndim == 2 else arr)
        if state is not None:
            st.state, st.t_adopted = state, t_adopted
        people, work = st.people(), type(work)(*(w[:rows] for w in work))
        ch = _Chunk(st, people, work, means[:rows], replicate(people, 0), replicate(work, 0) if work else ())
        if state is None:
            self._chunks[rows] = ch
        return ch

    def _change(self, ch, prepared, seeds, par, counts, extra3, idx) -> float:
        keys = rng.keys_table(seeds, _STREAMS)
        t = self.cfg.n_steps
        a, b = int(idx[0]), int(idx[-1]) + 1
        contiguous = b - a == len(idx)
        c = counts[a:b] if contiguous else np.zeros((len(idx),) + counts.shape[1:], np.int32)
        x = extra3[a:b] if contiguous else np.empty((len(idx),) + extra3.shape[1:])
        if len(seeds) == 1:  # serial: a parallel kernel leaves worker threads spinning
            args = (par[0], keys[0], self.arrays, ch.people1, ch.work1, t, self.groups, c[0], x[0])
            t0 = time.perf_counter()
            change.simulate_change(*args)
        else:
            t0 = time.perf_counter()
            change.simulate_change_batch(par, keys, self.arrays, ch.people, ch.work, t, self.groups, c, x)
        dt = time.perf_counter() - t0
        if not contiguous:
            counts[idx], extra3[idx] = c, x
        return dt

    def _classic(self, ch, prepared, seeds, chances, counts, extra3, idx) -> float:
        org, t = self.org, self.cfg.n_steps
        base = self._rule
        keys = rng.keys_table(seeds, _ADOPT)[:, 0]
        ties = (org.indptr, org.indices, prepared[1])
        a, b = int(idx[0]), int(idx[-1]) + 1
        contiguous = b - a == len(idx)
        c = counts[a:b] if contiguous else np.zeros((len(idx),) + counts.shape[1:], np.int32)
        if len(seeds) == 1:  # serial: a parallel kernel leaves worker threads spinning
            one = (
                base
                if chances is self._params0
                else Rule(base.rule, base.threshold_kind, *map(float, chances[0]))
            )
            t0 = time.perf_counter()
            simulate(*ties, ch.people1, one, keys[0], t, self.groups, c[0])
        else:
            rule = Rule(
                base.rule, base.threshold_kind, *(np.ascontiguousarray(chances[:, k]) for k in range(3))
            )
            t0 = time.perf_counter()
            simulate_batch(*ties, ch.people, rule, keys, t, self.groups, c)
        dt = time.perf_counter() - t0
        if not contiguous:
            counts[idx] = c
        # The classic rules leave motivation, belief and trust as they started.
        extra3[slice(a, b) if contiguous else idx] = ch.means[:, None, :]
        return dt


_Chunk = namedtuple("_Chunk", ["st", "people", "work", "means", "people1", "work1"])
_FIRST = np.zeros(1, np.int64)  # the run index of a single run
_IN_PLACE_MIN = 64  # runs per chunk from which drawing into the output rows beats a copy
_STREAMS = np.array(layout.KEY_PURPOSES, dtype=np.int64)
_ADOPT = np.array([rng.ADOPT], dtype=np.int64)


def _is_init_key(key: str) -> bool:
    return any(key.startswith(p) for p in INIT_KEYS)


def _is_fixed_key(key: str) -> bool:
    return any(key.startswith(f) if f.endswith(".") else key == f for f in FIXED_KEYS)


def shapes_runner(key: str) -> bool:
    """Whether a configuration key is fixed for a runner or shapes its initial states
    (``FIXED_KEYS``, ``INIT_KEYS``); every other key reaches the kernels only through
    their parameters (``layout.pack``, or a classic rule's chances), so two configurations
    that differ only in such keys can share a runner (``Runner.run_with``).
    """
    return _is_fixed_key(key) or _is_init_key(key)


def _init_groups(keys: list[str], rows: np.ndarray, which: np.ndarray) -> list[np.ndarray]:
    """Runs that can share one call of ``initial_states``: all of them unless a key in
    ``INIT_KEYS`` takes several values, else one group per distinct value row.
    """
    init_cols = [k for k, key in enumerate(keys) if _is_init_key(key)]
    if not init_cols or len(np.unique(rows[:, init_cols], axis=0)) == 1:
        return [np.arange(len(which))]
    return [np.flatnonzero(which == k) for k in range(len(rows))]
