"""Assumptions as ranges: the plausible range of every assumed parameter and lever strength.

``configs/uncertainty/*.yaml`` (read with PyYAML, not Hydra) lists, for each assumption, a
plausible range and its source or the word "assumption". ``parameters`` are shared by every
leadership model (one value per sampled point for all of them); ``levers`` are the strengths
of the leadership levers, a factor per point on each model's own setting (log-uniform, so
x0.5 and x2 are equally likely), clipped to the key's allowed range. Parameters fitted to
data (``calibrated: <name>``) take their interval from the calibration file
(``changesim calibrate``'s posterior summary) when it exists and fall back to the stated
range, saying so, when it does not.

``load`` validates the file at the edge: an unknown key, a range with low > high, a value
outside the key's allowed range (``sim.params``) or a malformed calibration file is refused
with a one-line ``ConfigError`` naming it. ``check_levers`` checks that every numeric key a
leadership model sets differently from the common base has a range here or is listed as
fixed. ``odd_tables`` renders the ranges for docs/ODD.md.

Why one module of a little over 500 lines: it is the one reader of the uncertainty file
format, with its checks against the metadata of ``sim.params`` and the two uses of a
read file (``apply`` to a configuration, ``odd_tables`` for the documentation); a
second file would split the format from its meaning.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.params import ConfigError, ModelConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "configs" / "uncertainty"
ASSUMPTION = "assumption"
INTERVAL_COLUMNS = (
    ("lo", "hi"),
    ("ci_lo", "ci_hi"),
    ("lower", "upper"),
    ("low", "high"),
    ("q025", "q975"),
    ("q2.5", "q97.5"),
    ("q0.025", "q0.975"),
    ("hdi_lo", "hdi_hi"),
    ("ci_low", "ci_high"),
)
"""Column pairs accepted as a fitted interval in the calibration file, first match wins."""
NAME_COLUMNS = ("parameter", "key", "name")
METHODS = ("lhs", "sobol")


@dataclass
class Assumption:
    """One shared parameter: a dotted ModelConfig key with its plausible range and source."""

    key: str
    low: float
    high: float
    source: str
    integer: bool = False
    calibrated: str | None = None  # name in the calibration file
    basis: str = "assumed"  # where the range used comes from (assumed, fitted, fallback)
    comment: str = ""


@dataclass
class Lever:
    """One lever's strength: a factor range on each leadership model's own setting."""

    key: str
    low: float
    high: float
    source: str
    comment: str = ""
    when: str | None = None  # also applies to a model that sets this key away from the base


@dataclass
class Design:
    """How the ranges are sampled: method, size, replicates and seeds."""

    method: str = "lhs"
    points: int = 200
    replicates: int = 10
    seed: int = 0
    sample_seed: int = 1


@dataclass
class Uncertainty:
    """The validated contents of an uncertainty file."""

    parameters: list[Assumption]
    levers: list[Lever]
    fixed: dict[str, str]
    design: Design
    path: Path
    calibration_file: Path | None = None
    calibration_note: str = ""
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Sampled dimensions in order: shared parameters, then ``factor:<lever>``."""
        return [a.key for a in self.parameters] + [f"factor:{lv.key}" for lv in self.levers]

    def problem(self) -> dict[str, Any]:
        """The SALib problem: every dimension on [0, 1] (transformed by ``values``)."""
        return {"num_vars": len(self.names), "names": self.names, "bounds": [[0.0, 1.0]] * len(self.names)}

    def values(self, u: np.ndarray) -> pd.DataFrame:
        """(points, D) unit-cube sample -> a table of parameter values and lever factors.

        Shared parameters are uniform on their range (integers rounded); lever factors are
        log-uniform on theirs.
        """
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        cols: dict[str, np.ndarray] = {}
        for k, a in enumerate(self.parameters):
            v = a.low + u[:, k] * (a.high - a.low)
            cols[a.key] = np.round(v).astype(np.int64) if a.integer else v
        off = len(self.parameters)
        for k, lv in enumerate(self.levers):
            lo, hi = math.log(lv.low), math.log(lv.high)
            cols[f"factor:{lv.key}"] = np.exp(lo + u[:, off + k] * (hi - lo))
        return pd.DataFrame(cols)

    def central(self) -> pd.DataFrame:
        """The midpoint of every range (the geometric midpoint for lever factors), one row."""
        return self.values(np.full((1, len(self.names)), 0.5))


def _get(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        if not hasattr(node, part):
            raise ConfigError(f"{key!r} is not a ModelConfig key")
        node = getattr(node, part)
    return node


def _field_meta(key: str) -> dict[str, Any]:
    from dataclasses import fields

    parent_key, _, name = key.rpartition(".")
    parent = _get(ModelConfig(), parent_key) if parent_key else ModelConfig()
    for f in fields(parent):
        if f.name == name:
            return dict(f.metadata)
    raise ConfigError(f"{key!r} is not a ModelConfig key")


def allowed_range(key: str) -> tuple[float, float] | None:
    """The allowed range of a ModelConfig key (``sim.params`` metadata), if it has one."""
    rng = _field_meta(key).get("range")
    return None if rng is None else (float(rng[0]), float(rng[1]))


def meaning(key: str) -> str:
    """The ``help`` text of a ModelConfig key."""
    return str(_field_meta(key).get("help", ""))


def _pair(where: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ConfigError(f"{where} must be [low, high], got {value!r}")
    lo, hi = value
    for v in (lo, hi):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
            raise ConfigError(f"{where} must be two numbers [low, high], got {value!r}")
    if lo > hi:
        raise ConfigError(f"{where}: low {lo} > high {hi}")
    return float(lo), float(hi)


def _numeric_default(key: str, where: str) -> Any:
    try:
        default = _get(ModelConfig(), key)
    except ConfigError:
        raise ConfigError(f"{where}: {key!r} is not a ModelConfig key (see sim/params.py)") from None
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise ConfigError(f"{where}: {key} is not numeric and cannot have a range")
    return default


def _keys(where: str, data: Any, allowed: set[str]) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; allowed: {sorted(allowed)}")
    return data


def read_calibration(path: Path) -> dict[str, tuple[float, float]]:
    """Fitted 95% intervals from a posterior summary CSV, keyed ``parameter`` and ``model:parameter``.

    Accepts a name column (``parameter``, ``key`` or ``name``), an optional ``model`` column
    (several fitted models may share a parameter name), and one pair of interval columns
    (``q2.5``/``q97.5``, ``lo``/``hi``, ``lower``/``upper``, ...). Where the file also has
    ``weekly_`` versions of those columns (a chance per month converted to a chance per week,
    changesim's step), they are used for the rows that have them. A parameter fitted by
    several models is only reachable as ``model:parameter``.

    Raises:
        ConfigError: the file lacks such columns, or an interval is not low <= high.
    """
    try:
        df = pd.read_csv(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line error
        raise ConfigError(f"{path}: cannot read the calibration file ({type(e).__name__}: {e})") from None
    cols = {c.lower(): c for c in df.columns}
    name = next((cols[c] for c in NAME_COLUMNS if c in cols), None)
    pair = next(((cols[a], cols[b]) for a, b in INTERVAL_COLUMNS if a in cols and b in cols), None)
    if name is None or pair is None:
        raise ConfigError(
            f"{path}: needs a name column ({'/'.join(NAME_COLUMNS)}) and interval columns "
            f"(one of {', '.join(a + '/' + b for a, b in INTERVAL_COLUMNS)}); found {list(df.columns)}"
        )
    weekly = (cols.get(f"weekly_{pair[0].lower()}"), cols.get(f"weekly_{pair[1].lower()}"))
    model = cols.get("model")
    out: dict[str, tuple[float, float]] = {}
    seen: dict[str, int] = {}
    for k in range(len(df)):
        lo, hi = float(df[pair[0]].iloc[k]), float(df[pair[1]].iloc[k])
        if weekly[0] and weekly[1] and pd.notna(df[weekly[0]].iloc[k]) and pd.notna(df[weekly[1]].iloc[k]):
            lo, hi = float(df[weekly[0]].iloc[k]), float(df[weekly[1]].iloc[k])
        if not (lo <= hi):
            raise ConfigError(f"{path}: row {k + 2} ({df[name].iloc[k]}): interval {lo} > {hi}")
        key = str(df[name].iloc[k])
        seen[key] = seen.get(key, 0) + 1
        out[key] = (lo, hi)
        if model is not None:
            out[f"{df[model].iloc[k]}:{key}"] = (lo, hi)
    for key, count in seen.items():
        if count > 1:
            del out[key]  # ambiguous without the model
    return out


def load(spec: str | Path = "default", overrides: dict[str, Any] | None = None) -> Uncertainty:
    """Read and validate an uncertainty file (a name in ``configs/uncertainty/`` or a path).

    Args:
        spec: file name without ``.yaml`` in ``configs/uncertainty/``, or a path.
        overrides: design keys to replace (``points``, ``replicates``, ``method``, ...).

    Raises:
        ConfigError: one line naming the file, key and problem.
    """
    path = Path(spec)
    if not path.is_file():
        path = CONFIG_DIR / f"{spec}.yaml"
    if not path.is_file():
        raise ConfigError(f"uncertainty: no file {spec!r} (looked for it as a path and in {CONFIG_DIR})")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    where = path.name
    data = _keys(where, data, {"calibration", "design", "parameters", "levers", "fixed"})
    comments = _line_comments(path.read_text())

    design_data = dict(_keys(f"{where}: design", data.get("design"), set(Design.__dataclass_fields__)))
    for k, v in (overrides or {}).items():
        if k not in Design.__dataclass_fields__:
            raise ConfigError(
                f"{where}: unknown design key {k!r}; allowed: {sorted(Design.__dataclass_fields__)}"
            )
        design_data[k] = v
    for k, v in design_data.items():
        if k == "method":
            if v not in METHODS:
                raise ConfigError(f"{where}: design.method={v!r}; choose one of {list(METHODS)}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"{where}: design.{k}={v!r} must be a non-negative integer")
    design = Design(**design_data)
    if design.points < 2 or design.replicates < 1:
        raise ConfigError(f"{where}: design.points must be at least 2 and design.replicates at least 1")

    cal = _keys(f"{where}: calibration", data.get("calibration"), {"file"})
    cal_path = Path(cal["file"]) if cal.get("file") else None
    if cal_path is not None and not cal_path.is_absolute():
        cal_path = ROOT / cal_path
    fitted: dict[str, tuple[float, float]] | None = None
    note = ""
    if cal_path is not None:
        if cal_path.is_file():
            fitted = read_calibration(cal_path)
            shown = cal_path.relative_to(ROOT) if cal_path.is_relative_to(ROOT) else cal_path
            note = f"fitted intervals read from {shown}"
        else:
            note = f"calibration file {cal['file']} not found: calibrated parameters use their assumed ranges"

    params = []
    for key, spec_ in (data.get("parameters") or {}).items():
        w = f"{where}: parameters.{key}"
        default = _numeric_default(key, w)
        spec_ = _keys(w, spec_, {"range", "source", "calibrated"})
        if "range" not in spec_ or not spec_.get("source"):
            raise ConfigError(f"{w} needs both range: [low, high] and source (a citation or 'assumption')")
        lo, hi = _pair(f"{w}.range", spec_["range"])
        basis = "assumed"
        calibrated = spec_.get("calibrated")
        if calibrated:
            if fitted is not None and str(calibrated) in fitted:
                lo, hi = fitted[str(calibrated)]
                basis = f"fitted interval (`{calibrated}` in the calibration file)"
            elif fitted is not None:
                options = sorted(k for k in fitted if k.endswith(f":{calibrated}"))
                hint = f" (fitted by several models: name one of {options})" if options else ""
                basis = f"assumed: the calibration file has no row `{calibrated}`{hint}"
            else:
                basis = f"assumed until calibrated (`{calibrated}`): calibration file not found"
        allowed = allowed_range(key)
        if allowed is not None and not (allowed[0] <= lo and hi <= allowed[1]):
            raise ConfigError(
                f"{w}: [{lo}, {hi}] lies outside the allowed range [{allowed[0]}, {allowed[1]}]"
            )
        params.append(
            Assumption(
                key,
                lo,
                hi,
                str(spec_["source"]),
                isinstance(default, int),
                calibrated,
                basis,
                comments.get(key, ""),
            )
        )

    levers = []
    for key, spec_ in (data.get("levers") or {}).items():
        w = f"{where}: levers.{key}"
        _numeric_default(key, w)
        spec_ = _keys(w, spec_, {"factor", "source", "when"})
        if spec_.get("when"):
            _get_or_fail(str(spec_["when"]), f"{w}.when")
        if "factor" not in spec_ or not spec_.get("source"):
            raise ConfigError(f"{w} needs both factor: [low, high] and source (a citation or 'assumption')")
        lo, hi = _pair(f"{w}.factor", spec_["factor"])
        if lo <= 0:
            raise ConfigError(f"{w}.factor: low {lo} must be positive (a factor on the model's setting)")
        levers.append(
            Lever(
                key,
                lo,
                hi,
                str(spec_["source"]),
                comments.get(key, ""),
                str(spec_["when"]) if spec_.get("when") else None,
            )
        )
    fixed = data.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}: fixed must be a mapping of key: reason")
    for key, reason in fixed.items():
        _get_or_fail(key, f"{where}: fixed.{key}")
        if not reason:
            raise ConfigError(f"{where}: fixed.{key} needs a reason")
    both = {a.key for a in params} & ({lv.key for lv in levers} | set(fixed))
    if both:
        raise ConfigError(f"{where}: {sorted(both)[0]} is listed both as a shared parameter and as a lever")
    if not params and not levers:
        raise ConfigError(f"{where}: no parameters or levers to sample")
    return Uncertainty(
        params, levers, {str(k): str(v) for k, v in fixed.items()}, design, path, cal_path, note, comments
    )


def _get_or_fail(key: str, where: str) -> None:
    try:
        _get(ModelConfig(), key)
    except ConfigError:
        raise ConfigError(f"{where}: {key!r} is not a ModelConfig key (see sim/params.py)") from None


def _line_comments(text: str) -> dict[str, str]:
    """The ``# comment`` after each ``key: {...}`` line of parameters and levers (for the ODD)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^  ([\w.]+):\s*\{.*\}\s*#\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def flatten(cfg: ModelConfig) -> dict[str, Any]:
    """Every leaf of a configuration as ``{dotted key: value}``."""
    out: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                walk(v, key)
            else:
                out[key] = v

    walk(cfg.to_dict(), "")
    return out


def lever_keys(base: ModelConfig, scenarios: dict[str, ModelConfig]) -> dict[str, list[str]]:
    """For each scenario, the keys it sets differently from the common base (its levers)."""
    b = flatten(base)
    return {
        name: sorted(k for k, v in flatten(cfg).items() if b.get(k) != v) for name, cfg in scenarios.items()
    }


RUN_KEYS = frozenset({"n_steps", "seed", "n_replicates", "org_seed"})


def check_levers(unc: Uncertainty, base: ModelConfig, scenarios: dict[str, ModelConfig]) -> None:
    """Every numeric lever a model sets must have a factor range or a reason to be fixed.

    A shared parameter that a model sets on its own would be overwritten at each point,
    erasing the model's choice, so that is refused too.

    Raises:
        ConfigError: naming the scenario and the key.
    """
    shared = {a.key for a in unc.parameters}
    ranged = {lv.key for lv in unc.levers} | set(unc.fixed)
    for name, keys in lever_keys(base, scenarios).items():
        for key in keys:
            if key in RUN_KEYS:
                continue
            value = _get(scenarios[name], key)
            if key in shared:
                raise ConfigError(
                    f"{unc.path.name}: {key} is a shared parameter but scenario {name} sets it "
                    f"({value!r}); list it under levers or fixed instead"
                )
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue  # a structural choice (power mode, seeding strategy, on/off): the policy itself
            if key not in ranged:
                raise ConfigError(
                    f"{unc.path.name}: scenario {name} sets lever {key}={value!r} but the file gives it "
                    "no factor range under levers (or a reason under fixed)"
                )


def apply(cfg: ModelConfig, base: ModelConfig, unc: Uncertainty, row: dict[str, Any]) -> dict[str, Any]:
    """Overrides that put one sampled point into one model's configuration.

    Shared parameters take the point's value; a lever the model sets away from the base
    is multiplied by the point's factor and clipped to the key's allowed range (integers
    rounded); a lever the model leaves at the base is left alone.
    """
    out: dict[str, Any] = {
        a.key: (int(row[a.key]) if a.integer else float(row[a.key])) for a in unc.parameters
    }
    for lv in unc.levers:
        if not uses(cfg, base, lv):
            continue
        mine = _get(cfg, lv.key)
        v = mine * float(row[f"factor:{lv.key}"])
        rng = allowed_range(lv.key)
        if rng is not None:
            v = min(max(v, rng[0]), rng[1])
        out[lv.key] = round(v) if isinstance(mine, int) else float(v)
    return out


def uses(cfg: ModelConfig, base: ModelConfig, lever: Lever) -> bool:
    """Whether a model uses a lever: it sets the key (or the lever's ``when`` key) away from the base."""
    if _get(cfg, lever.key) != _get(base, lever.key):
        return True
    return lever.when is not None and _get(cfg, lever.when) != _get(base, lever.when)


def _fmt(v: float) -> str:
    return f"{v:g}"


def odd_tables(unc: Uncertainty | None = None) -> str:
    """Markdown tables of the ranges (generated into docs/ODD.md)."""
    unc = unc or load("default")
    rows = [
        f"Read from `{unc.path.relative_to(ROOT)}`; sampled by `changesim robustness` "
        f"({unc.design.method}, {unc.design.points} points x {unc.design.replicates} replicates per model).",
        "",
        "**Shared assumptions** (the same value for every leadership model at a point):",
        "",
        "| Key | Plausible range | Basis of the range | Source | Meaning |",
        "|---|---|---|---|---|",
    ]
    for a in unc.parameters:
        rows.append(
            f"| `{a.key}` | {_fmt(a.low)} to {_fmt(a.high)} | {a.basis} | {a.source} | "
            f"{(a.comment or meaning(a.key)).replace('|', '/')} |"
        )
    rows += [
        "",
        "**Lever strengths** (a factor on each model's own setting; log-uniform; clipped to the allowed "
        "range):",
        "",
        "| Lever | Factor range | Source | Meaning |",
        "|---|---|---|---|",
    ]
    for lv in unc.levers:
        rows.append(
            f"| `{lv.key}` | x{_fmt(lv.low)} to x{_fmt(lv.high)} | {lv.source} | "
            f"{(lv.comment or meaning(lv.key)).replace('|', '/')} |"
        )
    if unc.fixed:
        rows += ["", "**Held at each model's setting** (part of the policy compared):", ""]
        rows += [f"- `{k}`: {v}" for k, v in unc.fixed.items()]
    rows += ["", f"Calibration: {unc.calibration_note or 'no calibration file named'}."]
    return "\n".join(rows)
