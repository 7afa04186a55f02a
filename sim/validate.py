"""Checks across fields of a configuration, and of the values a caller hands the kernels.

``sim.params`` checks each field on its own (type, range, choices). Here are the checks
that need several fields, or the size of the organisation, or arrays given through the
Python API (``seeds``, ``thresholds``, ``initial_adopters``): a setting the chosen rule
or builder would ignore, a mandate that ends before it starts, a degree or a depth the
builder could not give, an organisation too large to hold, and a seed, threshold or index
a kernel would silently truncate or wrap. (The configs are ``sim.params``'s dataclasses,
passed in, not imported: ``sim.params`` calls these checks.) Each raises ``ConfigError`` naming the key,
or, where nothing is lost by going on, warns with a ``ConfigWarning`` naming it.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import fields
from typing import Any

import numpy as np

from sim.errors import ConfigError, warn_config

SEED_LIMIT = 2**63
"""Seeds are signed 64-bit integers: every seed must be in [0, 2**63)."""
MAX_LEVELS = np.iinfo(np.int16).max
"""Deepest hierarchy an organisation may have: levels are stored as int16."""
MECHANISM_GROUPS: tuple[str, ...] = (
    "mandate",
    "motivation",
    "co_design",
    "relationships",
    "power",
    "adaptation",
    "leadership",
)
"""Groups that only the psychology-of-change rule (``dynamics.rule=change``) reads."""
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "threshold_kind": ("threshold", "change"),
    "threshold_mean": ("threshold", "change"),
    "threshold_sd": ("threshold", "change"),
    "q_imitation": ("bass",),
    "p_transmit": ("cascade",),
}
"""Dynamics keys read by some rules only (the others are read by every rule)."""
ORG_KEYS: dict[str, tuple[str, ...]] = {
    "n_staff": ("synthetic", "ics", "complete", "random"),
    "span_of_control": ("synthetic", "ics"),
    "n_levels": ("synthetic", "ics"),
    "p_team_tie": ("synthetic", "ics", "csv"),
    "mean_peer_ties": ("synthetic", "ics"),
    "clinical_leader_share": ("synthetic", "ics"),
    "org_kind": ("synthetic",),
    "name": ("synthetic",),
    "profession_mix": ("synthetic", "ics"),
    "partner_kinds": ("ics",),
    "partner_shares": ("ics",),
    "n_boundary_spanners": ("ics",),
    "cross_ties_per_pair": ("ics",),
    "mean_degree": ("random",),
    "path": ("csv",),
}
"""Organisation keys read by some builders only (``kind`` picks the builder)."""
BYTES_PER_TIE = 8 + 4 + 1 + 8 + 8
"""CSR memory per directed tie: build index (int64), index (uint32), kind, trust, weight."""


@functools.cache
def _default(cls: type) -> Any:
    """The default instance of a configuration group, made once and only read (checking a
    configuration made one per group and rule key: a fifth of ``from_dict``).
    """
    return cls()


def _changed(group: Any, default: Any, prefix: str) -> list[str]:
    """``key=value`` of each field of ``group`` that differs from the class default."""
    if group.__dict__ == default.__dict__:  # the usual case, in one comparison of every field
        return []
    out = []
    for f in fields(group):
        value = getattr(group, f.name)
        if value != getattr(default, f.name):
            out.append(f"{prefix}.{f.name}={value!r}")
    return out


def physical_memory() -> int:
    """Bytes of physical memory of this machine (0 if it cannot be told)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def check_org(p: Any, key: str = "org") -> None:
    """Cross-field checks of an organisation that need its size (after the field checks).

    Raises:
        ConfigError: an empty profession mix, a mean degree above the staff count, a span
            of control that ``n_levels`` would override, or a complete graph too large for
            this machine. (A depth the staff cannot fill is refused where the hierarchy is
            built: ``sim.org.span_for_depth``.)
    """
    default = _default(type(p))
    ignored = [
        f"{key}.{name}={getattr(p, name)!r}"
        for name, kinds in ORG_KEYS.items()
        if p.kind not in kinds and getattr(p, name) != getattr(default, name)
    ]
    if ignored:
        warn_config(f"{key}.kind={p.kind} ignores {', '.join(ignored)}", stacklevel=4)
    if p.profession_mix is not None and p.kind in ORG_KEYS["profession_mix"]:
        if not p.profession_mix or sum(p.profession_mix.values()) <= 0:
            raise ConfigError(
                f"{key}.profession_mix={p.profession_mix} has no positive share; give at least "
                "one profession a share > 0 (or leave it unset for the default mix)"
            )
    if p.kind == "random" and p.mean_degree > p.n_staff - 1:
        raise ConfigError(
            f"{key}.mean_degree={p.mean_degree:g} is more than the {p.n_staff - 1} others each person "
            f"could be tied to ({key}.n_staff={p.n_staff}); allowed: 0 to {p.n_staff - 1}"
        )
    if p.kind in ("synthetic", "ics") and p.n_levels > 0 and p.span_of_control != default.span_of_control:
        raise ConfigError(
            f"{key}.n_levels={p.n_levels} and {key}.span_of_control={p.span_of_control} are both "
            f"set, but n_levels derives the span; set one of them ({key}.n_levels=0 to use the span)"
        )
    if p.kind == "complete":
        n_ties = p.n_staff * (p.n_staff - 1)
        need = n_ties * BYTES_PER_TIE
        have = physical_memory()
        if have and need > have:
            raise ConfigError(
                f"{key}.kind=complete with {key}.n_staff={p.n_staff} has {n_ties:,} directed ties, "
                f"about {need / 2**30:,.1f} GiB, more than this machine's {have / 2**30:,.1f} GiB; "
                f"allowed here: {key}.n_staff up to {_complete_limit(have):,}"
            )


def _complete_limit(memory: int) -> int:
    return int((1 + math.sqrt(1 + 4 * memory / BYTES_PER_TIE)) / 2)


def check_model(cfg: Any, strict: bool = False) -> None:
    """Cross-group checks of a whole configuration (after every field has been checked).

    A mechanism set for a rule that ignores it is an error with ``strict`` (the command
    line: a scenario's mandate dropped by ``dynamics=bass`` must not pass unseen) and a
    ``ConfigWarning`` otherwise (the library: a test or notebook may set a group on
    purpose, e.g. to look at who co-designs, which every rule draws).

    Raises:
        ConfigError: a mandate that ends before it starts; with ``strict``, a mechanism
            set for a rule that ignores it.
    """
    m = cfg.mandate
    if m.on and m.end >= 0 and m.end <= m.start:
        raise ConfigError(
            f"mandate.end={m.end} is not after mandate.start={m.start}: a mandate must end after it "
            "starts (or mandate.end=-1: never withdrawn)"
        )
    if m.on and m.start >= cfg.n_steps > 0:
        warn_config(
            f"mandate.start={m.start} is not before the last step (n_steps={cfg.n_steps}): "
            "the mandate never comes into force",
            stacklevel=4,
        )
    rule = cfg.dynamics.rule
    if rule != "change":
        ignored = []
        for name in MECHANISM_GROUPS:
            group = getattr(cfg, name)
            ignored += _changed(group, _default(type(group)), name)
        if ignored:
            msg = (
                f"dynamics.rule={rule} ignores {', '.join(ignored)}: only dynamics.rule=change models "
                "these mechanisms; use dynamics=change, or drop them"
            )
            if strict:
                raise ConfigError(msg)
            warn_config(msg, stacklevel=4)
    unused = [
        f"dynamics.{k}={getattr(cfg.dynamics, k)!r}"
        for k, rules in RULE_KEYS.items()
        if rule not in rules and getattr(cfg.dynamics, k) != getattr(_default(type(cfg.dynamics)), k)
    ]
    if unused:
        warn_config(f"dynamics.rule={rule} ignores {', '.join(unused)}", stacklevel=4)


def _whole(name: str, values: Any, what: str) -> np.ndarray:
    """``values`` as int64 after checking each is a whole number in [0, 2**63)."""
    arr = np.asarray(values, dtype=object).ravel() if not isinstance(values, np.ndarray) else values
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "iu":
        big = arr.astype(np.float64) >= SEED_LIMIT if arr.dtype.kind == "u" else np.zeros(arr.shape, bool)
        neg = arr < 0 if arr.dtype.kind == "i" else np.zeros(arr.shape, bool)
        bad = np.flatnonzero((big | neg).ravel())
        if len(bad):
            k = int(bad[0])
            raise ConfigError(f"{name}[{k}]={arr.ravel()[k]} must be {what}")
        return arr.astype(np.int64).ravel()
    out = np.empty(len(arr), dtype=np.int64)
    for k, v in enumerate(arr.ravel()):
        if isinstance(v, (bool, np.bool_)):
            raise ConfigError(f"{name}[{k}]={v!r} must be {what}, not a boolean")
        if isinstance(v, (float, np.floating)) and math.isfinite(v) and float(v).is_integer():
            v = int(v)
        if isinstance(v, (float, np.floating)):
            raise ConfigError(f"{name}[{k}]={v!r} must be {what}, not a fraction (it would be truncated)")
        if not isinstance(v, (int, np.integer)):
            raise ConfigError(f"{name}[{k}]={v!r} must be {what}")
        if not 0 <= int(v) < SEED_LIMIT:
            raise ConfigError(f"{name}[{k}]={v} must be {what}")
        out[k] = int(v)
    return out


def check_seeds(seeds: Any) -> np.ndarray:
    """Explicit replicate seeds as int64, each a whole number in [0, 2**63).

    Raises:
        ConfigError: an empty list, or a seed that is fractional, not a number, negative
            or too large (it would be truncated or wrap round); the position is named.
    """
    arr = np.atleast_1d(np.asarray(seeds, dtype=object) if not isinstance(seeds, np.ndarray) else seeds)
    if arr.size == 0:
        raise ConfigError("seeds=[] is empty: give at least one seed (or none, to use seed and n_replicates)")
    if arr.ndim != 1:
        raise ConfigError(f"seeds must be a flat list of integers, got shape {arr.shape}")
    return _whole("seeds", arr, "a whole number in [0, 2**63)")


def check_thresholds(thresholds: Any, n: int) -> np.ndarray:
    """Explicit per-person thresholds as float64, one finite number >= 0 per person.

    Raises:
        ConfigError: a value that is not a number (its position named), a wrong length,
            or a value that is negative, infinite or NaN.
    """
    try:
        th = np.asarray(thresholds, dtype=np.float64)
    except (TypeError, ValueError):
        flat = np.asarray(thresholds, dtype=object).ravel()
        for k, v in enumerate(flat):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ConfigError(f"thresholds[{k}]={v!r} is not a number") from None
        raise ConfigError(f"thresholds must be numbers, got {thresholds!r}") from None
    if th.shape != (n,):
        raise ConfigError(f"thresholds must have shape ({n},) (one per member of staff), got {th.shape}")
    if not np.all(np.isfinite(th)) or (th < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(th) | (th < 0))[0])
        raise ConfigError(f"thresholds[{bad}]={th[bad]} must be finite and >= 0")
    return th


def check_adopters(explicit: Any, n: int) -> np.ndarray:
    """Explicit initial adopters (indices, or an (n,) bool mask) as sorted unique indices.

    Raises:
        ConfigError: a mask of the wrong shape, or an index that is fractional, not a
            number, or outside [0, n).
    """
    e = np.asarray(explicit) if isinstance(explicit, np.ndarray) else np.asarray(explicit, dtype=object)
    flags = e.dtype == object and e.size and all(isinstance(v, (bool, np.bool_)) for v in e.ravel())
    if e.dtype == bool or flags:
        e = e.astype(bool)
        if e.shape != (n,):
            raise ConfigError(f"initial_adopters mask must have shape ({n},), got {e.shape}")
        return np.flatnonzero(e)
    idx = _whole("initial_adopters", e.ravel(), f"an index in [0, {n - 1}]")
    if len(idx) and idx.max() >= n:
        k = int(np.argmax(idx))
        raise ConfigError(f"initial_adopters[{k}]={idx[k]} must be an index in [0, {n - 1}]")
    return np.unique(idx)


def check_levels(n_levels: int, source: str) -> None:
    """Refuse a hierarchy deeper than levels can be stored (``MAX_LEVELS``)."""
    if n_levels > MAX_LEVELS:
        raise ConfigError(
            f"{source.rstrip(': ')}: a manager chain {n_levels:,} levels deep; at most {MAX_LEVELS:,} "
            "levels are supported (does each manager_id point at the row above?)"
        )
