"""changesim: how a change spreads, sticks or fails in health and care organisations.

The public API: build an organisation (``sim.org``, ``sim.io``), configure a scenario
(``sim.params``), and run it (``run``, ``run_batch``, or the Mesa ``ChangeModel``).
"""

from __future__ import annotations

from sim._version import __version__ as __version__


def _numba_cache_dir() -> None:
    """Point Numba's on-disk cache at a folder keyed by a hash of this package's source.

    Numba's ``cache=True`` checks only the timestamp of a kernel's own file, so a kernel
    that inlines a function from another module could reuse a stale compilation after
    that module changed. Keying the cache folder by the source of every module that
    holds kernels makes changed kernels compile afresh, while an unchanged one (a second process, a second
    run) starts without recompiling. ``NUMBA_CACHE_DIR`` set by the user wins.
    """
    import hashlib
    import os
    from pathlib import Path

    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    import numba

    here = Path(__file__).parent
    digest = hashlib.sha1()
    # constants.py: kernels fold its integer codes (tie kinds, adoption states) into the code.
    kernel_sources = [
        here / "constants.py",
        here / "engine.py",
        here / "rng.py",
        *sorted((here / "dynamics").glob("*.py")),
    ]
    for path in kernel_sources:
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
