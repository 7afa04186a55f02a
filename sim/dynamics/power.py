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

from sim.constants import CENTRALISED, COMMITTED, COMPLYING, DISTRIBUTED, NO_POWER
from sim.dynamics import layout as L


@njit(cache=True, inline="always")
def agency(mode, empowerment, authority_i, courage_i):
    """a_i = power_i * courage_i, power_i = authority_i (centralised, mode 1) or
    max(authority_i, empowerment) (distributed, mode 2); 1 when power is not modelled (0).
    """
    if mode == NO_POWER:
        return 1.0
    power = authority_i
    if mode == DISTRIBUTED and empowerment > power:
        power = empowerment
    return power * courage_i


@njit(cache=True, inline="always")
def own_right(mode, decision_level, empowerment, agency_min, level_i, authority_i, courage_i):
    """A decision right of one's own (``may_act`` without the line manager's example)."""
    if mode == NO_POWER:
        return True
    if mode == CENTRALISED:
        return level_i <= decision_level
    return agency(mode, empowerment, authority_i, courage_i) >= agency_min


@njit(cache=True, inline="always")
def manager_adopted(m, state):
    """The line manager m has adopted (complying or committed); True with no manager (m < 0)."""
    if m < 0:
        return True
    s = state[m]
    return s == COMPLYING or s == COMMITTED


@njit(cache=True, inline="always")
def may_act(mode, decision_level, empowerment, agency_min, i, org, people):
    """Decision right of person i this step (reads states at the start of the step).

    none: always. centralised: level_i <= decision_level, or the line manager has
    adopted. distributed: agency_i >= agency_min, or the line manager has adopted.
    Parameters come as scalars (``sim.dynamics.layout`` slots read once per phase);
    ``mode`` is an integer power-mode code. ``adoption.decide`` evaluates the two parts
    in separate loops (``own_right`` for everyone, vectorised; ``manager_adopted`` where
    that fails), which gives the same rights.
    """
    if own_right(mode, decision_level, empowerment, agency_min, org.level[i], people.authority[i],
                 people.courage[i]):  # fmt: skip
        return True
    return manager_adopted(org.manager[i], people.state)


@njit(cache=True, _nrt=False)
def update_courage(par, people):
    """Phase 8, psychological safety under directives: c <- c - courage_erosion x c, clipped
    (Edmondson 2019: fear follows command; a failed test's effect is in ``test_cycles``).
    """
    k = par[L.COURAGE_EROSION]
    if k == 0.0:
        return
    pressure, courage = people.pressure, people.courage
    for i in range(len(courage)):
        x = pressure[i]
        if x > 0.0:
            c = courage[i] - k * x * courage[i]
            courage[i] = min(max(c, 0.0), 1.0)
