"""With the psychology-of-change mechanisms off, the rules are classic models with known answers.

Granovetter (1978) thresholds, the Bass (1969) curve, Watts's (2002) cascade window,
the independent cascade of Kempe, Kleinberg and Tardos (2003) as bond percolation, and
Centola and Macy's (2007) complex contagion. Reference numbers are from
/work/shared/research/domain.md section (c), recomputed here from the theory where we can.

False failures: every stochastic comparison allows z = 4 standard errors, or more where
several comparisons share one test (Bonferroni), so each test fails by chance with
probability below 1e-4 (two-sided normal tail at z = 4: 6.3e-5). Where a bound can be
computed exactly (threshold quantiles, binomial tails) it is used instead of a normal
approximation. Each test uses fixed seeds, so it is deterministic; the rate says how
unlucky a seed would have to be for a correct model to fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import binom, norm, poisson

from sim import run, run_batch
from sim.analysis.classic import (
    bass_closed_form,
    percolation_size,
    random_graph_degree,
    watts_cascade_probability,
)
from sim.org import Organisation, complete, random_graph

Z = 4.0  # standard errors allowed by a single comparison: P(|N(0,1)| > 4) = 6.3e-5
ALPHA = 1e-4  # false-failure rate per test where the bound is computed directly


def bonferroni_z(n_comparisons: int, alpha: float = ALPHA) -> float:
    """z such that n two-sided normal comparisons all pass with probability >= 1 - alpha."""
    return float(norm.isf(alpha / (2 * n_comparisons)))


def smallest_fixed_point(g, tol: float = 1e-14, max_iter: int = 1_000_000) -> float:
    """Smallest fixed point of a non-decreasing map g of [0, 1], by iterating from 0.

    From 0 the iterates increase monotonically to the smallest fixed point (Granovetter's
    equilibrium r* for r = F(r)); a step-function g reaches it in finitely many steps.
    """
    r = 0.0
    for _ in range(max_iter):
        nxt = g(r)
        if nxt - r <= tol:
            return max(nxt, r)
        r = nxt
    raise AssertionError("fixed-point iteration did not converge")


# --- Granovetter (1978) -------------------------------------------------------------------

THRESHOLD_CFG = {
    "org": {"kind": "complete", "n_staff": 100},
    "dynamics": {"rule": "threshold", "threshold_kind": "fraction"},
    "seeding": {"strategy": "none"},
}


@pytest.mark.parametrize("engine", ["kernel", "agents"])
def test_granovetter_riot_everyone_or_one(engine: str) -> None:
    # 100 people, person k rioting once k of the other 99 do: threshold k/99 as a fraction
    # of the 99 contacts. Exposure is A/99 computed as (1.0 + ... + 1.0) / 99.0 = fl(A/99);
    # IEEE division is correctly rounded and rounding is monotone, so fl(A/99) >= fl(k/99)
    # exactly when A >= k (A < k gives A/99 <= (k-1)/99, far more than an ulp below k/99).
    cfg = {**THRESHOLD_CFG, "n_steps": 100}
    th = np.arange(100) / 99
    res = run(cfg, thresholds=th, engine=engine)
    assert res.frac_adopted[0, -1] == 1.0, "thresholds 0..99: all 100 should riot"
    # One more rioter per step: person k joins at step k + 1.
    np.testing.assert_array_equal(res.t_adopted[0], np.arange(100) + 1, err_msg="riot order")

    th[1] = 2 / 99  # the person with threshold 1 now needs 2
    res = run(cfg, thresholds=th, engine=engine)
    assert res.counts[0, -1, 0, 2] == 1, (
        f"threshold-1 person moved to 2: only 1 should riot, got {res.counts[0, -1, 0, 2]}"
    )
    assert res.t_adopted[0, 0] == 1 and (res.t_adopted[0, 1:] == -1).all(), "only the instigator riots"


def normal_cdf_capped(x: float, mean: float, sd: float) -> float:
    """CDF of N(mean, sd) clipped to [0, 1], evaluated at an exposure x >= 0."""
    return 1.0 if x >= 1.0 else float(norm.cdf((x - mean) / sd))


@pytest.fixture(scope="module")
def complete_1000() -> Organisation:
    return complete(1000)


@pytest.fixture(scope="module")
def complete_2000() -> Organisation:
    return complete(2000)


@pytest.mark.parametrize(("sd", "below"), [(0.10, True), (0.12, True), (0.13, False), (0.15, False)])
def test_granovetter_normal_thresholds_quantiles(complete_1000: Organisation, sd: float, below: bool) -> None:
    # Deterministic thresholds theta_i = clip(0.25 + sd * Phi^-1((i + 1/2) / n), 0, 1): their
    # empirical CDF F_n satisfies |F_n(x) - F(x)| <= 1/(2n) for every x (F_n counts the
    # i with (i + 1/2)/n <= F(x): round(n F(x))). We allow eps = 1/n (half a person more
    # for a rounding tie between a threshold and an exposure).
    # On the complete graph A adopters give every non-adopter exposure A/(n-1), so the share
    # follows r_{t+1} = F_n(r_t c), c = n/(n-1), from r_0 = 0, and ends at the smallest fixed
    # point of that map. Since F - eps <= F_n <= F + eps and all these maps are
    # non-decreasing, that end point lies between the smallest fixed points r_- and r_+ of
    # r = F(r c) -+ eps: an exact bracket, no false failures.
    # Why a jump: for sd below sigma_c = 0.1222 the curve F(r) crosses the diagonal at a
    # small r* (the cascade stalls); above it F(r) > r on [0, 1) and the only fixed point is 1.
    n = complete_1000.n_staff
    c, eps = n / (n - 1), 1.0 / n
    th = np.clip(0.25 + sd * norm.ppf((np.arange(n) + 0.5) / n), 0.0, 1.0)
    res = run({**THRESHOLD_CFG, "n_steps": 400}, org=complete_1000, thresholds=th, by_group=False)
    final = res.frac_adopted[0, -1]
    assert res.frac_adopted[0, -1] == res.frac_adopted[0, -2], "400 steps should reach the fixed point"

    def cdf(x: float) -> float:
        return normal_cdf_capped(x, 0.25, sd)

    r_star = smallest_fixed_point(cdf)
    r_lo = smallest_fixed_point(lambda r: min(1.0, max(0.0, cdf(r * c) - eps)))
    r_hi = smallest_fixed_point(lambda r: min(1.0, cdf(r * c) + eps))
    assert r_lo - 1e-9 <= final <= r_hi + 1e-9, (
        f"sd={sd}: final share {final} outside the bracket [{r_lo:.4f}, {r_hi:.4f}] around r*={r_star:.4f}"
    )
    if below:
        assert final < 0.2 and r_star < 0.05, f"sd={sd} < sigma_c: the cascade should stall, got {final}"
    else:
        assert final > 0.99 and r_star > 0.99, f"sd={sd} > sigma_c: nearly everyone should adopt, got {final}"


def binomial_envelope_bounds(n: int, mean: float, sd: float, alpha: float, k: int) -> tuple[float, float]:
    """Bracket [r_-, r_+] for the final share with n drawn thresholds, failing w.p. <= alpha.

    The number of thresholds <= x_j is Binomial(n, F(x_j)) at each of k + 1 grid points
    x_j = j/k. With probability >= 1 - alpha (union bound, alpha/(2(k+1)) per tail and
    point) lo_j <= F_n(x_j) <= hi_j at every point, and then, F_n being non-decreasing,
    F_n(x) <= hi_j for x <= x_j and F_n(x) >= lo_j for x >= x_j: step envelopes. The final
    share (smallest fixed point of r = F_n(r c)) lies between the smallest fixed points
    of the envelopes. The DKW inequality, P(sup|F_n - F| > e) <= 2 exp(-2 n e^2), would
    give the same kind of bracket with e = sqrt(ln(2/alpha) / 2n) = 0.070 at n = 1000 and
    1e-4; but near sigma_c that e carries either case over the tipping point, so we use
    pointwise binomial tails, which are much tighter where F is small.
    """
    x = np.arange(k + 1) / k
    f = np.array([normal_cdf_capped(v, mean, sd) for v in x])
    a = alpha / (2 * (k + 1))
    hi = binom.isf(a, n, f) / n  # P(count > n hi) <= a
    lo = binom.ppf(a, n, f) / n  # P(count < n lo) <= a
    assert (binom.sf(hi * n, n, f) <= a).all() and (binom.cdf(lo * n - 1, n, f) <= a).all()
    c = n / (n - 1)

    def upper(r: float) -> float:  # F_n(y) <= F_n(x_j) <= hi_j for the first x_j >= y
        return float(hi[min(int(np.searchsorted(x, r * c, side="left")), k)])

    def lower(r: float) -> float:  # F_n(y) >= F_n(x_j) >= lo_j for the last x_j <= y
        return float(lo[int(np.searchsorted(x, r * c, side="right")) - 1])

    return smallest_fixed_point(lower, tol=0.0), smallest_fixed_point(upper, tol=0.0)


@pytest.mark.parametrize(("sd", "below"), [(0.10, True), (0.15, False)])
def test_granovetter_normal_thresholds_drawn(complete_2000: Organisation, sd: float, below: bool) -> None:
    # The thresholds a user gets from the config: normal draws, mean 0.25, clipped to [0, 1].
    # n = 2000 (4M stored ties) because at n = 1000 even the pointwise bracket is too wide
    # at sd = 0.15 (F(r) - r is only ~0.04 near r = 0.05, about 4.5 binomial sds).
    n = complete_2000.n_staff
    cfg = {
        **THRESHOLD_CFG,
        "dynamics": {**THRESHOLD_CFG["dynamics"], "threshold_mean": 0.25, "threshold_sd": sd},
        "n_steps": 400,
    }
    res = run(cfg, org=complete_2000, seed=2024, by_group=False)
    final = res.frac_adopted[0, -1]
    r_lo, r_hi = binomial_envelope_bounds(n, 0.25, sd, ALPHA, k=200)
    r_star = smallest_fixed_point(lambda r: normal_cdf_capped(r, 0.25, sd))
    assert r_lo <= final <= r_hi, (
        f"sd={sd}: final share {final} outside [{r_lo}, {r_hi}] (analytic r*={r_star:.4f})"
    )
    if below:
        assert r_hi < 0.2 and final < 0.2, f"sd={sd}: the cascade should stall below 0.2, got {final}"
    else:
        assert r_lo == 1.0 and final == 1.0, f"sd={sd}: everyone should adopt, got {final}"


def test_granovetter_critical_sd() -> None:
    # Deterministic: sigma_c (mean 0.25) is where r = F(r) stops having a root below 1,
    # i.e. min_{r<1} (F(r) - r) = 0; domain.md gives 0.1222.
    def min_gap(sd: float) -> float:
        r = np.linspace(0.0, 0.9, 90_001)
        return float((norm.cdf((r - 0.25) / sd) - r).min())

    sigma_c = brentq(min_gap, 0.11, 0.14, xtol=1e-6)
    assert abs(sigma_c - 0.1222) < 5e-4, f"sigma_c = {sigma_c:.4f}, domain.md: 0.1222"


# --- Bass (1969) ------------------------------------------------------------------------

P_BASS, Q_BASS = 0.03, 0.38  # per year: Sultan, Farley and Lehmann's (1990) mean p and q


def bass_recursion(p: float, q: float, dt: float, n_steps: int, n: float = math.inf) -> np.ndarray:
    """Mean-field discrete Bass: F_{t+1} = F_t + (1 - F_t)(1 - (1 - p dt)(1 - q dt F_t')).

    F_t' = F_t n/(n-1) is the adopting share of a non-adopter's n - 1 contacts.
    """
    c = 1.0 if math.isinf(n) else n / (n - 1)
    f = np.zeros(n_steps + 1)
    for t in range(n_steps):
        f[t + 1] = f[t] + (1.0 - f[t]) * (1.0 - (1.0 - p * dt) * (1.0 - q * dt * f[t] * c))
    return f


def bass_exact_chain(n: int, a: float, b: float, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and sd of the adopted share of the ABM on a complete graph of n.

    With A adopters, each of the n - A others adopts independently with
    P(A) = 1 - (1 - a)(1 - b A/(n-1)) (its own draw u(t, i)), so A' = A + Binomial(n - A, P(A)):
    a Markov chain on 0..n whose distribution we propagate exactly.
    """
    states = np.arange(n + 1)
    prob = 1.0 - (1.0 - a) * (1.0 - b * states / (n - 1))
    trans = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        trans[k, k:] = binom.pmf(np.arange(n - k + 1), n - k, prob[k])
    dist = np.zeros(n + 1)
    dist[0] = 1.0
    mean, sd = [0.0], [0.0]
    for _ in range(n_steps):
        dist = dist @ trans
        m = float(dist @ states) / n
        mean.append(m)
        sd.append(math.sqrt(max(float(dist @ states**2) / n**2 - m * m, 0.0)))
    return np.array(mean), np.array(sd)


def test_bass_abm_matches_exact_expectation_and_mean_field_curve() -> None:
    # Quarterly steps (dt = 0.25 y) for 15 years; p_spontaneous = p dt, q_imitation = q dt,
    # exposure = A/(n-1) on the complete graph with unit weights.
    n, dt, reps = 500, 0.25, 80
    n_steps = int(round(15 / dt))
    a, b = P_BASS * dt, Q_BASS * dt
    cfg = {
        "org": {"kind": "complete", "n_staff": n},
        "dynamics": {"rule": "bass", "p_spontaneous": a, "q_imitation": b},
        "seeding": {"strategy": "none"},
        "n_steps": n_steps,
    }
    res = run_batch(cfg, n_replicates=reps, by_group=False)
    sim_mean = res.frac_adopted.mean(axis=0)
    exact_mean, exact_sd = bass_exact_chain(n, a, b, n_steps)
    se = exact_sd / math.sqrt(reps)
    # One comparison per step: Bonferroni over 60 steps keeps the test's rate below 1e-4.
    z = bonferroni_z(n_steps)
    dev = np.abs(sim_mean - exact_mean)
    worst = int(np.argmax(dev - z * se))
    assert (dev <= z * se + 1e-12).all(), (
        f"step {worst}: ABM mean {sim_mean[worst]:.4f} vs exact {exact_mean[worst]:.4f} "
        f"(allowed {z:.2f} x SE {se[worst]:.4f})"
    )

    # Mean-field recursion f_t. The one-step map g(F) = F + a(1-F) + (1-a) b c F(1-F) is
    # quadratic, so E F_{t+1} = g(E F_t) - (1-a) b c Var F_t, and g(x) - g(y) = g'(m)(x - y)
    # for some m between x and y, with g'(m) = 1 - a + (1-a) b c (1 - 2m). Hence the gap
    # d_t = |E F_t - f_t| obeys d_{t+1} <= L_t d_t + (1-a) b c Var F_t, where L_t is the
    # largest |g'| on [f_t - d_t, f_t + d_t]: an O(1/n) allowance (Var F_t = O(1/n)),
    # derived from the exact variance rather than guessed.
    c = n / (n - 1)
    f = bass_recursion(P_BASS, Q_BASS, dt, n_steps, n=n)
    kappa = (1 - a) * b * c
    allowance = np.zeros(n_steps + 1)
    for t in range(n_steps):
        m_lo = max(f[t] - allowance[t], 0.0)  # |g'| is largest at the smallest m
        lip = abs(1 - a + kappa * (1 - 2 * m_lo))
        allowance[t + 1] = lip * allowance[t] + kappa * exact_sd[t] ** 2
    assert (np.abs(exact_mean - f) <= allowance + 1e-12).all(), "exact mean outside the derived O(1/n) band"
    assert allowance.max() < 5.0 / n, f"allowance {allowance.max():.4f} should be O(1/n), 1/n = {1 / n}"
    assert (np.abs(sim_mean - f) <= z * se + allowance + 1e-12).all(), "ABM mean vs mean-field recursion"
    # The recursion in turn tends to the closed-form Bass curve as dt -> 0 (next test); at
    # quarterly steps it differs from it by up to 0.02 (F(10) = 0.804 against 0.813).


def test_bass_discrete_recursion_converges_to_closed_form() -> None:
    t_end = 15.0
    errors = []
    for dt in (0.02, 0.01, 0.005):
        n_steps = int(round(t_end / dt))
        f = bass_recursion(P_BASS, Q_BASS, dt, n_steps)
        errors.append(np.abs(f - bass_closed_form(np.arange(n_steps + 1) * dt, P_BASS, Q_BASS)).max())
    # First order in dt: halving the step halves the error.
    for coarse, fine in zip(errors, errors[1:], strict=False):
        assert 1.8 < coarse / fine < 2.2, f"errors {errors} should halve with dt"
    assert errors[-1] < 1e-3, f"dt=0.005 should be within 1e-3 of the closed form, got {errors[-1]}"


def test_bass_reference_numbers() -> None:
    p, q = P_BASS, Q_BASS
    t_peak = math.log(q / p) / (p + q)
    t_half = math.log(2 + q / p) / (p + q)  # (1 - x)/(1 + (q/p) x) = 1/2 with x = e^{-(p+q)t}
    assert round(t_peak, 2) == 6.19, f"t* = {t_peak}"
    assert round(float(bass_closed_form(t_peak, p, q)), 4) == 0.4605 == round(0.5 - p / (2 * q), 4), "F(t*)"
    assert round(float(bass_closed_form(5.0, p, q)), 3) == 0.331, "F(5)"
    assert round(float(bass_closed_form(10.0, p, q)), 3) == 0.813, "F(10)"
    assert round(float(bass_closed_form(15.0, p, q)), 3) == 0.972, "F(15)"
    assert round(t_half, 2) == 6.55, f"t50 = {t_half}"
    assert round((p + q) ** 2 / (4 * q), 4) == 0.1106, "peak adoption rate"

    # The fine-step discrete model reproduces them (error O(dt) = 1e-5 here).
    dt = 1e-4
    f = bass_recursion(p, q, dt, int(round(15 / dt)))
    assert abs(f[int(round(5 / dt))] - 0.331) < 5e-4, "recursion F(5)"
    assert abs(f[int(round(10 / dt))] - 0.813) < 5e-4, "recursion F(10)"
    assert abs(np.argmax(np.diff(f)) * dt - 6.19) < 5e-3, "recursion peak time"
    assert abs(np.argmax(f >= 0.5) * dt - 6.55) < 5e-3, "recursion t50"
    assert abs(f[int(round(t_peak / dt))] - 0.4605) < 1e-4, "recursion F(t*)"


# --- Watts (2002) ---------------------------------------------------------------------------

WATTS_PHI = 0.18
WATTS_N = 10_000


def watts_cfg(z: float) -> dict:
    return {
        "org": {"kind": "random", "n_staff": WATTS_N, "mean_degree": z},
        "dynamics": {"rule": "threshold", "threshold_kind": "fraction", "threshold_mean": WATTS_PHI},
        "seeding": {"strategy": "random", "n_seeds": 1},
        "n_steps": 1000,
    }


def test_watts_window_edges() -> None:
    # Cascade condition for Poisson degrees and phi = 0.18 (vulnerable iff k <= 5):
    # sum_k k(k-1) rho_k p_k > z  <=>  z P[Pois(z) <= 3] > 1; domain.md: 1.02 < z < 5.77.
    def margin(z: float) -> float:
        return z * poisson.cdf(3, z) - 1.0

    lo, hi = brentq(margin, 0.5, 2.0), brentq(margin, 3.0, 8.0)
    # The upper root is 5.7647; domain.md rounds it to 5.77.
    assert round(lo, 2) == 1.02 and abs(hi - 5.77) < 0.01, f"window ({lo:.4f}, {hi:.4f})"
    assert abs(watts_cascade_probability(3.0, WATTS_PHI) - 0.87) < 0.005, "theory at z=3 vs domain.md's 0.87"


def cascade_finals(z: float, n_graphs: int, reps: int, first_graph: int = 0) -> np.ndarray:
    """(n_graphs, reps) final adopted shares: reps random single seeds on each of n_graphs graphs."""
    out = np.empty((n_graphs, reps))
    for g in range(n_graphs):
        cfg = {**watts_cfg(z), "org_seed": first_graph + g}
        res = run_batch(cfg, seeds=1000 * (first_graph + g) + np.arange(reps), by_group=False)
        out[g] = res.frac_adopted[:, -1]
    return out


# Replicates on one graph share its structure, so they are not independent draws from the
# random-graph ensemble. Design effect: Var = p(1-p)/N * (1 + (m-1) rho) for m runs per
# graph and intra-graph correlation rho. We measured rho = 0.004-0.007 for the
# global-cascade indicator (2000 runs on 20 graphs at z = 2, 3) and ~0 for the large
# outbreak indicator of the independent cascade; we allow rho = 0.02.
RHO_BINARY = 0.02


def binary_se(p: float, n_graphs: int, reps: int, rho: float = RHO_BINARY) -> float:
    return math.sqrt(p * (1 - p) / (n_graphs * reps) * (1 + (reps - 1) * rho))


def test_watts_global_cascades_inside_the_window() -> None:
    # 10 graphs x 20 seeds = 200 runs at z = 3; domain.md's 0.87 came from 200 runs as well.
    finals = cascade_finals(3.0, n_graphs=10, reps=20)
    freq = float((finals > 0.5).mean())
    p_ref = 0.87
    se = math.sqrt(p_ref * (1 - p_ref) / 200 + binary_se(p_ref, 10, 20) ** 2)
    assert abs(freq - p_ref) <= Z * se, (
        f"z=3: global cascades in {freq:.3f} of runs, domain.md 0.87 +- {Z * se:.3f}"
    )
    theory = watts_cascade_probability(3.0, WATTS_PHI)
    se_ours = binary_se(theory, 10, 20)
    assert abs(freq - theory) <= Z * se_ours, f"z=3: {freq:.3f} vs theory {theory:.3f} +- {Z * se_ours:.3f}"
    # Global cascades are large: they reach every vulnerable node and beyond (domain.md: 0.8-1).
    assert finals[finals > 0.5].mean() > 0.9, "mean global cascade size at z=3 should be > 0.9"


def test_watts_no_global_cascades_above_the_window() -> None:
    # z = 8 > 5.77: vulnerable clusters are subcritical (mean excess degree into vulnerable
    # nodes z P[Pois(z) <= 3] = 0.34 < 1), so cascades stay O(1); reaching half of 10^4
    # nodes has an exponentially small chance. domain.md: 0 of 200 for z >= 6.5.
    finals = cascade_finals(8.0, n_graphs=4, reps=50)
    assert (finals <= 0.5).all(), f"z=8: {(finals > 0.5).sum()} global cascades, expected none"
    assert finals.max() < 0.01, f"z=8: largest cascade {finals.max():.4f} of staff, expected a handful"


def test_watts_no_global_cascades_below_the_window() -> None:
    # z = 0.9 < 1: no giant component; a cascade cannot leave the seed's component, and
    # every component holds < 50% of the nodes (checked), so none can be global. Exact.
    finals = np.empty((4, 50))
    for g in range(4):
        org = random_graph(WATTS_N, 0.9, seed=g)
        adj = csr_matrix((np.ones(len(org.indices)), org.indices, org.indptr), shape=(WATTS_N, WATTS_N))
        _, label = connected_components(adj, directed=False)
        largest = np.bincount(label).max() / WATTS_N
        assert largest < 0.5, f"graph {g}: largest component {largest:.3f} (no giant expected at z=0.9)"
        res = run_batch(watts_cfg(0.9), org=org, seeds=1000 * g + np.arange(50), by_group=False)
        finals[g] = res.frac_adopted[:, -1]
        assert (finals[g] <= largest).all(), "a cascade outgrew its connected component"
    assert (finals <= 0.5).all(), "z=0.9: global cascade below the window"


@pytest.mark.slow
@pytest.mark.parametrize(("z", "domain_freq"), [(2.0, 0.77), (3.0, 0.87), (4.0, 0.84), (5.0, 0.69)])
def test_watts_window_frequencies_independent_graphs(z: float, domain_freq: float) -> None:
    # 200 runs, each on its own graph: independent Bernoulli draws, so the binomial SE is exact.
    finals = np.array(
        [
            run(
                watts_cfg(z), org=random_graph(WATTS_N, z, seed=500 + k), seed=k, by_group=False
            ).frac_adopted[0, -1]
            for k in range(200)
        ]
    )
    freq = float((finals > 0.5).mean())
    se_pair = math.sqrt(domain_freq * (1 - domain_freq) / 200 * 2)
    assert abs(freq - domain_freq) <= Z * se_pair, (
        f"z={z}: {freq:.3f} vs domain.md {domain_freq} +- {Z * se_pair:.3f}"
    )
    theory = watts_cascade_probability(z, WATTS_PHI)
    se = math.sqrt(theory * (1 - theory) / 200)
    assert abs(freq - theory) <= Z * se, f"z={z}: {freq:.3f} vs theory {theory:.3f} +- {Z * se:.3f}"


# --- Independent cascade = bond percolation (Kempe et al. 2003; Newman 2002) --------------------

IC_N = 10_000
LARGE = 0.2  # share separating large outbreaks from small ones (small ones here are < 0.1%)
# Intra-graph correlation of a run's final size among large outbreaks: measured 0.07-0.09
# (900 runs on 30 graphs at zT = 2, 3); allowed 0.2.
RHO_SIZE = 0.2


def test_percolation_and_cascade_theory_vanish_below_their_thresholds() -> None:
    assert percolation_size(1.0) == 0.0 and percolation_size(0.5) == 0.0, "no giant outbreak at zT <= 1"
    s = percolation_size(2.0)
    assert abs(s - (1.0 - math.exp(-2.0 * s))) < 1e-12 and s > 0.5, f"S(2) = {s} solves S = 1 - exp(-2S)"
    assert 0.0 < percolation_size(1.05) < 0.2, "S rises from 0 just above the threshold"
    assert watts_cascade_probability(0.0, WATTS_PHI) == 0.0, "no ties, no cascade"
    assert watts_cascade_probability(0.5, WATTS_PHI) < 1e-9, "below the window (z < 1.02) no global cascade"
    assert watts_cascade_probability(7.0, WATTS_PHI) < 1e-9, "above the window (z > 5.76) none either"


def test_random_graph_loses_the_predicted_share_of_its_degree() -> None:
    # 20 graphs of 2,000 at z = 8: 20 ties lost per graph (0.02 of the degree), sd 0.0045 per graph.
    degrees = np.array([random_graph(2000, 8.0, seed=g).indptr[-1] / 2000 for g in range(20)])
    se = degrees.std(ddof=1) / math.sqrt(len(degrees))
    theory = random_graph_degree(8.0, 2000)
    assert abs(degrees.mean() - theory) <= Z * se, (
        f"mean degree {degrees.mean():.4f} vs {theory:.4f} +- {Z * se}"
    )
    assert degrees.mean() < 8.0 - 10 * se, "the loss is there: the mean degree is below z"


def ic_finals(z: float, p_transmit: float, n_graphs: int, reps: int, first_graph: int = 0) -> np.ndarray:
    out = np.empty((n_graphs, reps))
    for g in range(n_graphs):
        cfg = {
            "org": {"kind": "random", "n_staff": IC_N, "mean_degree": z},
            "dynamics": {"rule": "cascade", "p_transmit": p_transmit},
            "seeding": {"strategy": "random", "n_seeds": 1},
            "n_steps": 1000,
            "org_seed": first_graph + g,
        }
        res = run_batch(cfg, seeds=1000 * (first_graph + g) + np.arange(reps), by_group=False)
        out[g] = res.frac_adopted[:, -1]
    return out


@pytest.mark.parametrize(("z", "p_transmit", "s_domain"), [(4.0, 0.5, 0.797), (6.0, 0.5, 0.941)])
def test_independent_cascade_is_bond_percolation(z: float, p_transmit: float, s_domain: float) -> None:
    # Each new adopter gets one chance, with probability T, to convert each contact: the set
    # reached from the seed is its cluster in bond percolation with occupation T (Newman
    # 2002). For Poisson degrees the large cluster has share S = 1 - exp(-zT S), and a
    # random seed lands in it with probability S.
    s = percolation_size(z * p_transmit)
    assert abs(s - s_domain) < 1e-3, f"theory S={s:.4f}, domain.md {s_domain}"
    n_graphs, reps = 20, 10
    finals = ic_finals(z, p_transmit, n_graphs, reps)
    large = finals > LARGE
    assert finals[~large].max(initial=0.0) < 0.01, "small outbreaks should stay tiny above threshold"

    freq = float(large.mean())
    se_f = binary_se(s, n_graphs, reps)
    assert abs(freq - s) <= Z * se_f, (
        f"zT={z * p_transmit}: large outbreaks in {freq:.3f} of runs, S={s:.3f} +- {Z * se_f:.3f}"
    )

    sizes = finals[large]
    m_bar = len(sizes) / n_graphs
    se_s = sizes.std(ddof=1) / math.sqrt(len(sizes)) * math.sqrt(1 + (m_bar - 1) * RHO_SIZE)
    s_eff = percolation_size(random_graph_degree(z, IC_N) * p_transmit)
    assert abs(sizes.mean() - s_eff) <= Z * se_s, (
        f"zT={z * p_transmit}: mean large outbreak {sizes.mean():.4f} vs S={s_eff:.4f} +- {Z * se_s:.4f}"
    )


@pytest.mark.slow
@pytest.mark.parametrize(("z", "p_transmit"), [(5.0, 0.3), (4.0, 0.5), (10.0, 0.3)])
def test_independent_cascade_independent_graphs(z: float, p_transmit: float) -> None:
    # 200 runs, each on its own graph: no design effect.
    s = percolation_size(random_graph_degree(z, IC_N) * p_transmit)
    cfg = {
        "org": {"kind": "random", "n_staff": IC_N, "mean_degree": z},
        "dynamics": {"rule": "cascade", "p_transmit": p_transmit},
        "seeding": {"strategy": "random", "n_seeds": 1},
        "n_steps": 1000,
    }
    finals = np.array(
        [
            run(cfg, org=random_graph(IC_N, z, seed=700 + k), seed=k, by_group=False).frac_adopted[0, -1]
            for k in range(200)
        ]
    )
    large = finals > LARGE
    se_f = math.sqrt(s * (1 - s) / 200)
    assert abs(large.mean() - s) <= Z * se_f, f"large outbreaks {large.mean():.3f} vs S={s:.3f}"
    sizes = finals[large]
    se_s = sizes.std(ddof=1) / math.sqrt(len(sizes))
    assert abs(sizes.mean() - s) <= Z * se_s, f"mean large outbreak {sizes.mean():.4f} vs S={s:.4f}"


# --- Complex contagion (Centola and Macy 2007) ----------------------------------------------

COUNT_CFG = {
    "dynamics": {"rule": "threshold", "threshold_kind": "count", "threshold_mean": 2.0},
    "seeding": {"strategy": "none"},
    "n_steps": 30,
}


def tree_cfg(p_team_tie: float) -> dict:
    org = {"kind": "synthetic", "n_staff": 60, "span_of_control": 5, "mean_peer_ties": 0.0}
    return {**COUNT_CFG, "org": {**org, "p_team_tie": p_team_tie}}


def adopters(cfg: dict, org: Organisation, seeds: list[int], engine: str = "kernel") -> np.ndarray:
    """Who has adopted at the end, starting from the given initial adopters."""
    res = run(cfg, org=org, initial_adopters=np.array(seeds), engine=engine, by_group=False)
    return np.flatnonzero(res.final_state[0])


def test_complex_contagion_stalls_on_a_tree() -> None:
    # Count threshold 2 (unit weights: two adopting contacts). A line-management tree has
    # no triangles, so next to one adopter, or two adjacent ones, nobody has two.
    cfg = tree_cfg(0.0)
    org = run(cfg, by_group=False).org
    n = org.n_staff
    assert org.n_ties == n - 1 and (org.manager >= 0).sum() == n - 1, "p_team_tie=0, no peers: a tree"
    for i in range(n):
        assert adopters(cfg, org, [i]).tolist() == [i], f"one seed ({i}) spread on a tree"
    for i in range(0, n, 6):
        assert adopters(cfg, org, [i], engine="agents").tolist() == [i], f"agents: one seed ({i}) spread"
    for i in np.flatnonzero(org.manager >= 0)[::4]:
        pair = sorted([int(i), int(org.manager[i])])
        assert adopters(cfg, org, pair).tolist() == pair, f"adjacent seeds {pair} spread on a tree"


def test_complex_contagion_spreads_through_a_team() -> None:
    # Two colleagues in one frontline team: on the tree only their shared manager gets two
    # adopting contacts; with team ties every teammate does, and the team adopts.
    tree, clustered = tree_cfg(0.0), tree_cfg(1.0)
    org = run(clustered, by_group=False).org
    org_tree = run(tree, by_group=False).org
    np.testing.assert_array_equal(org.manager, org_tree.manager, err_msg="same hierarchy expected")
    frontline = org.level == org.level.max()
    lead = int(np.bincount(org.manager[frontline]).argmax())
    team = np.flatnonzero(org.manager == lead)
    assert len(team) >= 4 and (org.level[team] == org.level.max()).all(), "pick a frontline team of 4+"
    seeds = team[:2].tolist()

    on_tree = adopters(tree, org_tree, seeds)
    assert on_tree.tolist() == sorted(seeds + [lead]), (
        f"tree: expected the 2 seeds and their lead, got {on_tree}"
    )
    for engine in ("kernel", "agents"):
        spread = adopters(clustered, org, seeds, engine=engine)
        missing = set(team.tolist() + [lead]) - set(spread.tolist())
        assert not missing, (
            f"{engine}: team ties should carry the change to all of team {lead}; missing {missing}"
        )
