"""Output tables never mislead: "never reached" is missing, and every output says where it came from."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import run_batch
from sim.analysis import sensitivity
from sim.params import ConfigError
from sim.provenance import REPO_ROOT, command_line, git_state, provenance

# Two weeks from 10 random adopters in 200 staff: 10% is reached at once, 90% never.
SHORT = {"org": {"n_staff": 200}, "n_steps": 2, "seeding": {"strategy": "random", "n_seeds": 20}}
PROVENANCE_KEYS = ("changesim", "git_commit", "git_modified", "created", "command", "machine")


def _design(n_steps: int, outcome: str = "final_frac_adopted") -> sensitivity.Design:
    return sensitivity.design_from_dict(
        {
            "method": "sobol", "n": 4, "seeds_per_point": 1, "outcome": outcome,
            "base": {"org": {"n_staff": 60}, "n_steps": n_steps},
            "parameters": {"dynamics.threshold_mean": [0.1, 0.5]},
        }
    )  # fmt: skip


def _head() -> str | None:
    if not (REPO_ROOT / ".git").exists():
        return None
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_never_reached_is_missing_not_minus_one(tmp_path: Path) -> None:
    res = run_batch(SHORT, n_replicates=3)
    s = res.summary
    assert str(s["t_90"].dtype) == "Int64", "step columns are nullable integers"
    assert s["t_90"].isna().all(), "90% cannot be reached in 2 weeks: missing, not a number"
    assert (s["t_10"] == 0).all(), "20 of 200 adopters reach 10% at step 0"
    assert not (s[["t_10", "t_50", "t_90"]] == -1).any().any(), "no -1 sentinel in any step column"
    assert pd.isna(s["t_90"].mean()) and s["t_90"].count() == 0, "a mean over no runs is missing, not -1"
    paths = res.save(tmp_path / "pq")
    table = pq.read_table(paths["summary"])
    assert table.column("t_90").null_count == 3, "Parquet stores never-reached as null"
    assert pd.read_parquet(paths["summary"])["t_90"].dtype == "Int64", "and reads back as Int64"
    paths = res.save(tmp_path / "csv", fmt="csv")
    rows = paths["summary"].read_text().splitlines()
    header = rows[0].split(",")
    assert all(r.split(",")[header.index("t_90")] == "" for r in rows[1:]), "CSV leaves the field empty"


def test_provenance_names_commit_time_command_and_machine(tmp_path: Path) -> None:
    git_state.cache_clear()  # read once per process; a commit made since this process began moved HEAD
    prov = provenance(["/usr/local/bin/changesim", "-m", "seed=0,1"], design="x")
    for key in PROVENANCE_KEYS:
        assert key in prov, f"provenance should record {key}"
    assert prov["command"] == "changesim -m seed=0,1", "the command as typed, script path shortened"
    assert prov["design"] == "x", "caller's keys are added"
    assert prov["git_commit"] == _head(), "the checkout's commit (None outside a checkout)"
    if prov["git_commit"] is not None:
        assert isinstance(prov["git_modified"], bool), "whether tracked files differ from the commit"
    assert prov["created"].endswith("+00:00"), "a UTC timestamp"
    assert {"hostname", "platform", "cpu_count", "python"} <= set(prov["machine"])
    assert command_line(["/x/sim/__main__.py", "a=1"]) == "python -m sim a=1"

    res = run_batch(SHORT, n_replicates=2)
    saved = json.loads(res.save(tmp_path)["provenance"].read_text())
    for key in PROVENANCE_KEYS:
        assert key in saved, f"a run's provenance.json should record {key}"
    assert saved["seeds"] == [int(s) for s in res.seeds], "and the replicates' own seeds"


def test_sensitivity_writes_provenance(tmp_path: Path) -> None:
    res = sensitivity.run(_design(n_steps=3), out=tmp_path / "sens", jobs=1, progress=False)
    prov = json.loads(res.paths["provenance.json"].read_text())
    for key in PROVENANCE_KEYS:
        assert key in prov, f"the sensitivity provenance.json should record {key}"


def test_sensitivity_refuses_a_step_outcome_some_runs_never_reach() -> None:
    with pytest.raises(ConfigError, match="t_90 was never reached"):
        sensitivity.run(_design(n_steps=1, outcome="t_90"), jobs=1, progress=False)
