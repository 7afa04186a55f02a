"""``sim.initial.draw_states`` (the parallel kernel) equals ``sim.state.initial_states``
(the NumPy statement of how a replicate starts) bit for bit, row for row, for every
co-design rule, seeding strategy, explicit input and kind of organisation; its options
(shared ties, ``minimal``, ``means``, reused buffers, a zeroed work space) do what they
say; and a bad input is refused as the reference refuses it.
"""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest

from sim import from_dict
from sim.dynamics.change import state_means_rows
from sim.initial import FULL_ONLY, draw_states, empty_state
from sim.model import organisation_for
from sim.params import ConfigError
from sim.selection import HEAP_MAX_K, diagonal_ranks, first_k
from sim.state import STAFF_ATTRIBUTES, TIE_ATTRIBUTES, initial_states, scratch

SEEDS = np.array([0, 1, 7, 123456789, 2**62 + 5])
BASE = {"org": {"n_staff": 150}, "dynamics": {"rule": "change", "threshold_sd": 0.2}}
CASES = [
    {},
    {"dynamics": {"rule": "threshold"}},
    {"co_design": {"on": True, "rule": "diagonal", "share": 0.1}},
    {"co_design": {"on": True, "rule": "frontline", "share": 0.05, "voice": 0.0}},
    {"co_design": {"on": True, "rule": "volunteers", "share": 0.2, "patient_share": 0.3}},
    {"co_design": {"on": True, "rule": "board", "share": 0.03, "team_spread": 0.9}},
    {"co_design": {"on": True, "share": 1.0, "patient_share": 0.5, "patient_fit": 3.0}},
    {"change": {"compatibility": 0.4}, "co_design": {"on": True, "rule": "diagonal"}},
    {"change": {"compatibility": 0.2}},
    {"seeding": {"strategy": "top", "n_seeds": 7}},
    {"seeding": {"strategy": "frontline", "n_seeds": 12}},
    {"seeding": {"strategy": "motivation", "n_seeds": 5}, "co_design": {"on": True, "patient_share": 0.9}},
    {"seeding": {"strategy": "hubs", "n_seeds": 9}},
    {"seeding": {"strategy": "none"}},
    {"seeding": {"strategy": "random", "n_seeds": 150}},
    {"seeding": {"strategy": "random", "n_seeds": 0}},
    {"dynamics": {"threshold_kind": "count", "threshold_mean": 2.0, "threshold_sd": 1.5}},
    {"people": {"motivation_sd": 0.0, "courage_sd": 0.0, "belief_mean": 0.9, "belief_sd": 0.4}},
    {"dynamics": {"power_gradient": 2.0}, "people": {"authority_top": 0.9, "authority_frontline": 0.1}},
    {"org": {"kind": "ics", "n_staff": 200}, "co_design": {"on": True, "rule": "diagonal", "share": 0.08}},
    {"org": {"kind": "complete", "n_staff": 30}, "co_design": {"on": True, "rule": "frontline"}},
    {"org": {"kind": "random", "n_staff": 80}, "seeding": {"strategy": "hubs", "n_seeds": 4}},
    {"org": {"n_staff": 1}, "seeding": {"n_seeds": 1}, "co_design": {"on": True, "share": 1.0}},
    {"org": {"n_staff": 2}, "seeding": {"n_seeds": 1}},
]


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) else v
    return out


def _same_bits(fast, ref, skip=()) -> None:
    for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES:
        if a.name in skip:
            continue
        x, y = getattr(fast, a.name), getattr(ref, a.name)
        assert x.dtype == y.dtype and x.shape == y.shape, (
            f"{a.name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
        )
        assert x.tobytes() == y.tobytes(), f"{a.name} differs from the reference"


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_the_kernel_draws_the_reference_state_bit_for_bit(case: dict) -> None:
    cfg = from_dict(_merge(BASE, case))
    org = organisation_for(cfg)
    ref = initial_states(org, cfg, SEEDS)
    _same_bits(draw_states(org, cfg, SEEDS), ref)
    numba.set_num_threads(1)
    try:
        _same_bits(draw_states(org, cfg, SEEDS[::-1]), initial_states(org, cfg, SEEDS[::-1]))
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for k, s in enumerate(SEEDS):  # row k is the single run of its seed
        one = draw_states(org, cfg, SEEDS[k : k + 1])
        _same_bits(one, initial_states(org, cfg, np.array([s])))


def test_explicit_inputs_shared_ties_and_a_large_batch_match_the_reference() -> None:
    cfg = from_dict(_merge(BASE, {"co_design": {"on": True}}))
    org = organisation_for(cfg)
    g = np.random.default_rng(3)
    thresholds = g.uniform(0.0, 0.8, org.n_staff)
    for adopters in ([3, 9, 9, 40], np.arange(org.n_staff) % 11 == 0, []):
        ref = initial_states(org, cfg, SEEDS, thresholds, adopters, tie_rows=False)
        fast = draw_states(org, cfg, SEEDS, thresholds, adopters, tie_rows=False)
        assert fast.trust.shape == (len(org.indices) // 2,), "shared ties: one row, a value per pair"
        _same_bits(fast, ref)
    seeds = np.arange(300)  # past the size where the parallel kernel takes over
    _same_bits(draw_states(org, cfg, seeds), initial_states(org, cfg, seeds))


def test_minimal_means_buffers_and_work_space() -> None:
    cfg = from_dict(_merge(BASE, {"dynamics": {"rule": "threshold"}, "seeding": {"strategy": "motivation"}}))
    org = organisation_for(cfg)
    ref = initial_states(org, cfg, SEEDS, tie_rows=False)
    n, m, r = org.n_staff, len(org.indices) // 2, len(SEEDS)
    out = empty_state(n, m, r, tie_rows=False)
    for a in STAFF_ATTRIBUTES:  # garbage in reused buffers must not survive
        getattr(out, a.name)[:] = 99
    work = scratch(n, r, n_pairs=m)
    for arr in work:
        arr[:] = 1
    means = np.full((r, 3), -1.0)
    got = draw_states(org, cfg, SEEDS, tie_rows=False, out=out, work=work, means=means, minimal=True)
    assert got is out, "the state is written into the buffers given"
    _same_bits(got, ref, skip=FULL_ONLY)
    for name in FULL_ONLY:
        default = next(a.default for a in STAFF_ATTRIBUTES if a.name == name)
        assert (getattr(got, name) == default).all(), f"minimal leaves {name} at its default"
    assert all((arr == 0).all() for arr in work), "the work space is zeroed"
    want = np.empty((r, 3))
    state_means_rows(ref.motivation, ref.belief, ref.trust, want)
    assert want[:, [0, 2]].tobytes() == means[:, [0, 2]].tobytes(), "means are the reference's state_means"


def test_first_k_is_the_order_of_key_draw_and_index() -> None:
    g = np.random.default_rng(0)
    for _ in range(200):
        n = int(g.integers(1, 40))
        k = int(g.integers(1, n + 1))
        primary = g.integers(0, 4, n).astype(np.float64)
        tie = g.integers(0, 5, n) / 5.0  # many equal draws
        out = np.zeros(n, np.uint8)
        first_k(primary, tie, k, out)
        want = np.lexsort((np.arange(n), tie, primary))[:k]
        assert set(np.flatnonzero(out)) == set(want), "k first by (key, draw, index)"
        flat = np.zeros(n, np.uint8)
        first_k(np.empty(0), tie, k, flat)
        assert set(np.flatnonzero(flat)) == set(np.lexsort((np.arange(n), tie))[:k]), "by (draw, index)"


@pytest.mark.parametrize("order", ["random", "descending", "ascending", "few keys"])
def test_first_k_on_both_paths_heap_and_partition(order: str) -> None:
    """k up to ``HEAP_MAX_K`` keeps a heap, above it partitions: both against a full sort,
    on orders that make every later person displace the heap's root (descending) or none."""
    g = np.random.default_rng(2)
    n = 2000
    tie = g.integers(0, 50, n) / 50.0 if order == "few keys" else g.random(n)
    primary = {
        "random": g.random(n),
        "descending": -np.arange(n, dtype=float),
        "ascending": np.arange(n, dtype=float),
        "few keys": g.integers(0, 3, n).astype(float),
    }[order]
    for k in (1, 2, 10, HEAP_MAX_K - 1, HEAP_MAX_K, HEAP_MAX_K + 1, 300, n - 1):
        out = np.zeros(n, np.uint8)
        first_k(primary, tie, k, out)
        assert set(np.flatnonzero(out)) == set(np.lexsort((np.arange(n), tie, primary))[:k]), (order, k)
        flat = np.zeros(n, np.uint8)
        first_k(np.empty(0), tie, k, flat)
        assert set(np.flatnonzero(flat)) == set(np.lexsort((np.arange(n), tie))[:k]), (order, k)


def test_diagonal_picks_the_first_k_by_rank_in_cell_then_draw_and_index() -> None:
    """The diagonal rule's ranks, exact only up to the k-th pick's rank, pick the k people
    first by (rank within cell by (draw, index), draw, index), worked out here by sorting
    everyone; cells of every size, many equal draws, k from 1 to everyone."""
    g = np.random.default_rng(1)
    for _ in range(300):
        n = int(g.integers(1, 60))
        cell = g.integers(0, int(g.integers(1, 8)), n)
        k = int(g.integers(1, n + 1))
        tie = g.integers(0, 6, n) / 6.0
        by = np.lexsort((np.arange(n), tie, cell))  # cell, then draw, then index
        rank = np.empty(n)
        for c in np.unique(cell):
            rank[by[cell[by] == c]] = np.arange((cell == c).sum())
        want = set(np.lexsort((np.arange(n), tie, rank))[:k])
        members = np.argsort(cell, kind="stable").astype(np.int64)
        ptr = np.zeros(cell.max() + 2, np.int64)
        np.cumsum(np.bincount(cell, minlength=cell.max() + 1), out=ptr[1:])
        primary = np.full(n, -1.0)
        diagonal_ranks(ptr, members, tie, k, primary)
        out = np.zeros(n, np.uint8)
        first_k(primary, tie, k, out)
        assert set(np.flatnonzero(out)) == want, f"n={n}, k={k}"
        sizes = np.bincount(cell)
        cap = next(r for r in range(n + 1) if np.minimum(sizes, r + 1).sum() >= k or r + 1 >= sizes.max())
        assert np.array_equal(primary, np.minimum(rank, cap + 1)), "exact ranks up to the cap"


def test_bad_inputs_are_refused_like_the_reference() -> None:
    cfg = from_dict(_merge(BASE, {"seeding": {"n_seeds": 151}}))
    org = organisation_for(from_dict(BASE))
    for kwargs in ({}, {"thresholds": np.full(3, 0.1)}, {"initial_adopters": [0, 500]}):
        with pytest.raises(ConfigError) as want:
            initial_states(org, cfg, SEEDS, **kwargs)
        with pytest.raises(ConfigError) as got:
            draw_states(org, cfg, SEEDS, **kwargs)
        assert str(got.value) == str(want.value)


def test_organisations_read_from_a_chart_or_a_graph_match_the_reference() -> None:
    import networkx as nx

    from sim.chart import from_networkx
    from sim.io import from_csv

    root = Path(__file__).resolve().parents[1] / "sim" / "data"
    ics = from_csv(root / "example_ics.csv", ties=root / "example_ics_ties.csv")
    cases = ({"co_design": {"on": True, "share": 0.2}}, {"seeding": {"strategy": "hubs", "n_seeds": 3}})
    for org in (from_csv(root / "example_org.csv"), ics, from_networkx(nx.karate_club_graph())):
        for case in cases:
            cfg = from_dict(_merge(_merge(BASE, case), {"org": {"n_staff": org.n_staff}}))
            _same_bits(draw_states(org, cfg, SEEDS), initial_states(org, cfg, SEEDS))


def test_no_two_kernels_share_a_cache_entry() -> None:
    """Numba's disk cache keys a function by module, name and line, not by its options: a
    serial and a parallel build of one Python function would share one entry, and one of
    them would silently run the other's code (the parallel initial-state kernel ran serially).
    """
    from importlib import import_module

    from numba.core.registry import CPUDispatcher

    root = Path(__file__).resolve().parents[1] / "sim"
    names = [
        f"sim.{p.stem}" for p in sorted(root.glob("*.py")) if p.stem not in ("__init__", "__main__", "cli")
    ]
    names += [
        f"sim.dynamics.{p.stem}" for p in sorted((root / "dynamics").glob("*.py")) if p.stem != "__init__"
    ]
    seen: dict[tuple, object] = {}
    for name in names:
        for obj in vars(import_module(name)).values():
            if isinstance(obj, CPUDispatcher) and obj._cache.__class__.__name__ != "NullCache":
                f = obj.py_func
                key = (f.__module__, f.__qualname__, f.__code__.co_firstlineno)
                assert seen.setdefault(key, obj) is obj, f"{key} is built twice and cached once"


def test_serial_fill_draws_what_fill_draws() -> None:
    """The bound entry point of a loop of single runs (``sim.batch.Runner._run_one``) writes
    the same bits as ``fill``, seed after seed into reused buffers, and falls back to it for
    seeds it does not take."""
    from sim import initial

    for rule, tie_rows in (("threshold", False), ("change", True)):
        cfg = from_dict(_merge(BASE, {"dynamics": {"rule": rule}}))
        org = organisation_for(cfg)
        prepared = initial.prepare(
            org, cfg, None, None, tie_rows=tie_rows, minimal=not tie_rows, means=not tie_rows
        )
        n, m = org.n_staff, len(org.indices) // 2
        a, b = empty_state(n, m, 1, tie_rows=tie_rows), empty_state(n, m, 1, tie_rows=tie_rows)
        wa, wb = (scratch(n, 1, n_pairs=m), scratch(n, 1, n_pairs=m)) if tie_rows else (None, None)
        ma, mb = np.empty((1, 3)), np.empty((1, 3))
        one = initial.serial_fill(prepared, b, wb, mb, b.people())
        for seeds in (np.array([3]), np.array([7]), np.array([[11]]), np.array([3])):
            initial.fill(seeds.ravel(), prepared, a, wa, ma, people=a.people())
            one(seeds.ravel() if seeds.ndim == 2 else seeds)
            for attr in STAFF_ATTRIBUTES + TIE_ATTRIBUTES:
                x, y = getattr(a, attr.name), getattr(b, attr.name)
                assert x.tobytes() == y.tobytes(), f"{rule}: {attr.name} differs for seed {seeds}"
            assert ma.tobytes() == mb.tobytes()
        one(np.array([5], dtype=np.int32))  # not int64: through fill, as before
        initial.fill(np.array([5]), prepared, a, wa, ma, people=a.people())
        assert a.state.tobytes() == b.state.tobytes()
