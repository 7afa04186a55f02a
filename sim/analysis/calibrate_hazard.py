"""Exact likelihoods of observed adoption: discrete-time hazards and the Bass curve.

Where the adoption rule makes each person's chance of adopting in a step a known function
of what is observed (who had adopted by the step before), the likelihood is a product
over person-steps at risk and needs no simulation:

- **exposure-logit** (Valente 2005; Iyengar, Van den Bulte and Valente 2011):
  logit h_it = b0 + b_e e_i(t-1) + b_x x_i, fitted with statsmodels as a binomial GLM on
  the person-step table; the **external-only hazard** is the same without b_e.
- **the changesim Bass rule on the network** (``dynamics.rule=bass``):
  h_it = 1 - (1 - p)(1 - q e_i(t-1)), fitted by maximum likelihood (scipy), standard
  errors from the inverse Hessian. This is the simulator's own rule, so it cross-checks
  the likelihood-free fit.
- **the Bass (1969) curve** with a ceiling: F(t) = m (1 - exp(-(p+q)t)) / (1 + (q/p)
  exp(-(p+q)t)); each person's adoption step falls in (t-1, t] with probability
  F(t) - F(t-1) and after the window with 1 - F(T) (aggregate: no network).

Each model can also **predict** a new site forward from step 0 (``simulate_*``), which
the leave-one-site-out validation scores. Covariates are standardised with the fitting
data's means and standard deviations and missing values set to that mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from sim.analysis.calibrate_stats import Network, exposure
from sim.observed import ObservedDiffusion


@dataclass
class Standardiser:
    """Centre and scale of each covariate, learnt on fitting data and reused on new sites."""

    columns: list[str]
    mean: np.ndarray
    sd: np.ndarray

    @classmethod
    def fit(cls, obs: ObservedDiffusion, columns: list[str]) -> Standardiser:
        """Means and standard deviations of ``columns`` in ``obs`` (missing values ignored)."""
        x = obs.covariates[columns].to_numpy(dtype=float) if columns else np.zeros((obs.n_people, 0))
        mean = np.nanmean(x, axis=0) if columns else np.zeros(0)
        sd = np.nanstd(x, axis=0) if columns else np.zeros(0)
        return cls(list(columns), mean, np.where(sd > 0, sd, 1.0))

    def apply(self, obs: ObservedDiffusion) -> np.ndarray:
        """(n, k) standardised covariates; a missing value becomes 0 (the mean)."""
        if not self.columns:
            return np.zeros((obs.n_people, 0))
        x = (obs.covariates[self.columns].to_numpy(dtype=float) - self.mean) / self.sd
        return np.nan_to_num(x, nan=0.0)


def person_steps(
    obs: ObservedDiffusion, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The person-step table of people at risk: (person, step, exposure at t-1, adopted).

    Person i is at risk in step t = 1..T if not adopted by the end of t-1 (people adopted
    at step 0 are never at risk).
    """
    net = Network.of(obs.org, obs.n_steps)
    e = exposure(obs.t_adopted, net)[0]
    t = obs.t_adopted
    rows = []
    for step in range(1, obs.n_steps + 1):
        risk = np.flatnonzero((t < 0) | (t >= step))
        rows.append((risk, np.full(len(risk), step), e[step - 1, risk], (t[risk] == step).astype(float)))
    person, step, ex, y = (np.concatenate(c) for c in zip(*rows, strict=True))
    return person, step, ex, y


@dataclass
class LogitHazard:
    """A fitted discrete-time logistic hazard (exposure-logit or external-only)."""

    names: list[str]
    params: np.ndarray
    cov: np.ndarray
    standardiser: Standardiser
    with_exposure: bool
    n_person_steps: int
    loglik: float

    def table(self) -> pd.DataFrame:
        """Coefficients with standard errors, 95% Wald intervals and odds ratios."""
        se = np.sqrt(np.diag(self.cov))
        return pd.DataFrame(
            {
                "term": self.names,
                "coef": self.params,
                "se": se,
                "ci_lo": self.params - 1.959964 * se,
                "ci_hi": self.params + 1.959964 * se,
                "odds_ratio": np.exp(self.params),
            }
        )

    def hazard(self, e: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Per-step adoption probability for exposures ``e`` (..., n) of people with covariates x."""
        lin = self.params[0] + x @ self.params[1 + self.with_exposure :]
        if self.with_exposure:
            lin = lin + self.params[1] * e
        return 1.0 / (1.0 + np.exp(-lin))


def fit_logit(obs: ObservedDiffusion, covariates: list[str], with_exposure: bool = True) -> LogitHazard:
    """Fit logit h_it = b0 [+ b_e e_i(t-1)] + b_x x_i by maximum likelihood (statsmodels GLM)."""
    import statsmodels.api as sm

    std = Standardiser.fit(obs, covariates)
    x = std.apply(obs)
    person, _, ex, y = person_steps(obs, x)
    cols = [np.ones(len(y))] + ([ex] if with_exposure else []) + [x[person, k] for k in range(x.shape[1])]
    design = np.column_stack(cols)
    res = sm.GLM(y, design, family=sm.families.Binomial()).fit()
    names = ["intercept"] + (["exposure"] if with_exposure else []) + [f"{c} (per sd)" for c in covariates]
    return LogitHazard(names, np.asarray(res.params), np.asarray(res.cov_params()), std, with_exposure,
                       len(y), float(res.llf))  # fmt: skip


@dataclass
class BassRuleFit:
    """Maximum-likelihood p and q of changesim's Bass rule on the observed network."""

    p: float
    q: float
    cov: np.ndarray
    loglik: float

    def table(self) -> pd.DataFrame:
        """Estimates with standard errors and 95% Wald intervals."""
        est = np.array([self.p, self.q])
        se = np.sqrt(np.diag(self.cov))
        terms = ["dynamics.p_spontaneous", "dynamics.q_imitation"]
        return pd.DataFrame({"term": terms, "coef": est, "se": se,
                             "ci_lo": est - 1.959964 * se, "ci_hi": est + 1.959964 * se})  # fmt: skip


def fit_bass_rule(obs: ObservedDiffusion) -> BassRuleFit:
    """Maximise sum y log h + (1 - y) log(1 - h), h = 1 - (1 - p)(1 - q e), over (p, q) in [0, 1]^2."""
    _, _, ex, y = person_steps(obs, np.zeros((obs.n_people, 0)))

    def nll(theta: np.ndarray) -> float:
        p, q = theta
        h = np.clip(1.0 - (1.0 - p) * (1.0 - q * ex), 1e-12, 1 - 1e-12)
        return -float((y * np.log(h) + (1 - y) * np.log1p(-h)).sum())

    best = optimize.minimize(
        nll, x0=[0.05, 0.1], bounds=[(1e-6, 1 - 1e-6), (0.0, 1 - 1e-6)], method="L-BFGS-B"
    )
    cov = np.linalg.pinv(_hessian(nll, best.x))
    return BassRuleFit(float(best.x[0]), float(best.x[1]), cov, -float(best.fun))


def _hessian(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference Hessian (the information matrix of a negative log-likelihood)."""
    k = len(x)
    out = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return out


@dataclass
class BassCurve:
    """The Bass (1969) curve with ceiling m, fitted to individual censored adoption steps."""

    p: float
    q: float
    m: float

    def cdf(self, t: np.ndarray) -> np.ndarray:
        """F(t): share adopted by time t (t in steps, continuous)."""
        t = np.asarray(t, dtype=float)
        a = np.exp(-(self.p + self.q) * t)
        return self.m * (1.0 - a) / (1.0 + (self.q / self.p) * a)

    def step_probabilities(self, n_steps: int) -> np.ndarray:
        """(n_steps + 1,) chance of adopting in steps 1..T, then of not adopting by T."""
        f = self.cdf(np.arange(n_steps + 1))
        return np.append(np.diff(f), 1.0 - f[-1])


def fit_bass_curve(obs: ObservedDiffusion) -> BassCurve:
    """Maximum likelihood over (p, q, m) of the censored adoption steps (step 0 adopters ignored)."""
    t = obs.t_adopted[obs.t_adopted != 0]
    counts = np.bincount(np.where(t < 0, obs.n_steps + 1, t), minlength=obs.n_steps + 2)[1:]

    def nll(theta: np.ndarray) -> float:
        p, q, m = np.exp(theta[0]), np.exp(theta[1]), 1.0 / (1.0 + np.exp(-theta[2]))
        prob = np.clip(BassCurve(p, q, m).step_probabilities(obs.n_steps), 1e-300, None)
        return -float((counts * np.log(prob)).sum())

    best = min(
        (optimize.minimize(nll, x0=[np.log(p0), np.log(q0), 2.0], method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-10})
         for p0, q0 in ((0.05, 0.1), (0.1, 0.01), (0.01, 0.5))),
        key=lambda r: r.fun,
    )  # fmt: skip
    p, q, m = np.exp(best.x[0]), np.exp(best.x[1]), 1.0 / (1.0 + np.exp(-best.x[2]))
    return BassCurve(float(p), float(q), float(m))


# --- Prediction of a site from step 0 (ensembles of adoption steps) ---


def simulate_hazard(
    hazard_of: callable, obs: ObservedDiffusion, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """(R, n) adoption steps from a hazard that may depend on exposure, run forward from step 0.

    ``hazard_of(e)`` maps exposures (R, n) at the end of step t-1 to adoption chances in
    step t. People adopted at step 0 in ``obs`` start adopted (they seeded the site).
    """
    net = Network.of(obs.org, obs.n_steps)
    n = obs.n_people
    t_adopted = np.where(obs.t_adopted == 0, 0, -1)[None, :].repeat(n_draws, axis=0)
    deg = np.maximum(net.degree, 1)
    for step in range(1, obs.n_steps + 1):
        adopted = t_adopted >= 0
        e = (net.adjacency @ adopted.T.astype(float)).T / deg
        h = hazard_of(e)
        new = (~adopted) & (rng.random((n_draws, n)) < h)
        t_adopted[new] = step
    return t_adopted


def simulate_bass_curve(
    curve: BassCurve, obs: ObservedDiffusion, n_draws: int, rng: np.random.Generator
) -> np.ndarray:
    """(R, n) adoption steps drawn independently from the Bass curve's step probabilities."""
    prob = curve.step_probabilities(obs.n_steps)
    cat = rng.choice(len(prob), size=(n_draws, obs.n_people), p=prob / prob.sum())
    return np.where(cat == obs.n_steps, -1, cat + 1)
