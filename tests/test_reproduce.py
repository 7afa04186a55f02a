"""Committed results reproduce bit for bit (``scripts/reproduce_results.py``).

The experiment e01 folder records every scenario's configuration (``configs.json``) and
every replicate's seed (``outcomes_by_replicate.csv``). The fast test re-runs two scenarios
on their first three recorded seeds and requires the committed rows to the byte; the slow
test re-runs the whole comparison as ``changesim report`` does (today's seed derivation
included) and requires all four tables to the byte. After a deliberate model change,
re-run e01 and commit its tables: these tests then hold the new numbers.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
E01 = ROOT / "results" / "e01_leadership_models"


def _script():
    spec = importlib.util.spec_from_file_location(
        "reproduce_results", ROOT / "scripts" / "reproduce_results.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_e01_rows_reproduce_on_their_recorded_seeds():
    problems = _script().reproduce(E01, scenarios=["command_and_control", "help_it_happen"], replicates=3)
    model = [p for p in problems if not p.startswith("seeds:")]
    assert not model, "committed e01 numbers no longer reproduce:\n" + "\n".join(model)


def test_a_changed_number_is_reported(tmp_path):
    """The check can fail: one committed value nudged by one unit in the last place."""
    folder = tmp_path / "e01"
    shutil.copytree(E01, folder, ignore=shutil.ignore_patterns("*.png", "*.html", "*.md"))
    path = folder / "outcomes_by_replicate.csv"
    df = pd.read_csv(path)
    row = df.index[(df.scenario == "help_it_happen") & (df.replicate == 1)][0]
    df.loc[row, "sustained"] = np.nextafter(df.loc[row, "sustained"], 2.0)
    df.to_csv(path, index=False)
    problems = _script().reproduce(folder, scenarios=["help_it_happen"], replicates=2)
    assert any("column sustained" in p and "row 1" in p for p in problems), problems


@pytest.mark.slow
def test_e01_reproduces_bit_for_bit_as_changesim_report_runs_it():
    problems = _script().reproduce(E01)
    assert not problems, "results/e01_leadership_models does not reproduce:\n" + "\n".join(problems)
