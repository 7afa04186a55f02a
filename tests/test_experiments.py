"""Every experiment config composes, and every experiment's analysis runs end to end on a tiny version.

The experiment configs in configs/experiment/ own their sweeps (``changesim -m
experiment=<name>``); each experiments/<name>/analyse.py turns a sweep (or its own in-process
run, ``--run``) into a figure and small tables. Here each analysis runs with ``--quick``: two
values per swept key, two replicates, 60 staff, 8 weeks.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import yaml

from sim.cli import CONFIG_DIR, compose

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT_CONFIGS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
ANALYSES = sorted(p.parent.name for p in (ROOT / "experiments").glob("e*/analyse.py"))
# Outputs each analysis must write (figure first).
OUTPUTS = {
    "e02_domain_ablation": ["forest.png", "effects.csv", "factorial.csv", "headline.md"],
    "e03_power_motivation": ["phase_diagram.png", "cells.csv", "headline.md"],
    "e04_ics_spanners": ["partner_spread.png", "cells.csv", "headline.md"],
    "e05_clinical_leadership": ["clinicians.png", "cells.csv", "differences.csv", "headline.md"],
    "e06_classic_limits": ["classic_limits.png", "watts.csv", "bass.csv", "cascade.csv", "headline.md"],
    "e11_type_of_change": ["phase_diagram.png", "leaders.csv", "cells.csv", "headline.md"],
}
# Analyses that read a Hydra sweep's sweep_summary.parquet (same columns as their --run table).
READS_SWEEP_SUMMARY = ("e02_domain_ablation", "e03_power_motivation")


def load(name: str) -> ModuleType:
    path = ROOT / "experiments" / name / "analyse.py"
    spec = importlib.util.spec_from_file_location(f"analyse_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep_params(name: str) -> dict[str, list[str]]:
    doc = yaml.safe_load((CONFIG_DIR / "experiment" / f"{name}.yaml").read_text()) or {}
    params = ((doc.get("hydra") or {}).get("sweeper") or {}).get("params") or {}
    return {k: str(v).split(",") for k, v in params.items()}


@pytest.mark.parametrize("name", EXPERIMENT_CONFIGS)
def test_experiment_config_composes(name: str) -> None:
    first = (CONFIG_DIR / "experiment" / f"{name}.yaml").read_text().splitlines()[0]
    assert first == "# @package _global_", f"{name}.yaml must open with '# @package _global_', got {first!r}"
    cfg, _ = compose([f"experiment={name}"])
    assert cfg.n_steps > 0 and cfg.n_replicates >= 1, f"{name}: composed config has no steps or replicates"
    # The first value of every swept key composes too (a typo in a key fails here, not mid-sweep).
    swept = [f"{k}={v[0]}" for k, v in sweep_params(name).items() if not v[0].startswith("range(")]
    compose([f"experiment={name}", *swept])


def test_every_analysis_has_a_config_and_outputs() -> None:
    assert set(ANALYSES) >= set(OUTPUTS), f"analyses missing: {set(OUTPUTS) - set(ANALYSES)}"
    for name in ANALYSES:
        assert name in EXPERIMENT_CONFIGS, f"experiments/{name} has no configs/experiment/{name}.yaml"
        assert (ROOT / "experiments" / name / "README.md").is_file(), f"experiments/{name} has no README.md"


@pytest.mark.parametrize("name", ANALYSES)
def test_analysis_runs_quick(name: str, tmp_path: Path) -> None:
    # The convention every analyse.py follows: `--run --quick --out DIR` runs a tiny version in-process.
    module = load(name)
    out = tmp_path / "quick"
    assert module.main(["--run", "--quick", "--out", str(out)]) == 0, f"{name}: --run --quick failed"
    assert list(out.glob("*.png")), f"{name}: no figure written"
    for file in OUTPUTS.get(name, []):
        assert (out / file).is_file() and (out / file).stat().st_size > 0, f"{name}: {file} not written"
    for table in out.glob("*.csv"):
        assert len(pd.read_csv(table)) > 0, f"{name}: {table.name} is empty"
    replicates = out / "replicates.parquet"
    if not replicates.is_file():  # e06 keeps no per-replicate table: its tables are the analysis
        return
    # The per-replicate table of a --run can be analysed again without running.
    again = tmp_path / "again"
    assert module.main([str(out), "--out", str(again)]) == 0, f"{name}: re-analysis of a --run failed"
    assert (again / OUTPUTS[name][0]).is_file(), f"{name}: re-analysis wrote no figure"
    if name in READS_SWEEP_SUMMARY:
        sweep = tmp_path / "sweep"
        sweep.mkdir()
        shutil.copy(replicates, sweep / "sweep_summary.parquet")
        assert module.main([str(sweep), "--out", str(tmp_path / "from_sweep")]) == 0, (
            f"{name}: sweep table failed"
        )


def test_patient_partnership_addendum_runs_quick(tmp_path: Path) -> None:
    # experiments/e02_domain_ablation/patients.py: four regimes x two outcomes, paired seeds.
    path = ROOT / "experiments" / "e02_domain_ablation" / "patients.py"
    spec = importlib.util.spec_from_file_location("e02_patients", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "patients.csv")
    assert len(table) == 2 * len(module.REGIMES) and (tmp_path / "patients.md").stat().st_size > 0
    diff = (table["mean_with"] - table["mean_without"]) - table["difference"]
    assert diff.abs().max() < 0.01, "the difference is not with minus without"
