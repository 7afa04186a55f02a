"""Leadership events: the mandate's schedule, leadership churn and the clinical pipeline.

Sources: Greenhalgh et al. (2004) "make it happen"; King's Fund (2018) on NHS executive
churn (median chief-executive tenure about 3 years, 8% of executive posts vacant); FMLM
for DHSC (2018) on the barriers and enablers for clinicians entering senior leadership;
SCIE (2018): no partner in an integrated care system can mandate another.
"""

from __future__ import annotations

from numba import njit

from sim.constants import NOT_ADOPTED
from sim.dynamics import layout as L
from sim.rng import uniform_nb

LEAD_ORGANISATION = 0  # code of the organisation a mandate applies to when its scope is "lead"


@njit(cache=True)
def mandate_in_force(t, par):
    """True while the mandate applies: on, started, and not yet withdrawn."""
    if par[L.MANDATE_ON] <= 0.0 or t < par[L.MANDATE_START]:
        return False
    return par[L.MANDATE_END] < 0.0 or t < par[L.MANDATE_END]


@njit(cache=True, _nrt=False)
def schedule(t, par, org, people):
    """Phase 1, extrinsic pressure: x_i = strength while the mandate applies to i's
    organisation, else x_i <- x_i (1 - pressure_decay) (pressure fades after withdrawal).

    Only the lead organisation (code 0) is mandated unless ``mandate_all`` is set.
    """
    on = mandate_in_force(t, par)
    strength = par[L.MANDATE_STRENGTH]
    keep = 1.0 - par[L.PRESSURE_DECAY]
    everyone = par[L.MANDATE_ALL] > 0.0
    organisation, pressure = org.organisation, people.pressure
    for i in range(len(pressure)):
        if on and (everyone or organisation[i] == LEAD_ORGANISATION):
            pressure[i] = strength
        else:
            pressure[i] = pressure[i] * keep


@njit(cache=True, _nrt=False)
def churn(t, par, keys, org, people):
    """Phase 2, leadership churn: a senior post-holder leaves with weekly hazard p_churn.

    The successor starts unconvinced (not adopted, belief = the population mean,
    motivation at the post's baseline), every tie of the post restarts at trust_new (one
    value per undirected tie, so both directions), and the successor is a clinician with chance
    p_clinical_appointment (FMLM 2018: enablers raise it).
    """
    p = par[L.P_CHURN]
    if p <= 0.0:
        return
    trust_new = par[L.TRUST_NEW]
    key_churn, key_pipeline = keys[L.K_CHURN], keys[L.K_PIPELINE]
    indptr, pair, seniors = org.indptr, org.pair, org.seniors
    trust = people.trust
    for k in range(len(seniors)):  # in index order, as a loop over everyone would visit them
        i = seniors[k]
        if uniform_nb(key_churn, t, i) >= p:
            continue
        people.state[i] = NOT_ADOPTED
        people.t_adopted[i] = -1
        people.belief[i] = par[L.NEWCOMER_BELIEF]
        people.motivation[i] = people.motivation0[i]
        people.clinical_leader[i] = 1 if uniform_nb(key_pipeline, t, i) < par[L.P_CLINICAL_APPOINTMENT] else 0
        for e in range(indptr[i], indptr[i + 1]):
            trust[pair[e]] = trust_new
