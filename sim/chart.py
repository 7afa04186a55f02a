"""Assemble an organisation from a checked org chart: the graph side of bringing your own.

``from_networkx`` reads a NetworkX graph; ``sim.io`` parses org-chart CSV files. Both hand
their columns to the helpers here, which check the chart (every manager exists, no one
manages themselves through a chain, no line authority crosses an organisation's
boundary, the chain is not deeper than levels can be stored), raise ``ConfigError``
naming the node or file line, then renumber the staff level by level, as the synthetic
builders do, and write the same arrays (``sim.org.Organisation``), so every engine and
table treats a user's organisation like a generated one. Nothing here runs per step.

The helpers the readers share (``organisation_codes``, ``check_hierarchy``, ``assemble``,
``and_more``, ``MAX_LISTED``, ``INFER_KIND``) are public: ``sim.io`` (org charts) and
``sim.observed`` (observed diffusion) build on them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import networkx as nx
import numpy as np
import pandas as pd

from sim import rng
from sim.org import (
    CROSS_ORG,
    LINE,
    ORG_KINDS,
    PEER,
    PROFESSIONS,
    TEAM,
    TIE_KINDS,
    Organisation,
    build_csr,
    default_level_names,
    team_pairs,
)
from sim.params import ConfigError
from sim.validate import check_levels

DEFAULT_ORGANISATION = "org"
DEFAULT_ORG_KIND = "nhs_trust"
DEFAULT_PROFESSION = "other"
INFER_KIND = 255  # tie-kind code meaning "work the kind out from the two people"
MAX_LISTED = 10  # ids named in one message; a longer list is cut with "and N more"


def from_networkx(G: nx.Graph, *, p_team_tie: float | None = None, seed: int = 0) -> Organisation:
    """An organisation from any NetworkX graph; directed ties become undirected.

    Every attribute is optional:

    - node ``manager``: label of the line manager's node, or None (default: a root).
    - node ``profession``: one of ``sim.org.PROFESSIONS`` (default ``"other"``).
    - node ``organisation``: name (default ``"org"``); node ``org_kind``: one of
      ``sim.org.ORG_KINDS`` (default ``"nhs_trust"``), the same for one organisation.
    - node ``level``: integer, 0 = top; levels are renumbered 0..L-1 keeping their
      order (default: depth in the manager tree, aligned so that the deepest level of
      every organisation is the last level, as in ``sim.org.ics``).
    - node ``team``: any label (default: the manager's index; a root's own index).
    - node ``staff_id``: the id to keep (default: ``str(label)``).
    - edge ``kind``: one of ``sim.org.TIE_KINDS`` (default ``"cross_org"`` between
      organisations, ``"line"`` if one person manages the other, else ``"peer"``).

    A line tie is added for every manager relationship, edge or no edge.

    Args:
        G: the organisation, nodes = staff, edges = ties.
        p_team_tie: None keeps the graph's ties only; a probability adds a team tie
            between each pair of one team with that probability.
        seed: structural seed of the team-tie draws.

    Raises:
        ConfigError: a manager that is not a node, a manager cycle, a manager in another
            organisation, an unknown profession, organisation kind or tie kind, or a
            tie whose kind contradicts the chart; the message names the node(s).
    """
    nodes = list(G.nodes)
    n = len(nodes)
    if n == 0:
        raise ConfigError("the graph has no nodes; an organisation needs at least one person")
    index = {label: i for i, label in enumerate(nodes)}

    def where(i: int) -> str:
        return f"node {nodes[i]!r}"

    manager = np.full(n, -1, dtype=np.int64)
    profession = np.empty(n, dtype=np.uint8)
    level = np.full(n, -1, dtype=np.int64)
    team = np.full(n, -1, dtype=np.int64)
    org_of: list[str] = []
    kind_of: list[str] = []
    teams: dict[Hashable, int] = {}
    staff_id = np.empty(n, dtype=object)
    for i, label in enumerate(nodes):
        data = G.nodes[label]
        staff_id[i] = str(data.get("staff_id", label))
        m = data.get("manager")
        if m is not None and m == m:  # m != m for a NaN left by a table
            if m not in index:
                raise ConfigError(f"{where(i)}: manager {m!r} is not a node of the graph")
            manager[i] = index[m]
        prof = str(data.get("profession") or DEFAULT_PROFESSION).strip().lower()
        if prof not in PROFESSIONS:
            raise ConfigError(f"{where(i)}: profession {prof!r} is not one of {list(PROFESSIONS)}")
        profession[i] = PROFESSIONS.index(prof)
        org_of.append(str(data.get("organisation") or DEFAULT_ORGANISATION))
        kind_of.append(str(data.get("org_kind") or ""))
        lev = data.get("level")
        if lev is not None:
            try:
                whole = not isinstance(lev, bool) and float(lev).is_integer() and lev >= 0
            except (TypeError, ValueError):
                whole = False
            if not whole:
                raise ConfigError(f"{where(i)}: level {lev!r} must be a whole number >= 0")
            level[i] = int(lev)
        if data.get("team") is not None:
            team[i] = teams.setdefault(data["team"], len(teams))
    dup = pd.Series(staff_id).duplicated(keep=False).to_numpy()
    if dup.any():
        first = np.flatnonzero(dup)
        same = first[staff_id[first] == staff_id[first[0]]]
        raise ConfigError(
            f"{' and '.join(where(int(i)) for i in same)} have the same staff_id {staff_id[same[0]]!r}"
        )
    organisation, org_names, org_kinds = organisation_codes(
        np.array(org_of, dtype=object), kind_of, where, ""
    )

    u, v, kind = [], [], []
    for a, b, k in G.edges(data="kind"):
        u.append(index[a])
        v.append(index[b])
        if k is None:
            kind.append(INFER_KIND)
        elif k in TIE_KINDS:
            kind.append(TIE_KINDS.index(k))
        else:
            raise ConfigError(f"edge ({a!r}, {b!r}): kind {k!r} is not one of {list(TIE_KINDS)}")

    def which_tie(k: int) -> str:
        return f"edge ({nodes[u[k]]!r}, {nodes[v[k]]!r})"

    depth = check_hierarchy(manager, organisation, org_names, where, "")
    return assemble(
        staff_id,
        manager,
        profession,
        organisation,
        org_names,
        org_kinds,
        depth,
        level,
        team,
        ties=(np.array(u, np.int64), np.array(v, np.int64), np.array(kind, np.uint8), which_tie),
        p_team_tie=p_team_tie,
        seed=seed,
    )


def and_more(k: int, what: str) -> str:
    """`` (and k what)`` after a list cut at ``MAX_LISTED`` items; empty when nothing was cut."""
    return f" (and {k} {what})" if k > 0 else ""


def organisation_codes(
    org_of: np.ndarray, kind_of: list[str], where: Callable[[int], str], source: str
) -> tuple[np.ndarray, list[str], list[str]]:
    """Organisation codes (in order of first appearance), names and kinds."""
    codes, names = pd.factorize(pd.Series(org_of), sort=False)
    kinds = [""] * len(names)
    for i, kind in enumerate(kind_of):
        kind = kind.strip().lower()
        if not kind:
            continue
        k = codes[i]
        if kind not in ORG_KINDS:
            raise ConfigError(f"{source}{where(i)}: org_kind {kind!r} is not one of {list(ORG_KINDS)}")
        if kinds[k] and kinds[k] != kind:
            raise ConfigError(
                f"{source}{where(i)}: org_kind {kind!r} contradicts {kinds[k]!r} given earlier for "
                f"organisation {names[k]!r}; give one kind per organisation"
            )
        kinds[k] = kind
    kinds = [k or DEFAULT_ORG_KIND for k in kinds]
    return codes.astype(np.uint16), [str(x) for x in names], kinds


def check_hierarchy(
    manager: np.ndarray,
    organisation: np.ndarray,
    org_names: list[str],
    where: Callable[[int], str],
    source: str,
) -> np.ndarray:
    """Depth of each person in the manager tree, after checking the tree is one.

    Depths come from pointer jumping (Wyllie's list ranking): after round r each person
    knows the ancestor 2**r steps up and the distance to it, so ceil(log2 n) + 1
    vectorised rounds reach every root; anyone whose ancestor is still a person then is
    on, or below, a manager cycle.

    Raises:
        ConfigError: a manager in another organisation, or a manager cycle (listed).
    """
    n = len(manager)
    has = manager >= 0
    cross = np.flatnonzero(has & (organisation[np.where(has, manager, 0)] != organisation))
    if len(cross):
        i = int(cross[0])
        m = int(manager[i])
        raise ConfigError(
            f"{source}{where(i)} in organisation {org_names[organisation[i]]!r} has manager {where(m)} in "
            f"organisation {org_names[organisation[m]]!r}: no line authority crosses an "
            "organisation's boundary (join partners with cross_org ties instead)"
        )
    up = manager.copy()
    depth = has.astype(np.int64)
    for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
        going = up >= 0
        if not going.any():
            break
        nxt = np.where(going, up, 0)
        depth = np.where(going, depth + depth[nxt], depth)
        up = np.where(going, up[nxt], -1)
    stuck = np.flatnonzero(up >= 0)
    if len(stuck):
        seen: dict[int, int] = {}
        path: list[int] = []
        i = int(stuck[0])
        while i not in seen:
            seen[i] = len(path)
            path.append(i)
            i = int(manager[i])
        cycle = path[seen[i] :] + [i]
        shown = cycle if len(cycle) <= 2 * MAX_LISTED else cycle[:MAX_LISTED] + [None] + cycle[-MAX_LISTED:]
        raise ConfigError(
            f"{source}manager cycle of {len(cycle) - 1} staff (each is managed by the next): "
            + " -> ".join("..." if j is None else where(j) for j in shown)
        )
    if n:
        check_levels(int(depth.max()) + 1, source or "the organisation ")
    return depth


def assemble(
    staff_id: np.ndarray,
    manager: np.ndarray,
    profession: np.ndarray,
    organisation: np.ndarray,
    org_names: list[str],
    org_kinds: list[str],
    depth: np.ndarray,
    level: np.ndarray | None,
    team: np.ndarray | None,
    ties: tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[int], str]] | None,
    p_team_tie: float | None,
    seed: int,
) -> Organisation:
    """Renumber a checked chart level by level and build its arrays and CSR ties.

    ``level`` and ``team`` hold the user's values (-1 = use the default), or are None.
    """
    n = len(manager)
    if p_team_tie is not None and not 0.0 <= p_team_tie <= 1.0:
        raise ConfigError(f"p_team_tie={p_team_tie!r} must be a probability in [0, 1]")
    # Default levels: depth, shifted so each organisation's deepest level is the last.
    deepest = np.zeros(len(org_names), dtype=np.int64)
    np.maximum.at(deepest, organisation, depth)
    lev = depth + (deepest.max() - deepest[organisation])
    if level is not None:
        lev = np.where(level >= 0, level, lev)
    _, lev = np.unique(lev, return_inverse=True)
    n_levels = int(lev.max()) + 1
    check_levels(n_levels, "the organisation ")

    if ties is not None:
        tu, tv, tkind, which_tie = ties
        tkind = _tie_kinds(tu, tv, tkind, manager, organisation, org_names, which_tie)

    order = np.lexsort((np.arange(n), manager, lev, organisation))
    new = np.empty(n, dtype=np.int64)
    new[order] = np.arange(n)
    mgr = manager[order]
    mgr = np.where(mgr >= 0, new[np.where(mgr >= 0, mgr, 0)], -1)
    own = np.arange(n, dtype=np.int64)
    grp = np.where(mgr >= 0, mgr, own)
    if team is not None and (team >= 0).any():
        given = team[order]
        # A team the user named is known by its first member's index: unique per team.
        first = np.full(int(given.max()) + 1, n, dtype=np.int64)
        np.minimum.at(first, given[given >= 0], own[given >= 0])
        grp = np.where(given >= 0, first[np.maximum(given, 0)], grp)

    has = mgr >= 0
    us, vs, ks = [own[has]], [mgr[has]], [np.full(int(has.sum()), LINE, np.uint8)]
    if p_team_tie is not None and p_team_tie > 0 and n > 1:
        by_team = np.argsort(grp, kind="stable")
        pu, pv = team_pairs(grp[by_team])
        if p_team_tie < 1.0 and len(pu):
            draw = rng.uniform_np(rng.key_py(seed, rng.ORG), 1, np.arange(len(pu)))
            pu, pv = pu[draw < p_team_tie], pv[draw < p_team_tie]
        us.append(by_team[pu])
        vs.append(by_team[pv])
        ks.append(np.full(len(pu), TEAM, np.uint8))
    if ties is not None:
        us.append(new[tu])
        vs.append(new[tv])
        ks.append(tkind)
    indptr, indices, tie_kind = build_csr(n, np.concatenate(us), np.concatenate(vs), np.concatenate(ks))
    return Organisation(
        manager=mgr,
        level=lev[order].astype(np.int16),
        team=grp,
        profession=profession[order].astype(np.uint8),
        organisation=organisation[order].astype(np.uint16),
        indptr=indptr,
        indices=indices,
        tie_kind=tie_kind,
        org_names=org_names,
        org_kinds=org_kinds,
        level_names=default_level_names(n_levels),
        staff_id=staff_id[order],
    )


def _tie_kinds(
    u: np.ndarray,
    v: np.ndarray,
    kind: np.ndarray,
    manager: np.ndarray,
    organisation: np.ndarray,
    org_names: list[str],
    which_tie: Callable[[int], str],
) -> np.ndarray:
    """Fill in inferred tie kinds and check given ones against the chart.

    Inferred: ``cross_org`` between organisations, ``line`` between a manager and a
    report, else ``peer``. A given ``line`` must join a manager and a report, and a tie
    is ``cross_org`` exactly when it joins two organisations.
    """
    is_line = (manager[u] == v) | (manager[v] == u)
    cross = organisation[u] != organisation[v]
    inferred = np.where(cross, CROSS_ORG, np.where(is_line, LINE, PEER)).astype(np.uint8)
    given = kind != INFER_KIND
    checks = (
        (given & (kind == LINE) & ~is_line, "is a line tie but neither person manages the other"),
        (given & (kind != CROSS_ORG) & cross, "joins two organisations, so its kind must be 'cross_org'"),
        (given & (kind == CROSS_ORG) & ~cross, "is cross_org but both people are in one organisation"),
    )
    for bad, problem in checks:
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            orgs = sorted({org_names[organisation[u[k]]], org_names[organisation[v[k]]]})
            raise ConfigError(f"{which_tie(k)} {problem} (kind {TIE_KINDS[kind[k]]!r}, organisations {orgs})")
    return np.where(given, kind, inferred).astype(np.uint8)
