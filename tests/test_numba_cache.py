"""Numba's disk cache is keyed by the source of every module that defines a kernel.

Numba checks only a cached function's own file, so a kernel that calls one from another
module (``sim.initial`` calls ``sim.selection.first_k``) kept its old compiled code after
that module changed, until ``_kernel_sources`` found the modules by reading them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import sim

PACKAGE = Path(sim.__file__).parent


def test_every_module_with_a_kernel_keys_the_cache() -> None:
    listed = {p.relative_to(PACKAGE).as_posix() for p in sim._kernel_sources()}
    marks = ("@njit", "@overload", "@intrinsic")
    with_kernels = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(line.lstrip().startswith(marks) for line in p.read_text().splitlines())
    }
    assert with_kernels <= listed, f"modules with kernels missing from the cache key: {with_kernels - listed}"
    assert {"selection.py", "initial.py", "state.py", "rng.py", "dynamics/change.py"} <= listed
    assert "cli.py" not in listed, "a module without kernels would recompile everything when edited"


def _cache_dir(root: Path, tmp: Path) -> str:
    env = dict(os.environ, PYTHONPATH=str(root), XDG_CACHE_HOME=str(tmp / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)
    code = f"import numba, sim; assert sim.__file__.startswith({str(root)!r}); print(numba.config.CACHE_DIR)"
    run = subprocess.run  # from tmp: with -c the working directory comes first on the path
    out = run([sys.executable, "-c", code], env=env, cwd=tmp, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_editing_a_called_module_moves_the_cache_but_editing_the_cli_does_not(tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(PACKAGE, root / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    before = _cache_dir(root, tmp_path)
    with open(root / "sim" / "cli.py", "a") as f:
        f.write("\n# an edit outside the kernels\n")
    assert _cache_dir(root, tmp_path) == before
    with open(root / "sim" / "selection.py", "a") as f:
        f.write("\n# an edit to a module a kernel calls\n")
    after = _cache_dir(root, tmp_path)
    assert after != before and Path(after).parent == Path(before).parent
