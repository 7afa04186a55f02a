"""Co-design people-driven change: who designs the change, and how well it then fits.

IHI (2018): the people closest to the work design the change, so it fits their work
(Rogers 2003: compatibility speeds adoption). Here the change fits the roles that had a
voice, as far as the group can speak for them: in a role cell (organisation x level x
profession) of n_c staff with k_c co-designers, everyone gains
``fit_gain * min(1, voice * k_c / n_c)`` (a co-designer speaks for at most ``voice``
colleagues of their own role, so a 5% group cannot stand for the whole workforce);
teammates of a co-designer gain at least ``team_spread`` of ``fit_gain``. A diverse
group therefore raises fit across the workforce, and a board-only group raises it only
for the board's own roles: the "diversity of thought" in the Secretary of State's speech
that seeds this project. ``diversity`` reports the share of the workforce represented.
Members own the change: under a mandate they commit rather than comply.

Patients, carers and people with lived experience (``patient_share`` of the seats, in
addition to the staff seats) make the design fit what matters to the people who use the
service, so the fit gain is multiplied by (1 + patient_fit * patient_share); and staff
who co-design with them are moved by their stories (experience-based co-design: Bate and
Robert 2006, BMJ Qual Saf 15:307; Donetto et al. 2015): m <- m + patient_motivation *
patient_share * (1 - m) for co-designers (``motivation_boost``). Both act once, before the
first step, in code both engines share.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sim import rng
from sim.org import PROFESSIONS, Organisation
from sim.params import CoDesignParams


def role_cells(org: Organisation) -> np.ndarray:
    """Role of each person: (organisation, level, profession). Fit is local to a partner."""
    role = org.level.astype(np.int64) * len(PROFESSIONS) + org.profession.astype(np.int64)
    return org.organisation.astype(np.int64) * (int(role.max()) + 1 if len(role) else 1) + role


def choose_group(
    org: Organisation, motivation: np.ndarray, params: CoDesignParams, seeds: np.ndarray
) -> np.ndarray:
    """(R, n) bool: the co-design group of each replicate.

    Rules: ``frontline`` (random frontline staff), ``volunteers`` (the most motivated),
    ``diagonal`` (a slice across levels and professions: one from each (level,
    profession) cell in turn), ``board`` (the most senior). Ties break at random.
    """
    n, r = org.n_staff, len(seeds)
    out = np.zeros((r, n), dtype=bool)
    k = int(round(params.share * n))
    if not params.on or k == 0:
        return out
    tie = np.empty((r, n))
    rng.uniform_rows_nb(rng.keys(seeds, rng.FIT), 0, np.arange(n, dtype=np.uint64), tie)
    if params.rule == "frontline":
        primary = np.broadcast_to(-org.level.astype(np.float64), (r, n))
    elif params.rule == "volunteers":
        primary = -motivation
    elif params.rule == "board":
        primary = np.broadcast_to(org.level.astype(np.float64), (r, n))
    else:  # diagonal: rank within each cell by the random draw, then take rank 0s first
        primary = np.empty((r, n))
        _rank_in_cell(role_cells(org), tie, primary)
    order = np.argsort(tie, axis=1, kind="stable")
    key = np.take_along_axis(primary, order, axis=1)
    order = np.take_along_axis(order, np.argsort(key, axis=1, kind="stable"), axis=1)
    np.put_along_axis(out, order[:, :k], True, axis=1)
    return out


@njit(cache=True, parallel=True)
def _rank_in_cell(cells, tie, primary):
    """primary[r, i] = rank of i within its cell by (tie[r, i], i): 0 for the first drawn."""
    n = len(cells)
    for r in prange(tie.shape[0]):
        # Stable sorts: by draw, then by cell; equal draws keep index order (as np.lexsort).
        by_tie = np.argsort(tie[r], kind="mergesort")
        order = by_tie[np.argsort(cells[by_tie], kind="mergesort")]
        rank = 0
        for k in range(n):
            if k > 0 and cells[order[k]] != cells[order[k - 1]]:
                rank = 0
            primary[r, order[k]] = rank
            rank += 1


@njit(cache=True, parallel=True)
def _mark(codes, group, n_codes, out):
    """out[r, i] = some member of row r's group shares code ``codes[i]``."""
    for r in prange(group.shape[0]):
        seen = np.zeros(n_codes, np.bool_)
        for i in range(len(codes)):
            if group[r, i]:
                seen[codes[i]] = True
        for i in range(len(codes)):
            out[r, i] = seen[codes[i]]


def represented(org: Organisation, group: np.ndarray) -> np.ndarray:
    """(R, n) bool: whose role, an (organisation, level, profession) cell, has a member in the group."""
    cells = role_cells(org)
    out = np.zeros(group.shape, dtype=bool)
    if len(cells):
        _mark(cells, group, int(cells.max()) + 1, out)
    return out


def diversity(org: Organisation, group: np.ndarray) -> np.ndarray:
    """(R,) share of the workforce whose role (organisation x level x profession) is represented."""
    return represented(org, group).mean(axis=1)


def coverage(org: Organisation, group: np.ndarray, voice: float) -> np.ndarray:
    """(R, n) share of each person's role cell the group can speak for: min(1, voice k_c / n_c).

    k_c co-designers in i's cell of n_c staff; ``voice`` = 0 means no bound (1 wherever
    the cell has a co-designer, 0 elsewhere).
    """
    cells = role_cells(org)
    _, inverse, size = np.unique(cells, return_inverse=True, return_counts=True)
    out = np.zeros(group.shape, dtype=np.float64)
    for row in range(group.shape[0]):
        k = np.bincount(inverse, weights=group[row].astype(np.float64), minlength=len(size))
        if voice > 0:
            share = np.minimum(1.0, voice * k / size)
        else:
            share = (k > 0).astype(np.float64)
        out[row] = share[inverse]
    return out


def fit_gain(org: Organisation, group: np.ndarray, params: CoDesignParams) -> np.ndarray:
    """(R, n) fit of the change to each person's work after co-design.

    g = min(1, fit_gain (1 + patient_fit patient_share)) (fit is a share);
    fit_i = max(g * coverage_i, team_spread * g
    if a teammate co-designed, else 0), where coverage_i = min(1, voice k_c / n_c) over i's
    role cell (``coverage``).
    """
    fit = np.zeros(group.shape, dtype=np.float64)
    if not group.any():
        return fit
    # Fit is declared in [0, 1] (sim.state); without the cap a large patient_fit gave 1.5.
    g = min(1.0, params.fit_gain * (1.0 + params.patient_fit * params.patient_share))
    cover = coverage(org, group, params.voice)
    teammate = np.zeros(group.shape, dtype=bool)
    _mark(org.team.astype(np.int64), group, int(org.team.max()) + 1, teammate)
    fit[teammate] = params.team_spread * g
    fit = np.maximum(fit, g * cover)
    return fit


def motivation_boost(motivation: np.ndarray, group: np.ndarray, params: CoDesignParams) -> None:
    """Co-designers who heard patients' and carers' experience: m <- m + a (1 - m), in place,
    a = patient_motivation * patient_share.
    """
    a = params.patient_motivation * params.patient_share
    if a > 0.0 and group.any():
        motivation[group] = motivation[group] + a * (1.0 - motivation[group])
