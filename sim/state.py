"""The model's state as a struct of arrays, each attribute declared once.

``STAFF_ATTRIBUTES`` and ``TIE_ATTRIBUTES`` are the single declaration of every state
variable: name, dtype, default, allowed range and meaning. ``State`` allocates one NumPy
array per entry; engines read and write those arrays and nothing keeps per-agent copies
(the struct-of-arrays design of Starsim and LASER). The ODD document's state-variable
table is generated from these tuples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from sim import rng
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig

# Adoption states.
NOT_ADOPTED, COMPLYING, COMMITTED, LAPSED = 0, 1, 2, 3
STATE_NAMES: tuple[str, ...] = ("not_adopted", "complying", "committed", "lapsed")
N_STATES = len(STATE_NAMES)


@dataclass(frozen=True)
class Attribute:
    """Declaration of one state variable."""

    name: str
    dtype: type
    default: float
    range: tuple[float, float]
    meaning: str


STAFF_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "authority",
        np.float64,
        0.0,
        (0.0, 1.0),
        "formal authority from position in the line hierarchy (top = authority_top)",
    ),
    Attribute(
        "influence",
        np.float64,
        1.0,
        (0.0, 1.0),
        "weight of this person's example on contacts: authority ** power_gradient",
    ),
    Attribute(
        "motivation",
        np.float64,
        0.5,
        (0.0, 1.0),
        "intrinsic motivation: how much the change matters to this person",
    ),
    Attribute("pressure", np.float64, 0.0, (0.0, 1.0), "extrinsic pressure felt (mandates, targets)"),
    Attribute(
        "courage",
        np.float64,
        0.5,
        (0.0, 1.0),
        "courage to act under uncertainty; reflects the team's psychological safety",
    ),
    Attribute(
        "threshold",
        np.float64,
        0.18,
        (0.0, np.inf),
        "adoption threshold: share (or weighted count) of adopting contacts needed",
    ),
    Attribute("belief", np.float64, 0.5, (0.0, 1.0), "belief that the change is an improvement"),
    Attribute(
        "state",
        np.uint8,
        NOT_ADOPTED,
        (0, N_STATES - 1),
        "adoption state: 0 not adopted, 1 complying, 2 committed, 3 lapsed",
    ),
    Attribute(
        "t_adopted", np.int32, -1, (-1, np.iinfo(np.int32).max), "step of the latest adoption (-1 = never)"
    ),
)

TIE_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "trust",
        np.float64,
        1.0,
        (0.0, 1.0),
        "trust of the person in this contact; weights the contact's influence",
    ),
)


class State:
    """One array per declared attribute: ``state.motivation``, ``state.trust``, ...

    Staff arrays have shape (n_staff,), tie arrays (n_ties_stored,) aligned with the
    organisation's CSR ``indices``.
    """

    def __init__(self, n_staff: int, n_stored_ties: int) -> None:
        for a in STAFF_ATTRIBUTES:
            setattr(self, a.name, np.full(n_staff, a.default, dtype=a.dtype))
        for a in TIE_ATTRIBUTES:
            setattr(self, a.name, np.full(n_stored_ties, a.default, dtype=a.dtype))

    def copy(self) -> State:
        """A deep copy."""
        new = State.__new__(State)
        for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES:
            setattr(new, a.name, getattr(self, a.name).copy())
        return new

    def adopted(self) -> np.ndarray:
        """(n,) bool: complying or committed."""
        s = self.state
        return (s == COMPLYING) | (s == COMMITTED)


def _clipped_normal(u: np.ndarray, mean: float, sd: float, lo: float, hi: float) -> np.ndarray:
    if sd == 0.0:
        return np.full(len(u), mean, dtype=np.float64)
    return np.clip(mean + sd * ndtri(u), lo, hi)


def initial_state(
    org: Organisation,
    cfg: ModelConfig,
    seed: int,
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
) -> State:
    """Draw the starting state of one replicate.

    Each attribute comes from its own counter-based stream of ``seed`` (``sim.rng``), so
    two scenarios run from one seed start from the same people wherever their
    parameters agree (common random numbers).

    Args:
        org: the organisation.
        cfg: the scenario.
        seed: the replicate's seed.
        thresholds: (n,) explicit thresholds, replacing the drawn ones.
        initial_adopters: explicit initial adopters (indices, or an (n,) bool mask),
            replacing the seeding strategy.
    """
    n = org.n_staff
    st = State(n, len(org.indices))
    pp, dp = cfg.people, cfg.dynamics
    idx = np.arange(n, dtype=np.uint64)

    top_level = org.n_levels - 1
    if top_level > 0:
        rel = org.level.astype(np.float64) / top_level
        st.authority[:] = pp.authority_top + (pp.authority_frontline - pp.authority_top) * rel
    else:
        st.authority[:] = pp.authority_frontline
    st.influence[:] = st.authority**dp.power_gradient

    st.motivation[:] = _clipped_normal(
        rng.uniform_np(rng.key_py(seed, rng.MOTIVATION), 0, idx), pp.motivation_mean, pp.motivation_sd, 0, 1
    )
    st.belief[:] = _clipped_normal(
        rng.uniform_np(rng.key_py(seed, rng.BELIEF), 0, idx), pp.belief_mean, pp.belief_sd, 0, 1
    )
    team_u = rng.uniform_np(rng.key_py(seed, rng.COURAGE), 0, org.team.astype(np.uint64))
    st.courage[:] = _clipped_normal(team_u, pp.courage_mean, pp.courage_sd, 0, 1)

    if thresholds is not None:
        th = np.asarray(thresholds, dtype=np.float64)
        if th.shape != (n,):
            raise ConfigError(f"thresholds must have shape ({n},), got {th.shape}")
        if not np.all(np.isfinite(th)) or (th < 0).any():
            bad = int(np.flatnonzero(~np.isfinite(th) | (th < 0))[0])
            raise ConfigError(f"thresholds[{bad}]={th[bad]} must be finite and >= 0")
        st.threshold[:] = th
    else:
        hi = 1.0 if dp.threshold_kind == "fraction" else np.inf
        u = rng.uniform_np(rng.key_py(seed, rng.THRESHOLD), 0, idx)
        st.threshold[:] = _clipped_normal(u, dp.threshold_mean, dp.threshold_sd, 0.0, hi)

    trust_by_kind = np.array(
        [pp.trust_line, pp.trust_team, pp.trust_peer, pp.trust_cross_org], dtype=np.float64
    )
    st.trust[:] = trust_by_kind[org.tie_kind]

    from sim.seeding import choose_seeds

    seeds = choose_seeds(org, st, cfg.seeding, seed, initial_adopters)
    st.state[seeds] = COMMITTED
    st.t_adopted[seeds] = 0
    return st
