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
    seeds: np.ndarray,
    explicit: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose the initial adopters of R replicates.

    Args:
        org: the organisation.
        st: the initial batch ``State`` ((R, n) arrays; ``motivation`` is read by the
            ``motivation`` strategy).
        params: strategy and budget.
        seeds: (R,) replicate seeds.
        explicit: indices or an (n,) bool mask given by the user; overrides the strategy.

    Returns:
        (rows, cols): replicate and person index of every initial adopter.

    Raises:
        ConfigError: explicit seeds out of range, or a budget larger than the staff.
    """
    n, r = org.n_staff, len(seeds)
    if explicit is not None:
        from sim.validate import check_adopters

        chosen = check_adopters(explicit, n)
        return np.repeat(np.arange(r), len(chosen)), np.tile(chosen, r)
    k = params.n_seeds
    if params.strategy == "none" or k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if k > n:
        raise ConfigError(f"seeding.n_seeds={k} exceeds the {n} staff")
    tie = np.empty((r, n))
    rng.uniform_rows_nb(rng.keys(seeds, rng.SEEDING), 0, np.arange(n, dtype=np.uint64), tie)
    if params.strategy == "random":
        # The k smallest draws; argpartition is O(n) and picks the same set as a full sort.
        part = np.argpartition(tie, k - 1, axis=1)[:, :k] if k < n else np.argsort(tie, axis=1)
        return np.repeat(np.arange(r), k), np.sort(part, axis=1).ravel()
    elif params.strategy == "top":
        primary = np.broadcast_to(org.level.astype(np.float64), (r, n))
    elif params.strategy == "frontline":
        primary = np.broadcast_to(-org.level.astype(np.float64), (r, n))
    elif params.strategy == "motivation":
        primary = -st.motivation
    elif params.strategy == "hubs":
        primary = np.broadcast_to(-org.degree.astype(np.float64), (r, n))
    else:  # pragma: no cover - params validation rejects anything else
        raise ConfigError(f"unknown seeding.strategy {params.strategy!r}")
    order = np.argsort(tie, axis=1, kind="stable")
    # Stable sort by the strategy's key after a random order: random tie-breaks.
    key = np.take_along_axis(primary, order, axis=1)
    order = np.take_along_axis(order, np.argsort(key, axis=1, kind="stable"), axis=1)
    cols = np.sort(order[:, :k], axis=1)
    return np.repeat(np.arange(r), k), cols.ravel()
