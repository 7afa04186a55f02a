"""From counts to tidy tables: time series by group and end-of-run summaries.

Engines record ``counts[r, t, g, s]``: staff of group g in adoption state s after step t
of replicate r. Group 0 is the whole workforce; then one group per level, profession and
partner organisation. This module turns those counts into long-format pandas tables
(one row per replicate x step x group) with shares, and per-replicate summaries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.constants import COMMITTED, COMPLYING
from sim.org import PROFESSIONS, Organisation
from sim.state import STATE_NAMES

DIMENSIONS = ("all", "level", "profession", "organisation")
STEP_COLUMNS = ("t_10", "t_50", "t_90")
"""Summary columns that hold the step a level was first reached: nullable, missing if never."""


def group_matrix(org: Organisation, by_group: bool = True) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Group membership of every person and the labels of the groups.

    Returns:
        groups: (n, 4) int64 (or (n, 1) with ``by_group=False``): the groups person i
            counts in (all, level, profession, organisation).
        labels: (dimension, group name) for each group index.
    """
    n = org.n_staff
    labels: list[tuple[str, str]] = [("all", "all")]
    if not by_group:
        return np.zeros((n, 1), dtype=np.int64), labels
    n_lev = org.n_levels
    labels += [("level", name) for name in org.level_names]
    labels += [("profession", name) for name in PROFESSIONS]
    labels += [("organisation", name) for name in org.org_names]
    groups = np.empty((n, 4), dtype=np.int64)
    groups[:, 0] = 0
    groups[:, 1] = 1 + org.level.astype(np.int64)
    groups[:, 2] = 1 + n_lev + org.profession.astype(np.int64)
    groups[:, 3] = 1 + n_lev + len(PROFESSIONS) + org.organisation.astype(np.int64)
    return groups, labels


def timeseries(
    counts: np.ndarray,
    labels: list[tuple[str, str]],
    seeds: np.ndarray,
    extra: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Tidy time series: one row per replicate, step and non-empty group.

    Args:
        counts: (R, T+1, G, S) integer counts.
        labels: group labels from ``group_matrix``.
        seeds: (R,) seed of each replicate.
        extra: per-(replicate, step) series, each (R, T+1), added as columns.

    Columns: replicate, seed, step, dimension, group, n_staff, frac_<state> for each
    adoption state, frac_adopted (complying + committed), then the ``extra`` columns.
    """
    r, t1, g, s = counts.shape
    size = counts[0, 0].sum(axis=1)  # group sizes never change
    present = np.flatnonzero(size > 0)
    c = counts[:, :, present, :].astype(np.float64)
    denom = size[present].astype(np.float64)
    frac = c / denom[None, None, :, None]
    n_rows = r * t1 * len(present)
    rep = np.repeat(np.arange(r), t1 * len(present))
    step = np.tile(np.repeat(np.arange(t1), len(present)), r)
    grp = np.tile(present, r * t1)
    data = {
        "replicate": rep,
        "seed": np.asarray(seeds, dtype=np.int64)[rep],
        "step": step,
        "dimension": pd.Categorical.from_codes(
            [DIMENSIONS.index(labels[k][0]) for k in grp], categories=list(DIMENSIONS)
        )
        if n_rows
        else pd.Categorical([], categories=list(DIMENSIONS)),
        "group": np.array([labels[k][1] for k in present], dtype=object)[
            np.tile(np.arange(len(present)), r * t1)
        ],
        "n_staff": size[present][np.tile(np.arange(len(present)), r * t1)],
    }
    flat = frac.reshape(n_rows, s)
    for k, name in enumerate(STATE_NAMES):
        data[f"frac_{name}"] = flat[:, k]
    data["frac_adopted"] = flat[:, COMPLYING] + flat[:, COMMITTED]
    for name, arr in (extra or {}).items():
        data[name] = np.repeat(np.asarray(arr, dtype=np.float64).reshape(r * t1), len(present))
    return pd.DataFrame(data)


def first_step_at_least(series: np.ndarray, level: float) -> pd.arrays.IntegerArray:
    """(R,) first step at which ``series[r, t] >= level``; missing (``pd.NA``) where never.

    "Never reached" is a missing value, not a number: a sentinel such as -1 would be
    averaged into a mean without a word. Parquet stores it as null, CSV as an empty field.
    """
    hit = series >= level
    return pd.arrays.IntegerArray(hit.argmax(axis=1).astype(np.int64), mask=~hit.any(axis=1))


URGENCY_WEEKS = 26.0
"""``timely_use`` discounts week t's use by (1 - urgency / URGENCY_WEEKS) ** t: at urgency 1
a week's use is worth half as much about 18 weeks later."""

SUSTAIN_WEEKS = 52
"""``use_after_mandate`` is the share in use this many weeks after a mandate is withdrawn."""


def use_outcomes(adopted: np.ndarray, mandate_end: int = -1, urgency: float = 0.0) -> dict[str, np.ndarray]:
    """Outcomes that show trade-offs over the horizon, from (R, T+1) shares in use.

    - ``cumulative_use``: mean share in use over steps 0..T (staff-weeks in use divided
      by staff x (T + 1) weeks): a fast change that fades and a slow one that lasts can
      tie on it while differing at the end.
    - ``timely_use``: the same mean with week t weighted (1 - urgency / 26) ** t, so that
      delay costs more the more urgent the change (``change.urgency``); equal to
      ``cumulative_use`` at urgency 0.
    - ``use_after_mandate``: share in use ``SUSTAIN_WEEKS`` (52) weeks after a mandate is
      withdrawn; NaN (missing) where there is no withdrawn mandate or the run ends before.
    """
    r, t1 = adopted.shape
    out = {"cumulative_use": adopted.mean(axis=1)}
    w = (1.0 - urgency / URGENCY_WEEKS) ** np.arange(t1, dtype=np.float64)
    out["timely_use"] = (adopted * w).sum(axis=1) / w.sum() if t1 else np.full(r, np.nan)
    later = mandate_end + SUSTAIN_WEEKS
    if mandate_end >= 0 and later < t1:
        out["use_after_mandate"] = adopted[:, later].copy()
    else:
        out["use_after_mandate"] = np.full(r, np.nan)
    return out


def summary(counts: np.ndarray, seeds: np.ndarray, config=None) -> pd.DataFrame:
    """One row per replicate: final shares, peak, when adoption reached 10/50/90%, use over time.

    Columns: replicate, seed, final_frac_<state>, final_frac_adopted, peak_frac_adopted,
    t_peak, t_10, t_50, t_90 (steps, nullable ``Int64``: missing where never reached, so
    ``mean`` and ``median`` cover the runs that got there and ``count`` says how many did),
    cumulative_use, timely_use and use_after_mandate (``use_outcomes``; the mandate and
    urgency come from ``config``, a ``ModelConfig``, when given).
    """
    total = counts[:, 0, 0, :].sum(axis=1).astype(np.float64)
    overall = counts[:, :, 0, :].astype(np.float64) / total[:, None, None]
    adopted = overall[:, :, COMPLYING] + overall[:, :, COMMITTED]
    out = {"replicate": np.arange(len(seeds)), "seed": np.asarray(seeds, dtype=np.int64)}
    for k, name in enumerate(STATE_NAMES):
        out[f"final_frac_{name}"] = overall[:, -1, k]
    out["final_frac_adopted"] = adopted[:, -1]
    out["peak_frac_adopted"] = adopted.max(axis=1)
    out["t_peak"] = adopted.argmax(axis=1)
    for q in (10, 50, 90):
        out[f"t_{q}"] = first_step_at_least(adopted, q / 100.0)
    end, urgency = -1, 0.0
    if config is not None:
        if config.mandate.on:
            end = config.mandate.end
        urgency = config.change.urgency
    out.update(use_outcomes(adopted, end, urgency))
    return pd.DataFrame(out)
