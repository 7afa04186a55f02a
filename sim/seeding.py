"""Who adopts first: seeding strategies with an equal budget.

Strategies (``SeedingParams.strategy``): ``random``; ``top`` (most senior first: the
"make it happen" cascade down the line); ``frontline`` (frontline champions);
``motivation`` (highest intrinsic motivation: SCIE 2018's "go where the commitment and
energy is"); ``hubs`` (most ties, the opinion-leader heuristic: Valente and Davis 1999);
``none``. Ties are broken at random from the seed's ``SEEDING`` stream, so every
strategy spends the same budget and is reproducible.
"""

from __future__ import annotations

import numpy as np

from sim import rng
from sim.org import Organisation
from sim.params import ConfigError, SeedingParams


def choose_seeds(
    org: Organisation,
    st,
    params: SeedingParams,
    seed: int,
    explicit: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of the initial adopters.

    Args:
        org: the organisation.
        st: the initial ``State`` (motivation is read by the ``motivation`` strategy).
        params: strategy and budget.
        seed: the replicate's seed.
        explicit: indices or an (n,) bool mask given by the user; overrides the strategy.

    Raises:
        ConfigError: explicit seeds out of range, or a budget larger than the staff.
    """
    n = org.n_staff
    if explicit is not None:
        e = np.asarray(explicit)
        if e.dtype == bool:
            if e.shape != (n,):
                raise ConfigError(f"initial_adopters mask must have shape ({n},), got {e.shape}")
            return np.flatnonzero(e)
        e = e.astype(np.int64).ravel()
        if len(e) and (e.min() < 0 or e.max() >= n):
            raise ConfigError(f"initial_adopters must be indices in [0, {n - 1}]")
        return np.unique(e)
    if params.strategy == "none" or params.n_seeds == 0:
        return np.empty(0, dtype=np.int64)
    if params.n_seeds > n:
        raise ConfigError(f"seeding.n_seeds={params.n_seeds} exceeds the {n} staff")
    tie = rng.uniform_np(rng.key_py(seed, rng.SEEDING), 0, np.arange(n, dtype=np.uint64))
    if params.strategy == "random":
        order = np.argsort(tie, kind="stable")
    elif params.strategy == "top":
        order = np.lexsort((tie, org.level))
    elif params.strategy == "frontline":
        order = np.lexsort((tie, -org.level.astype(np.int64)))
    elif params.strategy == "motivation":
        order = np.lexsort((tie, -st.motivation))
    elif params.strategy == "hubs":
        order = np.lexsort((tie, -org.degree))
    else:  # pragma: no cover - params validation rejects anything else
        raise ConfigError(f"unknown seeding.strategy {params.strategy!r}")
    return np.sort(order[: params.n_seeds])
