"""changesim: how a change spreads, sticks or fails in health and care organisations.

The public API: build an organisation (``sim.org``, ``sim.io``), configure a scenario
(``sim.params``), and run it (``run``, ``run_batch``, or the Mesa ``ChangeModel``).
"""

from __future__ import annotations

__version__ = "0.1.0"

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
