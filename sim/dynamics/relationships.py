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
def exposure(i, org, people, visibility, credibility, count_kind):
    """e_i = sum_j w_ij x_j / sum_j w_ij (fraction; 0 with no weight) or sum_j w_ij x_j
    (count), summed in CSR order. Scalars are passed in, not read from the parameter
    vector inside the loop (reading it per tie was 7x slower: it defeats LLVM's hoisting).
    """
    indices, state, trust, influence = org.indices, people.state, people.trust, people.influence
    clinical_leader = people.clinical_leader
    clinician_i = org.clinician[i] == 1
    num = 0.0
    den = 0.0
    # Branches here, not 0/1 factors: indexing x_j by state from a tuple measured 1.25x slower.
    for e in range(org.indptr[i], org.indptr[i + 1]):
        j = indices[e]
        # w_ij = trust_ij * influence_j * (clinical_credibility when j is a clinical leader
        # and i a clinician: FMLM 2018); x_j = 1 committed, visibility complying, else 0.
        w = trust[e] * influence[j]
        if clinical_leader[j] == 1 and clinician_i:
            w = w * credibility
        den += w
        s = state[j]
        if s == COMMITTED:
            num += w
        elif s == COMPLYING:
            num += w * visibility
    if count_kind:
        return num
    if den > 0.0:
        return num / den
    return 0.0  # fmt: skip


@njit(cache=True)
def update_trust(par, org, people, scratch):
    """Phase 7, trust on every tie (i, j):
    tau <- tau + growth (1 - tau)          if either is committed (working with someone
                                           who owns the change builds trust both ways)
    tau <- tau - erosion xbar tau          on line ties, xbar = (x_i + x_j) / 2
    Both directions follow the same formula, so trust stays symmetric:
    trust[e] == trust[reverse[e]] always (initial trust is set by tie kind, churn resets
    both directions), and each undirected tie is computed once (``org.upper``) and
    written to both of its stored ties (1.4x faster than every stored tie). The reference
    agents update each direction on its own, so the equivalence tests would catch a rule
    that broke the symmetry.
    """
    grow = par[L.TRUST_GROWTH]
    erode = par[L.TRUST_EROSION]
    if grow == 0.0 and erode == 0.0:
        return
    state, pressure, trust = people.state, people.pressure, people.trust
    committed = scratch.committed
    for i in range(len(state)):
        committed[i] = 1.0 if state[i] == COMMITTED else 0.0
    upper, reverse, source, indices, line = org.upper, org.reverse, org.source, org.indices, org.line
    # One flat loop over ties, the conditions as 0/1 factors: tau + 0 * g = tau and
    # tau - 0 * d = tau exactly (g, d >= 0), so this equals the branching rule bit for bit
    # and runs 1.5x faster than a loop over rows with branches (no mispredicted branch per tie).
    for k in range(len(upper)):
        e = upper[k]
        i = source[e]
        j = indices[e]
        tau = trust[e]
        tau = tau + max(committed[i], committed[j]) * (grow * (1.0 - tau))
        tau = tau - line[e] * (erode * ((pressure[i] + pressure[j]) / 2.0) * tau)
        trust[e] = tau
        trust[reverse[e]] = tau
