"""Distribute power: agency, decision rights and whose example counts.

IHI (2018): agency, the ability to choose to act with purpose, combines power and
courage; power is not a position or title. Here power is formal authority (centralised)
or at least ``empowerment`` for everyone (distributed); agency = power * courage (the
product form is our assumption). Decision rights decide who may adopt on their own
account; staff without them need their line manager to have adopted first, which is how
a resistant middle manager freezes a subtree (the "frozen middle").
"""

from __future__ import annotations

from numba import njit

from sim.dynamics import layout as L


@njit(cache=True)
def agency(par, authority_i, courage_i):
    """a_i = power_i * courage_i, power_i = authority_i (centralised) or
    max(authority_i, empowerment) (distributed); 1 when power is not modelled.
    """
    mode = par[L.POWER_MODE]
    if mode == 0.0:
        return 1.0
    power = authority_i
    if mode == 2.0 and par[L.EMPOWERMENT] > power:
        power = par[L.EMPOWERMENT]
    return power * courage_i


@njit(cache=True)
def may_act(par, i, level, manager, state, authority, courage):
    """Decision right of person i this step (reads states at the start of the step).

    none: always. centralised: level_i <= decision_level, or the line manager has
    adopted. distributed: agency_i >= agency_min, or the line manager has adopted.
    """
    mode = par[L.POWER_MODE]
    if mode == 0.0:
        return True
    if mode == 1.0:
        if level[i] <= par[L.DECISION_LEVEL]:
            return True
    elif agency(par, authority[i], courage[i]) >= par[L.AGENCY_MIN]:
        return True
    m = manager[i]
    if m < 0:
        return True
    return state[m] == 1 or state[m] == 2
