"""The model's state as a struct of arrays, each attribute declared once.

``STAFF_ATTRIBUTES`` and ``TIE_ATTRIBUTES`` are the single declaration of every state
variable: name, dtype, default, allowed range and meaning. ``State`` allocates one NumPy
array per entry; engines read and write those arrays and nothing keeps per-agent copies
(the struct-of-arrays design of Starsim and LASER). The ODD document's state-variable
table is generated from these tuples.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np
from numba.extending import overload

from sim import rng
from sim.constants import (  # noqa: F401  adoption states, declared once there (AdoptionState)
    CLINICAL,
    COMMITTED,
    COMPLYING,
    LAPSED,
    LINE,
    N_STATES,
    NOT_ADOPTED,
    PROFESSIONS,
    STATE_NAMES,
)
from sim.org import Organisation
from sim.params import ModelConfig


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
    Attribute(
        "motivation0",
        np.float64,
        0.5,
        (0.0, 1.0),
        "baseline intrinsic motivation, to which crowded-out motivation slowly returns",
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
        "fit",
        np.float64,
        0.0,
        (0.0, 1.0),
        "how well the change fits this person's work (raised by co-design and adaptation)",
    ),
    Attribute(
        "clinical_leader",
        np.uint8,
        0,
        (0, 1),
        "1 for a clinician in a senior post (their example carries clinical credibility)",
    ),
    Attribute(
        "co_designer",
        np.uint8,
        0,
        (0, 1),
        "1 for a member of the co-design group (owns the change: never merely complies)",
    ),
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
        "trust between the two people of a tie, one value per undirected tie (``tie_pairs``: "
        "every rule moves it alike both ways); weights each one's influence on the other",
    ),
)


@dataclass(frozen=True)
class Array:
    """Declaration of one array of a kernel bundle that is not a state variable."""

    name: str
    dtype: type
    shape: str
    meaning: str


ORG_ARRAYS: tuple[Array, ...] = (
    Array("indptr", np.int64, "(n+1,)", "CSR row pointers: contacts of i are indices[indptr[i]:indptr[i+1]]"),
    Array("indices", np.uint32, "(m,)", "contact of each stored tie, sorted within a row"),
    Array("tie_kind", np.uint8, "(m,)", "tie kind code (sim.org.TIE_KINDS: line, team, peer, cross_org)"),
    Array("pair", np.uint32, "(m,)", "undirected tie of each stored tie (both (i, j) and (j, i)): its trust"),
    Array("line_pairs", np.int64, "(l,)", "the undirected ties that are line ties"),
    Array("line_lower", np.uint32, "(l,)", "lower-numbered person of each line tie (line_pairs order)"),
    Array("line_upper", np.uint32, "(l,)", "higher-numbered person of each line tie (line_pairs order)"),
    Array("level", np.int16, "(n,)", "depth in the line hierarchy (0 = top)"),
    Array("manager", np.int64, "(n,)", "line manager's index, -1 at the top"),
    Array("organisation", np.uint16, "(n,)", "partner organisation code (0 = the lead organisation)"),
    Array("clinician", np.uint8, "(n,)", "1 for doctors, nurses and allied health professionals"),
    Array("senior", np.uint8, "(n,)", "1 for posts above team lead (where churn and the pipeline act)"),
    Array("seniors", np.int64, "(s,)", "the senior posts in index order (churn visits only these)"),
)
"""The organisation's static arrays, as the full model's kernels read them."""

SCRATCH_ARRAYS: tuple[Array, ...] = (
    Array("next_state", np.uint8, "(n,)", "each person's decided state, applied together at the step's end"),
    Array("allowed", np.uint8, "(n,)", "1 where the person had a decision right this step"),
    Array("committed", np.float64, "(n,)", "1.0 where committed at the last trust phase, else 0.0"),
    Array("grows", np.uint8, "(p,)", "1 where the tie had a committed end at the last trust phase"),
    Array("recorded", np.uint8, "(n,)", "state at the last record (counts move by the difference)"),
    Array("shown", np.float64, "(n,)", "how far each person's example shows this step (decide)"),
    Array("exposure", np.float64, "(n,)", "exposure of each person who may adopt on it this step (decide)"),
    Array("candidates", np.int64, "(n,)", "people a phase visits (decide: exposure, tests: testers)"),
    Array("adopt_chance", np.float64, "(n,)", "each one's chance to commit this step (decide, vector pass)"),
    Array("readiness", np.float64, "(n,)", "each one's readiness this step (decide, vector pass)"),
    Array("draws", np.float64, "(n,)", "everyone's draw, made once, read again (decide: LAPSE; tests: TEST)"),
)
"""Work space of one replicate, allocated once per run, not per step."""

FRONTIER_ARRAYS: tuple[Array, ...] = (
    Array("prev_new", np.int64, "(n,)", "last step's new adopters (the first n_prev of them)"),
    Array("new", np.int64, "(n,)", "this step's candidates, then its new adopters"),
    Array("old", np.uint8, "(n,)", "each new adopter's state before the step"),
    Array("stamp", np.int64, "(n,)", "step at which each person was last examined (-1 never)"),
)
"""Work space of the classic rules' frontier stepping (``sim.engine``)."""

# Kernel bundles: named tuples of arrays, which Numba passes as one typed argument and
# whose fields it reads by name at no cost (a static offset). The field lists are the
# declarations above, so a new attribute reaches every kernel without a signature change.
People = namedtuple("People", [a.name for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES])
People.__doc__ = "The people's state: one array per ``STAFF_ATTRIBUTES`` and ``TIE_ATTRIBUTES`` entry."
OrgArrays = namedtuple("OrgArrays", [a.name for a in ORG_ARRAYS])
OrgArrays.__doc__ = "The organisation's static arrays (``ORG_ARRAYS``)."
Scratch = namedtuple("Scratch", [a.name for a in SCRATCH_ARRAYS])
Scratch.__doc__ = "Work space of the full model's step (``SCRATCH_ARRAYS``)."
Frontier = namedtuple("Frontier", [a.name for a in FRONTIER_ARRAYS])
Frontier.__doc__ = "Work space of the classic rules' frontier (``FRONTIER_ARRAYS``)."


def reverse_ties(org: Organisation) -> np.ndarray:
    """(m,) int64: for stored tie e = (i, j), the index of the stored tie (j, i)."""
    src = org.tie_sources()
    dst = org.indices.astype(np.int64)
    # Rows are sorted by destination, so (dst, src) pairs sorted lexicographically give
    # the position of each reverse tie in CSR order.
    order = np.lexsort((src, dst))
    rev = np.empty(len(src), dtype=np.int64)
    rev[order] = np.arange(len(src))
    return rev


def tie_pairs(org: Organisation) -> tuple[np.ndarray, np.ndarray]:
    """The undirected ties: ``(pair, first)``, where first (p,) int64 holds the stored tie
    (i, j) with i < j of each undirected tie, in CSR order (so sorted by i, then j), and
    pair (m,) uint32 the undirected tie of every stored tie: pair[first[k]] = k and
    pair[reverse[first[k]]] = k. Rows are sorted and hold no self-ties, so (i, j) comes
    before (j, i) exactly when i < j. Kept on the organisation (computed once).
    """

    def build() -> tuple[np.ndarray, np.ndarray]:
        rev = reverse_ties(org)
        first = np.flatnonzero(np.arange(len(rev)) < rev)
        pair = np.empty(len(rev), np.uint32)
        pair[first] = np.arange(len(first), dtype=np.uint32)
        pair[rev[first]] = np.arange(len(first), dtype=np.uint32)
        return pair, first

    return org.derived("tie_pairs", build)


def n_pairs(org: Organisation) -> int:
    """Undirected ties of ``org`` (each stored twice in its CSR)."""
    return len(org.indices) // 2


def clinician_mask(org: Organisation) -> np.ndarray:
    """(n,) uint8: 1 for doctors, nurses and allied health professionals."""
    codes = [PROFESSIONS.index(p) for p in CLINICAL]
    return np.isin(org.profession, codes).astype(np.uint8)


def senior_mask(org: Organisation) -> np.ndarray:
    """(n,) uint8: 1 for posts above team lead (the levels churn and the pipeline act on)."""
    return (org.level < org.n_levels - 2).astype(np.uint8)


def org_arrays(org: Organisation) -> OrgArrays:
    """The kernel bundle of ``org``, each array in its declared dtype (no copy where it already is)."""
    pair, first = tie_pairs(org)
    src = org.tie_sources()
    line = np.flatnonzero(org.tie_kind[first] == LINE)
    derived = {
        "pair": pair,
        "line_pairs": line,
        "line_lower": src[first[line]],
        "line_upper": org.indices[first[line]],
        "clinician": clinician_mask(org),
        "senior": senior_mask(org),
        "seniors": np.flatnonzero(senior_mask(org)),
    }
    return OrgArrays(
        *(np.ascontiguousarray(derived[a.name] if a.name in derived else getattr(org, a.name), dtype=a.dtype)
          for a in ORG_ARRAYS)
    )  # fmt: skip


def scratch(n_staff: int, n_replicates: int | None = None, *, n_pairs: int) -> Scratch:
    """Zeroed work space for one replicate, or (R, ...) arrays for a batch: (n,) per person
    and (p,) per undirected tie (``n_pairs``, ``n_pairs(org)``).
    """
    lead = () if n_replicates is None else (n_replicates,)
    length = {"(n,)": n_staff, "(p,)": n_pairs}
    return Scratch(*(np.zeros(lead + (length[a.shape],), dtype=a.dtype) for a in SCRATCH_ARRAYS))


def frontier(n_staff: int) -> Frontier:
    """Work space of the classic rules for one replicate (``stamp`` starts at -1)."""
    return Frontier(
        *(np.full(n_staff, -1 if a.name == "stamp" else 0, dtype=a.dtype) for a in FRONTIER_ARRAYS)
    )


def replicate(bundle, r):
    """Replicate r of a batch bundle: fields with a leading replicate axis are indexed,
    fields without one (shared by every replicate) pass through. Works in Numba kernels.
    """
    return type(bundle)(*(a[r] if a.ndim > 1 else a for a in bundle))


@overload(replicate)
def _replicate_nb(bundle, r):
    # Built per bundle type at compile time: one view per field, no loop at run time.
    parts = [f"bundle[{k}][r]" if t.ndim > 1 else f"bundle[{k}]" for k, t in enumerate(bundle.types)]
    ns = {"cls": bundle.instance_class}
    exec(f"def impl(bundle, r):\n    return cls({', '.join(parts)})\n", ns)  # noqa: S102
    return ns["impl"]


class State:
    """One array per declared attribute: ``state.motivation``, ``state.trust``, ...

    Staff arrays have shape (n_staff,), tie arrays (n_pairs,), one value per undirected
    tie (``tie_pairs``: stored tie e reads ``trust[org_arrays.pair[e]]``). A batch state
    (``initial_states``) has a leading replicate axis on every array: (R, n) and (R, p);
    ``row(r)`` views one replicate.
    """

    def __init__(
        self, n_staff: int, n_pairs: int, n_replicates: int | None = None, tie_rows: bool = True
    ) -> None:
        lead = () if n_replicates is None else (n_replicates,)
        for a in STAFF_ATTRIBUTES:
            setattr(self, a.name, np.full(lead + (n_staff,), a.default, dtype=a.dtype))
        tie_lead = lead if tie_rows else ()
        for a in TIE_ATTRIBUTES:
            setattr(self, a.name, np.full(tie_lead + (n_pairs,), a.default, dtype=a.dtype))

    def copy(self) -> State:
        """Return a deep copy."""
        new = State.__new__(State)
        for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES:
            setattr(new, a.name, getattr(self, a.name).copy())
        return new

    def row(self, r: int) -> State:
        """View of replicate r of a batch state (arrays shared, not copied)."""
        new = State.__new__(State)
        for a in STAFF_ATTRIBUTES:
            setattr(new, a.name, getattr(self, a.name)[r])
        for a in TIE_ATTRIBUTES:
            arr = getattr(self, a.name)
            setattr(new, a.name, arr[r] if arr.ndim == 2 else arr)
        return new

    def people(self) -> People:
        """The arrays as the kernels' ``People`` bundle (views: kernels update this state)."""
        return People(*(getattr(self, a.name) for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES))

    def adopted(self) -> np.ndarray:
        """Boolean mask: complying or committed."""
        s = self.state
        return (s == COMPLYING) | (s == COMMITTED)


def initial_state(
    org: Organisation,
    cfg: ModelConfig,
    seed: int,
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
) -> State:
    """Draw the starting state of one replicate (see ``initial_states``)."""
    return initial_states(org, cfg, np.array([seed]), thresholds, initial_adopters).row(0)


def initial_states(
    org: Organisation,
    cfg: ModelConfig,
    seeds: np.ndarray,
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
    tie_rows: bool = True,
) -> State:
    """Draw the starting state of R replicates at once (arrays (R, n) and (R, p)).

    With ``tie_rows=False`` tie arrays are shared, shape (p,): for rules that never
    change trust, R copies would only cost memory.

    Each attribute comes from its own counter-based stream of the replicate's seed
    (``sim.rng``), so row r equals ``initial_state(..., seeds[r])`` and two scenarios
    run from one seed start from the same people wherever their parameters agree
    (common random numbers).

    Args:
        org: the organisation.
        cfg: the scenario.
        seeds: (R,) replicate seeds.
        thresholds: (n,) explicit thresholds for every replicate, replacing drawn ones.
        initial_adopters: explicit initial adopters (indices, or an (n,) bool mask),
            replacing the seeding strategy.
    """
    from sim.validate import check_seeds

    seeds = check_seeds(seeds)
    n, r = org.n_staff, len(seeds)
    st = State(n, n_pairs(org), r, tie_rows)
    pp, dp = cfg.people, cfg.dynamics
    idx = np.arange(n, dtype=np.uint64)

    top_level = org.n_levels - 1
    if top_level > 0:
        rel = org.level.astype(np.float64) / top_level
        authority = pp.authority_top + (pp.authority_frontline - pp.authority_top) * rel
    else:
        authority = np.full(n, pp.authority_frontline)
    st.authority[:] = authority
    st.influence[:] = authority**dp.power_gradient

    def normal(purpose: int, mean: float, sd: float, hi: float, agents: np.ndarray = idx) -> np.ndarray:
        out = np.empty((r, n))
        rng.clipped_normal_rows(rng.keys(seeds, purpose), 0, agents, mean, sd, 0.0, hi, out)
        return out

    st.motivation[:] = normal(rng.MOTIVATION, pp.motivation_mean, pp.motivation_sd, 1.0)
    st.belief[:] = normal(rng.BELIEF, pp.belief_mean, pp.belief_sd, 1.0)
    st.motivation0[:] = st.motivation
    # Courage is a property of the team (psychological safety: Edmondson 1999).
    st.courage[:] = normal(rng.COURAGE, pp.courage_mean, pp.courage_sd, 1.0, org.team.astype(np.uint64))

    if thresholds is not None:
        from sim.validate import check_thresholds

        st.threshold[:] = check_thresholds(thresholds, n)
    else:
        hi = 1.0 if dp.threshold_kind == "fraction" else np.inf
        st.threshold[:] = normal(rng.THRESHOLD, dp.threshold_mean, dp.threshold_sd, hi)

    trust_by_kind = np.array(
        [pp.trust_line, pp.trust_team, pp.trust_peer, pp.trust_cross_org], dtype=np.float64
    )
    st.trust[:] = trust_by_kind[org.tie_kind[tie_pairs(org)[1]]]

    from sim.dynamics import co_design
    from sim.seeding import choose_seeds

    st.clinical_leader[:] = clinician_mask(org) & senior_mask(org)
    group = co_design.choose_group(org, st.motivation, cfg.co_design, seeds)
    st.co_designer[:] = group
    co_design.motivation_boost(st.motivation, group, cfg.co_design)
    st.motivation0[:] = st.motivation
    # Compatibility with existing practice (cfg.change) is the fit before co-design adds.
    fit = co_design.fit_gain(org, group, cfg.co_design)
    if cfg.change.compatibility > 0.0:
        fit = np.minimum(1.0, cfg.change.compatibility + fit)
    st.fit[:] = fit

    rows, cols = choose_seeds(org, st, cfg.seeding, seeds, initial_adopters)
    st.state[rows, cols] = COMMITTED
    st.t_adopted[rows, cols] = 0
    return st
