"""Social influence and the adoption decision: the phases every rule shares.

Each function states its equation; the same equations, agent by agent, are in
``sim.agents.StaffMember`` (the reference engine), and a test holds the two to
bit-identical results. Weights are per stored tie: w_ij = trust_ij * influence_j, where
influence_j = authority_j ** power_gradient (IHI 2018: power shapes whose example counts;
g = 0 gives every contact equal say).
"""

from __future__ import annotations

from collections import namedtuple

from numba import njit

from sim.constants import COMMITTED, COMPLYING
from sim.params import DynamicsParams

# Rules and threshold kinds (codes shared with sim.engine and sim.agents).
THRESHOLD, BASS, CASCADE = 0, 1, 2
RULES = {"threshold": THRESHOLD, "bass": BASS, "cascade": CASCADE}
FRACTION, COUNT = 0, 1
THRESHOLD_KINDS = {"fraction": FRACTION, "count": COUNT}

Rule = namedtuple("Rule", ["rule", "threshold_kind", "p_spontaneous", "q_imitation", "p_transmit"])
Rule.__doc__ = """A classic rule as the kernels read it: rule and threshold-kind codes (int), then
p_spontaneous, q_imitation and p_transmit (float, per step)."""


def rule_of(d: DynamicsParams) -> Rule:
    """The ``Rule`` bundle of a classic-rule configuration."""
    return Rule(RULES[d.rule], THRESHOLD_KINDS[d.threshold_kind], float(d.p_spontaneous),
                float(d.q_imitation), float(d.p_transmit))  # fmt: skip


@njit(cache=True, inline="always")
def is_adopted(s):
    """Complying (1) or committed (2)."""
    return s == COMPLYING or s == COMMITTED


@njit(cache=True)
def exposure(i, indptr, indices, weight, state, threshold_kind):
    """Weighted exposure of person i to adopting contacts.

    fraction: e_i = sum_j w_ij x_j / sum_j w_ij  (0 when sum_j w_ij = 0)
    count:    e_i = sum_j w_ij x_j
    with x_j = 1 if j has adopted (complying or committed). Summed in CSR order, so
    every engine rounds identically. With w = 1 this is Granovetter's (1978) and Watts's
    (2002) fraction of adopting neighbours, or Centola and Macy's (2007) count.
    """
    num = 0.0
    den = 0.0
    for e in range(indptr[i], indptr[i + 1]):
        w = weight[e]
        den += w
        if is_adopted(state[indices[e]]):
            num += w
    if threshold_kind == COUNT:
        return num
    if den > 0.0:
        return num / den
    return 0.0


@njit(cache=True)
def cascade_hazard(i, indptr, indices, weight, state, t_adopted, t_prev, p_transmit):
    """Chance that this step's new exposure converts person i (independent cascade).

    h_i = 1 - prod_{j: adopted at step t-1} (1 - p_transmit * w_ij): each contact that
    adopted last step gets one independent chance (Kempe, Kleinberg and Tardos 2003).
    """
    keep = 1.0
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        if t_adopted[j] == t_prev and is_adopted(state[j]):
            keep *= 1.0 - p_transmit * weight[e]
    return 1.0 - keep


@njit(cache=True)
def adoption_probability(rule, drive, threshold, p_spontaneous, q_imitation):
    """Probability of adopting this step, given the social drive of the rule.

    P = 1 - (1 - p) (1 - h), with h = 1[e >= theta] (threshold), q e (Bass 1969), or the
    cascade hazard; p is adoption from outside the network (mass media, the Bass p).
    """
    if rule == THRESHOLD:
        h = 1.0 if drive >= threshold else 0.0
    elif rule == BASS:
        h = q_imitation * drive
    else:
        h = drive
    return 1.0 - (1.0 - p_spontaneous) * (1.0 - h)
