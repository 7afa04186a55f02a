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
- committed -> lapsed with chance p_abandon (1 - r_i): people who value the change, believe
  in it and find it fits keep it; crowded-out motivation makes it fragile.

With every mechanism off this is exactly the threshold rule with spontaneous adoption.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.constants import CENTRALISED, COMMITTED, COMPLYING, DISTRIBUTED, LAPSED, NO_POWER, NOT_ADOPTED
from sim.dynamics import layout as L
from sim.dynamics.motivation import readiness
from sim.dynamics.power import agency, manager_adopted, own_right
from sim.dynamics.relationships import exposure, exposure4, shown
from sim.rng import uniform_nb

# The states as uint8 constants: selects among them and ``state[i]`` (uint8) stay uint8,
# which the vector loops of ``decide`` need.
U_NOT_ADOPTED, U_COMPLYING, U_COMMITTED, U_LAPSED = (
    np.uint8(c) for c in (NOT_ADOPTED, COMPLYING, COMMITTED, LAPSED)
)


@njit(cache=True, inline="always")
def candidate(s, allowed_i):
    """1 for someone who may commit on exposure (not adopted or lapsed, with a decision right), else 0."""
    return 1 if (allowed_i == 1) & ((s == NOT_ADOPTED) | (s == LAPSED)) else 0


@njit(cache=True, inline="always")
def initiative(readiness_weight, mode, empowerment, agency_ref, authority_i, courage_i, r):
    """Multiplier of the spontaneous chance: (agency_i / agency_ref, or 1 when power is
    not modelled) * max(1 + readiness_weight (2 r - 1), 0).
    """
    f = 1.0 + readiness_weight * (2.0 * r - 1.0)
    if f < 0.0:
        f = 0.0
    if mode == NO_POWER:
        return f
    return agency(mode, empowerment, authority_i, courage_i) / agency_ref * f


@njit(cache=True, _nrt=False, error_model="numpy")
def decide(t, par, keys, org, people, scratch):
    """Phase 3, decide: everyone's next state from the states at the start of the step.

    In passes: (1) decision rights, one loop per power mode so that each vectorises, and
    how far each example shows (``shown``); the candidates, the people who may commit on
    exposure (not adopted or lapsed, with a decision right), listed only from blocks of 64
    people where a vectorised count finds one (once the change has spread, few blocks have
    any); (2) the candidates' exposure, four at a time (``exposure4``); (3) the
    committed's transitions, in one branch-free loop that LLVM vectorises (3x faster once
    nearly everyone is committed), which also keeps everyone's LAPSE draw
    (``scratch.draws``); (4) everyone else's transitions. While more than one in eight is
    not committed, (4) runs for everyone in two branch-free vector loops (the chance to commit,
    ``scratch.adopt_chance``, from the readiness kept by (3); the new state), which decide the same as
    the rule above: a draw u in [0, 1) is below a chance of 1 or more and never below 0,
    and pressure, p_comply, p_internalise and p_lapse are never negative, so each of the
    rule's guards is the comparison itself (the early steps of the speed benchmark's
    workload took 20% less time). Below that share, (4) visits the others one by one,
    reading the kept LAPSE draw instead of hashing it again (a list of those not
    committed, for that loop, cost the default scenario 6%). A person's transition reads
    only their own state, their exposure and draws that are pure functions of (stream,
    step, person), so splitting the work into passes changes no number.

    Compiled with NumPy's error model: Python's would test every division for a zero
    divisor, and that test, where a division sits under a condition (``initiative``),
    keeps LLVM from vectorising the loop; no divisor here is ever zero (``agency_ref`` is
    at least 0.01, exposure divides only by a positive weight).
    """
    # Parameters are read once, not per person or tie (reading the vector in the loops
    # was 30x slower: it defeats LLVM's loop optimisations).
    visibility = par[L.COMPLIANCE_VISIBILITY]
    credibility = par[L.CLINICAL_CREDIBILITY]
    count_kind = par[L.THRESHOLD_COUNT] > 0.0
    mode, decision_level = int(par[L.POWER_MODE]), par[L.DECISION_LEVEL]
    empowerment, agency_min, agency_ref = par[L.EMPOWERMENT], par[L.AGENCY_MIN], par[L.AGENCY_REF]
    rw, p_spont, p_comply = par[L.READINESS_WEIGHT], par[L.P_SPONTANEOUS], par[L.P_COMPLY]
    p_int, p_lapse, p_abandon = par[L.P_INTERNALISE], par[L.P_LAPSE], par[L.P_ABANDON]
    key_adopt, key_lapse = keys[L.K_ADOPT], keys[L.K_LAPSE]
    state, threshold, pressure = people.state, people.threshold, people.pressure
    motivation, belief, fit = people.motivation, people.belief, people.fit
    authority, courage, co_designer = people.authority, people.courage, people.co_designer
    indptr, indices, pair = org.indptr, org.indices, org.pair
    trust, influence = people.trust, people.influence
    clinician, clinical_leader = org.clinician, people.clinical_leader
    next_state, allowed = scratch.next_state, scratch.allowed
    x, exposed, candidates = scratch.shown, scratch.exposure, scratch.candidates
    n = len(state)
    # Decision rights (``may_act``): one's own in a loop LLVM vectorises, then the line
    # manager's example only for those without one.
    level, manager = org.level, org.manager
    if mode == NO_POWER:  # one loop per mode: each vectorises
        for i in range(n):
            allowed[i] = 1
    elif mode == CENTRALISED:
        for i in range(n):
            allowed[i] = 1 if own_right(CENTRALISED, decision_level, empowerment, agency_min, level[i],
                                        authority[i], courage[i]) else 0  # fmt: skip
    else:
        for i in range(n):
            allowed[i] = 1 if own_right(DISTRIBUTED, decision_level, empowerment, agency_min, level[i],
                                        authority[i], courage[i]) else 0  # fmt: skip
    for i in range(n):
        x[i] = shown(state[i], visibility)
    for i in range(n):
        if allowed[i] == 0:
            allowed[i] = 1 if manager_adopted(manager[i], state) else 0
    n_cand = 0
    full = n - n % 64
    for b in range(0, full, 64):
        k = 0
        for j in range(64):
            k += candidate(state[b + j], allowed[b + j])
        if k > 0:
            for i in range(b, b + 64):
                candidates[n_cand] = i
                n_cand += candidate(state[i], allowed[i])
    for i in range(full, n):
        candidates[n_cand] = i
        n_cand += candidate(state[i], allowed[i])
    done = 0
    if credibility == 1.0:  # w_ij has no credibility factor: four people at a time
        while done + 4 <= n_cand:
            c = candidates[done : done + 4]
            exposure4(c[0], c[1], c[2], c[3], indptr, indices, pair, trust, influence, x, count_kind, exposed)
            done += 4
    for k in range(done, n_cand):
        i = candidates[k]
        cred_i = credibility if clinician[i] == 1 else 1.0
        exposed[i] = exposure(indptr[i], indptr[i + 1], indices, pair, trust, influence, x, cred_i,
                              clinical_leader, count_kind)  # fmt: skip
    # Committed people abandon or stay: no branch and no list, so LLVM vectorises it
    # (nearly everyone, once the change has spread); everyone else is then visited alone.
    u_lapse = scratch.draws  # u_LAPSE(t, i) of everyone, read again below
    ready = scratch.readiness  # r_i of everyone, read again by the vector pass below
    n_committed = 0
    for i in range(n):
        s = state[i]
        r = readiness(motivation[i], belief[i], fit[i])
        ready[i] = r
        u = uniform_nb(key_lapse, t, i)
        u_lapse[i] = u
        leave = (p_abandon > 0.0) & (u < p_abandon * (1.0 - r))
        next_state[i] = LAPSED if (s == COMMITTED) & leave else s
        n_committed += 1 if s == COMMITTED else 0
    if 8 * (n - n_committed) > n:  # many not committed: everyone at once, in vector loops
        # (two loops of few arrays each: with more, LLVM left a loop scalar).
        chance = scratch.adopt_chance
        for i in range(n):
            # chance[i]: the chance to commit of someone not adopted or lapsed, p_int r_i of
            # someone complying with a decision right (internalising), else -1 (never).
            s, ok, r = state[i], allowed[i] == 1, ready[i]
            h = (1.0 if exposed[i] >= threshold[i] + rw * (0.5 - r) else 0.0) if ok else 0.0
            a = initiative(rw, mode, empowerment, agency_ref, authority[i], courage[i], r)
            p_own = p_spont * a if ok else 0.0
            out = (s == U_NOT_ADOPTED) | (s == U_LAPSED)
            chance[i] = 1.0 - (1.0 - p_own) * (1.0 - h) if out else (p_int * r if ok else -1.0)
        for i in range(n):
            s, x_i, v = state[i], pressure[i], u_lapse[i]
            commits = uniform_nb(key_adopt, t, i) < chance[i]
            joins = U_COMMITTED if co_designer[i] == 1 else U_COMPLYING
            from_out = U_COMMITTED if commits else (joins if v < p_comply * x_i else s)
            from_complying = U_COMMITTED if commits else (U_LAPSED if v < p_lapse * (1.0 - x_i) else s)
            nxt = from_complying if s == U_COMPLYING else next_state[i]
            nxt = from_out if s == U_NOT_ADOPTED else nxt
            next_state[i] = from_out if s == U_LAPSED else nxt
        return
    for i in range(n):
        s = state[i]
        if s == COMMITTED:
            continue
        ok = allowed[i] == 1
        nxt = s
        r = readiness(motivation[i], belief[i], fit[i])
        if s == NOT_ADOPTED or s == LAPSED:
            h = 0.0
            p_own = 0.0
            if ok:
                theta = threshold[i] + rw * (0.5 - r)
                h = 1.0 if exposed[i] >= theta else 0.0
                p_own = p_spont * initiative(rw, mode, empowerment, agency_ref, authority[i], courage[i], r)
            prob = 1.0 - (1.0 - p_own) * (1.0 - h)
            if prob >= 1.0 or (prob > 0.0 and uniform_nb(key_adopt, t, i) < prob):
                nxt = COMMITTED
            elif pressure[i] > 0.0 and p_comply > 0.0:
                if u_lapse[i] < p_comply * pressure[i]:
                    nxt = COMMITTED if co_designer[i] == 1 else COMPLYING
        elif s == COMPLYING:
            if ok and p_int > 0.0 and uniform_nb(key_adopt, t, i) < p_int * r:
                nxt = COMMITTED
            elif p_lapse > 0.0 and u_lapse[i] < p_lapse * (1.0 - pressure[i]):
                nxt = LAPSED
        next_state[i] = nxt


@njit(cache=True, _nrt=False)
def apply(t, people, scratch):
    """Phase 4, apply: every decision takes effect together (synchronous update).

    t_adopted records the step of the latest adoption (from not adopted or lapsed).
    """
    state, t_adopted, next_state = people.state, people.t_adopted, scratch.next_state
    for i in range(len(state)):  # selects, no branches: LLVM vectorises it
        s, nxt = state[i], next_state[i]
        adopts = ((s == NOT_ADOPTED) | (s == LAPSED)) & ((nxt == COMPLYING) | (nxt == COMMITTED))
        t_adopted[i] = t if adopts else t_adopted[i]
        state[i] = nxt
