"""The adoption decision of the full model: commit, comply, internalise, lapse, abandon.

Transitions (one uniform draw per purpose, person and step; ``u`` from the ADOPT stream,
``v`` from the LAPSE stream, so scenarios share their draws):

- not adopted or lapsed -> committed with P = 1 - (1 - p_i)(1 - h_i), where
  h_i = 1[e_i >= theta_i + readiness_weight (0.5 - r_i)] (a threshold lowered by
  readiness: Granovetter 1978 and Watts 2002 with motivation) and p_i = p_spontaneous *
  (agency_i / agency_ref) * max(1 + readiness_weight (2 r_i - 1), 0) (own initiative;
  the agency factor is 1 when power is not modelled); both need a decision right.
  Otherwise, under pressure x_i, -> complying with chance p_comply x_i (a co-designer,
  who owns the change, commits instead).
- complying -> committed with chance p_internalise r_i (with a decision right);
  otherwise -> lapsed with chance p_lapse (1 - x_i): compliance lasts while pressure does.
- committed -> lapsed with chance p_abandon (1 - belief_i).

With every mechanism off this is exactly the threshold rule with spontaneous adoption.
"""

from __future__ import annotations

from numba import njit

from sim.dynamics import layout as L
from sim.dynamics.motivation import readiness
from sim.dynamics.power import agency, may_act
from sim.dynamics.relationships import exposure
from sim.rng import uniform_nb


@njit(cache=True)
def initiative(par, authority_i, courage_i, r):
    """Multiplier of the spontaneous chance: (agency_i / agency_ref, or 1 when power is
    not modelled) * max(1 + readiness_weight (2 r - 1), 0).
    """
    f = 1.0 + par[L.READINESS_WEIGHT] * (2.0 * r - 1.0)
    if f < 0.0:
        f = 0.0
    if par[L.POWER_MODE] == 0.0:
        return f
    return agency(par, authority_i, courage_i) / par[L.AGENCY_REF] * f


@njit(cache=True)
def decide(
    t,
    par,
    key_adopt,
    key_lapse,
    indptr,
    indices,
    level,
    manager,
    clinician,
    state,
    threshold,
    motivation,
    belief,
    fit,
    pressure,
    authority,
    influence,
    courage,
    trust,
    clinical_leader,
    co_designer,
    next_state,
    allowed,
):
    """Phase 3, decide: everyone's next state from the states at the start of the step."""
    for i in range(len(state)):
        s = state[i]
        ok = may_act(par, i, level, manager, state, authority, courage)
        allowed[i] = 1 if ok else 0
        nxt = s
        r = readiness(motivation[i], belief[i], fit[i])
        if s == 0 or s == 3:
            h = 0.0
            p_own = 0.0
            if ok:
                e = exposure(par, i, indptr, indices, state, trust, influence, clinician, clinical_leader)
                theta = threshold[i] + par[L.READINESS_WEIGHT] * (0.5 - r)
                h = 1.0 if e >= theta else 0.0
                p_own = par[L.P_SPONTANEOUS] * initiative(par, authority[i], courage[i], r)
            prob = 1.0 - (1.0 - p_own) * (1.0 - h)
            if prob >= 1.0 or (prob > 0.0 and uniform_nb(key_adopt, t, i) < prob):
                nxt = 2
            elif pressure[i] > 0.0 and par[L.P_COMPLY] > 0.0:
                if uniform_nb(key_lapse, t, i) < par[L.P_COMPLY] * pressure[i]:
                    nxt = 2 if co_designer[i] == 1 else 1
        elif s == 1:
            if ok and par[L.P_INTERNALISE] > 0.0 and uniform_nb(key_adopt, t, i) < par[L.P_INTERNALISE] * r:
                nxt = 2
            elif par[L.P_LAPSE] > 0.0 and uniform_nb(key_lapse, t, i) < par[L.P_LAPSE] * (1.0 - pressure[i]):
                nxt = 3
        elif s == 2:
            if par[L.P_ABANDON] > 0.0 and uniform_nb(key_lapse, t, i) < par[L.P_ABANDON] * (1.0 - belief[i]):
                nxt = 3
        next_state[i] = nxt


@njit(cache=True)
def apply(t, state, next_state, t_adopted):
    """Phase 4, apply: every decision takes effect together (synchronous update).

    t_adopted records the step of the latest adoption (from not adopted or lapsed).
    """
    for i in range(len(state)):
        s, nxt = state[i], next_state[i]
        if nxt != s:
            if (s == 0 or s == 3) and (nxt == 1 or nxt == 2):
                t_adopted[i] = t
            state[i] = nxt
