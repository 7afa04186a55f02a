"""Named scenarios from ``configs/scenario/``, read without Hydra.

A scenario file (``# @package _global_``) sets keys of several groups at once and may
build on other scenarios and pick group options through its ``defaults`` list, as Hydra
composes it for ``changesim scenario=<name>``:

- ``- change_base``: another scenario of this folder, merged below this file's own keys;
- ``- override /dynamics: change``: the option file ``configs/dynamics/change.yaml``, which
  takes the place of the group's default option, so it sits below every scenario's keys;
- ``- _self_``: where this file's own keys go (last, when not listed).

``load`` returns the nested dict of ``sim.params`` keys a scenario sets on top of the
defaults of ``sim.params`` (the group options it selects included), the form
``sim.params.from_dict`` and ``sim.run.run`` take. The library, the teaching app, the
benchmarks and the experiments read the calibrated base of the full model from
``configs/scenario/change_base.yaml`` through ``calibrated_base``, so that file is its
only copy (``tests/test_scenarios.py`` checks both the composition, against Hydra's own, and
that no copy of the base's numbers comes back).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sim.params import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The repository's ``configs/`` folder (changesim is installed editable from a clone)."""

CALIBRATED_BASE = "change_base"
"""The scenario that holds the full model's calibrated base."""


def merge(base: Mapping[str, Any], *overlays: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of nested config dicts: later overlays win, key by key; inputs are not changed."""
    out: dict[str, Any] = {k: merge(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for overlay in overlays:
        for k, v in overlay.items():
            if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
                out[k] = merge(out[k], v)
            else:
                out[k] = merge(v) if isinstance(v, Mapping) else v
    return out


def _read(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        options = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ConfigError(f"{what}: no file {path}; allowed: {options}")
    doc = yaml.safe_load(path.read_text()) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of keys, got {type(doc).__name__}")
    return doc


def _compose(name: str, stack: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(group options selected, the scenario's own keys with those of the scenarios it builds on)."""
    if name in stack:
        raise ConfigError(
            f"scenario {name}: its defaults list includes itself ({' -> '.join([*stack, name])})"
        )
    doc = _read(CONFIG_DIR / "scenario" / f"{name}.yaml", f"scenario={name}")
    defaults = doc.pop("defaults", []) or []
    groups: dict[str, Any] = {}
    layers: list[dict[str, Any]] = []
    self_seen = False
    for entry in defaults:
        if entry == "_self_":
            layers.append(doc)
            self_seen = True
        elif isinstance(entry, str):
            sub_groups, sub_keys = _compose(entry, (*stack, name))
            groups = merge(groups, sub_groups)
            layers.append(sub_keys)
        elif isinstance(entry, Mapping) and len(entry) == 1:
            ((key, option),) = entry.items()
            group = key.removeprefix("override").strip().lstrip("/")
            if "/" in group or not group:
                raise ConfigError(f"scenario {name}: defaults entry {dict(entry)} is not a group option")
            if option is None:
                continue
            path = CONFIG_DIR / group / f"{option}.yaml"
            groups = merge(groups, {group: _read(path, f"scenario {name}: {group}={option}")})
        else:
            raise ConfigError(f"scenario {name}: defaults entry {entry!r} is not a scenario or group option")
    if not self_seen:
        layers.append(doc)
    return groups, merge({}, *layers)


def load(name: str) -> dict[str, Any]:
    """The nested ``sim.params`` keys that ``configs/scenario/<name>.yaml`` sets, composed.

    Group options the scenario selects (``override /dynamics: change``) come first, then
    the scenarios it builds on, then its own keys, as ``changesim scenario=<name>`` composes
    them; keys the scenario leaves alone keep the defaults of ``sim.params``.

    Raises:
        ConfigError: no such scenario (the allowed names are listed), or a defaults entry
            this reader does not understand.
    """
    groups, keys = _compose(name, ())
    keys.pop("levers", None)  # the scenario's declaration, not a parameter (``levers``)
    return merge(groups, keys)


def levers(name: str) -> list[str]:
    """The leadership levers ``configs/scenario/<name>.yaml`` declares (``levers:``; sim.levers).

    A scenario inherits no declaration from the scenarios it builds on: each lists its own.
    """
    doc = _read(CONFIG_DIR / "scenario" / f"{name}.yaml", f"scenario={name}")
    out = doc.get("levers", []) or []
    if not isinstance(out, list) or not all(isinstance(k, str) for k in out):
        raise ConfigError(f"configs/scenario/{name}.yaml: levers must be a list of keys, got {out!r}")
    return out


def parameters(name: str) -> dict[str, Any]:
    """The model parameters a scenario sets: ``load`` without the top-level run keys.

    Run keys (``n_steps``, ``n_replicates``, ``seed``) say how long and how often to run;
    a caller that runs the scenario its own way (the teaching app, a benchmark) takes the
    groups only.
    """
    return {k: v for k, v in load(name).items() if isinstance(v, Mapping)}


def calibrated_base() -> dict[str, Any]:
    """The full model's calibrated base (``configs/scenario/change_base.yaml``), parameters only."""
    return parameters(CALIBRATED_BASE)
