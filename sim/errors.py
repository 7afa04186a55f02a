"""The two ways the model tells a user about a configuration: an error, or a warning.

At the bottom of the core with ``sim.constants`` (it imports nothing from ``sim``), so
``sim.params`` and the cross-field checks in ``sim.validate`` share them without an
import cycle; ``sim.params`` re-exports both.
"""

from __future__ import annotations

import warnings


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names the key and what is."""


class ConfigWarning(UserWarning):
    """A configuration value has no effect, or less than it seems; the message names the key."""


_WARNED = [0]  # ConfigWarnings issued in this process so far (filtered ones included)


def warn_config(message: str, stacklevel: int) -> None:
    """Issue a ``ConfigWarning``, ``stacklevel`` frames above the caller, and count it: a
    validation that issued none may keep what it checked (``sim.params._GROUP_MEMO``)
    without catching warnings, so the filters in force treat each one as they would.
    """
    _WARNED[0] += 1
    warnings.warn(message, ConfigWarning, stacklevel=stacklevel + 1)


def config_warnings() -> int:
    """How many ``ConfigWarning``s ``warn_config`` has issued in this process."""
    return _WARNED[0]
