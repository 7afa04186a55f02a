"""The README's facts: its Python example prints what the README says, and the paths it names exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
FOLDERS = ("experiments", "results", "configs", "sim", "docs", "scripts", "tests")


def _python_api_block() -> tuple[str, str]:
    """(code, expected output) of the Python API section: its python block and the text block after it."""
    section = README[README.index("## Python API") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    text = re.search(r"```text\n(.*?)```", section[code.end() :], re.S)
    assert code and text, "the Python API section should have a python block and its output"
    return code.group(1), text.group(1)


def test_python_api_example_prints_what_the_readme_says(tmp_path: Path) -> None:
    code, expected = _python_api_block()
    p = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected, f"README output is stale; the block now prints:\n{p.stdout}"
    assert (tmp_path / "out" / "provenance.json").is_file(), "res.save('out/') writes in the caller's folder"


def test_every_path_the_readme_names_exists() -> None:
    pattern = r"(?<![\w/.])((?:" + "|".join(FOLDERS) + r")/[\w./-]*[\w/])"
    named = sorted(set(re.findall(pattern, README)))
    assert len(named) > 20, "the README should name its folders and files"
    missing = [p for p in named if not (ROOT / p).exists()]
    assert not missing, f"README names paths that do not exist: {missing}"


def test_every_experiment_in_the_table_has_its_folder_or_says_it_has_none() -> None:
    rows = re.findall(r"^\| `(e\d\d_\w+)` \|(.*)$", README, re.M)
    assert len(rows) >= 8, "the experiments table lists the experiments"
    for name, rest in rows:
        has_folder = (ROOT / "experiments" / name).is_dir()
        has_config = (ROOT / "configs" / "experiment" / f"{name}.yaml").is_file()
        assert has_folder or (has_config and "no folder" in rest), f"{name}: no experiments/{name} folder"
