"""``sim.batch.Runner``: many runs on one organisation, one parameter vector per run.

Run r of a runner must be exactly ``sim.run`` with run r's seed and values (counts,
states, adoption steps), for the full model and a classic rule, whether the varied key
acts in the kernel (a chance) or in the initial state (a threshold mean), and whatever
the thread count. Bad values are refused with one line naming the key.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from sim import from_dict, run
from sim.batch import Runner
from sim.model import organisation_for
from sim.params import ConfigError

FULL = {
    "org": {"n_staff": 60},
    "n_steps": 15,
    "dynamics": {"rule": "change", "p_spontaneous": 0.01, "threshold_mean": 0.3},
    "mandate": {"on": True, "strength": 0.4, "end": 8},
    "relationships": {"trust_growth": 0.05, "trust_erosion": 0.02},
    "adaptation": {"p_test": 0.3},
    "leadership": {"tenure_years": 0.2},
    "power": {"mode": "distributed"},
}
BASS = {"org": {"n_staff": 60}, "n_steps": 15, "dynamics": {"rule": "bass", "p_spontaneous": 0.02}}
THRESHOLD = {"org": {"n_staff": 60}, "n_steps": 15, "dynamics": {"rule": "threshold", "threshold_sd": 0.1}}


def _same(runs, k, ref, what: str) -> None:
    assert np.array_equal(runs.counts[k], ref.counts[0]), f"{what}: counts of run {k} differ from run()"
    assert np.array_equal(runs.t_adopted[k], ref.t_adopted[0]), f"{what}: adoption steps of run {k} differ"
    for name, series in runs.extra.items():
        assert np.array_equal(series[k], ref.extra[name][0]), f"{what}: {name} of run {k} differs"


@pytest.mark.parametrize(
    ("base", "key", "values"),
    [
        (FULL, "dynamics.p_spontaneous", [0.0, 0.02, 0.05, 0.02, 0.1]),
        (FULL, "relationships.trust_growth", [0.0, 0.1, 0.3, 0.1, 0.05]),
        (FULL, "dynamics.threshold_mean", [0.1, 0.5, 0.9, 0.5, 0.2]),  # acts in the initial state
        (BASS, "dynamics.q_imitation", [0.0, 0.2, 0.6, 0.2, 0.9]),
        (THRESHOLD, "dynamics.threshold_mean", [0.05, 0.5, 0.9, 0.5, 0.2]),
    ],
)
def test_run_k_equals_run_with_its_seed_and_values(base: dict, key: str, values: list[float]) -> None:
    cfg = from_dict(base)
    org = organisation_for(cfg)
    seeds = np.array([5, 5, 5, 8, 9])  # runs 0-2: one seed, three values
    runs = Runner(cfg, org).run(seeds, {key: np.array(values)})
    group, name = key.split(".")
    for k, (s, v) in enumerate(zip(seeds, values, strict=True)):
        ref = run(base | {group: base.get(group, {}) | {name: v}}, org=org, seed=int(s), by_group=False)
        _same(runs, k, ref, f"{key}={v}")
    changed = not np.array_equal(runs.counts[0], runs.counts[2]) or any(
        not np.array_equal(x[0], x[2]) for x in runs.extra.values()
    )
    assert changed, f"{key} should change a run from one seed"


def test_scalar_values_and_thread_counts_give_the_same_runs() -> None:
    runner = Runner(FULL)
    seeds = np.arange(40)
    numba.set_num_threads(1)
    one = runner.run(seeds, {"dynamics.p_spontaneous": 0.02})
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    many = runner.run(seeds, {"dynamics.p_spontaneous": np.full(40, 0.02)})
    assert np.array_equal(one.counts, many.counts) and np.array_equal(one.t_adopted, many.t_adopted)
    assert 0.0 < many.timing["kernel"] <= many.timing["total"], "kernel time is part of the total"


def test_bad_values_are_refused_with_the_key_named() -> None:
    runner = Runner(FULL)
    with pytest.raises(ConfigError, match="dynamics.p_spontaneous"):
        runner.run(np.arange(3), {"dynamics.p_spontaneous": [0.1, 1.5, 0.2]})
    with pytest.raises(ConfigError, match="shape"):
        runner.run(np.arange(3), {"dynamics.p_spontaneous": [0.1, 0.2]})
    with pytest.raises(ConfigError, match="fixed for a Runner"):
        runner.run(np.arange(3), {"org.n_staff": 10})
    with pytest.raises(ConfigError, match="no key"):
        runner.run(np.arange(3), {"dynamics.p_spontanous": 0.1})


@pytest.mark.parametrize("seeds", [[-1], np.array([-1]), np.array([-1], np.int32), -1, [3, -1]])
def test_a_negative_seed_is_refused_before_any_run(seeds: object) -> None:
    """One seed or several, as a list, an int64 or another integer array: each way into
    ``Runner.run`` checks its seeds (the single-seed check takes a shortcut of its own)."""
    runner = Runner(FULL)
    runner.run([0])  # the runner keeps its inputs: a later single seed takes the small-run path
    with pytest.raises(ConfigError, match="non-negative"):
        runner.run(seeds)
