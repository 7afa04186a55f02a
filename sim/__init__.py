"""changesim: how a change spreads, sticks or fails in health and care organisations.

The public API: build an organisation (``sim.org``, ``sim.io``), configure a scenario
(``sim.params``), and run it (``run``, ``run_batch``, or the Mesa ``ChangeModel``).
"""

from __future__ import annotations

import re

from sim._version import __version__ as __version__

KERNEL_MARK = re.compile(rb"^\s*@(njit|jit|overload|intrinsic|register_jitable|vectorize)\b", re.MULTILINE)


def _kernel_sources() -> list:
    """Every module of the package that defines a kernel (a line starting with a Numba
    decorator: ``KERNEL_MARK``), in a fixed order. Found by reading the files, not listed by
    hand: a module left off the hand-kept list (``sim.selection``, ``sim.initial`` and
    ``sim.state`` were) could change without the cache noticing.
    """
    from pathlib import Path

    here = Path(__file__).parent
    return [path for path in sorted(here.rglob("*.py")) if KERNEL_MARK.search(path.read_bytes())]


def _numba_cache_dir() -> None:
    """Point Numba's on-disk cache at a folder keyed by a hash of this package's source.

    Numba's ``cache=True`` checks only the timestamp of a kernel's own file, so a kernel
    that inlines or calls a function from another module could reuse a stale compilation
    after that module changed. Keying the cache folder by the source of every module that
    defines a kernel (``_kernel_sources``; ``constants.py`` too, whose integer codes
    kernels fold into their code) makes changed kernels compile afresh, while an unchanged
    one (a second process, a second run) starts without recompiling. ``NUMBA_CACHE_DIR``
    set by the user wins.
    """
    import hashlib
    import os
    from pathlib import Path

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    import numba

    here = Path(__file__).parent
    digest = hashlib.sha1()
    for path in [here / "constants.py", *_kernel_sources()]:
        digest.update(path.relative_to(here).as_posix().encode())
        digest.update(path.read_bytes())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    numba.config.CACHE_DIR = str(base / "changesim" / f"numba-{digest.hexdigest()[:16]}")


_numba_cache_dir()

from sim.model import ChangeModel  # noqa: E402
from sim.org import Organisation  # noqa: E402
from sim.params import ConfigError, ModelConfig, from_dict  # noqa: E402
from sim.run import Result, run, run_batch  # noqa: E402

__all__ = [
    "ChangeModel",
    "ConfigError",
    "ModelConfig",
    "Organisation",
    "Result",
    "__version__",
    "from_dict",
    "run",
    "run_batch",
]
