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
from numba import njit, prange

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
OUTCOME = 13
PIPELINE = 14


def _mix_py(z: int) -> int:
    z = (z + _GOLDEN) & MASK64
    z = ((z ^ (z >> 30)) * _M1) & MASK64
    z = ((z ^ (z >> 27)) * _M2) & MASK64
    return z ^ (z >> 31)


def key_py(seed: int, purpose: int) -> int:
    """Stream key for (seed, purpose), in plain Python."""
    return _mix_py((int(seed) & MASK64) ^ ((int(purpose) * _GOLDEN) & MASK64))


def replicate_seed(base: int, replicate: int) -> int:
    """Seed of replicate ``replicate`` of a batch started from seed ``base``.

    Replicate 0 is the base seed itself, so ``changesim seed=S`` and ``run(seed=S)`` are
    replicate 0 of any batch from S, and a seed copied from a table reproduces its run.
    Replicate k > 0 is splitmix64 of the pair (base, k), shifted right one bit so it stays
    below 2**63 (it fits an int64 column and the ``seed`` key's range, nothing wraps).
    Consecutive seeds (``base + k``) would make the jobs of a sweep over ``seed=0,1`` share
    9 of 10 replicates; hashed seeds collide with probability ~R**2 / 2**63.
    """
    base, replicate = int(base), int(replicate)
    if replicate == 0:
        return base
    z = _mix_py((_mix_py(base & MASK64) + ((replicate * _GOLDEN) & MASK64)) & MASK64)
    return z >> 1


def replicate_seeds(base: int, n: int) -> np.ndarray:
    """(n,) int64 seeds of replicates 0..n-1 from ``base``; element k is ``replicate_seed(base, k)``."""
    k = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(_mix_py(int(base) & MASK64)) + k * np.uint64(_GOLDEN)
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        z = z ^ (z >> np.uint64(31))
    out = (z >> np.uint64(1)).astype(np.int64)
    if n:
        out[0] = int(base)
    return out


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


@njit(cache=True, inline="always")
def key_nb(seed, purpose):
    """Stream key for (seed, purpose) inside Numba kernels; equals ``key_py`` (seed >= 0)."""
    return _mix_nb(np.uint64(seed) ^ (np.uint64(purpose) * np.uint64(_GOLDEN)))


@njit(cache=True)
def keys_table(seeds, purposes):
    """(R, P) uint64: out[r, p] = ``key_py(seeds[r], purposes[p])`` (seeds >= 0), no temporaries."""
    out = np.empty((len(seeds), len(purposes)), np.uint64)
    for r in range(len(seeds)):
        for p in range(len(purposes)):
            out[r, p] = key_nb(seeds[r], purposes[p])
    return out


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


def uniform_rows(keys: np.ndarray, step: int, agents: np.ndarray) -> np.ndarray:
    """(R, n) uniform draws: row r uses stream key ``keys[r]``; equals ``uniform_np`` per row."""
    k = np.asarray(keys, dtype=np.uint64)[:, None]
    a = np.asarray(agents, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        x = (np.uint64(step & 0xFFFFFFFF) << np.uint64(32)) | a
        z = k ^ x
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def keys(seeds: np.ndarray, purpose: int) -> np.ndarray:
    """(R,) uint64 stream keys for many seeds and one purpose (element r is ``key_py(seeds[r], purpose)``)."""
    z = np.atleast_1d(np.asarray(seeds)).astype(np.int64).view(np.uint64)  # two's complement, as & MASK64
    with np.errstate(over="ignore"):
        z = z ^ np.uint64((int(purpose) * _GOLDEN) & MASK64)
        z = z + np.uint64(_GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
        z = z ^ (z >> np.uint64(31))
    return z


def draws(seed: int, purpose: int, n: int, step: int = 0) -> np.ndarray:
    """``n`` uniform draws for agents 0..n-1 of stream (seed, purpose) at ``step``."""
    return uniform_np(key_py(seed, purpose), step, np.arange(n, dtype=np.uint64))


NQ_LO = 0.02425
"""Below NQ_LO and above 1 - NQ_LO the normal quantile uses its tail formula (log and sqrt)."""


@njit(cache=True, inline="always")
def normal_quantile_central(u):
    """``normal_quantile`` for NQ_LO <= u <= 1 - NQ_LO: one rational function, no log or
    branch, so a loop of it vectorises (``sim.initial`` draws attributes that way and
    finishes the few tail draws with ``normal_quantile``). The single source of the
    central formula: ``normal_quantile`` calls it, so the two agree bit for bit.
    """
    a1, a2, a3 = -3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02
    a4, a5, a6 = 1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00
    b1, b2, b3 = -5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02
    b4, b5 = 6.680131188771972e01, -1.328068155288572e01
    q = u - 0.5
    r = q * q
    return (
        (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6)
        * q
        / (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0)
    )


@njit(cache=True)
def normal_quantile(u):
    """Inverse standard normal CDF (Acklam's rational approximation).

    Relative error below 1.2e-9, ample for drawing model attributes; u = 0 gives -inf.
    Every engine's initialisation uses it, so all engines start from the same numbers.
    """
    if u <= 0.0:
        return -np.inf
    if u >= 1.0:
        return np.inf
    c1, c2, c3 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00
    c4, c5, c6 = -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00
    d1, d2, d3, d4 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00
    if u < NQ_LO:
        q = np.sqrt(-2.0 * np.log(u))
        x = (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / (
            (((d1 * q + d2) * q + d3) * q + d4) * q + 1.0
        )
    elif u <= 1.0 - NQ_LO:
        x = normal_quantile_central(u)
    else:
        q = np.sqrt(-2.0 * np.log(1.0 - u))
        x = -(((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / (
            (((d1 * q + d2) * q + d3) * q + d4) * q + 1.0
        )
    return x


def clipped_normal_rows(keys, step, agents, mean, sd, lo, hi, out):
    """out[r, i] = clip(mean + sd * z, lo, hi), z the normal quantile of draw (keys[r], step, agents[i]).

    Parallel over rows for large arrays only: starting threads costs milliseconds.
    """
    kernel = _clipped_normal_par if out.size > _PARALLEL_MIN else _clipped_normal_serial
    kernel(keys, step, agents, mean, sd, lo, hi, out)


_PARALLEL_MIN = 200_000


# Serial and parallel builds are separate functions: Numba's disk cache keys a function by
# its name and line, not its options, so two builds of one function share one cache entry
# (and one of them would run the other's code).
@njit(cache=True, inline="always")
def _clipped_normal_row(keys, step, agents, mean, sd, lo, hi, out, r):
    for i in range(out.shape[1]):
        if sd == 0.0:
            out[r, i] = mean
            continue
        v = mean + sd * normal_quantile(uniform_nb(keys[r], step, agents[i]))
        out[r, i] = min(max(v, lo), hi)


@njit(cache=True)
def _clipped_normal_serial(keys, step, agents, mean, sd, lo, hi, out):
    for r in range(out.shape[0]):
        _clipped_normal_row(keys, step, agents, mean, sd, lo, hi, out, r)


@njit(cache=True, parallel=True)
def _clipped_normal_par(keys, step, agents, mean, sd, lo, hi, out):
    for r in prange(out.shape[0]):
        _clipped_normal_row(keys, step, agents, mean, sd, lo, hi, out, r)


@njit(cache=True)
def _uniform_rows_serial(keys, step, agents, out):
    for r in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[r, i] = uniform_nb(keys[r], step, agents[i])


@njit(cache=True, parallel=True)
def _uniform_rows_par(keys, step, agents, out):
    for r in prange(out.shape[0]):
        for i in range(out.shape[1]):
            out[r, i] = uniform_nb(keys[r], step, agents[i])


def uniform_rows_nb(keys, step, agents, out):
    """out[r, i] = uniform draw (keys[r], step, agents[i]); parallel over rows when large."""
    kernel = _uniform_rows_par if out.size > _PARALLEL_MIN else _uniform_rows_serial
    kernel(keys, step, agents, out)
