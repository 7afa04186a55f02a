"""``record``, the counting behind every engine's time series, against a plain recount.

Both engines count through ``sim.dynamics.change.record``, so engine equivalence cannot
see a miscount in it. Here a random sequence of states (every state may change at any
step, as any phase may change one) is recorded step by step, and each step's counts must
equal ``np.add.at`` over (group, state) recomputed from scratch: with one group (the
vectorised path of ``by_group=False``) and with several group columns (the incremental
path), including a column that puts everyone in one group.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.dynamics.change import record
from sim.model import organisation_for
from sim.params import from_dict
from sim.state import People, Scratch, initial_states, n_pairs, scratch


def _recount(state: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    want = np.zeros((n_groups, 4), np.int32)
    for d in range(groups.shape[1]):
        np.add.at(want, (groups[:, d], state.astype(np.int64)), 1)
    return want


@pytest.mark.parametrize("layout", ["one group", "one group, two columns", "four columns"])
def test_record_counts_equal_a_recount_at_every_step(layout: str) -> None:
    cfg = from_dict({"org": {"n_staff": 203}, "dynamics": {"rule": "change"}})
    org = organisation_for(cfg)
    people = initial_states(org, cfg, np.array([5]), tie_rows=True).people()
    person: People = type(people)(*(a[0] if a.ndim > 1 else a for a in people))
    work: Scratch = scratch(org.n_staff, n_pairs=n_pairs(org))
    rng = np.random.default_rng(7)
    n = org.n_staff
    if layout == "one group":
        groups = np.zeros((n, 1), np.int64)
    elif layout == "one group, two columns":
        groups = np.zeros((n, 2), np.int64)
    else:
        groups = np.stack([np.zeros(n), rng.integers(1, 4, n), rng.integers(4, 9, n), np.full(n, 9)], 1)
        groups = groups.astype(np.int64)
    n_groups = int(groups.max()) + 1
    steps = 12
    counts = np.zeros((steps + 1, n_groups, 4), np.int32)
    extra = np.zeros((steps + 1, 3))
    for t in range(steps + 1):
        if t:  # a few people change state, to any state; at step 6 everyone does
            share = 1.0 if t == 6 else 0.1
            moved = rng.random(n) < share
            person.state[moved] = rng.integers(0, 4, moved.sum())
        record(t, person, work, groups, counts, extra)
        want = _recount(person.state, groups, n_groups)
        np.testing.assert_array_equal(counts[t], want, err_msg=f"step {t}")
    assert counts.sum(axis=(1, 2)).tolist() == [n * groups.shape[1]] * (steps + 1)
