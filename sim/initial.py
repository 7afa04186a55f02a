"""The initial state of many replicates, drawn in one parallel kernel (the fast path).

``sim.state.initial_states`` states how a replicate starts, in NumPy, one attribute at a
time for the whole batch (authority from the hierarchy, clipped normal draws, the
co-design group and the fit it brings, the initial adopters). ``draw_states`` draws the
same state, row for row and bit for bit (``tests/test_initial.py``; the reference
engine, ``sim.model.ChangeModel``, still starts from ``sim.state``, so every test that
compares the engines compares the two as well), but in one Numba kernel that builds
each replicate's row on its own thread (``prange`` over replicates: no Python per
replicate, no (R, n) temporaries) straight into arrays the caller may reuse from chunk
to chunk (``out``), and that zeroes the simulation's work space on the way.

Selections (the co-design group, the initial adopters) take the k people first in the
order (strategy key, random draw, index): the stable sorts of the reference give that
order, and any exact method picks the same set, so here ``sim.selection`` finds it in
O(n) without sorting everyone.

What depends on the organisation alone (team codes, role cells, masks) is computed once
per organisation (``Organisation.derived``).
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.extending import overload

from sim.constants import COMMITTED
from sim.dynamics.change import lane_sum
from sim.dynamics.co_design import role_cells as cells
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig
from sim.rng import (
    BELIEF,
    COURAGE,
    FIT,
    MOTIVATION,
    NQ_LO,
    SEEDING,
    THRESHOLD,
    key_nb,
    normal_quantile,
    normal_quantile_central,
    uniform_nb,
)
from sim.selection import diagonal_ranks, first_k
from sim.state import STAFF_ATTRIBUTES, TIE_ATTRIBUTES, State, clinician_mask, n_pairs, replicate, senior_mask
from sim.state import tie_pairs as pairs_of

CO_DESIGN_RULES = ("frontline", "volunteers", "board", "diagonal")
SEEDING_STRATEGIES = ("random", "top", "frontline", "motivation", "hubs")

# Scalars of one call, in one float64 vector and one int64 vector (named slots).
_PAR = (
    "motivation_mean", "motivation_sd", "belief_mean", "belief_sd", "courage_mean", "courage_sd",
    "threshold_mean", "threshold_sd", "threshold_hi", "boost", "gain", "voice", "team_spread",
    "compatibility", "mean_trust",
)  # fmt: skip
_CODES = ("co_design_k", "co_design_rule", "seeding_k", "seeding_strategy", "explicit_thresholds",
          "tie_rows", "minimal", "means", "n_teams")  # fmt: skip
P = {name: k for k, name in enumerate(_PAR)}
C = {name: k for k, name in enumerate(_CODES)}
(P_MOT_MEAN, P_MOT_SD, P_BEL_MEAN, P_BEL_SD, P_COU_MEAN, P_COU_SD, P_THR_MEAN, P_THR_SD, P_THR_HI,
 P_BOOST, P_GAIN, P_VOICE, P_TEAM_SPREAD, P_COMPAT, P_MEAN_TRUST) = range(len(_PAR))  # fmt: skip
(C_CD_K, C_CD_RULE, C_SEED_K, C_SEED_STRATEGY, C_EXPLICIT_THR, C_TIE_ROWS, C_MINIMAL, C_MEANS,
 C_N_TEAMS) = range(len(_CODES))  # fmt: skip
SEED_EXPLICIT = len(SEEDING_STRATEGIES)  # strategy code of explicit initial adopters

DRAWN = ("authority", "influence", "motivation", "motivation0", "threshold", "co_designer")
"""Attributes every call draws or derives; every other attribute starts at its declared
default (``sim.state``), then ``state``, ``t_adopted`` mark the initial adopters."""
FULL_ONLY = ("belief", "courage", "fit", "clinical_leader")
"""Attributes only the full model reads or records: drawn unless ``minimal`` (then left at
their defaults; the classic rules record mean motivation and trust, not belief)."""
_DEFAULTS = {a.name: a.default for a in STAFF_ATTRIBUTES + TIE_ATTRIBUTES}

Inputs = namedtuple(
    "Inputs",
    ["team", "cell", "cell_size", "cell_ptr", "cell_members", "level", "degree", "clinical_leader",
     "authority", "influence", "trust", "thresholds", "adopters"],
)  # fmt: skip
Inputs.__doc__ = "Arrays one call of the kernel reads (per organisation, per configuration, explicit inputs)."


def _org_rows(org: Organisation) -> dict:
    """What the kernel reads of the organisation, computed once per organisation."""
    role = cells(org)
    _, cell, size = np.unique(role, return_inverse=True, return_counts=True)
    cell = cell.reshape(-1).astype(np.int64)
    members = np.argsort(cell, kind="stable").astype(np.int64)
    ptr = np.zeros(len(size) + 1, np.int64)
    np.cumsum(size, out=ptr[1:])
    return {
        "team": np.ascontiguousarray(org.team, dtype=np.int64),
        "cell": cell,
        "cell_size": size.astype(np.float64),
        "cell_ptr": ptr,
        "cell_members": members,
        "level": org.level.astype(np.float64),
        "degree": org.degree.astype(np.float64),
        "clinical_leader": clinician_mask(org) & senior_mask(org),
        "pair_kind": np.ascontiguousarray(org.tie_kind[pairs_of(org)[1]], dtype=np.int64),
    }


def _authority(
    org: Organisation, top: float, frontline: float, gradient: float
) -> tuple[np.ndarray, np.ndarray]:
    top_level = org.n_levels - 1
    if top_level > 0:
        rel = org.level.astype(np.float64) / top_level
        authority = top + (frontline - top) * rel
    else:
        authority = np.full(org.n_staff, frontline)
    return authority, authority**gradient


def prepare(org: Organisation, cfg: ModelConfig, thresholds=None, initial_adopters=None, tie_rows=True,
            minimal=False, means=False) -> tuple[np.ndarray, np.ndarray, Inputs]:  # fmt: skip
    """Validate the explicit inputs and gather the kernel's scalars and arrays for ``cfg``.

    Raises ``ConfigError`` as ``sim.state.initial_states`` does, in the same order.
    """
    n = org.n_staff
    rows = org.derived("initial", lambda: _org_rows(org))
    pp, dp, cd, sp = cfg.people, cfg.dynamics, cfg.co_design, cfg.seeding
    authority, influence = org.derived(
        ("authority", pp.authority_top, pp.authority_frontline, dp.power_gradient),
        lambda: _authority(org, pp.authority_top, pp.authority_frontline, dp.power_gradient),
    )
    trust_by_kind = np.array([pp.trust_line, pp.trust_team, pp.trust_peer, pp.trust_cross_org])
    trust = trust_by_kind[rows["pair_kind"]]
    if thresholds is not None:
        from sim.validate import check_thresholds

        thr = np.ascontiguousarray(check_thresholds(thresholds, n), dtype=np.float64)
    else:
        thr = np.empty(0)
    k_cd = int(round(cd.share * n)) if cd.on else 0
    if initial_adopters is not None:
        from sim.validate import check_adopters

        adopters = np.ascontiguousarray(check_adopters(initial_adopters, n), dtype=np.int64)
        strategy, k_seed = SEED_EXPLICIT, len(adopters)
    else:
        adopters = np.empty(0, np.int64)
        k_seed = 0 if sp.strategy == "none" else sp.n_seeds
        if k_seed > n:
            raise ConfigError(f"seeding.n_seeds={k_seed} exceeds the {n} staff")
        strategy = SEEDING_STRATEGIES.index(sp.strategy) if k_seed else 0
    par = np.empty(len(_PAR))
    par[[P_MOT_MEAN, P_MOT_SD, P_BEL_MEAN, P_BEL_SD, P_COU_MEAN, P_COU_SD]] = (
        pp.motivation_mean, pp.motivation_sd, pp.belief_mean, pp.belief_sd, pp.courage_mean, pp.courage_sd,
    )  # fmt: skip
    par[P_THR_MEAN], par[P_THR_SD] = dp.threshold_mean, dp.threshold_sd
    par[P_THR_HI] = 1.0 if dp.threshold_kind == "fraction" else np.inf
    par[P_BOOST] = cd.patient_motivation * cd.patient_share
    par[P_GAIN] = min(1.0, cd.fit_gain * (1.0 + cd.patient_fit * cd.patient_share))
    par[P_VOICE], par[P_TEAM_SPREAD], par[P_COMPAT] = cd.voice, cd.team_spread, cfg.change.compatibility
    par[P_MEAN_TRUST] = lane_sum(trust) / len(trust) if len(trust) > 0 else np.nan
    codes = np.zeros(len(_CODES), np.int64)
    codes[C_CD_K], codes[C_CD_RULE] = k_cd, CO_DESIGN_RULES.index(cd.rule)
    codes[C_SEED_K], codes[C_SEED_STRATEGY] = k_seed, strategy
    codes[C_EXPLICIT_THR], codes[C_TIE_ROWS] = thresholds is not None, tie_rows
    codes[C_MINIMAL], codes[C_MEANS] = minimal, means
    codes[C_N_TEAMS] = int(rows["team"].max()) + 1 if n else 1  # team codes, as co_design._mark sizes them
    inputs = Inputs(rows["team"], rows["cell"], rows["cell_size"], rows["cell_ptr"], rows["cell_members"],
                    rows["level"], rows["degree"], rows["clinical_leader"], authority, influence, trust, thr,
                    adopters)  # fmt: skip
    return par, codes, inputs


def empty_state(n_staff: int, n_pairs: int, n_replicates: int, tie_rows: bool = True) -> State:
    """A batch ``State`` of uninitialised arrays (``draw_states`` writes every element)."""
    st = State.__new__(State)
    for a in STAFF_ATTRIBUTES:
        setattr(st, a.name, np.empty((n_replicates, n_staff), dtype=a.dtype))
    for a in TIE_ATTRIBUTES:
        setattr(st, a.name, np.empty((n_replicates, n_pairs) if tie_rows else (n_pairs,), a.dtype))
    return st


def draw_states(
    org: Organisation,
    cfg: ModelConfig,
    seeds: np.ndarray,
    thresholds: np.ndarray | None = None,
    initial_adopters: np.ndarray | None = None,
    tie_rows: bool = True,
    *,
    out: State | None = None,
    work=None,
    means: np.ndarray | None = None,
    minimal: bool = False,
) -> State:
    """``sim.state.initial_states`` on the fast path; returns ``out`` (or a new state) filled.

    Args:
        seeds: (R,) int64 replicate seeds, already checked (``sim.validate.check_seeds``).
        out: a batch ``State`` with R rows to fill (every element is written), e.g. views
            of buffers reused from chunk to chunk.
        work: a batch ``sim.state.Scratch`` whose R rows are zeroed in the same kernel.
        means: (R, 3) float64 filled with each row's mean motivation, belief and trust
            (``sim.dynamics.change.state_means``), for rules that never change them.
        minimal: leave ``FULL_ONLY`` (belief, courage, fit, clinical leaders) at their
            defaults: the classic rules never read them and record no mean belief
            (``means[:, 1]`` is then the default's mean).
    """
    seeds = np.ascontiguousarray(seeds, dtype=np.int64)
    prepared = prepare(org, cfg, thresholds, initial_adopters, tie_rows, minimal, means is not None)
    st = empty_state(org.n_staff, n_pairs(org), len(seeds), tie_rows) if out is None else out
    fill(seeds, prepared, st, work, means)
    return st


def fill(seeds: np.ndarray, prepared: tuple, st: State, work=None, means: np.ndarray | None = None,
         people=None) -> None:  # fmt: skip
    """Run the kernel: ``st`` (R rows), ``work`` and ``means`` from ``prepare``'s output
    (``people``: ``st.people()``, where the caller keeps it).
    """
    par, codes, inputs = prepared
    if not codes[C_TIE_ROWS]:
        st.trust[:] = inputs.trust
    r = len(seeds)
    parallel = r > 1 and r * (len(inputs.team) + 1) > _PARALLEL_MIN
    kernel = _draw_par if parallel else _draw_serial
    people = st.people() if people is None else people
    kernel(
        seeds, par, codes, inputs, people, () if work is None else work, _NO_MEANS if means is None else means
    )


def serial_fill(prepared: tuple, st: State, work, means: np.ndarray, people):
    """``fill`` of one seed into these fixed inputs and buffers, as a function of the seeds
    alone: the serial kernel's compiled entry point, looked up once (a Numba dispatcher
    re-types every argument, its named tuples field by field, on each call: half the cost
    of a 100-staff draw). The other arguments are bound, so their types cannot change
    between calls; seeds other than a C-contiguous (1,) int64 array go through ``fill``.
    """
    from numba import typeof

    par, codes, inputs = prepared
    args = (par, codes, inputs, people, () if work is None else work, means)
    seeds0 = np.zeros(1, np.int64)
    fill(seeds0, prepared, st, work, means, people=people)  # compiles the serial kernel if needed
    sig = (typeof(seeds0),) + tuple(typeof(a) for a in args)
    entry = _draw_serial.overloads[sig].entry_point
    tie_rows = bool(codes[C_TIE_ROWS])

    def one(seeds: np.ndarray) -> None:
        if not (seeds.dtype == np.int64 and seeds.shape == (1,) and seeds.flags.c_contiguous):
            fill(seeds, prepared, st, work, means, people=people)
            return
        if not tie_rows:
            st.trust[:] = inputs.trust
        entry(seeds, *args)

    return one


_NO_MEANS = np.empty((0, 3))
_PARALLEL_MIN = 4_000  # staff x replicates below which starting the threads costs more than it saves


# Two functions, not one wrapped twice: Numba's disk cache keys a function by its name and
# line, not by its options, so a serial and a parallel build of one function share one
# cache entry and one of them silently runs the other's code.
@njit(cache=True, parallel=True)
def _draw_par(seeds, par, codes, inp, people, work, means):
    for r in prange(len(seeds)):
        _draw_row(seeds[r], par, codes, inp, replicate(people, r), means, r)
        _zero_row(work, r)


@njit(cache=True)
def _draw_serial(seeds, par, codes, inp, people, work, means):
    for r in range(len(seeds)):
        _draw_row(seeds[r], par, codes, inp, replicate(people, r), means, r)
        _zero_row(work, r)


@njit(cache=True)
def _draw_row(seed, par, codes, inp, p, means, r):
    """Replicate ``seed``'s starting state into the row ``p`` (see the module docstring)."""
    n = len(p.motivation)
    minimal = codes[C_MINIMAL] != 0
    _fill_defaults(p, minimal)
    k_mot, k_bel = key_nb(seed, MOTIVATION), key_nb(seed, BELIEF)
    mot_mean, mot_sd, bel_mean, bel_sd = par[P_MOT_MEAN], par[P_MOT_SD], par[P_BEL_MEAN], par[P_BEL_SD]
    for i in range(n):
        p.authority[i] = inp.authority[i]
        p.influence[i] = inp.influence[i]
    _clipped_fill(k_mot, False, inp.team, mot_mean, mot_sd, 1.0, p.motivation)
    if not minimal:
        _clipped_fill(k_bel, False, inp.team, bel_mean, bel_sd, 1.0, p.belief)
        # Courage is a property of the team (psychological safety: Edmondson 1999).
        k_cou, cou_mean, cou_sd = key_nb(seed, COURAGE), par[P_COU_MEAN], par[P_COU_SD]
        _clipped_fill(k_cou, True, inp.team, cou_mean, cou_sd, 1.0, p.courage)
        for i in range(n):
            p.clinical_leader[i] = inp.clinical_leader[i]
    if codes[C_EXPLICIT_THR]:
        p.threshold[:] = inp.thresholds
    else:
        k_thr, thr_mean, thr_sd, thr_hi = (
            key_nb(seed, THRESHOLD),
            par[P_THR_MEAN],
            par[P_THR_SD],
            par[P_THR_HI],
        )
        _clipped_fill(k_thr, False, inp.team, thr_mean, thr_sd, thr_hi, p.threshold)
    group = p.co_designer
    group[:] = 0
    k = codes[C_CD_K]
    if k > 0:
        _co_design_group(seed, codes[C_CD_RULE], k, inp, p.motivation, group)
        boost = par[P_BOOST]
        if boost > 0.0:
            for i in range(n):
                if group[i]:
                    p.motivation[i] = p.motivation[i] + boost * (1.0 - p.motivation[i])
    p.motivation0[:] = p.motivation
    if not minimal:
        _fit(k > 0, par, codes[C_N_TEAMS], inp, group, p.fit)
    _seed(seed, codes, inp, p)
    if codes[C_TIE_ROWS]:
        p.trust[:] = inp.trust
    if codes[C_MEANS]:
        means[r, 0] = lane_sum(p.motivation) / n
        means[r, 1] = lane_sum(p.belief) / n
        means[r, 2] = par[P_MEAN_TRUST]


@njit(cache=True, inline="always")
def _clipped(key, agent, mean, sd, hi):
    """clip(mean + sd z, 0, hi) with z the normal quantile of draw (key, 0, agent), as
    ``sim.rng.clipped_normal_rows``; ``sd`` = 0 gives ``mean`` unclipped, as there.
    """
    if sd == 0.0:
        return mean
    v = mean + sd * normal_quantile(uniform_nb(key, 0, agent))
    return min(max(v, 0.0), hi)


@njit(cache=True, inline="always")
def _clipped_fill(key, by_team, team, mean, sd, hi, out):
    """out[i] = ``_clipped(key, a_i, mean, sd, hi)`` for everyone, a_i = team[i] when
    ``by_team`` else i, in two passes: every draw through the central formula of the
    normal quantile in a loop with no branch, which LLVM vectorises (the tails' log and
    sqrt would stop it), marking the about 5% of draws in a tail NaN (a clipped central
    value never is); then those few again through ``_clipped``. Each value is the one
    ``_clipped`` gives (``normal_quantile`` computes its centre with the same function):
    3x faster than ``_clipped`` person by person.
    """
    n = len(out)
    if sd == 0.0:
        for i in range(n):
            out[i] = mean
        return
    lo_u, hi_u = NQ_LO, 1.0 - NQ_LO
    if by_team:
        for i in range(n):
            u = uniform_nb(key, 0, team[i])
            v = min(max(mean + sd * normal_quantile_central(u), 0.0), hi)
            out[i] = v if (u >= lo_u) & (u <= hi_u) else np.nan
    else:
        for i in range(n):
            u = uniform_nb(key, 0, i)
            v = min(max(mean + sd * normal_quantile_central(u), 0.0), hi)
            out[i] = v if (u >= lo_u) & (u <= hi_u) else np.nan
    for i in range(n):
        if np.isnan(out[i]):
            out[i] = _clipped(key, team[i] if by_team else i, mean, sd, hi)


@njit(cache=True)
def _co_design_group(seed, rule, k, inp, motivation, group):
    """``sim.dynamics.co_design.choose_group`` for one replicate: group[i] = 1 for the k chosen."""
    n = len(group)
    key = key_nb(seed, FIT)
    tie = np.empty(n)
    for i in range(n):
        tie[i] = uniform_nb(key, 0, i)
    primary = np.empty(n)
    if rule == 0:  # frontline
        for i in range(n):
            primary[i] = -inp.level[i]
    elif rule == 1:  # volunteers: the most motivated
        for i in range(n):
            primary[i] = -motivation[i]
    elif rule == 2:  # board
        primary[:] = inp.level
    else:  # diagonal: rank within each role cell by the draw, rank 0s first
        diagonal_ranks(inp.cell_ptr, inp.cell_members, tie, k, primary)
    first_k(primary, tie, k, group)


@njit(cache=True)
def _fit(any_group, par, n_teams, inp, group, fit):
    """``sim.dynamics.co_design.fit_gain`` for one replicate, then compatibility (``sim.state``)."""
    n = len(fit)
    fit[:] = 0.0
    if any_group:
        g, voice, spread = par[P_GAIN], par[P_VOICE], par[P_TEAM_SPREAD]
        k_cell = np.zeros(len(inp.cell_size))
        seen = np.zeros(n_teams, np.bool_)
        for i in range(n):
            if group[i]:
                k_cell[inp.cell[i]] += 1.0
                seen[inp.team[i]] = True
        for i in range(n):
            c = inp.cell[i]
            f = spread * g if seen[inp.team[i]] else 0.0
            if voice > 0:
                share = min(1.0, voice * k_cell[c] / inp.cell_size[c])
            else:
                share = 1.0 if k_cell[c] > 0 else 0.0
            fit[i] = max(f, g * share)
    compat = par[P_COMPAT]
    if compat > 0.0:
        for i in range(n):
            fit[i] = min(1.0, compat + fit[i])


@njit(cache=True)
def _seed(seed, codes, inp, p):
    """``sim.seeding.choose_seeds`` for one replicate: the initial adopters commit at step 0."""
    n = len(p.state)
    k, strategy = codes[C_SEED_K], codes[C_SEED_STRATEGY]
    if k == 0:
        return
    if strategy == SEED_EXPLICIT:
        for j in range(len(inp.adopters)):
            p.state[inp.adopters[j]] = COMMITTED
            p.t_adopted[inp.adopters[j]] = 0
        return
    key = key_nb(seed, SEEDING)
    tie = np.empty(n)
    for i in range(n):
        tie[i] = uniform_nb(key, 0, i)
    if strategy == 0:  # random
        primary = np.empty(0)
    else:
        primary = np.empty(n)
        for i in range(n):
            if strategy == 1:  # top: most senior first
                primary[i] = inp.level[i]
            elif strategy == 2:  # frontline
                primary[i] = -inp.level[i]
            elif strategy == 3:  # motivation: most motivated first
                primary[i] = -p.motivation[i]
            else:  # hubs: most ties first
                primary[i] = -inp.degree[i]
    chosen = np.zeros(n, np.uint8)
    first_k(primary, tie, k, chosen)
    for i in range(n):
        if chosen[i]:
            p.state[i] = COMMITTED
            p.t_adopted[i] = 0


def _zero_row(bundle, r):  # pragma: no cover - replaced by the overload inside kernels
    raise NotImplementedError


@overload(_zero_row)
def _zero_row_nb(bundle, r):
    # Zero row r of every field of a work-space bundle (an empty tuple: nothing to do).
    body = [f"    bundle[{k}][r, :] = 0" for k in range(len(bundle.types))] or ["    pass"]
    ns: dict = {}
    exec("def impl(bundle, r):\n" + "\n".join(body) + "\n", ns)  # noqa: S102
    return ns["impl"]


def _fill_defaults(p, minimal):  # pragma: no cover - replaced by the overload inside kernels
    raise NotImplementedError


@overload(_fill_defaults)
def _fill_defaults_nb(p, minimal):
    # Every field the kernel does not draw starts at its declared default; FULL_ONLY ones
    # too when ``minimal``. Generated from the declarations, so a new attribute is covered.
    names = p.instance_class._fields
    body, ns = [], {}
    for k, name in enumerate(names):
        if name in DRAWN or name == "trust":
            continue
        ns[f"d{k}"] = _DEFAULTS[name]
        line = f"p[{k}][:] = d{k}"
        body.append(f"    if minimal:\n        {line}" if name in FULL_ONLY else f"    {line}")
    exec("def impl(p, minimal):\n" + ("\n".join(body) or "    pass") + "\n", ns)  # noqa: S102
    return ns["impl"]
