"""Selections: the k people first in an order, without sorting everyone.

The initial state picks people twice (``sim.initial``): the co-design group and the
initial adopters, each the k first in the order (strategy key, random draw, index). The
reference (``sim.dynamics.co_design``, ``sim.seeding``) sorts everyone with stable sorts;
any exact method picks the same set, and these find it in O(n).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["diagonal_ranks", "first_k"]


@njit(cache=True)
def diagonal_ranks(ptr, members, tie, k, primary):
    """primary[i] = rank of i within its role cell by (tie[i], i), 0 for the first drawn,
    exactly where that rank is at most ``cap``, and cap + 1 elsewhere. ``cap`` is the rank
    of the k-th person in the order (rank, tie, index), found from the cell sizes alone:
    people of rank at most r number the sum over cells of min(size, r + 1). ``first_k``
    then picks the same k as with every rank exact (no one above cap is picked, and the
    k-th's rank is cap either way), in O(n): each cell keeps only its cap + 1 first draws,
    by insertion. Sorting every cell took a third of a 1,000-staff replicate's initial
    state on the speed benchmark's workload.
    """
    n_cells = len(ptr) - 1
    largest = 0
    for c in range(n_cells):
        largest = max(largest, ptr[c + 1] - ptr[c])
    cap = 0
    while cap < largest:
        total = 0
        for c in range(n_cells):
            total += min(ptr[c + 1] - ptr[c], cap + 1)
        if total >= k:
            break
        cap += 1
    primary[:] = cap + 1
    best = np.empty(cap + 1, np.int64)  # a cell's first draws so far, in (tie, index) order
    for c in range(n_cells):
        m = 0
        for q in range(ptr[c], ptr[c + 1]):  # members in index order: equal draws keep it
            i = members[q]
            pos = m
            while pos > 0 and tie[i] < tie[best[pos - 1]]:
                pos -= 1
            if pos > cap:
                continue
            for u in range(min(m, cap), pos, -1):
                best[u] = best[u - 1]
            best[pos] = i
            m = min(m + 1, cap + 1)
        for u in range(m):
            primary[best[u]] = u


HEAP_MAX_K = 32
"""``first_k`` keeps the k first in a heap up to this k, and partitions above it."""


@njit(cache=True, inline="always")
def _before(a, b, primary, tie, flat):
    """True where person a comes strictly before b in the order (primary, tie, index)."""
    pa = 0.0 if flat else primary[a]
    pb = 0.0 if flat else primary[b]
    if pa != pb:
        return pa < pb
    if tie[a] != tie[b]:
        return tie[a] < tie[b]
    return a < b


@njit(cache=True, inline="always")
def _sift_down(h, pos, k, primary, tie, flat):
    """Restore the max-heap h[0:k] (the last in the order at the root) below ``pos``."""
    while True:
        child = 2 * pos + 1
        if child >= k:
            return
        if child + 1 < k and _before(h[child], h[child + 1], primary, tie, flat):
            child += 1
        if not _before(h[pos], h[child], primary, tie, flat):
            return
        h[pos], h[child] = h[child], h[pos]
        pos = child


@njit(cache=True)
def _first_k_heap(primary, tie, k, out):
    """``first_k`` for small k: the k first so far in a max-heap whose root is the last of
    them; each later person is compared with the root once and replaces it only if they
    come before it. O(n log k) at worst, and about n comparisons on a random order (the
    root is displaced about k ln(n / k) times): 5x faster than partitioning for the
    initial adopters of a 1,000-person organisation. The order is strict (the index
    breaks ties), so the k chosen are the same set as sorting everyone would give.
    """
    n = len(tie)
    flat = len(primary) == 0
    h = np.empty(k, np.int64)
    for q in range(k):
        h[q] = q
    for pos in range(k // 2 - 1, -1, -1):
        _sift_down(h, pos, k, primary, tie, flat)
    for i in range(k, n):
        if _before(i, h[0], primary, tie, flat):
            h[0] = i
            _sift_down(h, 0, k, primary, tie, flat)
    for q in range(k):
        out[h[q]] = 1


@njit(cache=True)
def first_k(primary, tie, k, out):
    """out[i] = 1 for the k people first in the order (primary[i], tie[i], i); an empty
    ``primary`` orders by (tie, i) alone. Up to ``HEAP_MAX_K``, a heap of the k first
    (``_first_k_heap``, O(n log k)); above it O(n): the k-th primary key and, among those
    who share it, the k-th draw are found by ``np.partition``, not by sorting everyone.
    """
    n = len(tie)
    if k >= n:
        out[:] = 1
        return
    if k <= HEAP_MAX_K:
        _first_k_heap(primary, tie, k, out)
        return
    flat = len(primary) == 0
    p_star = 0.0 if flat else np.partition(primary, k - 1)[k - 1]
    need = k
    cand = np.empty(n)
    c = 0
    for i in range(n):
        p = 0.0 if flat else primary[i]
        if p < p_star:
            out[i] = 1
            need -= 1
        elif p == p_star:
            cand[c] = tie[i]
            c += 1
    v_star = np.partition(cand[:c], need - 1)[need - 1]
    for i in range(n):
        p = 0.0 if flat else primary[i]
        if p == p_star and tie[i] < v_star:
            out[i] = 1
            need -= 1
    for i in range(n):  # equal draws (vanishingly rare): lowest index first
        if need == 0:
            break
        p = 0.0 if flat else primary[i]
        if p == p_star and tie[i] == v_star:
            out[i] = 1
            need -= 1
