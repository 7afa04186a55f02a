"""Fair contrasts: every leadership model is the common base plus the levers it declares.

Each test composes the real configs through Hydra (``sim.cli.compose``), as ``changesim``
does, and compares the model configuration of a scenario with that of the base
(``configs/scenario/change_base.yaml``) key by key.
"""

from __future__ import annotations

import pytest

from sim import scenarios
from sim.cli import CONFIG_DIR, LEADERSHIP_MODELS, compose
from sim.levers import LEVER_KEYS, SETTING_KEYS, undeclared

SCENARIO_DIR = CONFIG_DIR / "scenario"


def leadership_scenarios() -> list[str]:
    """Scenarios built on the common base (their defaults list change_base)."""
    names = []
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        if path.stem != "change_base" and "- change_base" in path.read_text():
            names.append(path.stem)
    return names


BASE = compose(["scenario=change_base"])[0].to_dict()


def test_every_leadership_model_of_the_report_is_built_on_the_base() -> None:
    assert set(dict(LEADERSHIP_MODELS)) <= set(leadership_scenarios())


@pytest.mark.parametrize("name", leadership_scenarios())
def test_scenario_changes_only_its_declared_levers(name: str) -> None:
    cfg, cli = compose([f"scenario={name}"])
    declared = cli["levers"]
    assert declared == scenarios.levers(name), "the Hydra-free reader (sim.scenarios) sees other levers"
    unknown = [k for k in declared if k not in LEVER_KEYS | SETTING_KEYS]
    assert not unknown, f"{name}: declares {unknown}, which are not levers in sim/levers.py"
    bad = undeclared(BASE, cfg.to_dict(), declared)
    assert not bad, (
        f"configs/scenario/{name}.yaml changes {bad} on the common base without declaring them "
        f"as levers (declared: {declared}); move a modelling choice into change_base.yaml instead"
    )


def test_a_modelling_choice_in_one_scenario_is_caught() -> None:
    # The check is not vacuous: own initiative, internalisation and clinical credibility
    # set in one scenario only are refused, while a lever it declares passes.
    cfg, cli = compose(
        [
            "scenario=help_it_happen",
            "dynamics.p_spontaneous=0.01",
            "motivation.p_internalise=0.05",
            "leadership.clinical_credibility=2.0",
        ]
    )
    assert undeclared(BASE, cfg.to_dict(), cli["levers"]) == [
        "dynamics.p_spontaneous",
        "leadership.clinical_credibility",
        "motivation.p_internalise",
    ]
    cfg, cli = compose(["scenario=help_it_happen", "co_design.share=0.2"])
    assert undeclared(BASE, cfg.to_dict(), cli["levers"]) == []


def test_non_levers_are_the_same_in_every_leadership_model() -> None:
    # What the issue found driving the old ranking is now shared: own initiative, whether
    # compliers internalise, crowding and erosion per unit pressure, clinical credibility.
    shared = (
        "dynamics.p_spontaneous",
        "motivation.p_internalise",
        "motivation.crowding",
        "relationships.trust_erosion",
        "leadership.clinical_credibility",
        "adaptation.p_test",
    )
    for name in leadership_scenarios():
        cfg = compose([f"scenario={name}"])[0].to_dict()
        for key in shared:
            group, leaf = key.split(".")
            assert cfg[group][leaf] == BASE[group][leaf], f"{name}: {key} differs from the base"


def test_hypothesis_is_derandomised_in_ci() -> None:
    # CI=true selects the "ci" profile in tests/conftest.py: the same examples every run.
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    code = "import conftest; from hypothesis import settings; print(settings.default.derandomize)"
    env = {**os.environ, "CI": "true", "PYTHONPATH": f"{tests}{os.pathsep}{tests.parent}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True", out.stderr
    env.pop("CI")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
