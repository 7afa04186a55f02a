"""Unleash intrinsic motivation: readiness, crowding-out, recovery and recognition.

Sources: IHI (2018) ("what matters" to each person); Ryan and Deci (2000) on intrinsic
motivation; Frey and Jegen (2001) on motivation crowding; Deci, Koestner and Ryan (1999)
meta-analysis (controlling, contingent rewards d = -0.28 to -0.40; positive feedback
d = +0.33); Gneezy and Rustichini (2000): behaviour stayed changed after a fine was
removed (hysteresis), so recovery here is slow and is a swept assumption.
"""

from __future__ import annotations

from numba import njit

from sim.constants import COMMITTED, COMPLYING
from sim.dynamics import layout as L


@njit(cache=True, inline="always")
def readiness(motivation_i, belief_i, fit_i):
    """r_i = clip((m_i + b_i) / 2 + fit_i, 0, 1): how ready person i is to own the change."""
    r = (motivation_i + belief_i) / 2.0 + fit_i
    if r < 0.0:
        return 0.0
    if r > 1.0:
        return 1.0
    return r


@njit(cache=True, _nrt=False)
def update_motivation(par, people):
    """Phase 6, motivation:
    m <- m - crowding x m                      (crowding-out under pressure x)
    m <- m + recovery (1 - x) (m0 - m) if m < m0  (slow return of crowded-out motivation)
    m <- m + recognition (1 - m)  if adopted   (recognition and feedback)
    then clipped to [0, 1].
    """
    crowd = par[L.CROWDING]
    rec = par[L.RECOVERY]
    recog = par[L.RECOGNITION]
    if crowd == 0.0 and rec == 0.0 and recog == 0.0:
        return
    state, pressure, motivation, motivation0 = (
        people.state,
        people.pressure,
        people.motivation,
        people.motivation0,
    )
    for i in range(len(state)):
        m = motivation[i]
        x = pressure[i]
        m = m - crowd * x * m
        if m < motivation0[i]:
            m = m + rec * (1.0 - x) * (motivation0[i] - m)
        if state[i] == COMPLYING or state[i] == COMMITTED:
            m = m + recog * (1.0 - m)
        motivation[i] = min(max(m, 0.0), 1.0)
