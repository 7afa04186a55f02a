"""Counter-based random numbers shared by every engine.

A draw is a pure function of (seed, purpose, step, agent): the splitmix64 finaliser
(Steele, Lea and Flood 2014) applied twice. Because no generator state is carried, the
Numba kernel, the agent-by-agent reference and a replicate inside a parallel batch all
see the same number for the same question, whatever the thread count or the order in
which agents are visited. It also gives common random numbers (as in Starsim): two
scenarios run from one seed share every draw that their mechanisms both make.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MASK64 = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53

# Purposes: one stream per question asked of chance. Never renumber (results would change).
ADOPT = 1
THRESHOLD = 2
MOTIVATION = 3
COURAGE = 4
BELIEF = 5
SEEDING = 6
ORG = 7
TEST = 8
LAPSE = 9
CHURN = 10
TRUST = 11
FIT = 12
EXTRA = 13
PIPELINE = 14


def _mix_py(z: int) -> int:
    z = (z + _GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def key_py(seed: int, purpose: int) -> int:
    """Stream key for (seed, purpose), in plain Python."""
    return _mix_py((int(seed) & MASK64) ^ ((int(purpose) * _GOLDEN) & MASK64))


def uniform_py(key: int, step: int, agent: int) -> float:
    """Uniform draw in [0, 1) for (stream key, step, agent), in plain Python."""
    x = ((int(step) & 0xFFFFFFFF) << 32) | (int(agent) & 0xFFFFFFFF)
    return (_mix_py(key ^ x) >> 11) * _TO_UNIT


@njit(cache=True, inline="always")
def _mix_nb(z):
    z = z + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def uniform_nb(key, step, agent):
    """Uniform draw in [0, 1) for (stream key, step, agent), inside Numba kernels.

    Args:
        key: uint64 stream key from ``key_py``.
        step: step index (0 <= step < 2**32).
        agent: agent index (0 <= agent < 2**32).
    """
    x = (np.uint64(step) << np.uint64(32)) | np.uint64(agent)
    return np.float64(_mix_nb(np.uint64(key) ^ x) >> np.uint64(11)) * _TO_UNIT


def uniform_np(key: int, step: int, agents: np.ndarray) -> np.ndarray:
    """Vectorised uniform draws for many agents at one (key, step); equals ``uniform_py``.

    Args:
        key: stream key from ``key_py``.
        step: step index.
        agents: (n,) integer agent indices.

    Returns:
        (n,) float64 in [0, 1).
    """
    a = np.asarray(agents, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (np.uint64(step & 0xFFFFFFFF) << np.uint64(32)) | a
        z = np.uint64(key) ^ x
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def draws(seed: int, purpose: int, n: int, step: int = 0) -> np.ndarray:
    """``n`` uniform draws for agents 0..n-1 of stream (seed, purpose) at ``step``."""
    return uniform_np(key_py(seed, purpose), step, np.arange(n, dtype=np.uint64))
