"""Where an output came from: one record shared by every table, report and figure folder.

``provenance()`` gives the package version, the git commit and whether the checkout had
uncommitted changes (when changesim runs from a git checkout), the time in UTC, the
command line, and the machine (host, operating system, Python, NumPy, Numba, cores).
Every writer of results (a run, a sweep, ``changesim report``, ``changesim sensitivity``,
calibration) starts from this record and adds its own keys, so a number in a paper can be
traced to the code and the command that made it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The folder above the ``sim`` package: a git checkout when installed editable from a clone."""


@lru_cache(maxsize=1)
def git_state(root: str | Path = REPO_ROOT) -> dict[str, Any]:
    """``{"git_commit": sha or None, "git_modified": bool or None}`` of the checkout at ``root``.

    ``git_modified`` is True when tracked files differ from the commit (untracked files
    are not counted: outputs and scratch files would mark every run modified). Both are
    None when ``root`` is not a git checkout (an installed wheel) or git is missing.
    """
    root = Path(root)
    none = {"git_commit": None, "git_modified": None}
    if not (root / ".git").exists():
        return none
    try:
        git = ["git", "-C", str(root)]
        opts = {"capture_output": True, "text": True, "timeout": 10, "check": True}
        sha = subprocess.run([*git, "rev-parse", "HEAD"], **opts).stdout.strip()
        status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], **opts).stdout
    except (OSError, subprocess.SubprocessError):
        return none
    return {"git_commit": sha or None, "git_modified": bool(status.strip())}


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed: ``changesim -m seed=0,1`` (the script's path shortened to its name).

    ``python -m sim ...`` is written so; other scripts keep their path.
    """
    args = list(sys.argv if argv is None else argv)
    if not args:
        return ""
    path = Path(args[0])
    if path.name == "changesim":
        return shlex.join(["changesim", *args[1:]])
    if path.name == "__main__.py":  # python -m sim
        return shlex.join(["python", "-m", path.parent.name, *args[1:]])
    return shlex.join(args)


def machine() -> dict[str, Any]:
    """Host name, operating system, CPU count and the versions the numbers depend on."""
    import numba
    import numpy as np

    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }


def provenance(argv: Sequence[str] | None = None, **extra: Any) -> dict[str, Any]:
    """The shared provenance record, plus ``extra`` keys from the caller.

    Top-level keys: ``changesim`` (version), ``git_commit``, ``git_modified``, ``created``
    (UTC, ISO 8601), ``command``, ``machine`` (see ``machine``), and for tables that copy
    versions row by row, ``python``, ``numpy`` and ``numba`` at the top level too.

    Args:
        argv: the command line (default ``sys.argv``).
        **extra: caller's keys (``config``, ``seeds``, ``design``, ...), added last.
    """
    from sim._version import __version__

    mach = machine()
    return {
        "changesim": __version__,
        **git_state(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": command_line(argv),
        "machine": mach,
        "python": mach["python"],
        "numpy": mach["numpy"],
        "numba": mach["numba"],
        **extra,
    }


def write(path: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as JSON to ``path`` via a temporary name, so a partial file is never read."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
