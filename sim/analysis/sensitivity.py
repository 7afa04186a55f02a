"""Global sensitivity analysis: Sobol (Saltelli) and Latin hypercube designs over ModelConfig keys.

A design (``configs/sensitivity/*.yaml``) names parameters as dotted ``ModelConfig`` keys
with bounds, a base scenario, a sample size N, an outcome and the seeds each point runs.
SALib draws the points (``SALib.sample.sobol``: N(D+2) points, or N(2D+2) with second-order
indices; ``SALib.sample.latin``: N points). Each point is one configuration, run on the fast
path with ``sim.run.run_batch`` and the *same* seeds as every other point (common random
numbers, ``sim.rng``), so differences between points come from the parameters, not from
chance; its outcome is the mean over those seeds. A parameter the rule ignores therefore
leaves the outcome bit-for-bit unchanged and gets a total index of exactly 0.

Analysis: for Sobol designs, first-order (S1) and total (ST) indices with bootstrap
confidence intervals (``SALib.analyze.sobol``, Saltelli et al. 2010; Sobol 2001); for Latin
hypercubes, first-order indices by RBD-FAST (``SALib.analyze.rbd_fast``, Tissot and Prieur
2012), which needs no special design. Outputs: ``indices.csv``, ``indices.png`` (bars with
confidence whiskers), ``runs.parquet`` (one row per point x seed, every summary outcome),
``provenance.json``; ``--ema`` adds an EMA Workbench archive (``sim.analysis.ema``).

Points are spread over worker processes (one Numba thread each: one or two replicates
per point leave Numba's threads idle, and separate processes scale on 2 cores), in
chunks, with the organisation built once per worker unless an ``org.*`` key is sampled.

Run: ``changesim sensitivity [default|path.yaml] [key=value ...] [--out DIR] [--jobs N] [--ema]``
(or ``python -m sim.analysis.sensitivity``).

Why one module of a little over 500 lines: the design, its sample, the parallel runs,
the indices and the files written follow one data flow (a ``Design`` in, a
``SensitivityResult`` out), each step short; split, every piece would import the
``Design`` of another for a few dozen lines. Its bar chart is drawn here, with Matplotlib
alone, so the analysis never imports ``sim.views``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim import rng, scenarios
from sim.analysis.parallel import run_chunked
from sim.params import ConfigError, ModelConfig, from_dict
from sim.provenance import provenance
from sim.provenance import write as write_provenance

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "sensitivity"
METHODS = ("sobol", "lhs")
FIGURE_DPI = 160  # as sim.views.figures.DPI (analysis never imports the views)
RBD_HARMONICS = 10  # M of RBD-FAST (SALib's default)
MAX_CHUNK = 128  # points per task: big enough to hide process hand-offs, small enough to balance 2 workers


@dataclass
class Parameter:
    """One sampled parameter: a dotted ``ModelConfig`` key and its bounds."""

    name: str
    low: float
    high: float
    integer: bool = False  # sampled values are rounded (e.g. seeding.n_seeds)


@dataclass
class Design:
    """A sensitivity design, as declared in ``configs/sensitivity/*.yaml``."""

    parameters: list[Parameter]
    base: dict[str, Any] = field(default_factory=dict)
    scenario: str | None = None  # a configs/scenario/ name under ``base`` (its parameters; base wins)
    method: str = "sobol"
    n: int = 512
    second_order: bool = False
    outcome: str = "final_frac_adopted"
    seeds_per_point: int = 2
    seed: int = 0
    sample_seed: int = 0
    n_resamples: int = 100
    conf_level: float = 0.95

    @property
    def names(self) -> list[str]:
        """Parameter names in sampling order."""
        return [p.name for p in self.parameters]

    @property
    def seeds(self) -> np.ndarray:
        """The common replicate seeds every point runs."""
        return rng.replicate_seeds(self.seed, self.seeds_per_point)

    def problem(self) -> dict[str, Any]:
        """The SALib problem dict."""
        return {
            "num_vars": len(self.parameters),
            "names": self.names,
            "bounds": [[p.low, p.high] for p in self.parameters],
        }

    def n_points(self) -> int:
        """Number of points the design runs."""
        d = len(self.parameters)
        if self.method == "lhs":
            return self.n
        return self.n * (2 * d + 2 if self.second_order else d + 2)


def outcome_names() -> list[str]:
    """The per-replicate outcomes a design can analyse: ``sim.metrics.summary``'s columns."""
    from sim.metrics import summary

    one = summary(np.ones((1, 1, 1, 4), np.int32), np.zeros(1, np.int64))
    return [c for c in one.columns if c not in ("replicate", "seed")]


def _default(key: str) -> Any:
    node: Any = ModelConfig()
    for part in key.split("."):
        if not hasattr(node, part):
            raise ConfigError(f"sensitivity: {key!r} is not a ModelConfig key")
        node = getattr(node, part)
    return node


def design_from_dict(data: dict[str, Any]) -> Design:
    """A validated ``Design`` from the YAML's mapping (``parameters: {key: [low, high]}``).

    Raises:
        ConfigError: an unknown key, a non-numeric parameter, bounds outside the key's
            allowed range, or a bad method, size or outcome.
    """
    data = dict(data)
    raw = data.pop("parameters", None) or {}
    known = {f.name for f in fields(Design)} - {"parameters"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"sensitivity: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
    params = []
    for name, bounds in raw.items():
        default = _default(name)
        if isinstance(default, bool) or not isinstance(default, (int, float)):
            raise ConfigError(f"sensitivity: {name} is not numeric and cannot be sampled")
        if not (isinstance(bounds, (list, tuple)) and len(bounds) == 2):
            raise ConfigError(f"sensitivity: {name} needs bounds [low, high], got {bounds!r}")
        low, high = float(bounds[0]), float(bounds[1])
        if not low < high:
            raise ConfigError(f"sensitivity: {name} bounds [{low}, {high}] must have low < high")
        params.append(Parameter(name, low, high, integer=isinstance(default, int)))
    if not params:
        raise ConfigError("sensitivity: no parameters to sample")
    if data.get("scenario") is not None:
        data["base"] = scenarios.merge(scenarios.parameters(data["scenario"]), data.get("base") or {})
    design = Design(parameters=params, **data)
    if design.method not in METHODS:
        raise ConfigError(f"sensitivity: method={design.method!r}; choose one of {list(METHODS)}")
    if design.n < 2 or design.seeds_per_point < 1:
        raise ConfigError("sensitivity: n must be at least 2 and seeds_per_point at least 1")
    if design.method == "lhs" and design.n <= 4 * RBD_HARMONICS:
        # RBD-FAST's bias correction divides by 1 - 2M/N on half the sample (its bootstrap)
        raise ConfigError(f"sensitivity: method=lhs needs n > {4 * RBD_HARMONICS} points, got n={design.n}")
    if design.outcome not in outcome_names():
        raise ConfigError(f"sensitivity: outcome={design.outcome!r}; choose one of {outcome_names()}")
    for p in params:  # both ends must be valid configurations
        for v in (p.low, p.high):
            from_dict(design.base, **{p.name: round(v) if p.integer else v})
    return design


def load(spec: str | Path = "default", overrides: list[str] | None = None) -> Design:
    """A design from a name in ``configs/sensitivity/`` or a YAML path, with ``key=value`` overrides.

    ``n=64``, ``seeds_per_point=1``, ``outcome=t_50`` set design keys; ``base.org.n_staff=500``
    sets a key of the base scenario; values are parsed as YAML.
    """
    path = Path(spec)
    if not path.is_file():
        path = CONFIG_DIR / f"{spec}.yaml"
    if not path.is_file():
        raise ConfigError(f"sensitivity: no design {spec!r} (looked for it as a file and in {CONFIG_DIR})")
    data = yaml.safe_load(path.read_text()) or {}
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"sensitivity: override {item!r} is not key=value")
        key, value = item.split("=", 1)
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return design_from_dict(data)


def sample(design: Design) -> np.ndarray:
    """(n_points, D) parameter values from SALib (integer parameters rounded)."""
    if design.method == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(
            design.problem(), design.n, calc_second_order=design.second_order, seed=design.sample_seed
        )
    else:
        from SALib.sample import latin

        x = latin.sample(design.problem(), design.n, seed=design.sample_seed)
    for k, p in enumerate(design.parameters):
        if p.integer:
            x[:, k] = np.round(x[:, k])
    return x


# --- Running the points (worker processes) ------------------------------------------

_ORG_CACHE: dict[str, Any] = {}


def _organisation(cfg: ModelConfig) -> Any:
    from sim.model import organisation_for

    key = json.dumps([asdict(cfg.org), cfg.org_seed], sort_keys=True, default=str)
    if key not in _ORG_CACHE:
        _ORG_CACHE.clear()  # one organisation at a time: a national one is large
        _ORG_CACHE[key] = organisation_for(cfg)
    return _ORG_CACHE[key]


def run_points(
    base: dict[str, Any], names: list[str], integer: list[bool], x: np.ndarray, seeds: np.ndarray
) -> pd.DataFrame:
    """Run each row of ``x`` as one configuration with the common ``seeds``; one row per point x seed.

    Columns: ``point`` (row of ``x``), the parameters, then ``sim.metrics.summary``'s columns.
    """
    from sim.metrics import summary
    from sim.run import run_batch

    counts = []
    for row in x:
        values = {n: int(v) if i else float(v) for n, v, i in zip(names, row, integer, strict=True)}
        cfg = from_dict(base, **values)
        res = run_batch(cfg, org=_organisation(cfg), seeds=seeds, by_group=False)
        counts.append(res.counts)
    r = len(seeds)
    table = summary(np.concatenate(counts), np.tile(seeds, len(x)))
    front = pd.DataFrame(np.repeat(x, r, axis=0), columns=names)
    for n, i in zip(names, integer, strict=True):
        if i:
            front[n] = front[n].astype(np.int64)
    front.insert(0, "point", np.repeat(np.arange(len(x)), r))
    return pd.concat([front, table.drop(columns="replicate")], axis=1)


def _chunk(args: tuple) -> pd.DataFrame:
    start, *rest = args
    out = run_points(*rest)
    out["point"] += start
    return out


def run_design(design: Design, x: np.ndarray, jobs: int = 0, progress: bool = True) -> pd.DataFrame:
    """Run every point of ``x``; ``jobs`` worker processes (0 = one per core, 1 = in this process)."""
    integer = [p.integer for p in design.parameters]
    return run_chunked(
        _chunk,
        lambda start, stop: (start, design.base, design.names, integer, x[start:stop], design.seeds),
        len(x),
        MAX_CHUNK,
        jobs,
        progress,
    )


# --- Analysis, table, figure --------------------------------------------------------


def point_outcome(design: Design, runs: pd.DataFrame) -> np.ndarray:
    """(n_points,) the outcome of each point: its mean over the common seeds.

    Raises:
        ConfigError: the outcome is a step (``t_50``) that some runs never reached: a mean
            over the runs that did would hide them, so the analysis refuses.
    """
    values = runs[design.outcome]
    missing = int(values.isna().sum())
    if missing:
        raise ConfigError(
            f"sensitivity: outcome={design.outcome} was never reached in {missing} of {len(values)} runs; "
            "choose an outcome every run has (e.g. final_frac_adopted) or raise base.n_steps"
        )
    return runs.groupby("point", sort=True)[design.outcome].mean().to_numpy(dtype=np.float64)


def analyse(design: Design, x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """Indices per parameter: S1, S1_conf (half-width of the CI), ST, ST_conf (NaN for RBD-FAST).

    A constant outcome has no variance to apportion: every index is then 0 (not NaN).
    """
    names = design.names
    if np.ptp(y) == 0:
        z = np.zeros(len(names))
        return pd.DataFrame({"parameter": names, "S1": z, "S1_conf": z, "ST": z, "ST_conf": z})
    if design.method == "sobol":
        from SALib.analyze import sobol

        si = sobol.analyze(
            design.problem(), y, calc_second_order=design.second_order, num_resamples=design.n_resamples,
            conf_level=design.conf_level, seed=np.random.default_rng(design.sample_seed),
        )  # fmt: skip
        # A Generator, not the int: SALib's Sobol analysis seeds its bootstrap only when
        # `if seed:` holds, so seed 0 drew the confidence intervals unseeded.
        table = pd.DataFrame(
            {
                "parameter": names,
                "S1": si["S1"],
                "S1_conf": si["S1_conf"],
                "ST": si["ST"],
                "ST_conf": si["ST_conf"],
            }
        )
    else:
        from SALib.analyze import rbd_fast

        si = rbd_fast.analyze(
            design.problem(), x, y, M=RBD_HARMONICS, num_resamples=design.n_resamples,
            conf_level=design.conf_level, seed=design.sample_seed,
        )  # fmt: skip
        nan = np.full(len(names), np.nan)
        table = pd.DataFrame(
            {"parameter": names, "S1": si["S1"], "S1_conf": si["S1_conf"], "ST": nan, "ST_conf": nan}
        )
    for k in ("S1", "ST"):
        table[f"{k}_lo"] = table[k] - table[f"{k}_conf"]
        table[f"{k}_hi"] = table[k] + table[f"{k}_conf"]
    return table


def figure(design: Design, table: pd.DataFrame, note: str = "") -> Any:
    """Horizontal bars of S1 (and ST) per parameter, with confidence whiskers; largest effect on top."""
    from matplotlib.figure import Figure

    order = table.sort_values("ST" if table["ST"].notna().any() else "S1").reset_index(drop=True)
    d = len(order)
    height = 1.9 + 0.45 * d
    fig = Figure(figsize=(7.5, height), layout="constrained")
    fig.get_layout_engine().set(rect=(0, 0.3 / height, 1, 1 - 0.3 / height))  # a strip for the note
    ax = fig.add_subplot()
    y = np.arange(d)
    h = 0.38
    pct = round(100 * design.conf_level)
    ax.barh(
        y + h / 2, order["S1"], h, xerr=order["S1_conf"], color="#0072B2", capsize=3, label="first order (S1)"
    )
    if order["ST"].notna().any():
        ax.barh(
            y - h / 2, order["ST"], h, xerr=order["ST_conf"], color="#E69F00", capsize=3, label="total (ST)"
        )
    ax.set_yticks(y, order["parameter"])
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_xlabel(f"share of the variance of {design.outcome} (whiskers: {pct}% bootstrap CI)")
    ax.legend(loc="lower right", frameon=False)
    method = (
        "Sobol indices (Saltelli sample)"
        if design.method == "sobol"
        else "RBD-FAST first-order indices (Latin hypercube)"
    )
    fig.suptitle(f"Which parameters drive {design.outcome}? {method}", fontsize=11, x=0.01, ha="left")
    if note:
        fig.text(0.01, 0.05 / height, note, fontsize=7, color="#555555", ha="left", va="bottom")
    return fig


@dataclass
class SensitivityResult:
    """What ``run`` produced: the indices, every run, timings and the files written."""

    design: Design
    indices: pd.DataFrame
    runs: pd.DataFrame
    seconds: float
    paths: dict[str, Path] = field(default_factory=dict)


def run(
    design: Design, out: str | Path | None = None, jobs: int = 0, ema: bool = False, progress: bool = True
) -> SensitivityResult:
    """Sample, run, analyse; write the outputs into ``out`` when given."""
    from sim import __version__

    t0 = time.perf_counter()
    x = sample(design)
    runs = run_design(design, x, jobs=jobs, progress=progress)
    seconds = time.perf_counter() - t0
    table = analyse(design, x, point_outcome(design, runs))
    res = SensitivityResult(design, table, runs, seconds)
    if out is None:
        return res
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_runs = len(runs)
    note = (
        f"Source: changesim {__version__}; {design.method} design, N={design.n}, {len(x)} points x "
        f"{design.seeds_per_point} common seeds = {n_runs} runs; base scenario in provenance.json."
    )
    for name, writer in (
        ("indices.csv", lambda p: table.to_csv(p, index=False)),
        ("runs.parquet", lambda p: runs.to_parquet(p, index=False)),
        ("indices.png", lambda p: figure(design, table, note).savefig(p, format="png", dpi=FIGURE_DPI)),
    ):
        path = out / name
        tmp = path.with_name(path.name + ".tmp")
        writer(tmp)
        tmp.replace(path)
        res.paths[name] = path
    prov = provenance(
        design=asdict(design), n_points=len(x), n_runs=n_runs, seconds=round(seconds, 2),
        jobs=jobs or os.cpu_count(), salib=_version("SALib"),
    )  # fmt: skip
    res.paths["provenance.json"] = write_provenance(out / "provenance.json", prov)
    if ema:
        from sim.analysis import ema as ema_mod

        res.paths["ema"] = ema_mod.save_results(
            *ema_mod.from_runs(runs, design.names), out / "ema_results.tar.gz"
        )
    return res


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def describe(res: SensitivityResult) -> str:
    """The indices as a plain table, largest total effect first."""
    d = res.design
    t = res.indices.sort_values("ST" if res.indices["ST"].notna().any() else "S1", ascending=False)
    pct = round(100 * d.conf_level)
    lines = [
        f"{d.method}: {len(res.runs) // d.seeds_per_point} points x {d.seeds_per_point} seeds = "
        f"{len(res.runs)} runs in {res.seconds:.1f} s; outcome {d.outcome}; +- is the {pct}% CI half-width",
        f"{'parameter':<36} {'S1':>16} {'ST':>16}",
    ]
    for row in t.itertuples():
        st = "" if math.isnan(row.ST) else f"{row.ST:7.3f} +- {row.ST_conf:5.3f}"
        lines.append(f"{row.parameter:<36} {row.S1:7.3f} +- {row.S1_conf:5.3f} {st:>16}")
    lines += [f"{k}: {p}" for k, p in res.paths.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``changesim sensitivity``: run a sensitivity design and report its indices."""
    parser = argparse.ArgumentParser(prog="changesim sensitivity", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "design", nargs="?", default="default", help="name in configs/sensitivity/ or a YAML path"
    )
    parser.add_argument("overrides", nargs="*", help="key=value (n=64, outcome=t_50, base.org.n_staff=500)")
    parser.add_argument(
        "--out", type=Path, help="output folder (default outputs/sensitivity/<design>_<time>)"
    )
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (0 = one per core)")
    parser.add_argument("--ema", action="store_true", help="also write an EMA Workbench archive")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if "=" in args.design:  # only overrides given: the default design
        args.overrides.insert(0, args.design)
        args.design = "default"
    try:
        design = load(args.design, args.overrides)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = (
        args.out
        or Path("outputs") / "sensitivity" / f"{Path(args.design).stem}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    )
    print(f"{design.method}: {design.n_points()} points x {design.seeds_per_point} seeds = "
          f"{design.n_points() * design.seeds_per_point} runs -> {out}", file=sys.stderr)  # fmt: skip
    res = run(design, out, jobs=args.jobs, ema=args.ema)
    print(describe(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
