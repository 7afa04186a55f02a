"""The two ways the model tells a user about a configuration: an error, or a warning.

At the bottom of the core with ``sim.constants`` (it imports nothing from ``sim``), so
``sim.params`` and the cross-field checks in ``sim.validate`` share them without an
import cycle; ``sim.params`` re-exports both.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is not allowed; the message names the key and what is."""


class ConfigWarning(UserWarning):
    """A configuration value has no effect, or less than it seems; the message names the key."""
