"""``mark_growing``, which keeps the trust phase's growth flags between steps, on its own.

The flags are rewritten only around people whose committed flag changed, checked 64 at a
time, so a mistake in the blocks (a block skipped, a tail left out) would leave a tie
growing after both its ends stopped, or not growing when one starts. Engine equivalence
cannot see that where both engines step the same flags, and the tiny organisations of
the exact tests have fewer than 64 people: here an organisation of 301 people (four
full blocks and a tail) goes through random states, and after every call the flags must
be the definition: 1 on a tie exactly where an end is committed.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.constants import COMMITTED
from sim.dynamics.relationships import mark_growing
from sim.model import organisation_for
from sim.params import from_dict
from sim.state import org_arrays, tie_pairs


@pytest.mark.parametrize("share", [0.01, 0.3, 1.0])
def test_growth_flags_equal_their_definition_after_every_change(share: float) -> None:
    org = organisation_for(from_dict({"org": {"n_staff": 301}}))
    arrays = org_arrays(org)
    pair, first = tie_pairs(org)
    lower, upper = org.tie_sources()[first], org.indices[first]
    n = org.n_staff
    rng = np.random.default_rng(3)
    state = np.zeros(n, np.uint8)
    committed = np.zeros(n)
    grows = np.zeros(len(first), np.uint8)
    for step in range(30):
        moved = rng.random(n) < share  # a few people, or many, change state
        state[moved] = rng.integers(0, 4, moved.sum())
        if step == 10:
            state[:] = COMMITTED
        mark_growing(state, committed, arrays.indptr, arrays.indices, arrays.pair, grows)
        on = state == COMMITTED
        want = (on[lower] | on[upper]).astype(np.uint8)
        np.testing.assert_array_equal(grows, want, err_msg=f"step {step}")
        np.testing.assert_array_equal(committed, on.astype(float))
