"""One calibrated base: configs/scenario/change_base.yaml, read by everyone, copied by no one.

``sim.scenarios`` composes a scenario file without Hydra; the first test holds it to
Hydra's own composition for every scenario in the folder. The others check that the
teaching app's presets, the benchmarks, the national-scale experiment and the sensitivity
design run on the loaded base, and that no copy of the base's numbers comes back in the
source or the configs (a copy drifts the day someone recalibrates).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from sim import scenarios
from sim.params import ConfigError, from_dict

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted(p.stem for p in (ROOT / "configs" / "scenario").glob("*.yaml"))
BASE_FILE = ROOT / "configs" / "scenario" / f"{scenarios.CALIBRATED_BASE}.yaml"


def leaves(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a.b": value} for every non-dict value of a nested dict."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(leaves(v, key + "."))
        else:
            out[key] = v
    return out


def value_at(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


@pytest.mark.parametrize("name", SCENARIOS)
def test_load_composes_a_scenario_as_hydra_does(name):
    from sim.cli import compose

    hydra_cfg, _ = compose([f"scenario={name}"])
    loaded = scenarios.load(name)
    for key, value in leaves(loaded).items():
        assert value_at(hydra_cfg, key) == value, (
            f"scenario={name}: {key} is {value_at(hydra_cfg, key)} in Hydra"
        )
    # What the scenario leaves alone keeps the defaults: the whole configuration agrees.
    assert from_dict(loaded) == hydra_cfg, f"scenario={name}: sim.scenarios and Hydra compose differently"


def test_the_calibrated_base_is_what_its_file_says():
    doc = yaml.safe_load(BASE_FILE.read_text())
    base = scenarios.calibrated_base()
    own = {k: v for k, v in leaves({k: v for k, v in doc.items() if k != "defaults"}).items() if "." in k}
    assert own, "change_base.yaml sets group keys"
    assert own.items() <= leaves(base).items(), (
        "every group key of change_base.yaml reaches calibrated_base()"
    )
    assert base["dynamics"]["rule"] == "change", (
        "the base selects the full model (override /dynamics: change)"
    )
    assert "n_replicates" not in base and "n_steps" not in base, "calibrated_base() holds parameters only"


def test_a_recalibration_reaches_every_reader(tmp_path, monkeypatch):
    """Edit a copy of the folder: the loader must read the file, not a remembered copy."""
    configs = tmp_path / "configs"
    for group in ("scenario", "dynamics"):
        (configs / group).mkdir(parents=True)
        for p in (ROOT / "configs" / group).glob("*.yaml"):
            (configs / group / p.name).write_text(p.read_text())
    text = (configs / "scenario" / "change_base.yaml").read_text()
    (configs / "scenario" / "change_base.yaml").write_text(
        text.replace("threshold_mean: 0.55", "threshold_mean: 0.61")
    )
    monkeypatch.setattr(scenarios, "CONFIG_DIR", configs)
    assert scenarios.calibrated_base()["dynamics"]["threshold_mean"] == 0.61
    assert scenarios.load("let_it_happen")["dynamics"]["threshold_mean"] == 0.61, "scenarios build on it"


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_presets_benchmarks_experiments_and_sensitivity_run_on_the_loaded_base():
    from sim.analysis import sensitivity
    from sim.levers import LEVER_KEYS
    from sim.views import presets

    import bench_peers  # experiments/e09_benchmark (on sys.path: tests/conftest.py)

    base = leaves(scenarios.calibrated_base())
    e10 = _module(ROOT / "experiments" / "e10_national_scale" / "run.py", "e10_run")
    used = {
        "sim.views.presets.CALIBRATED": presets.CALIBRATED,
        "the 'help it happen' preset": presets.get("help it happen").config,
        "bench_peers.CHANGE_CONFIG": bench_peers.CHANGE_CONFIG,
        "e10 BASE": e10.BASE,
        "configs/sensitivity/default.yaml": sensitivity.load("default").base,
    }
    for who, config in used.items():
        mine = leaves(config)
        # A leadership lever (sim.levers) may differ: a preset is the base plus levers.
        differ = {k: (mine.get(k), v) for k, v in base.items() if mine.get(k) != v and k not in LEVER_KEYS}
        assert not differ, f"{who} departs from change_base.yaml: {differ}"


def _dict_literals(tree: ast.AST):
    """Each outermost dict literal with constant keys, as a nested dict of its constant values."""

    def convert(node: ast.AST) -> Any:
        if isinstance(node, ast.Dict):
            out = {}
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    value = convert(v)
                    if value is not None:
                        out[k.value] = value
            return out
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            return node.value
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            yield node.lineno, convert(node)


# The base's numbers that are not defaults of sim.params: a copy repeats several of them.
DISTINCTIVE_MIN = 3


def _distinctive() -> dict[str, Any]:
    defaults = from_dict({})
    return {
        k: v
        for k, v in leaves(scenarios.calibrated_base()).items()
        if not isinstance(v, str) and value_at(defaults, k) != v
    }


def _copies(found: dict[str, Any], distinctive: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in distinctive.items() if k in found and found[k] == v)


# Literals that repeat the base's numbers on purpose, each with its reason.
ALLOWED_COPIES = {
    "experiments/e09_benchmark/bench_speed.py": (
        "a frozen workload that must run unchanged on the reference commit c213202, which has "
        "neither sim.scenarios nor today's base keys"
    ),
}


def test_no_copy_of_the_base_in_python_source():
    distinctive = _distinctive()
    assert len(distinctive) >= 10, distinctive
    files = [p for d in ("sim", "experiments", "scripts") for p in (ROOT / d).rglob("*.py")]
    bad = []
    for path in files:
        if path.relative_to(ROOT).as_posix() in ALLOWED_COPIES:
            continue
        for line, literal in _dict_literals(ast.parse(path.read_text())):
            # Keys may be nested ({"people": {"trust_line": ...}}) or dotted overrides.
            same = _copies(leaves(literal), distinctive)
            if len(same) >= DISTINCTIVE_MIN:
                bad.append(f"{path.relative_to(ROOT)}:{line} repeats {same}")
    assert not bad, (
        "copies of configs/scenario/change_base.yaml (load it: sim.scenarios.calibrated_base):\n"
        + "\n".join(bad)
    )


def test_no_copy_of_the_base_in_other_configs():
    distinctive = _distinctive()
    bad = []
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        if path == BASE_FILE:
            continue
        doc = yaml.safe_load(path.read_text()) or {}
        if not isinstance(doc, dict):
            continue
        found = leaves(doc)
        found.update({k.split(".", 1)[1]: v for k, v in found.items() if k.startswith("base.")})
        same = _copies(found, distinctive)
        if len(same) >= DISTINCTIVE_MIN:
            bad.append(f"{path.relative_to(ROOT)} repeats {same}")
    assert not bad, (
        "copies of change_base.yaml (use `defaults: [change_base]` or `scenario: change_base`):\n"
        + "\n".join(bad)
    )


def test_the_copy_detector_finds_the_old_copies():
    """The detector above must catch the copy this issue removed (presets.py, before)."""
    old = (
        'CALIBRATED = {"dynamics": {"threshold_mean": 0.55, "threshold_sd": 0.15, "p_spontaneous": 0.003},\n'
        '              "people": {"trust_line": 0.6, "trust_team": 0.7}}\n'
    )
    (line, literal), *_ = list(_dict_literals(ast.parse(old)))
    assert len(_copies(leaves(literal), _distinctive())) >= DISTINCTIVE_MIN


def test_an_unknown_scenario_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"scenario=no_such_thing: no file .*allowed: \[.*change_base"):
        scenarios.load("no_such_thing")
