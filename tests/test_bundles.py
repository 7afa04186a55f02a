"""The kernels' typed bundles: declared once, in the declared dtypes, short signatures.

``sim.state`` declares the people's state (``STAFF_ATTRIBUTES``, ``TIE_ATTRIBUTES``), the
organisation's static arrays (``ORG_ARRAYS``) and the work spaces; the kernels take them
as named tuples. These tests fail when a declaration and a bundle drift apart, when a
batch row is not the replicate it names, or when a kernel grows a long positional list.
"""

from __future__ import annotations

import inspect
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from sim import from_dict
from sim.model import organisation_for
from sim.state import (
    ORG_ARRAYS,
    SCRATCH_ARRAYS,
    STAFF_ATTRIBUTES,
    TIE_ATTRIBUTES,
    OrgArrays,
    People,
    Scratch,
    initial_states,
    org_arrays,
    replicate,
    scratch,
    tie_pairs,
)

MAX_KERNEL_ARGS = 12


def test_people_fields_are_the_declared_attributes_in_their_dtypes() -> None:
    cfg = from_dict({"org": {"n_staff": 40}, "dynamics": {"rule": "change"}})
    org = organisation_for(cfg)
    people = initial_states(org, cfg, np.arange(3)).people()
    assert People._fields == tuple(a.name for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES), "People drifted"
    for a in STAFF_ATTRIBUTES:
        arr = getattr(people, a.name)
        assert arr.dtype == a.dtype and arr.shape == (3, 40), f"{a.name}: {arr.dtype} {arr.shape}"
    assert people.trust.shape == (3, len(org.indices) // 2), "trust: a row per replicate, a value per pair"


def test_org_arrays_have_the_declared_dtypes_and_pairs_join_both_directions() -> None:
    org = organisation_for(from_dict({"org": {"n_staff": 60}}))
    arrays = org_arrays(org)
    assert OrgArrays._fields == tuple(a.name for a in ORG_ARRAYS), "OrgArrays drifted"
    for a in ORG_ARRAYS:
        assert getattr(arrays, a.name).dtype == a.dtype, f"{a.name} is not {a.dtype}"
    src, dst = org.tie_sources().astype(np.int64), arrays.indices.astype(np.int64)
    pair, first = tie_pairs(org)
    pair = pair.astype(np.int64)
    lo, hi = src[first], dst[first]
    assert len(lo) * 2 == len(src), "every undirected tie is stored twice"
    # Both stored ties (i, j) and (j, i) name the pair {min, max}, and each pair twice.
    assert np.array_equal(lo[pair], np.minimum(src, dst)) and np.array_equal(hi[pair], np.maximum(src, dst))
    assert np.array_equal(np.bincount(pair), np.full(len(lo), 2))
    assert (lo < hi).all() and np.array_equal(np.lexsort((hi, lo)), np.arange(len(lo))), "pairs in CSR order"
    line = np.zeros(len(lo), bool)
    line[pair[org.tie_kind == 0]] = True
    assert np.array_equal(np.flatnonzero(line), arrays.line_pairs), "line_pairs are the line ties"
    # Erosion reads each line tie's two ends from line_lower and line_upper, in line_pairs order.
    assert np.array_equal(arrays.line_lower, lo[arrays.line_pairs]), "line_lower: lower ends"
    assert np.array_equal(arrays.line_upper, hi[arrays.line_pairs]), "line_upper: higher ends"


@njit(cache=False)
def _row_sum(people, r):
    p = replicate(people, r)
    return p.motivation.sum() + p.trust.sum() + p.state.sum()


def test_replicate_is_row_r_in_python_and_in_numba() -> None:
    cfg = from_dict({"org": {"n_staff": 30}, "dynamics": {"rule": "change"}})
    org = organisation_for(cfg)
    st = initial_states(org, cfg, np.arange(4))
    people = st.people()
    for r in range(4):
        row = replicate(people, r)
        assert np.array_equal(row.motivation, st.motivation[r]), "python replicate is row r"
        want = st.motivation[r].sum() + st.trust[r].sum() + st.state[r].sum()
        assert _row_sum(people, r) == want, "numba replicate is row r"
    shared = initial_states(org, cfg, np.arange(4), tie_rows=False).people()
    assert replicate(shared, 2).trust is shared.trust, "a shared (m,) tie array passes through"
    work = scratch(30, 4, n_pairs=7)
    assert Scratch._fields == tuple(a.name for a in SCRATCH_ARRAYS)
    assert replicate(work, 1).allowed.shape == (30,), "scratch rows are per replicate"
    assert replicate(work, 1).grows.shape == (7,), "a scratch row holds one value per undirected tie"


def test_no_kernel_takes_more_than_twelve_arguments() -> None:
    root = Path(__file__).resolve().parents[1] / "sim"
    modules = ["sim.engine"] + [f"sim.dynamics.{p.stem}" for p in sorted((root / "dynamics").glob("*.py"))]
    long = []
    for name in modules:
        mod = import_module(name)
        for fname, fn in vars(mod).items():
            py = getattr(fn, "py_func", None)
            if py is None or py.__module__ != name:
                continue
            n = len(inspect.signature(py).parameters)
            if n > MAX_KERNEL_ARGS:
                long.append(f"{name}.{fname} ({n})")
    assert not long, f"kernels with more than {MAX_KERNEL_ARGS} arguments: {long}"


@pytest.mark.parametrize("mode", ["none", "centralised", "distributed"])
def test_decide_gives_the_decision_rights_of_may_act(mode: str) -> None:
    """``adoption.decide`` splits ``power.may_act`` into two loops (one's own right for
    everyone, then the line manager's example where that fails); the rights it records
    must be ``may_act``'s, person by person, with some people relying on their manager.
    """
    from sim.dynamics import layout
    from sim.dynamics.adoption import decide
    from sim.dynamics.power import may_act

    cfg = from_dict(
        {
            "org": {"n_staff": 80},
            "dynamics": {"rule": "change"},
            "power": {"mode": mode, "agency_min": 0.5, "decision_level": 1},
            "seeding": {"n_seeds": 20},
        }
    )
    org = organisation_for(cfg)
    arrays = org_arrays(org)
    people = initial_states(org, cfg, np.arange(1)).row(0).people()
    work = scratch(org.n_staff, n_pairs=len(org.indices) // 2)
    par = layout.pack(cfg)
    decide(1, par, layout.stream_keys(np.arange(1))[0], arrays, people, work)
    args = (
        int(par[layout.POWER_MODE]),
        par[layout.DECISION_LEVEL],
        par[layout.EMPOWERMENT],
        par[layout.AGENCY_MIN],
    )
    want = [may_act(*args, i, arrays, people) for i in range(org.n_staff)]
    assert list(work.allowed == 1) == want, "decide's decision rights differ from may_act's"
    if mode != "none":
        assert not all(want), f"{mode}: everyone had a right, so the manager's example went untested"
