"""Co-produce in authentic relationship: trust-weighted influence and trust dynamics.

Sources: IHI (2018); Centola and Macy (2007) and Centola (2010): behaviour that needs
reinforcement spreads through clustered, strong ties (54% vs 38% adoption in clustered vs
random networks); Fitzgerald et al. (2013): good prior relationships underpin
distributed change leadership. Trust rules (growth with joint work, erosion under
unilateral directives) are our assumption, with rates as swept parameters.
"""

from __future__ import annotations

from numba import njit

from sim.constants import COMMITTED, COMPLYING
from sim.dynamics import layout as L


@njit(cache=True, inline="always")
def shown(s, visibility):
    """x_j, how far j's example shows: 1 committed, visibility complying, else 0."""
    if s == COMMITTED:
        return 1.0
    if s == COMPLYING:
        return visibility
    return 0.0


@njit(cache=True, inline="always")
def exposure(lo, hi, indices, pair, trust, influence, x, credibility, clinical_leader, count_kind):
    """e_i = sum_j w_ij x_j / sum_j w_ij (fraction; 0 with no weight) or sum_j w_ij x_j
    (count), summed in CSR order over i's stored ties lo..hi-1, where w_ij = trust_ij *
    influence_j * (clinical_credibility when j is a clinical leader and i a clinician: FMLM
    2018), trust_ij = trust[pair[e]] (one value per undirected tie), and x_j =
    ``shown(state_j)``, read from x.

    ``credibility`` is that factor for i (1.0 when i is not a clinician): w * 1.0 = w and
    num + w * 0.0 = num exactly, so factors equal the rule's branches bit for bit, and a
    factor of 1.0 is skipped outright (no clinical_leader read per tie). Arrays, not the
    bundles, come in: an inlined helper given the bundles cost a reference count per array
    per call wherever Numba could not prune them.
    """
    num = 0.0
    den = 0.0
    if credibility == 1.0:
        for e in range(lo, hi):
            j = indices[e]
            w = trust[pair[e]] * influence[j]
            den += w
            num += w * x[j]
    else:
        for e in range(lo, hi):
            j = indices[e]
            w = trust[pair[e]] * influence[j]
            w = w * (credibility if clinical_leader[j] == 1 else 1.0)
            den += w
            num += w * x[j]
    if count_kind:
        return num
    if den > 0.0:
        return num / den
    return 0.0  # fmt: skip


@njit(cache=True, inline="always")
def _tail(lo, hi, indices, pair, trust, influence, x, num, den):
    """``exposure``'s sums (num, den) carried on over stored ties lo..hi-1 (credibility 1)."""
    for e in range(lo, hi):
        j = indices[e]
        w = trust[pair[e]] * influence[j]
        den += w
        num += w * x[j]
    return num, den


@njit(cache=True, inline="always")
def exposure4(i0, i1, i2, i3, indptr, indices, pair, trust, influence, x, count_kind, out):
    """``exposure`` of four people at once (clinical credibility 1), into out[i0..i3]: the
    four sums in lock step over the ties all four have, then each one's remaining ties;
    every sum is in CSR order, as ``exposure`` adds it.

    3x faster in the speed benchmark's workload: one person's sum is a chain of additions,
    each waiting for the last, and the exit of a loop of varying length mispredicts, so
    one person at a time could not overlap their chains; four chains run side by side.
    (Running all four to the longest, the shorter ones adding w = 0, took 8% more: the
    index clamps and selects on every tie cost more than the four tails.)
    """
    lo0, lo1, lo2, lo3 = indptr[i0], indptr[i1], indptr[i2], indptr[i3]
    hi0, hi1, hi2, hi3 = indptr[i0 + 1], indptr[i1 + 1], indptr[i2 + 1], indptr[i3 + 1]
    common = min(min(hi0 - lo0, hi1 - lo1), min(hi2 - lo2, hi3 - lo3))
    n0 = n1 = n2 = n3 = 0.0
    s0 = s1 = s2 = s3 = 0.0
    for q in range(common):  # every one of the four has a q-th tie
        j0, j1, j2, j3 = indices[lo0 + q], indices[lo1 + q], indices[lo2 + q], indices[lo3 + q]
        w0 = trust[pair[lo0 + q]] * influence[j0]
        w1 = trust[pair[lo1 + q]] * influence[j1]
        w2 = trust[pair[lo2 + q]] * influence[j2]
        w3 = trust[pair[lo3 + q]] * influence[j3]
        s0 += w0
        s1 += w1
        s2 += w2
        s3 += w3
        n0 += w0 * x[j0]
        n1 += w1 * x[j1]
        n2 += w2 * x[j2]
        n3 += w3 * x[j3]
    # Then each one's remaining ties, in CSR order.
    n0, s0 = _tail(lo0 + common, hi0, indices, pair, trust, influence, x, n0, s0)
    n1, s1 = _tail(lo1 + common, hi1, indices, pair, trust, influence, x, n1, s1)
    n2, s2 = _tail(lo2 + common, hi2, indices, pair, trust, influence, x, n2, s2)
    n3, s3 = _tail(lo3 + common, hi3, indices, pair, trust, influence, x, n3, s3)
    if count_kind:
        out[i0], out[i1], out[i2], out[i3] = n0, n1, n2, n3
    else:
        out[i0] = n0 / s0 if s0 > 0.0 else 0.0
        out[i1] = n1 / s1 if s1 > 0.0 else 0.0
        out[i2] = n2 / s2 if s2 > 0.0 else 0.0
        out[i3] = n3 / s3 if s3 > 0.0 else 0.0


@njit(cache=True, _nrt=False)
def mark_growing(state, committed, indptr, indices, pair, grows):
    """Bring ``grows`` (1 on every undirected tie with a committed end) up to date with
    ``state``: only the ties of people whose committed flag changed since the last call
    (``committed`` holds the flags then; both arrays start at 0, no one committed) are
    rewritten, so a step where few change costs a pass over the people and their ties.
    Where both ends of a tie changed, the later of the two rewrites it with both new
    flags. Ties are never to oneself.

    People are checked 64 at a time: a loop with no branch, which LLVM vectorises, counts
    a block's changed flags, and only a block with a change is visited person by person
    (``_mark_range``, in index order as before); once the change has spread most blocks
    have none (the phase's time on the speed benchmark's workload fell by 13%).
    """
    n = len(state)
    full = n - n % 64
    for b in range(0, full, 64):
        changed = 0
        for j in range(64):
            changed += 1 if (state[b + j] == COMMITTED) != (committed[b + j] == 1.0) else 0
        if changed > 0:
            _mark_range(b, b + 64, state, committed, indptr, indices, pair, grows)
    _mark_range(full, n, state, committed, indptr, indices, pair, grows)


@njit(cache=True, inline="always")
def _mark_range(lo, hi, state, committed, indptr, indices, pair, grows):
    """``mark_growing`` for people lo..hi-1, one by one."""
    for i in range(lo, hi):
        c = 1.0 if state[i] == COMMITTED else 0.0
        if c != committed[i]:
            committed[i] = c
            for e in range(indptr[i], indptr[i + 1]):
                grows[pair[e]] = 1 if max(c, committed[indices[e]]) == 1.0 else 0


@njit(cache=True, _nrt=False)
def update_trust(par, org, people, scratch):
    """Phase 7, trust on every undirected tie {i, j}:
    tau <- tau + growth (1 - tau)          if either is committed (working with someone
                                           who owns the change builds trust both ways)
    tau <- tau - erosion xbar tau          on line ties, xbar = (x_i + x_j) / 2, i < j
    Trust is one value per undirected tie (``org.pair``), read by both people: the rule is
    the same in both directions (initial trust is set by tie kind, churn resets the tie),
    so one value holds what two symmetric copies would, and each step updates it once.

    Computed in two passes that give the same numbers as the rule tie by tie (each tie's
    new value depends only on its own old value and on its ends, which this phase does
    not change): growth, then erosion on the line ties only (``org.line_pairs``; any
    other tie keeps tau exactly, as tau - 0 * d would).

    Growth is one branch-free loop over every tie, tau + g_q (grow (1 - tau)) with g_q =
    1 on a tie with a committed end, else 0 (tau + 0 * x = tau exactly, so the factor
    equals the rule's branch bit for bit). The factors are kept between steps in
    ``scratch.grows`` and rewritten only around people whose state changed
    (``mark_growing``). Working the factor out per tie from both ends' states, as before,
    costs two scattered reads a tie: the phase took 0.40 ms of a 1.46 ms run on the speed
    benchmark's workload, and 0.33 ms of 1.41 ms this way
    (``experiments/e09_benchmark/profile_change.py``, same machine).
    """
    grow = par[L.TRUST_GROWTH]
    erode = par[L.TRUST_EROSION]
    state, pressure, trust = people.state, people.pressure, people.trust
    if grow != 0.0:
        grows = scratch.grows
        mark_growing(state, scratch.committed, org.indptr, org.indices, org.pair, grows)
        for q in range(len(trust)):
            trust[q] = trust[q] + grows[q] * (grow * (1.0 - trust[q]))
    if erode != 0.0:
        line_pairs, lower, upper = org.line_pairs, org.line_lower, org.line_upper
        for k in range(len(line_pairs)):
            q = line_pairs[k]
            tau = trust[q]
            trust[q] = tau - erode * ((pressure[lower[k]] + pressure[upper[k]]) / 2.0) * tau
