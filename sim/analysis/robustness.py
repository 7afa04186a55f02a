"""Robustness of the leadership comparison across plausible assumptions (robust decision making).

The ranges of ``configs/uncertainty/*.yaml`` (``sim.analysis.uncertainty``) are sampled with
SALib (Latin hypercube, or Saltelli's Sobol sequence). At each point every leadership model
runs the same replicate seeds (common random numbers across models *and* points), on an
organisation built once per distinct org configuration, so differences between models at a
point come from the models. From one row per point x model x replicate this module reports:

- ``rank_first``: the probability that each model ranks first on each outcome, over the
  plausible assumptions (a model tied for first shares the credit), with a Wilson interval
  for the finite number of points;
- ``pairwise``: for each ordered pair, the share of points at which A beats B, and the share
  at which it beats B clearly (its paired 95% interval over the replicates excludes 0);
- ``conditions``: where the usual winner (the model most often first) loses, found by
  scenario discovery with PRIM (Friedman and Fisher 1999; ``ema_workbench``, Kwakkel 2017),
  with a shallow decision tree as a cross-check, each with its coverage (share of the
  losing points inside the box) and density (share of the box's points that are losses);
- ``indices``: sensitivity indices of the winner's margin (its outcome minus the best of the
  rest): first-order Sobol indices by RBD-FAST on a Latin hypercube, S1 and ST on a Sobol
  design.

Run: ``changesim robustness [uncertainty=default] [points=N] [replicates=R] [scenarios=a,b]
[out=DIR] [jobs=N] [key=value ...]``; model keys (``org.n_staff=500``) apply to every model.

Why one module of more than 500 lines: sampling the assumptions, running every model at
every point and the analyses of those runs (rank-first probabilities, pairwise margins,
the conditions under which a model wins, the indices) share one table of runs and the
``Robustness`` record that ``save`` and ``load_saved`` round-trip. The next seam, if it
grows, is scenario discovery (``Box``, ``prim_box``, ``tree_box``) in a module of its own.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import uncertainty as unc_mod
from sim.analysis.compare import OUTCOMES, Outcome, outcomes_of
from sim.analysis.parallel import run_chunked
from sim.analysis.stats import wilson
from sim.params import ConfigError, ModelConfig, from_dict

MAX_CHUNK = 8  # points per task: small, so 2 workers stay balanced and progress is reported often
RBD_HARMONICS = 10
Z95 = 1.959963984540054


def ranked_outcomes() -> list[Outcome]:
    """The outcomes the models are ranked on (``compare.OUTCOMES`` with a better direction)."""
    return [o for o in OUTCOMES if o.better in ("higher", "lower")]


# --- Running the points --------------------------------------------------------------

_ORGS: OrderedDict[str, Any] = OrderedDict()


def _organisation(cfg: ModelConfig) -> Any:
    from sim.model import organisation_for

    key = json.dumps([cfg.to_dict()["org"], cfg.org_seed], sort_keys=True, default=str)
    if key not in _ORGS:
        if len(_ORGS) >= 8:
            _ORGS.popitem(last=False)
        _ORGS[key] = organisation_for(cfg)
    _ORGS.move_to_end(key)
    return _ORGS[key]


def run_points(
    scenarios: dict[str, ModelConfig],
    base: ModelConfig,
    unc: unc_mod.Uncertainty,
    values: pd.DataFrame,
    seeds: np.ndarray,
    start: int = 0,
) -> pd.DataFrame:
    """Run every model at each row of ``values``; one row per point x model x replicate.

    Columns: ``point``, ``scenario``, ``replicate``, ``seed`` and the outcomes of
    ``compare.outcomes_of``.
    """
    from sim.run import run_batch

    frames = []
    for k, row in enumerate(values.to_dict("records")):
        for name, cfg in scenarios.items():
            cfg_p = from_dict(cfg, **unc_mod.apply(cfg, base, unc, row))
            res = run_batch(cfg_p, org=_organisation(cfg_p), seeds=seeds, by_group=False)
            df = outcomes_of(name, res)
            df.insert(0, "point", start + k)
            frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _task(args: tuple) -> pd.DataFrame:
    return run_points(*args)


def run_all(
    scenarios: dict[str, ModelConfig],
    base: ModelConfig,
    unc: unc_mod.Uncertainty,
    values: pd.DataFrame,
    seeds: np.ndarray,
    jobs: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every point, ``jobs`` worker processes (0 = one per core, 1 = in this process)."""
    return run_chunked(
        _task,
        lambda start, stop: (scenarios, base, unc, values.iloc[start:stop], seeds, start),
        len(values),
        MAX_CHUNK,
        jobs,
        progress,
        indent="  ",
    )


# --- Analysis ------------------------------------------------------------------------


def _filled(runs: pd.DataFrame, o: Outcome, horizon: int) -> pd.Series:
    x = runs[o.key].astype(np.float64)
    return x.fillna(horizon + 1) if o.censored else x


def point_means(runs: pd.DataFrame, horizon: int, outcomes: list[Outcome] | None = None) -> pd.DataFrame:
    """Mean of each ranked outcome per point and model (censored times filled at horizon + 1)."""
    outcomes = outcomes or ranked_outcomes()
    df = runs[["point", "scenario"]].copy()
    for o in outcomes:
        df[o.key] = _filled(runs, o, horizon)
    return df.groupby(["point", "scenario"], sort=True).mean().reset_index()


def _score(means: pd.DataFrame, o: Outcome, order: list[str]) -> np.ndarray:
    """(points, models) score where larger is better."""
    wide = means.pivot(index="point", columns="scenario", values=o.key)[order].to_numpy(np.float64)
    return wide if o.better == "higher" else -wide


def rank_first(means: pd.DataFrame, order: list[str], outcomes: list[Outcome] | None = None) -> pd.DataFrame:
    """Probability each model ranks first on each outcome, with a 95% Wilson interval.

    A model tied for first with k others gets 1/k of that point. Columns: outcome,
    scenario, p_first, lo, hi, n_points.
    """
    rows = []
    for o in outcomes or ranked_outcomes():
        s = _score(means, o, order)
        best = s.max(axis=1, keepdims=True)
        top = np.isclose(s, best, rtol=0, atol=1e-12)
        credit = top / top.sum(axis=1, keepdims=True)
        n = len(s)
        for j, name in enumerate(order):
            x = float(credit[:, j].sum())
            lo, hi = wilson(x, n)
            rows.append(
                {"outcome": o.key, "scenario": name, "p_first": x / n, "lo": lo, "hi": hi, "n_points": n}
            )
    return pd.DataFrame(rows)


def pairwise(
    runs: pd.DataFrame, order: list[str], horizon: int, outcomes: list[Outcome] | None = None
) -> pd.DataFrame:
    """For each outcome and ordered pair (a, b): share of points where a beats b.

    ``share`` counts a tie as half; ``share_clearly`` counts points where the paired
    95% t-interval of a - b over the replicates lies above 0 (for better = lower, below).
    """
    rows = []
    n_rep = runs.groupby(["point", "scenario"]).size().max()
    tq = _t975(n_rep - 1) if n_rep > 1 else math.inf
    for o in outcomes or ranked_outcomes():
        df = runs[["point", "scenario", "replicate"]].copy()
        df["v"] = _filled(runs, o, horizon) * (1 if o.better == "higher" else -1)
        cube = df.pivot_table(index=["point", "replicate"], columns="scenario", values="v")[order]
        pts = cube.index.get_level_values(0).unique()
        arr = cube.to_numpy(np.float64).reshape(len(pts), n_rep, len(order))
        mean = arr.mean(axis=1)
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                if i == j:
                    continue
                d = arr[:, :, i] - arr[:, :, j]
                dm = d.mean(axis=1)
                win = (dm > 1e-12).astype(float) + 0.5 * (np.abs(dm) <= 1e-12)
                if n_rep > 1:
                    half = tq * d.std(axis=1, ddof=1) / math.sqrt(n_rep)
                    clear = (dm - half > 0) & (dm > 1e-12)
                else:
                    clear = np.zeros(len(dm), bool)
                lo, hi = wilson(float(win.sum()), len(win))
                rows.append(
                    {
                        "outcome": o.key,
                        "a": a,
                        "b": b,
                        "share": float(win.mean()),
                        "lo": lo,
                        "hi": hi,
                        "share_clearly": float(clear.mean()),
                        "mean_difference": float(
                            (mean[:, i] - mean[:, j]).mean() * (1 if o.better == "higher" else -1)
                        ),
                        "n_points": len(win),
                    }
                )
    return pd.DataFrame(rows)


def _t975(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def margin(means: pd.DataFrame, o: Outcome, order: list[str], winner: str) -> np.ndarray:
    """(points,) the winner's lead over the best of the others (positive: it is ahead).

    In the outcome's own units, signed so that positive is better for the winner.
    """
    s = _score(means, o, order)
    j = order.index(winner)
    rest = np.delete(s, j, axis=1)
    return s[:, j] - rest.max(axis=1)


@dataclass
class Box:
    """A condition found by scenario discovery: limits on a few inputs, with its quality."""

    method: str
    limits: list[tuple[str, float | None, float | None]]  # (input, low, high); None: that side is open
    coverage: float
    density: float
    base_rate: float
    n_inside: int

    def words(self, unc: unc_mod.Uncertainty | None = None) -> str:
        """The limits in plain words: 'mean adoption threshold above 0.62 and ...'."""
        parts = []
        for name, lo, hi in self.limits:
            label = input_label(name, unc)
            unit = "x" if name.startswith("factor:") else ""
            if lo is None and hi is not None:
                parts.append(f"{label} below {unit}{_num(hi)}")
            elif hi is None and lo is not None:
                parts.append(f"{label} above {unit}{_num(lo)}")
            elif lo is not None and hi is not None:
                parts.append(f"{label} between {unit}{_num(lo)} and {unit}{_num(hi)}")
        return " and ".join(parts) if parts else "anywhere (no condition found)"


def _num(v: float) -> str:
    return f"{v:.3g}"


def _side(v: float, edge: float) -> float | None:
    """A box limit, or None where it is the edge of the data (that side is open)."""
    return None if np.isclose(v, edge, rtol=0, atol=1e-12) else float(v)


def input_label(name: str, unc: unc_mod.Uncertainty | None = None) -> str:
    """A plain label for a sampled input: its comment in the uncertainty file, else the key's meaning."""
    if name.startswith("factor:"):
        key = name.split(":", 1)[1]
        return f"strength of '{_meaning(key, unc)}' (x each model's setting)"
    return _meaning(name, unc)


def _meaning(key: str, unc: unc_mod.Uncertainty | None = None) -> str:
    if unc is not None and unc.comments.get(key):
        return unc.comments[key].split(" (")[0].split(";")[0]
    try:
        return unc_mod.meaning(key) or key
    except ConfigError:
        return key


def prim_box(x: pd.DataFrame, y: np.ndarray, max_dims: int = 3) -> Box | None:
    """PRIM (ema_workbench) on ``x`` for the cases ``y``: the densest box that covers half of them.

    Cases of interest are ``y == 1``; the workbench keeps a box only if its density is at
    least 0.5 (inside it the winner loses more often than not). Among the boxes of the
    peeling trajectory that are at least that dense and hold at least half of the cases
    (coverage >= 0.5), the densest (ties: the larger coverage). Restrictions that are not
    significant (quasi-p value > 0.05 on both sides, a one-sided binomial test; Bryant and
    Lempert 2010) are then dropped, so a box names only inputs that matter, at most
    ``max_dims`` of them (the most significant). None if there are fewer than 3 cases or
    non-cases, or no such box.
    """
    import logging
    import warnings

    logging.getLogger("EMA").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    y = np.asarray(y, dtype=bool)
    if y.sum() < 3 or (~y).sum() < 3:
        return None
    xf = x.astype(np.float64).reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the workbench's pandas deprecations
        p = prim.Prim(xf, y.astype(np.int64), threshold=0.5, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
        box = p.find_box()
    traj = box.peeling_trajectory
    init = p.box_init
    best, best_f = None, -1.0
    for i in range(len(traj)):
        lims = box.box_lims[i]
        restricted = [
            c for c in xf.columns if lims[c].iloc[0] > init[c].iloc[0] or lims[c].iloc[1] < init[c].iloc[1]
        ]
        cov, den = float(traj["coverage"].iloc[i]), float(traj["density"].iloc[i])
        if not restricted or den < 0.5 or cov < 0.5:
            continue
        f = den + 1e-6 * cov
        if f > best_f:
            best_f, best = f, (i, restricted, lims)
    if best is None:
        return None
    i, restricted, lims = best
    qp = {
        c: min(v for v in box.qp[i].get(c, [0.0]) if v >= 0)
        if any(v >= 0 for v in box.qp[i].get(c, [0.0]))
        else 1.0
        for c in restricted
    }
    restricted = sorted((c for c in restricted if qp[c] <= 0.05), key=lambda c: qp[c])[:max_dims]
    if not restricted:
        return None
    inside = np.ones(len(xf), bool)
    for c in restricted:
        inside &= ((xf[c] >= lims[c].iloc[0]) & (xf[c] <= lims[c].iloc[1])).to_numpy()
    return Box(
        "PRIM",
        [(c, _side(lims[c].iloc[0], xf[c].min()), _side(lims[c].iloc[1], xf[c].max())) for c in restricted],
        float(y[inside].sum() / y.sum()),
        float(y[inside].mean()),
        float(y.mean()),
        int(inside.sum()),
    )


def tree_box(x: pd.DataFrame, y: np.ndarray, depth: int = 2) -> Box | None:
    """A shallow decision tree (scikit-learn): the leaf with the most losses as a box."""
    from sklearn.tree import DecisionTreeClassifier

    y = np.asarray(y, dtype=bool)
    if y.sum() < 3 or (~y).sum() < 3:
        return None
    xf = x.astype(np.float64).reset_index(drop=True)
    clf = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(5, len(y) // 20), random_state=0)
    clf.fit(xf.to_numpy(), y)
    t = clf.tree_
    leaves = clf.apply(xf.to_numpy())
    best, best_f = None, -1.0
    for leaf in np.unique(leaves):
        inside = leaves == leaf
        den = float(y[inside].mean())
        cov = float(y[inside].sum() / y.sum())
        f = 2 * cov * den / (cov + den) if cov + den > 0 else 0.0
        if den > y.mean() and f > best_f:
            best_f, best = f, (leaf, cov, den, int(inside.sum()))
    if best is None:
        return None
    leaf, cov, den, n_in = best
    # walk from the root to the leaf, collecting the limits
    parent = {}
    for node in range(t.node_count):
        for child, side in ((t.children_left[node], "le"), (t.children_right[node], "gt")):
            if child >= 0:
                parent[child] = (node, side)
    lims: dict[str, list[float]] = {}
    node = leaf
    while node in parent:
        up, side = parent[node]
        name = xf.columns[t.feature[up]]
        lo, hi = lims.get(name, [float(xf[name].min()), float(xf[name].max())])
        thr = float(t.threshold[up])
        lims[name] = [lo, min(hi, thr)] if side == "le" else [max(lo, thr), hi]
        node = up
    limits = [(k, _side(v[0], xf[k].min()), _side(v[1], xf[k].max())) for k, v in lims.items()]
    return Box("decision tree", limits, cov, den, float(y.mean()), n_in)


def indices(unc: unc_mod.Uncertainty, u: np.ndarray, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Sensitivity indices of ``y`` (the winner's margin) to each sampled input.

    Latin hypercube: first-order Sobol indices by RBD-FAST (Tissot and Prieur 2012);
    Sobol design: S1 and ST (Saltelli et al. 2010). Columns: input, S1, S1_conf, ST, ST_conf.
    """
    names = unc.names
    nan = np.full(len(names), np.nan)
    if np.ptp(y) == 0 or len(y) <= 4 * RBD_HARMONICS:
        z = np.zeros(len(names)) if np.ptp(y) == 0 else nan
        return pd.DataFrame({"input": names, "S1": z, "S1_conf": z, "ST": z, "ST_conf": z})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if unc.design.method == "sobol":
            from SALib.analyze import sobol

            # A Generator: SALib seeds the Sobol bootstrap only `if seed:` (0 went unseeded).
            si = sobol.analyze(unc.problem(), y, calc_second_order=False, seed=np.random.default_rng(seed))
            return pd.DataFrame(
                {
                    "input": names,
                    "S1": si["S1"],
                    "S1_conf": si["S1_conf"],
                    "ST": si["ST"],
                    "ST_conf": si["ST_conf"],
                }
            )
        from SALib.analyze import rbd_fast

        si = rbd_fast.analyze(unc.problem(), u, y, M=RBD_HARMONICS, seed=seed)
    return pd.DataFrame({"input": names, "S1": si["S1"], "S1_conf": si["S1_conf"], "ST": nan, "ST_conf": nan})


def sample(unc: unc_mod.Uncertainty) -> np.ndarray:
    """(points, D) unit-cube sample from SALib (Latin hypercube or Saltelli's Sobol sequence)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if unc.design.method == "sobol":
            from SALib.sample import sobol

            return sobol.sample(
                unc.problem(), unc.design.points, calc_second_order=False, seed=unc.design.sample_seed
            )
        from SALib.sample import latin

        return latin.sample(unc.problem(), unc.design.points, seed=unc.design.sample_seed)


# --- The whole analysis ----------------------------------------------------------------


@dataclass
class Robustness:
    """Everything a robustness run produced (tables are tidy DataFrames)."""

    unc: unc_mod.Uncertainty
    order: list[str]
    titles: dict[str, str]
    design: pd.DataFrame  # one row per point: the sampled values and factors
    runs: pd.DataFrame  # one row per point x model x replicate
    rank_first: pd.DataFrame
    pairwise: pd.DataFrame
    conditions: pd.DataFrame
    indices: pd.DataFrame
    winners: dict[str, str]
    seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    means: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per point x model: ranked outcomes

    def p_first(self, outcome: str, scenario: str) -> float:
        """Probability that ``scenario`` ranks first on ``outcome``."""
        r = self.rank_first
        return float(r[(r.outcome == outcome) & (r.scenario == scenario)].p_first.iloc[0])

    def share_beats(self, outcome: str, a: str, b: str) -> float:
        """Share of plausible assumptions under which ``a`` beats ``b`` on ``outcome``."""
        p = self.pairwise
        return float(p[(p.outcome == outcome) & (p.a == a) & (p.b == b)].share.iloc[0])


def analyse(
    unc: unc_mod.Uncertainty,
    order: list[str],
    titles: dict[str, str],
    u: np.ndarray,
    design: pd.DataFrame,
    runs: pd.DataFrame,
    horizon: int,
    seconds: float = 0.0,
) -> Robustness:
    """Rank-first probabilities, pairwise shares, conditions and indices from the runs.

    An outcome that is undefined for some model (NaN in a run, after censored times are
    filled) cannot rank all the models and is left out.
    """
    outs = [o for o in ranked_outcomes() if not _filled(runs, o, horizon).isna().any()]
    means = point_means(runs, horizon, outs)
    rf = rank_first(means, order, outs)
    pw = pairwise(runs, order, horizon, outs)
    x = design.drop(columns="point")
    cond_rows, idx_rows, winners = [], [], {}
    for o in outs:
        sub = rf[rf.outcome == o.key]
        winner = str(sub.loc[sub.p_first.idxmax(), "scenario"])
        winners[o.key] = winner
        m = margin(means, o, order, winner)
        loses = m < -1e-12
        for finder in (prim_box, tree_box):
            box = finder(x, loses)
            row = {
                "outcome": o.key,
                "winner": winner,
                "method": "PRIM" if finder is prim_box else "decision tree",
                "share_loses": float(loses.mean()),
                "n_points": len(loses),
            }
            if box is None:
                row |= {
                    "found": False,
                    "coverage": np.nan,
                    "density": np.nan,
                    "n_inside": 0,
                    "limits": "[]",
                    "words": _no_box(int(loses.sum()), len(loses)),
                }
            else:
                row |= {
                    "found": True,
                    "method": box.method,
                    "coverage": box.coverage,
                    "density": box.density,
                    "n_inside": box.n_inside,
                    "limits": json.dumps(box.limits),
                    "words": box.words(unc),
                }
            cond_rows.append(row)
        t = indices(unc, u, m, seed=unc.design.sample_seed)
        t.insert(0, "outcome", o.key)
        t.insert(1, "winner", winner)
        idx_rows.append(t)
    return Robustness(
        unc,
        order,
        titles,
        design,
        runs,
        rf,
        pw,
        pd.DataFrame(cond_rows),
        pd.concat(idx_rows, ignore_index=True),
        winners,
        seconds,
        means=means,
    )


def _no_box(k: int, n: int) -> str:
    if k == 0:
        return "it never falls behind another model"
    if k < 3:
        return f"it falls behind at only {k} of {n} points, too few to describe where"
    if n - k < 3:
        return f"it falls behind almost everywhere ({k} of {n} points)"
    return "PRIM found no region holding half of those cases inside which it falls behind more often than not"


def provenance(command: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shared record of ``sim.provenance`` (version, commit, time, machine) plus ``command``."""
    from sim.provenance import provenance as record

    return record(**(extra or {}), command=command)


def run(
    unc: unc_mod.Uncertainty,
    scenarios: dict[str, ModelConfig],
    base: ModelConfig,
    titles: dict[str, str] | None = None,
    out: str | Path | None = None,
    jobs: int = 0,
    command: str = "changesim robustness",
    progress: bool = True,
) -> Robustness:
    """Sample the ranges, run every model at every point on common seeds, analyse, write the tables.

    Raises:
        ConfigError: a lever without a range (``uncertainty.check_levers``) or models that
            run different horizons.
    """
    unc_mod.check_levers(unc, base, scenarios)
    horizons = {c.n_steps for c in scenarios.values()}
    if len(horizons) != 1:
        raise ConfigError(f"robustness: the models run different horizons {sorted(horizons)}; set n_steps")
    if len(scenarios) < 2:
        raise ConfigError("robustness: compare at least two scenarios")
    order = list(scenarios)
    titles = titles or {n: n for n in order}
    t0 = time.perf_counter()
    u = sample(unc)
    design = unc.values(u)
    design.insert(0, "point", np.arange(len(design)))
    seeds = unc.design.seed + np.arange(unc.design.replicates, dtype=np.int64)
    if progress:
        print(
            f"robustness: {len(design)} points x {len(order)} models x {len(seeds)} replicates = "
            f"{len(design) * len(order) * len(seeds):,} runs",
            file=sys.stderr,
            flush=True,
        )
    runs = run_all(scenarios, base, unc, design.drop(columns="point"), seeds, jobs=jobs, progress=progress)
    seconds = time.perf_counter() - t0
    res = analyse(unc, order, titles, u, design, runs, horizons.pop(), seconds)
    res.provenance = provenance(
        command,
        {
            "uncertainty_file": str(unc.path.relative_to(unc_mod.ROOT))
            if unc.path.is_relative_to(unc_mod.ROOT)
            else str(unc.path),
            "calibration": unc.calibration_note or "none",
            "fitted": [
                {"key": a.key, "low": a.low, "high": a.high, "basis": a.basis}
                for a in unc.parameters
                if a.basis.startswith("fitted")
            ],
            "design": asdict(unc.design),
            "n_points": len(design),
            "n_steps": int(base.n_steps),
            "n_models": len(order),
            "n_replicates": len(seeds),
            "n_runs": len(runs),
            "seconds": round(seconds, 1),
            "jobs": jobs or os.cpu_count(),
            "scenarios": order,
            "sample": "Latin hypercube (SALib.sample.latin)"
            if unc.design.method == "lhs"
            else "Sobol sequence (SALib.sample.sobol)",
        },
    )
    if out is not None:
        save(res, out)
    return res


def _write(path: Path, writer: Any) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    writer(tmp)
    tmp.replace(path)
    return path


def save(res: Robustness, out: str | Path) -> dict[str, Path]:
    """Write the tidy tables (CSV; the runs also as Parquet) and provenance (the figure: ``sim.views``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "rank_first.csv": res.rank_first,
        "pairwise.csv": res.pairwise,
        "conditions.csv": res.conditions,
        "indices.csv": res.indices,
        "design.csv": res.design,
        "point_means.csv": res.means,
    }
    for name, df in tables.items():
        res.paths[name] = _write(out / name, lambda p, d=df: d.to_csv(p, index=False))
    res.paths["runs.parquet"] = _write(out / "runs.parquet", lambda p: res.runs.to_parquet(p, index=False))
    prov = res.provenance | {"titles": res.titles, "winners": res.winners}
    res.paths["provenance.json"] = _write(
        out / "provenance.json", lambda p: p.write_text(json.dumps(prov, indent=2, default=str))
    )
    return res.paths


def load_saved(folder: str | Path) -> Robustness:
    """Read a saved robustness run back (for ``changesim report robustness=DIR``)."""
    folder = Path(folder)
    need = (
        "rank_first.csv",
        "pairwise.csv",
        "conditions.csv",
        "indices.csv",
        "design.csv",
        "provenance.json",
    )
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        raise ConfigError(f"robustness={folder}: not a robustness run folder (missing {', '.join(missing)})")
    prov = json.loads((folder / "provenance.json").read_text())
    unc_path = unc_mod.ROOT / prov.get("uncertainty_file", "configs/uncertainty/default.yaml")
    unc = unc_mod.load(unc_path if unc_path.is_file() else "default", overrides=prov.get("design"))
    runs = pd.read_parquet(folder / "runs.parquet") if (folder / "runs.parquet").is_file() else pd.DataFrame()
    return Robustness(
        unc,
        list(prov["scenarios"]),
        dict(prov.get("titles", {})),
        pd.read_csv(folder / "design.csv"),
        runs,
        pd.read_csv(folder / "rank_first.csv"),
        pd.read_csv(folder / "pairwise.csv"),
        pd.read_csv(folder / "conditions.csv"),
        pd.read_csv(folder / "indices.csv"),
        dict(prov.get("winners", {})),
        float(prov.get("seconds", 0.0)),
        prov,
        means=pd.read_csv(folder / "point_means.csv")
        if (folder / "point_means.csv").is_file()
        else pd.DataFrame(),
    )


def describe(res: Robustness) -> str:
    """The plain-text summary printed by ``changesim robustness``."""
    labels = {o.key: o.label for o in OUTCOMES}
    p = res.provenance
    lines = [
        f"{p.get('n_points')} plausible sets of assumptions x {p.get('n_models')} models x "
        f"{p.get('n_replicates')} replicates = {p.get('n_runs', 0):,} runs in {res.seconds:.0f} s"
    ]
    for o in ranked_outcomes():
        w = res.winners[o.key]
        pf = res.p_first(o.key, w)
        lines.append(
            f"{labels[o.key]}: {res.titles.get(w, w)} ranks first under {100 * pf:.0f}% of plausible "
            "assumptions"
        )
        c = res.conditions[(res.conditions.outcome == o.key) & (res.conditions.method == "PRIM")].iloc[0]
        if bool(c.found):
            lines.append(
                f"  it loses ({100 * c.share_loses:.0f}% of points) mostly where {c.words} "
                f"(coverage {100 * c.coverage:.0f}%, density {100 * c.density:.0f}%)"
            )
        else:
            lines.append(f"  {c.words} ({100 * c.share_loses:.0f}% of points)")
    lines += [f"{k}: {v}" for k, v in res.paths.items()]
    return "\n".join(lines)
