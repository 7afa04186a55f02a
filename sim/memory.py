"""Memory a run or batch will need, estimated before anything is built.

The estimate adds up the arrays the run allocates, from the declarations in
``sim.state`` (their dtypes) and the sizes the configuration implies:

- building the organisation: ``ORG_BYTES_PER_STAFF`` and ``ORG_BYTES_PER_TIE``, the peak
  of the builders' temporaries, measured (``tests/test_memory.py`` re-measures);
- the kernel arrays of the organisation (``ORG_ARRAYS``) for the full model;
- the state of the replicates alive at once (``chunk_size`` of them: a batch is run in
  chunks), with one trust row (a value per undirected tie) per replicate for the full
  model, and the buffers their
  initial values are drawn into;
- the recorded series of every replicate: counts (T+1, G, 4) int32, three means, the
  final state and adoption steps;
- the tidy time-series table a run saves (one row per replicate, step and group).

``check_fits`` refuses, with one line naming the estimate and the memory available,
when the estimate exceeds what ``/proc/meminfo`` says is available. The number of
ties of a generated organisation is not known before it is built, so it is read off a
small organisation built from the same configuration and scaled by the staff count.
"""

from __future__ import annotations

import copy
import os
import time
from typing import Any

import numba
import numpy as np

from sim.params import ConfigError, ModelConfig
from sim.state import FRONTIER_ARRAYS, ORG_ARRAYS, SCRATCH_ARRAYS, STAFF_ATTRIBUTES, TIE_ATTRIBUTES

# Peak bytes of building an organisation, beyond its final arrays: the builders' sorts
# and concatenations, measured with tests/test_memory.py::test_estimate_within_30_percent.
ORG_BYTES_PER_STAFF = 160
ORG_BYTES_PER_TIE = 40
INIT_TEMP_BYTES_PER_STAFF = 16  # two (R, n) float64 buffers alive while a chunk is drawn
CHUNK_BYTES = 16 * 2**20  # replicate state alive at once in a batch (bounds the peak)
# 16 MiB: a chunk's state stays in cache between drawing it and running it (run_batch of
# 2,000 runs of 1,000 staff, 2 threads: drawing the full model's states took 9.7% of the
# wall time with 64 MiB chunks, 5.5-6.0% with 8 to 32 MiB; smaller chunks add Python per
# chunk: the threshold rule's serial share 2.8% at 8 MiB, 2.0-2.2% at 16-32 MiB). Every
# thread still gets at least CHUNK_MIN_PER_THREAD runs per chunk.
CHUNK_MIN_PER_THREAD = 8
TIMESERIES_BYTES_PER_ROW = 80  # tidy table row: step, group, counts, shares, means (pandas)
SAMPLE_STAFF = 2000  # size of the organisation built to learn ties per person

_KIND_SCALES = ("synthetic", "ics", "random")


class ResourceError(ConfigError):
    """A run or batch would need more memory than is available (one line: estimate and available)."""


def available_bytes() -> int:
    """Memory available to a new allocation: MemAvailable from /proc/meminfo, else physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _itemsizes(decls: tuple) -> int:
    return sum(np.dtype(a.dtype).itemsize for a in decls)


def ties_stored(cfg: ModelConfig) -> int:
    """Stored ties (each undirected tie twice) of the organisation ``cfg`` describes, without building it."""
    o = cfg.org
    n = int(o.n_staff)
    if o.kind == "complete":
        return n * (n - 1)
    from sim.io import build

    if o.kind not in _KIND_SCALES or n <= SAMPLE_STAFF:  # small, or read from a file: build it
        return len(build(o, seed=max(cfg.org_seed, 0)).indices)
    small = copy.deepcopy(o)
    small.n_staff = SAMPLE_STAFF
    return int(len(build(small, seed=max(cfg.org_seed, 0)).indices) / SAMPLE_STAFF * n)


def chunk_size(cfg: ModelConfig, org: Any, n_replicates: int) -> int:
    """Replicates run at once: their state under ``CHUNK_BYTES``, or else
    ``CHUNK_MIN_PER_THREAD`` per thread (so that every thread has work).
    """
    return _alive(n_replicates, _replicate_bytes(cfg, org.n_staff, len(org.indices)))


def _alive(n_replicates: int, per: int) -> int:
    rows = max(CHUNK_BYTES // max(per, 1), CHUNK_MIN_PER_THREAD * numba.get_num_threads())
    return int(max(1, min(n_replicates, rows)))


def _replicate_bytes(cfg: ModelConfig, n: int, m: int) -> int:
    if cfg.dynamics.rule != "change":
        return (_STAFF_BYTES + _FRONTIER_BYTES) * n
    # Trust is one value per undirected tie (sim.state.tie_pairs); work space by its declared shapes.
    p = m // 2
    return _STAFF_BYTES * n + _TIE_BYTES * p + _declared_bytes(SCRATCH_ARRAYS, {"(n,)": n, "(p,)": p})


_STAFF_BYTES, _TIE_BYTES = _itemsizes(STAFF_ATTRIBUTES), _itemsizes(TIE_ATTRIBUTES)


def _declared_bytes(decls: tuple, length: dict[str, int]) -> int:
    """Bytes of the arrays ``decls`` declares (``sim.state.Array``), each of ``length[shape]`` items."""
    return sum(np.dtype(a.dtype).itemsize * length[a.shape] for a in decls)


def _org_array_bytes(n: int, m: int) -> int:
    """Bytes of the full model's ``ORG_ARRAYS`` from their declared shapes: m stored ties,
    m / 2 undirected ties (p), n staff; line ties (l) and senior posts (s) at most n.
    """
    length = {"(m,)": m, "(p,)": m // 2, "(n,)": n, "(n+1,)": n + 1, "(l,)": n, "(s,)": n}
    return _declared_bytes(ORG_ARRAYS, length)


_FRONTIER_BYTES = _itemsizes(FRONTIER_ARRAYS)


def estimate(cfg: ModelConfig, n_staff: int, n_ties: int, n_replicates: int, n_groups: int = 1,
             timeseries: bool = False) -> dict[str, int]:  # fmt: skip
    """Bytes by part for a batch of ``n_replicates`` on an organisation of this size.

    Args:
        n_ties: stored ties (each undirected tie twice).
        n_groups: recorded groups (1, or all + levels + professions + organisations).
        timeseries: also the tidy time-series table (``Result.timeseries``, saved by the CLI).
    """
    n, m, r, t = int(n_staff), int(n_ties), int(n_replicates), int(cfg.n_steps)
    per = _replicate_bytes(cfg, n, m)
    alive = _alive(r, per)
    parts = {
        "organisation": ORG_BYTES_PER_STAFF * n + ORG_BYTES_PER_TIE * m,
        "kernel arrays": _org_array_bytes(n, m) if cfg.dynamics.rule == "change" else 8 * m,
        "replicate state": alive * per,
        # sim.state.initial_states (the reference engine's start) draws each attribute into
        # an (R, n) float64 buffer; the batch path (sim.initial) needs none: an overestimate there
        "initialisation temporaries": alive * n * INIT_TEMP_BYTES_PER_STAFF,
        "recorded series": r * ((t + 1) * (n_groups * 4 * 4 + 3 * 8) + 5 * n),
    }
    if timeseries:
        parts["time-series table"] = r * (t + 1) * n_groups * TIMESERIES_BYTES_PER_ROW
    return parts


def estimate_config(cfg: ModelConfig, n_replicates: int | None = None, by_group: bool = True,
                    timeseries: bool = True) -> dict[str, int]:  # fmt: skip
    """``estimate`` for a configuration whose organisation is not built yet."""
    r = cfg.n_replicates if n_replicates is None else n_replicates
    groups = 1 + (8 + 7 + 4) if by_group else 1  # all, levels (<= 8), professions, organisations
    return estimate(cfg, cfg.org.n_staff, ties_stored(cfg), r, groups, timeseries)


def estimate_batch(cfg: ModelConfig, org: Any, n_replicates: int, n_groups: int) -> dict[str, int]:
    """``estimate`` for a built organisation (its building no longer counts)."""
    parts = estimate(cfg, org.n_staff, len(org.indices), n_replicates, n_groups)
    parts["organisation"] = 0
    return parts


def check_fits(parts: dict[str, int], what: str = "this run") -> int:
    """Raise ``ResourceError`` (one line) when the estimate exceeds the available memory.

    Reading ``/proc/meminfo`` costs about as much as a small run, so an estimate below
    1/64 of what a reading at most a second old found is let through without a new one.
    """
    need = sum(parts.values())
    t, last = _LAST_READING
    now = time.monotonic()
    if need * 64 < last and now - t < 1.0:
        return need
    have = available_bytes()
    _LAST_READING[:] = [now, have]
    if need > have:
        big = max(parts, key=parts.get)
        raise ResourceError(
            f"{what} needs about {_gib(need)} of memory (largest part: {big}, {_gib(parts[big])}) "
            f"but {_gib(have)} is available; reduce org.n_staff, n_replicates or n_steps"
        )
    return need


_LAST_READING: list = [-1e9, 0]  # (time.monotonic(), bytes) of the latest reading


def _gib(b: float) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"
