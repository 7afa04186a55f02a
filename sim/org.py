"""The organisation: staff, their line-management hierarchy, teams and ties, as arrays.

An ``Organisation`` is the one structure every engine reads. Staff are numbered 0..n-1;
per-staff attributes are NumPy arrays, and ties are an undirected graph stored as CSR
(both directions present) with a kind per stored tie. The synthetic builders write these
arrays directly (vectorised, no Python loop per tie), so they scale to a million staff;
``to_networkx`` produces the NetworkX view on request, and ``from_networkx`` /
``from_csv`` (in ``sim.io``) convert a user's organisation once; ``sim.io.build`` builds
whichever of these a config names.

Structure follows the design card: a line-management tree (board -> directors ->
managers -> team leads -> frontline), teams whose members are densely tied (a pure tree
has no clustering and complex contagion stalls on it: Centola and Macy 2007), sparse peer
ties across teams, and, for an integrated care system, partner organisations joined only
by cross-organisation ties between boundary spanners (SCIE 2018: partners influence but
cannot command each other, so no line tie crosses an organisation's boundary).

Why one module of more than 500 lines: the ``Organisation`` arrays and the builders that
write them directly share the CSR assembly (``build_csr``), the team-tie helpers and one
seed discipline (``sim.rng.ORG``); kept together, the structure and the code that
promises its invariants (sorted rows, both directions of every tie, no line tie across a
boundary) read in one place. Reading a user's chart is apart, in ``sim.io``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from sim import rng
from sim.constants import (  # noqa: F401  declared once there, re-exported as sim.org.PEER etc.
    CLINICAL,
    CROSS_ORG,
    LINE,
    ORG_KINDS,
    PEER,
    PROFESSIONS,
    TEAM,
    TIE_KINDS,
)
from sim.params import ConfigError, OrgParams

# Frontline profession mix by kind of organisation (shares, normalised on use). Assumed
# plausible shapes, not calibrated: nurses dominate an NHS trust's workforce, social care
# staff a local authority's adult services and an independent care provider.
DEFAULT_MIX: dict[str, dict[str, float]] = {
    "nhs_trust": {"doctor": 0.15, "nurse": 0.45, "ahp": 0.15, "admin": 0.2, "social_care": 0.05},
    "local_authority": {"social_care": 0.6, "admin": 0.3, "nurse": 0.05, "ahp": 0.05},
    "independent": {"social_care": 0.7, "nurse": 0.2, "admin": 0.1},
    "voluntary": {"social_care": 0.6, "admin": 0.4},
}


@dataclass
class Organisation:
    """Staff and ties of one organisation or of a whole integrated care system.

    Attributes:
        manager: (n,) int64, index of each person's line manager; -1 for a root.
        level: (n,) int16, depth in the line hierarchy (0 = top).
        team: (n,) int64, team id: the index of the team's lead (a manager's direct
            reports form the team; a root is in their own team).
        profession: (n,) uint8 codes into ``PROFESSIONS``.
        organisation: (n,) uint16 codes into ``org_names``.
        indptr: (n+1,) int64 CSR row pointers; contacts of i are
            ``indices[indptr[i]:indptr[i+1]]``, sorted.
        indices: (m,) uint32 contact indices (each undirected tie stored twice).
        tie_kind: (m,) uint8 codes into ``TIE_KINDS``.
        org_names: name of each partner organisation.
        org_kinds: kind of each partner (one of ``ORG_KINDS``).
        level_names: name of each level (top first).
        staff_id: (n,) external ids (str) where the organisation came from a user's file
            or graph; None for synthetic ones.
    """

    manager: np.ndarray
    level: np.ndarray
    team: np.ndarray
    profession: np.ndarray
    organisation: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    tie_kind: np.ndarray
    org_names: list[str] = field(default_factory=lambda: ["org"])
    org_kinds: list[str] = field(default_factory=lambda: ["nhs_trust"])
    level_names: list[str] = field(default_factory=list)
    staff_id: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.manager)
        if not self.level_names:
            self.level_names = default_level_names(int(self.level.max()) + 1 if n else 1)

    def derived(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per ``key`` and kept on the organisation (kernel
        arrays, masks: work that costs more than a small run). Rebuilt when an array or
        ``level_names`` is replaced; arrays are not to be modified in place once built.
        """
        cache = self.__dict__.setdefault("_derived", {})
        ident = self.identity()
        hit = cache.get(key)
        if hit is not None and self.same_identity(hit[0]):
            return hit[1]
        value = build()
        cache[key] = (ident, value)
        return value

    def identity(self) -> tuple:
        """What a result built from this organisation depends on, by identity: its arrays
        and ``level_names`` (the objects, not their contents) and the number of levels.
        """
        return (self.manager, self.level, self.team, self.profession, self.organisation, self.indptr,
                self.indices, self.tie_kind, self.level_names, len(self.level_names))  # fmt: skip

    def same_identity(self, ident: tuple) -> bool:
        """True when no array or ``level_names`` was replaced since ``identity()`` gave ``ident``."""
        now = self.identity()
        return ident[-1] == now[-1] and all(map(operator.is_, ident[:-1], now[:-1]))

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the ``derived`` cache (it is rebuilt on use)."""
        return {k: v for k, v in self.__dict__.items() if k != "_derived"}

    @property
    def n_staff(self) -> int:
        """Number of staff."""
        return len(self.manager)

    @property
    def n_ties(self) -> int:
        """Number of undirected ties."""
        return len(self.indices) // 2

    @property
    def degree(self) -> np.ndarray:
        """(n,) int64 number of contacts of each person."""
        return np.diff(self.indptr)

    @property
    def n_levels(self) -> int:
        """Number of levels in the hierarchy."""
        return len(self.level_names)

    @property
    def has_reports(self) -> np.ndarray:
        """(n,) bool, True for staff who line-manage someone."""
        out = np.zeros(self.n_staff, dtype=bool)
        m = self.manager[self.manager >= 0]
        out[m] = True
        return out

    def tie_sources(self) -> np.ndarray:
        """(m,) int64 row (source person) of each stored tie."""
        return np.repeat(np.arange(self.n_staff, dtype=np.int64), self.degree)

    def to_networkx(self) -> nx.Graph:
        """The organisation as an undirected NetworkX graph (built on request only).

        Nodes are 0..n-1 with attributes ``manager`` (int or None), ``level`` (int),
        ``level_name``, ``team``, ``profession``, ``organisation`` (name) and, where
        known, ``staff_id``; edges carry ``kind`` (one of ``TIE_KINDS``).
        """
        g = nx.Graph()
        for i in range(self.n_staff):
            attrs = {
                "manager": int(self.manager[i]) if self.manager[i] >= 0 else None,
                "level": int(self.level[i]),
                "level_name": self.level_names[int(self.level[i])],
                "team": int(self.team[i]),
                "profession": PROFESSIONS[int(self.profession[i])],
                "organisation": self.org_names[int(self.organisation[i])],
            }
            if self.staff_id is not None:
                attrs["staff_id"] = str(self.staff_id[i])
            g.add_node(i, **attrs)
        src = self.tie_sources()
        keep = src < self.indices
        for u, v, k in zip(src[keep], self.indices[keep], self.tie_kind[keep], strict=True):
            g.add_edge(int(u), int(v), kind=TIE_KINDS[int(k)])
        return g

    def summary(self) -> dict[str, float]:
        """Headline numbers: staff, ties, mean degree, levels, organisations."""
        return {
            "n_staff": self.n_staff,
            "n_ties": self.n_ties,
            "mean_degree": float(self.degree.mean()) if self.n_staff else 0.0,
            "n_levels": self.n_levels,
            "n_organisations": len(self.org_names),
        }


def default_level_names(n_levels: int) -> list[str]:
    """Names for a hierarchy of ``n_levels`` levels, top first."""
    canonical = ["board", "director", "manager", "team_lead", "frontline"]
    if n_levels == 5:
        return canonical
    if n_levels == 1:
        return ["frontline"]
    if n_levels < 5:
        return ["board"] + canonical[5 - n_levels + 1 :]
    middle = [f"manager_{k}" for k in range(1, n_levels - 3)]
    return ["board", "director"] + middle + ["team_lead", "frontline"]


def level_sizes(n_staff: int, span: int) -> list[int]:
    """Head-count of each level (top first) for ``n_staff`` staff and a span of control.

    Frontline staff f are grouped into teams of at most ``span``; their leads into
    groups of at most ``span``; and so on up to a single person at the top. f is the
    largest head-count whose whole chain fits in ``n_staff``. The remainder (at most one
    per level) is added one person at a time to the deepest level with room under the
    span (a level with room exists unless the chain is a full tree; then a new top post
    is added), so the totals are exact, no one has more than ``span`` reports and level
    sizes never grow upwards.
    """
    if n_staff < 1:
        raise ValueError("n_staff must be at least 1")
    if span < 2:
        raise ValueError("span_of_control must be at least 2")

    def chain(f: int) -> list[int]:
        sizes = [f]
        while sizes[-1] > 1:
            sizes.append(-(-sizes[-1] // span))
        return sizes[::-1]

    lo, hi = 1, n_staff
    while lo < hi:  # largest f with sum(chain(f)) <= n_staff
        mid = (lo + hi + 1) // 2
        if sum(chain(mid)) <= n_staff:
            lo = mid
        else:
            hi = mid - 1
    sizes = chain(lo)
    rest = n_staff - sum(sizes)
    while rest > 0:
        room = [k for k in range(1, len(sizes)) if sizes[k] < span * sizes[k - 1]]
        if room:
            sizes[room[-1]] += 1
        else:
            sizes.insert(0, 1)
        rest -= 1
    return sizes


def span_for_depth(n_staff: int, n_levels: int) -> int:
    """Smallest span of control whose hierarchy for ``n_staff`` has at most ``n_levels``.

    The number of levels never grows with the span, so a binary search finds it.
    """
    if n_levels < 2:
        raise ValueError("n_levels must be at least 2")
    lo, hi = 2, max(2, n_staff)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(level_sizes(n_staff, mid)) <= n_levels:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _hierarchy(sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Managers and levels for a level-major numbering with balanced contiguous teams."""
    n = sum(sizes)
    manager = np.full(n, -1, dtype=np.int64)
    level = np.zeros(n, dtype=np.int16)
    start = 0
    for k, size in enumerate(sizes):
        level[start : start + size] = k
        if k > 0:
            prev = sizes[k - 1]
            prev_start = start - prev
            j = np.arange(size, dtype=np.int64)
            manager[start : start + size] = prev_start + (j * prev) // size
        start += size
    return manager, level


def team_pairs(team: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j) of staff sharing a team; teams must be contiguous runs."""
    n = len(team)
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, team[1:] != team[:-1]])
    sizes = np.diff(np.r_[starts, n])
    us, vs = [], []
    for k in np.unique(sizes):
        if k < 2:
            continue
        block = starts[sizes == k]
        iu, ju = np.triu_indices(int(k), 1)
        us.append((block[:, None] + iu[None, :]).ravel())
        vs.append((block[:, None] + ju[None, :]).ravel())
    if not us:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(us), np.concatenate(vs)


def build_csr(
    n: int, u: np.ndarray, v: np.ndarray, kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Symmetric CSR from an undirected edge list, dropping self-ties and duplicates.

    Where a pair appears twice, the lowest kind code wins (line > team > peer >
    cross-organisation), so a manager's tie to a report stays a line tie.

    Returns:
        indptr (n+1,) int64, indices (m,) uint32, tie_kind (m,) uint8; rows sorted.
    """
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    kind = np.asarray(kind, dtype=np.uint8)
    keep = u != v
    u, v, kind = u[keep], v[keep], kind[keep]
    src = np.concatenate([u, v])
    dst = np.concatenate([v, u])
    k2 = np.concatenate([kind, kind])
    order = np.lexsort((k2, dst, src))
    src, dst, k2 = src[order], dst[order], k2[order]
    if len(src):
        first = np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])]
        src, dst, k2 = src[first], dst[first], k2[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    return indptr, dst.astype(np.uint32), k2


def _pick(u: np.ndarray, shares: dict[str, float]) -> np.ndarray:
    """Profession codes from uniforms ``u`` by inverse CDF over ``shares``."""
    names = list(shares)
    p = np.array([shares[k] for k in names], dtype=np.float64)
    if (p < 0).any() or p.sum() <= 0:
        raise ConfigError(f"profession shares must be non-negative with a positive total: {shares}")
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    codes = np.array([PROFESSIONS.index(k) for k in names], dtype=np.uint8)
    return codes[np.searchsorted(cdf, u, side="right").clip(0, len(names) - 1)]


def synthetic(params: OrgParams | None = None, seed: int = 0, **overrides) -> Organisation:
    """Build a synthetic health or care organisation.

    Args:
        params: organisation parameters (``OrgParams``); keyword overrides may replace
            any field, e.g. ``synthetic(n_staff=500)``.
        seed: structural seed (which peer ties, who holds which profession).

    Returns:
        An ``Organisation`` with one partner organisation.
    """
    p = _params(params, overrides)
    check_depth(p.n_staff, p.n_levels)
    return _build_one(p, seed, org_index=0, org_kind=p.org_kind, offset=0, name=p.name)


def check_depth(n_staff: int, n_levels: int, key: str = "org") -> None:
    """Refuse ``n_levels`` deeper than ``n_staff`` can fill (the builder would quietly give fewer).

    The deepest hierarchy of ``n_staff`` is the one with a span of control of 2.

    Raises:
        ConfigError: naming ``org.n_levels`` and the levels that can be reached.
    """
    if n_levels <= 0:
        return
    deepest = len(level_sizes(n_staff, 2))
    if n_levels > deepest:
        raise ConfigError(
            f"{key}.n_levels={n_levels} cannot be reached with {n_staff} staff: the deepest hierarchy "
            f"(span of control 2) has {deepest} levels; allowed: 0 (derived) or 2 to {deepest}"
        )


def _build_one(
    p: OrgParams, seed: int, org_index: int, org_kind: str, offset: int, name: str
) -> Organisation:
    n = p.n_staff
    span = p.span_of_control if p.n_levels <= 0 else span_for_depth(n, p.n_levels)
    sizes = level_sizes(n, span)
    manager, level = _hierarchy(sizes)
    n_levels = len(sizes)
    team = np.where(manager >= 0, manager, np.arange(n))
    stream = seed * 1_000_003 + org_index

    # Line ties: each person to their manager.
    has_m = manager >= 0
    lu, lv = np.flatnonzero(has_m), manager[has_m]
    # Team ties: members of one team, each pair tied with probability p_team_tie.
    tu, tv = team_pairs(team)
    if p.p_team_tie < 1.0 and len(tu):
        u_pair = rng.uniform_np(rng.key_py(stream, rng.ORG), 1, np.arange(len(tu)))
        keep = u_pair < p.p_team_tie
        tu, tv = tu[keep], tv[keep]
    # Peer ties: sparse random ties across the organisation (Erdos-Renyi style).
    n_peer = int(round(n * p.mean_peer_ties / 2.0))
    if n > 1 and n_peer > 0:
        key = rng.key_py(stream, rng.ORG)
        a = np.arange(n_peer, dtype=np.uint64)
        pu = (rng.uniform_np(key, 2, a) * n).astype(np.int64)
        pv = (rng.uniform_np(key, 3, a) * n).astype(np.int64)
    else:
        pu = pv = np.empty(0, np.int64)

    u = np.concatenate([lu, tu, pu])
    v = np.concatenate([lv, tv, pv])
    kind = np.concatenate([np.full(len(lu), LINE), np.full(len(tu), TEAM), np.full(len(pu), PEER)]).astype(
        np.uint8
    )
    indptr, indices, tie_kind = build_csr(n, u, v, kind)

    # Professions: frontline and team leads from the mix of this kind of organisation;
    # senior posts held by managers, or by clinicians with clinical_leader_share.
    mix = p.profession_mix or DEFAULT_MIX[org_kind]
    key = rng.key_py(stream, rng.ORG)
    u1 = rng.uniform_np(key, 4, np.arange(n))
    u2 = rng.uniform_np(key, 5, np.arange(n))
    profession = _pick(u1, mix)
    senior = level < max(n_levels - 2, 1)
    clinical_mix = {k: v for k, v in mix.items() if k in CLINICAL} or {"nurse": 1.0}
    clinical_leader = u2 < p.clinical_leader_share
    profession[senior] = np.where(
        clinical_leader[senior],
        _pick(u1[senior], clinical_mix),
        np.uint8(PROFESSIONS.index("manager")),
    )
    return Organisation(
        manager=manager + np.where(has_m, offset, 0),
        level=level,
        team=team + offset,
        profession=profession,
        organisation=np.full(n, org_index, dtype=np.uint16),
        indptr=indptr,
        indices=indices,
        tie_kind=tie_kind,
        org_names=[name],
        org_kinds=[org_kind],
        level_names=default_level_names(n_levels),
    )


def _params(params: OrgParams | None, overrides: dict, **fixed) -> OrgParams:
    base = vars(params) if params is not None else {}
    p = OrgParams(**{**base, **overrides, **fixed})
    p.validate()
    return p


def ics(params: OrgParams | None = None, seed: int = 0, **overrides) -> Organisation:
    """Build an integrated care system: partner organisations joined by boundary spanners.

    Each partner (``partner_kinds``, sized by ``partner_shares`` of ``n_staff``) has its
    own hierarchy and no line tie crosses a boundary. In every partner
    ``n_boundary_spanners`` staff below the top are boundary spanners, and each pair of
    partners is joined by ``cross_ties_per_pair`` ties between their spanners.

    Args:
        params: ``OrgParams``; keyword overrides may replace any field.
        seed: structural seed.
    """
    p = _params(params, overrides, kind="ics")
    parts: list[Organisation] = []
    offset = 0
    check_depth(max(p.partner_sizes()), p.n_levels)  # smaller partners may have fewer levels
    for k, (kind, size) in enumerate(zip(p.partner_kinds, p.partner_sizes(), strict=True)):
        op = OrgParams(**{**vars(p), "kind": "synthetic", "n_staff": size, "org_kind": kind})
        name = f"{kind}_{k}"
        parts.append(_build_one(op, seed, org_index=k, org_kind=kind, offset=offset, name=name))
        offset += size
    return join(parts, p.n_boundary_spanners, p.cross_ties_per_pair, seed)


def complete(n_staff: int) -> Organisation:
    """Everyone tied to everyone, no hierarchy: the structure of Granovetter's and Bass's models."""
    iu, ju = np.triu_indices(n_staff, 1)
    indptr, indices, tie_kind = build_csr(n_staff, iu, ju, np.full(len(iu), PEER, np.uint8))
    return _flat(n_staff, indptr, indices, tie_kind, "complete")


def random_graph(n_staff: int, mean_degree: float, seed: int = 0) -> Organisation:
    """Erdos-Renyi random graph with about ``mean_degree`` ties each (Watts 2002's setting).

    Draws round(n z / 2) pairs uniformly (G(n, m)); the few self-pairs and repeats are
    dropped, so degrees are Poisson(z) up to O(1/n).
    """
    m = int(round(n_staff * mean_degree / 2.0))
    key = rng.key_py(seed, rng.ORG)
    a = np.arange(m, dtype=np.uint64)
    u = (rng.uniform_np(key, 2, a) * n_staff).astype(np.int64)
    v = (rng.uniform_np(key, 3, a) * n_staff).astype(np.int64)
    indptr, indices, tie_kind = build_csr(n_staff, u, v, np.full(m, PEER, np.uint8))
    return _flat(n_staff, indptr, indices, tie_kind, "random")


def _flat(n: int, indptr, indices, tie_kind, name: str) -> Organisation:
    return Organisation(
        manager=np.full(n, -1, dtype=np.int64),
        level=np.zeros(n, dtype=np.int16),
        team=np.arange(n, dtype=np.int64),
        profession=np.full(n, PROFESSIONS.index("other"), dtype=np.uint8),
        organisation=np.zeros(n, dtype=np.uint16),
        indptr=indptr,
        indices=indices,
        tie_kind=tie_kind,
        org_names=[name],
        org_kinds=["nhs_trust"],
        level_names=["frontline"],
    )


def join(parts: list[Organisation], n_spanners: int, ties_per_pair: int, seed: int) -> Organisation:
    """Join partner organisations with cross-organisation ties between boundary spanners.

    Spanners are drawn at random among each partner's staff below the top level;
    ``parts`` must already carry global indices (as ``ics`` builds them).
    """
    n_total = sum(o.n_staff for o in parts)
    key = rng.key_py(seed, rng.ORG)
    spanners: list[np.ndarray] = []
    start = 0
    for k, o in enumerate(parts):
        cand = np.flatnonzero(o.level > 0) + start
        if len(cand) == 0:
            cand = np.arange(o.n_staff) + start
        order = np.argsort(rng.uniform_np(key, 100 + k, cand), kind="stable")
        spanners.append(cand[order[: min(n_spanners, len(cand))]])
        start += o.n_staff
    cu, cv = [], []
    step = 10_000
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            sa, sb = spanners[a], spanners[b]
            if len(sa) == 0 or len(sb) == 0 or ties_per_pair <= 0:
                continue
            idx = np.arange(ties_per_pair, dtype=np.uint64)
            step += 1
            ia = (rng.uniform_np(key, step, idx) * len(sa)).astype(np.int64)
            step += 1
            ib = (rng.uniform_np(key, step, idx) * len(sb)).astype(np.int64)
            cu.append(sa[ia])
            cv.append(sb[ib])
    src_parts, dst_parts, kind_parts = [], [], []
    start = 0
    for o in parts:
        s = o.tie_sources() + start
        src_parts.append(s)
        dst_parts.append(o.indices.astype(np.int64) + start)
        kind_parts.append(o.tie_kind)
        start += o.n_staff
    if cu:
        src_parts.append(np.concatenate(cu))
        dst_parts.append(np.concatenate(cv))
        kind_parts.append(np.full(sum(len(c) for c in cu), CROSS_ORG, dtype=np.uint8))
    u = np.concatenate(src_parts)
    v = np.concatenate(dst_parts)
    kind = np.concatenate(kind_parts)
    indptr, indices, tie_kind = build_csr(n_total, u, v, kind)
    # Levels are aligned on the frontline, so "frontline" means the same in every partner.
    n_levels = max(o.n_levels for o in parts)
    return Organisation(
        manager=np.concatenate([o.manager for o in parts]),
        level=np.concatenate([o.level + (n_levels - o.n_levels) for o in parts]).astype(np.int16),
        team=np.concatenate([o.team for o in parts]),
        profession=np.concatenate([o.profession for o in parts]),
        organisation=np.concatenate([o.organisation for o in parts]).astype(np.uint16),
        indptr=indptr,
        indices=indices,
        tie_kind=tie_kind,
        org_names=[o.org_names[0] for o in parts],
        org_kinds=[o.org_kinds[0] for o in parts],
        level_names=default_level_names(n_levels),
    )


def boundary_spanners(org: Organisation) -> np.ndarray:
    """(n,) bool: staff with at least one cross-organisation tie."""
    out = np.zeros(org.n_staff, dtype=bool)
    out[org.tie_sources()[org.tie_kind == CROSS_ORG]] = True
    return out
