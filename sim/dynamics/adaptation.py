"""Adapt in action: PDSA test cycles that update belief, motivation and local fit.

Sources: the Model for Improvement (Langley et al. 2009; IHI): many small tests of
change, learning from each; March (1991) on exploration and learning; Edmondson (1999):
psychological safety makes failure survivable, and leaders who meet failure as learning
build it while blame erodes it (Edmondson 1999, 2019); Taylor et al. (2014) and Knudsen et
al. (2019): PDSA as practised is often low-fidelity (a reason to sweep p_test low);
Greenhalgh et al. (2004) and Rogers (2003): complexity makes local reinvention matter, and
observable results persuade others. Patients and carers as partners in tests (co-production):
Batalden et al. (2016, BMJ Qual Saf 25:509, "Coproduction of healthcare service"); Bate and
Robert (2006) and Robert et al. (2015, BMJ 350:g7714) on experience-based co-design; see
``test_cycles`` for which part is evidence and which is assumption.
"""

from __future__ import annotations

from numba import njit

from sim.constants import COMMITTED, COMPLYING
from sim.dynamics import layout as L
from sim.rng import uniform_nb


@njit(cache=True, inline="always")
def success_chance(quality, fit_i, complexity):
    """s_i = clip(change_quality + fit_i - complexity (1 - fit_i), 0, 1): an unadapted complex
    change fails in use more often, and fit counts (1 + complexity) times (Greenhalgh et al.
    2004: complexity and reinvention).
    """
    s = quality + fit_i - complexity * (1.0 - fit_i)
    return min(max(s, 0.0), 1.0)


@njit(cache=True, inline="always")
def full_fit(quality, complexity):
    """f* = (1 - change_quality + complexity) / (1 + complexity): the fit at which a test
    succeeds for sure; local adaptation closes a share of the gap to it.
    """
    return (1.0 - quality + complexity) / (1.0 + complexity)


@njit(cache=True, inline="always")
def respond_to_failure(courage_i, response, blame, gain):
    """Courage after a failed test, with leaders' response f (0 blame, 1 learning):
    c <- c + safety_gain f (1 - c) - blame (1 - f) c, clipped to [0, 1] (Edmondson 1999).
    """
    c = courage_i + gain * response * (1.0 - courage_i) - blame * (1.0 - response) * courage_i
    return min(max(c, 0.0), 1.0)


@njit(cache=True, _nrt=False)
def persuade(i, y, weight, indptr, indices, pair, trust, belief):
    """Colleagues see tester i's result y and move towards it:
    b_j <- b_j + weight trust_ij (y - b_j) for every contact j, in CSR order, where weight =
    learning_rate * observability * evidence (Rogers 2003: observability) and trust_ij =
    trust[pair[e]] (one value per undirected tie).
    """
    for e in range(indptr[i], indptr[i + 1]):
        j = indices[e]
        belief[j] = belief[j] + weight * trust[pair[e]] * (y - belief[j])


@njit(cache=True, _nrt=False)
def test_cycles(t, par, keys, org, people, scratch):
    """Phase 5, tests: each adopter with decision rights runs a test with chance p_test.

    success ~ Bernoulli(s_i), s_i = clip(change_quality + fit_i - complexity (1 - fit_i), 0, 1)
    b <- b + learning_rate (y - b)
    y = 1: m <- m + success_boost (1 - m)
    y = 0: m <- m - failure_cost (1 - courage) m;  with adapt: fit <- fit + adapt_rate
           max(f* - fit, 0), f* = (1 - change_quality + complexity) / (1 + complexity) (the
           change is reworked to fit local work); courage responds to how leaders meet the
           failure (``respond_to_failure``)
    partnered (patients and carers take part in the test; any y, adapt on or off):
           fit <- fit + adapt_rate max(f* - fit, 0), once per test (a failed partnered
           test with adapt on is reworked once, not twice)
    then contacts see the result (``persuade``, weight learning_rate * persuasion).
    Persons are visited in index order, so a colleague persuaded earlier in the step
    tests with the belief it has then.

    Partnership reuses the test draw u = u_TEST(t, i): person i tests iff u < p_test', and
    the test is partnered iff u < p_test' * patient_partnership, so a share
    patient_partnership of tests is partnered, no new random stream is drawn, every other
    draw is unchanged (common random numbers across settings), and patient_partnership = 0
    (u < 0 never holds) is the model without it, bit for bit.

    Why f* and adapt_rate: f* solves change_quality + f - complexity (1 - f) = 1, the fit at
    which ``success_chance`` is 1, so it is the only target that a rework can aim at which
    leaves nothing a further test could reveal; the share of the remaining gap closed per
    rework is the staff-led one (adapt_rate), so partnership changes when rework happens,
    not how much. Evidence (qualitative, direction only): patients and carers know the
    service from the other side and name problems and fixes staff had not seen, including
    where a change "works" by staff measures (Batalden et al. 2016; Bate and Robert 2006;
    Robert et al. 2015). Assumption (ours, no effect size in these sources): that this acts
    as rework of local fit at the staff-led rate and target, on success as on failure,
    and on the tester's own fit only.
    """
    p = par[L.P_TEST]
    if p <= 0.0:
        return
    quality = par[L.CHANGE_QUALITY]
    lr = par[L.LEARNING_RATE]
    complexity = par[L.COMPLEXITY]
    target = full_fit(quality, complexity)
    seen = lr * par[L.PERSUASION]
    response, blame, gain = par[L.FAILURE_RESPONSE], par[L.BLAME], par[L.SAFETY_GAIN]
    partnered_share = p * par[L.PATIENT_PARTNERSHIP]
    rework_on_failure = par[L.ADAPT] > 0.0
    rate, boost, cost = par[L.ADAPT_RATE], par[L.SUCCESS_BOOST], par[L.FAILURE_COST]
    respond = blame > 0.0 or gain > 0.0
    key_test, key_outcome = keys[L.K_TEST], keys[L.K_OUTCOME]
    state, allowed, courage = people.state, scratch.allowed, people.courage
    belief, motivation, fit = people.belief, people.motivation, people.fit
    indptr, indices, pair, trust = org.indptr, org.indices, org.pair, people.trust
    # Who tests depends on states, decision rights and the test draw only, none of which
    # this phase changes. Without persuasion each test touches only the tester, so every
    # person's outcome is computed and kept where they test (selects, no branch on chance:
    # one loop LLVM vectorises). With persuasion a test moves colleagues' beliefs, so the
    # testers are listed first and their tests run in index order, each outcome's updates
    # chosen by selects. Both give the same numbers as visiting person by person.
    if seen <= 0.0:
        for i in range(len(state)):
            s = state[i]
            u = uniform_nb(key_test, t, i)
            tests = ((s == COMPLYING) | (s == COMMITTED)) & (allowed[i] == 1) & (u < p)
            f, m, c, b = fit[i], motivation[i], courage[i], belief[i]
            success = uniform_nb(key_outcome, t, i) < success_chance(quality, f, complexity)
            y = 1.0 if success else 0.0
            belief[i] = b + lr * (y - b) if tests else b
            m_new = m + boost * (1.0 - m) if success else m - cost * (1.0 - c) * m
            motivation[i] = m_new if tests else m
            rework = (u < partnered_share) | (rework_on_failure & (not success))
            fit[i] = f + rate * max(target - f, 0.0) if tests & rework else f
            if respond:
                courage[i] = respond_to_failure(c, response, blame, gain) if tests & (not success) else c
        return
    testers, u_test = scratch.candidates, scratch.draws
    for i in range(len(state)):  # everyone's TEST draw in a loop LLVM vectorises
        u_test[i] = uniform_nb(key_test, t, i)
    n_testers = 0
    for i in range(len(state)):
        s = state[i]
        testers[n_testers] = i
        adopter = (s == COMPLYING) | (s == COMMITTED)
        n_testers += 1 if adopter & (allowed[i] == 1) & (u_test[i] < p) else 0
    for k in range(n_testers):
        i = testers[k]
        partnered = u_test[i] < partnered_share
        f, m, c, b = fit[i], motivation[i], courage[i], belief[i]
        success = uniform_nb(key_outcome, t, i) < success_chance(quality, f, complexity)
        y = 1.0 if success else 0.0
        belief[i] = b + lr * (y - b)
        # y = 1: m + success_boost (1 - m); y = 0: m - failure_cost (1 - courage) m
        motivation[i] = m + boost * (1.0 - m) if success else m - cost * (1.0 - c) * m
        rework = partnered or (rework_on_failure and not success)
        fit[i] = f + rate * max(target - f, 0.0) if rework else f
        if respond:
            courage[i] = c if success else respond_to_failure(c, response, blame, gain)
        persuade(i, y, seen, indptr, indices, pair, trust, belief)
