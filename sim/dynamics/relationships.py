"""Co-produce in authentic relationship: trust-weighted influence and trust dynamics.

Sources: IHI (2018); Centola and Macy (2007) and Centola (2010): behaviour that needs
reinforcement spreads through clustered, strong ties (54% vs 38% adoption in clustered vs
random networks); Fitzgerald et al. (2013): good prior relationships underpin
distributed change leadership. Trust rules (growth with joint work, erosion under
unilateral directives) are our assumption, with rates as swept parameters.
"""

from __future__ import annotations

from numba import njit

from sim.constants import COMMITTED, COMPLYING, LINE
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
def update_trust(par, org, people):
    """Phase 7, trust on every tie (i, j):
    tau <- tau + growth (1 - tau)          if either is committed (working with someone
                                           who owns the change builds trust both ways)
    tau <- tau - erosion xbar tau          on line ties, xbar = (x_i + x_j) / 2
    Both directions follow the same formula, so trust stays symmetric.
    """
    grow = par[L.TRUST_GROWTH]
    erode = par[L.TRUST_EROSION]
    if grow == 0.0 and erode == 0.0:
        return
    indptr, indices, tie_kind = org.indptr, org.indices, org.tie_kind
    state, pressure, trust = people.state, people.pressure, people.trust
    for i in range(len(state)):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            tau = trust[e]
            if state[i] == COMMITTED or state[j] == COMMITTED:
                tau = tau + grow * (1.0 - tau)
            if tie_kind[e] == LINE:
                tau = tau - erode * ((pressure[i] + pressure[j]) / 2.0) * tau
            trust[e] = tau
