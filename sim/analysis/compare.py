"""Compare scenarios on common random numbers: outcomes per replicate, intervals, differences.

Every scenario runs with the same replicate seeds, so replicate r of each scenario shares
its people and its random draws wherever the mechanisms allow; a difference between two
scenarios is then estimated seed by seed (``sim.analysis.stats.paired_difference``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim import rng
from sim.analysis.stats import Difference, mean_ci, paired_difference, replicates_needed
from sim.constants import COMMITTED, COMPLYING, LAPSED
from sim.metrics import use_outcomes
from sim.model import organisation_for
from sim.org import CLINICAL, Organisation
from sim.params import ModelConfig
from sim.run import Result, run_batch

EARLY_STEP = 13  # a quarter of a year, in weeks


@dataclass
class Scenario:
    """A named configuration with a plain-language description and its source."""

    name: str
    title: str
    description: str
    config: ModelConfig
    source: str = ""


@dataclass
class Outcome:
    """One outcome measure: its key, plain-language label and which direction is better.

    ``better`` is ``higher``, ``lower`` or ``""`` (descriptive only: not used to rank the
    models). ``censored`` outcomes are NaN where the event never happened (time to 50%);
    to rank them a run that never got there counts as the horizon plus one week.
    ``binary`` outcomes are 0/1 per run and get a Wilson interval of the share of runs.
    """

    key: str
    label: str
    percent: bool = True
    better: str = "higher"
    censored: bool = False
    binary: bool = False


OUTCOMES: tuple[Outcome, ...] = (
    Outcome("early", f"Adoption after {EARLY_STEP} weeks"),
    Outcome("peak", "Peak adoption"),
    Outcome("sustained", "Adoption at the end (sustained)"),
    Outcome("committed", "Committed (owns the change) at the end"),
    Outcome("complying", "Complying (under mandate) at the end", better=""),
    Outcome("lapsed", "Lapsed at the end", better="lower"),
    Outcome(
        "t_50", "Weeks to 50% adoption (runs that got there)", percent=False, better="lower", censored=True
    ),
    Outcome("reached_50", "Runs in which adoption reached 50%", better="", binary=True),
    Outcome("cumulative_use", "Mean share in use over the run (staff-weeks in use)"),
    Outcome("timely_use", "Mean share in use, weeks weighted by the change's urgency"),
    # Defined only where a mandate was withdrawn a year before the end: not used to rank.
    Outcome("use_after_mandate", "In use a year after the mandate ended (scenarios with one)", better=""),
)


@dataclass
class Comparison:
    """Results of several scenarios over common seeds, with tidy outcome tables."""

    scenarios: list[Scenario]
    results: dict[str, Result]
    seeds: np.ndarray
    outcomes: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.outcomes = pd.concat(
            [outcomes_of(s.name, self.results[s.name]) for s in self.scenarios], ignore_index=True
        )

    def table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per scenario and outcome: mean, interval, replicates."""
        rows = []
        for s in self.scenarios:
            df = self.outcomes[self.outcomes.scenario == s.name]
            for o in OUTCOMES:
                est = mean_ci(df[o.key].to_numpy(), level)
                rows.append({
                    "scenario": s.name, "title": s.title, "outcome": o.key, "label": o.label,
                    "mean": est.mean, "ci_lo": est.lo, "ci_hi": est.hi, "n": est.n, "sd": est.sd,
                })  # fmt: skip
        return pd.DataFrame(rows)

    def differences(self, reference: str, level: float = 0.95) -> pd.DataFrame:
        """Paired differences (scenario - reference) for every outcome measured on all seeds."""
        ref = self.outcomes[self.outcomes.scenario == reference].sort_values("replicate")
        rows = []
        for s in self.scenarios:
            if s.name == reference:
                continue
            df = self.outcomes[self.outcomes.scenario == s.name].sort_values("replicate")
            for o in OUTCOMES:
                if o.key == "t_50":
                    continue  # censored where 50% is never reached: not paired
                if np.isnan(ref[o.key].to_numpy()).any() or np.isnan(df[o.key].to_numpy()).any():
                    continue  # not defined for one of the two (no mandate ended): not paired
                d = paired_difference(ref[o.key].to_numpy(), df[o.key].to_numpy(), level)
                rows.append({
                    "scenario": s.name, "title": s.title, "reference": reference,
                    "outcome": o.key, "label": o.label, "difference": d.estimate.mean,
                    "ci_lo": d.estimate.lo, "ci_hi": d.estimate.hi, "effect_size_dz": d.effect_size,
                    "p_value": d.p_value, "n": d.estimate.n,
                })  # fmt: skip
        return pd.DataFrame(rows)

    def reach(self, dimension: str) -> pd.DataFrame:
        """Mean final adoption by group of ``dimension`` (level, profession, organisation)."""
        frames = []
        for s in self.scenarios:
            ts = self.results[s.name].timeseries
            last = ts[(ts.step == ts.step.max()) & (ts.dimension == dimension)]
            g = last.groupby("group", sort=False)["frac_adopted"].agg(["mean", "count"]).reset_index()
            g.insert(0, "scenario", s.name)
            frames.append(g)
        return pd.concat(frames, ignore_index=True)

    def replicates_for(self, half_width: float = 0.02, outcome: str = "sustained") -> pd.DataFrame:
        """Replicates each scenario needs for a 95% interval of +- half_width on an outcome."""
        rows = []
        for s in self.scenarios:
            x = self.outcomes.loc[self.outcomes.scenario == s.name, outcome].to_numpy()
            sd = float(np.nanstd(x, ddof=1)) if np.isfinite(x).sum() > 1 else 0.0
            need = replicates_needed(sd, half_width) if sd > 0 else 2
            rows.append({"scenario": s.name, "outcome": outcome, "sd": sd, "half_width": half_width,
                         "replicates_needed": need})  # fmt: skip
        return pd.DataFrame(rows)


def outcomes_of(name: str, result: Result) -> pd.DataFrame:
    """Per-replicate outcomes of one scenario (shares in [0, 1]; t_50 in weeks, NaN if never)."""
    c = result.counts[:, :, 0, :].astype(np.float64)
    total = c[:, :1, :].sum(axis=2)
    share = c / total[:, :, None]
    adopted = share[:, :, COMPLYING] + share[:, :, COMMITTED]
    early = adopted[:, min(EARLY_STEP, adopted.shape[1] - 1)]
    hit = adopted >= 0.5
    t50 = np.where(hit.any(axis=1), hit.argmax(axis=1), np.nan).astype(np.float64)
    cfg = result.config
    use = use_outcomes(adopted, cfg.mandate.end if cfg.mandate.on else -1, cfg.change.urgency)
    return pd.DataFrame({
        "scenario": name, "replicate": np.arange(len(result.seeds)), "seed": result.seeds,
        "early": early, "peak": adopted.max(axis=1), "sustained": adopted[:, -1],
        "committed": share[:, -1, COMMITTED], "complying": share[:, -1, COMPLYING],
        "lapsed": share[:, -1, LAPSED],
        "t_50": t50, "reached_50": hit.any(axis=1).astype(np.float64), **use,
    })  # fmt: skip


def cell(table: pd.DataFrame, point: Mapping[str, Any], outcome: str) -> np.ndarray:
    """(R,) ``outcome`` of the rows of a per-replicate table at one grid point, sorted by seed.

    ``point`` gives a value per column: numbers match within ``np.isclose`` (grid values
    read back from a config or a file need not be bit-equal), anything else exactly.
    """
    mask = np.ones(len(table), dtype=bool)
    for key, value in point.items():
        if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
            mask &= np.isclose(table[key].to_numpy(), value)
        else:
            mask &= (table[key] == value).to_numpy()
    return table[mask].sort_values("seed")[outcome].to_numpy()


def paired_cells(
    table: pd.DataFrame, outcome: str, a: Mapping[str, Any], b: Mapping[str, Any], level: float = 0.95
) -> Difference:
    """Paired difference b - a in ``outcome`` between two grid points run on common seeds (``cell``)."""
    return paired_difference(cell(table, a, outcome), cell(table, b, outcome), level)


def clinician_groups() -> tuple[str, ...]:
    """Profession names counted as clinicians."""
    return CLINICAL


def run_comparison(scenarios: list[Scenario], n_replicates: int = 30, seed: int = 0) -> Comparison:
    """Run every scenario on the same seeds; scenarios with equal org settings share one organisation."""
    seeds = rng.replicate_seeds(seed, n_replicates)
    orgs: dict[str, Organisation] = {}
    results = {}
    for s in scenarios:
        key = json.dumps(s.config.to_dict()["org"], sort_keys=True) + str(s.config.org_seed)
        if key not in orgs:
            orgs[key] = organisation_for(s.config)
        results[s.name] = run_batch(s.config, org=orgs[key], seeds=seeds)
    return Comparison(scenarios, results, seeds)
