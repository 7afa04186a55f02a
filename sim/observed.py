"""Observed diffusion: who adopted when, among whom, read from a people CSV and a ties CSV.

The format (documented in the README, "Calibrating to observed diffusion"):

- **people CSV**, one row per person: ``site`` (a town, hospital or team: each site
  becomes one organisation), ``id`` (unique within its site), ``adopted`` (the step,
  1..n_steps, in which the person was first seen using the change; 0 = already using it
  when observation began; blank = not adopted by the end of the window, i.e. censored),
  optional ``profession`` (one of ``sim.org.PROFESSIONS``, default ``other``), and any
  further numeric columns as covariates (blank = missing).
- **ties CSV**, one row per nomination or contact: ``site``, ``from`` and ``to`` (ids of
  people of that site) and optional ``kind`` (any label, e.g. ``advice``). Ties are kept
  as given (directed) for the statistics, and joined as undirected ``peer`` ties in the
  organisation the simulator runs on (changesim's ties are undirected).

Errors name the file, its line (the header is line 1) and the problem, the way
``sim.io`` reports org charts; nothing is built until every check passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.chart import assemble
from sim.constants import PEER, PROFESSIONS
from sim.io import read_table
from sim.org import Organisation
from sim.params import ConfigError

PEOPLE_COLUMNS: tuple[str, ...] = ("site", "id", "adopted")
"""Columns a people CSV must have; ``profession`` and covariates are optional."""
OBSERVED_TIE_COLUMNS: tuple[str, ...] = ("site", "from", "to")
"""Columns an observed ties CSV must have; ``kind`` is optional."""
NOT_ADOPTED = -1
"""``t_adopted`` of someone not seen adopting within the window (right-censored)."""


@dataclass
class ObservedDiffusion:
    """An organisation (one per site) and the observed adoption record on it.

    Arrays are in the organisation's order (site by site, file order within a site).

    Attributes:
        org: the organisation; each site is one partner organisation; ties are
            undirected ``peer`` ties (all kinds selected, duplicates merged).
        t_adopted: (n,) int32 step of adoption, 0..n_steps; -1 = not adopted in the window.
        n_steps: length of the observation window in steps (months for the Medical
            Innovation data).
        site: (n,) int64 site code (index into ``site_names``; equals ``org.organisation``).
        site_names: name of each site.
        person_id: (n,) str id of each person within their site.
        covariates: n rows of numeric covariates (NaN = missing), in org order.
        tie_from, tie_to: (k,) int64 directed ties as given (after the kind filter), org indices.
        tie_kind: (k,) str label of each directed tie.
        sources: the files read.
    """

    org: Organisation
    t_adopted: np.ndarray
    n_steps: int
    site: np.ndarray
    site_names: list[str]
    person_id: np.ndarray
    covariates: pd.DataFrame
    tie_from: np.ndarray
    tie_to: np.ndarray
    tie_kind: np.ndarray
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def n_people(self) -> int:
        """Number of people."""
        return len(self.t_adopted)

    @property
    def n_sites(self) -> int:
        """Number of sites."""
        return len(self.site_names)

    def adopted_by(self) -> np.ndarray:
        """(n_steps+1, n) bool: row t says who had adopted by the end of step t."""
        t = np.arange(self.n_steps + 1)[:, None]
        return (self.t_adopted[None, :] >= 0) & (self.t_adopted[None, :] <= t)

    def frac_adopted_by_site(self) -> np.ndarray:
        """(n_sites, n_steps+1) share of each site's people adopted by the end of each step."""
        a = self.adopted_by()
        out = np.empty((self.n_sites, self.n_steps + 1))
        for s in range(self.n_sites):
            out[s] = a[:, self.site == s].mean(axis=1)
        return out

    def table(self) -> pd.DataFrame:
        """One row per person: site, id, t_adopted (-1 = censored), covariates."""
        df = pd.DataFrame(
            {
                "site": np.array(self.site_names, dtype=object)[self.site],
                "id": self.person_id,
                "t_adopted": self.t_adopted,
            }
        )
        return pd.concat([df, self.covariates.reset_index(drop=True)], axis=1)

    def subset(self, sites: list[str]) -> ObservedDiffusion:
        """The same record restricted to some sites (for leave-one-site-out validation)."""
        unknown = [s for s in sites if s not in self.site_names]
        if unknown:
            raise ConfigError(f"site(s) {unknown} are not in the data; sites: {self.site_names}")
        keep = np.isin(np.array(self.site_names, dtype=object)[self.site], sites)
        new = np.cumsum(keep) - 1
        tie_keep = keep[self.tie_from] & keep[self.tie_to]
        return build(
            site_of=np.array(self.site_names, dtype=object)[self.site][keep],
            person_id=self.person_id[keep],
            t_adopted=self.t_adopted[keep],
            profession=self.org.profession[keep],
            covariates=self.covariates[keep].reset_index(drop=True),
            tie_from=new[self.tie_from[tie_keep]],
            tie_to=new[self.tie_to[tie_keep]],
            tie_kind=self.tie_kind[tie_keep],
            n_steps=self.n_steps,
            sources=self.sources,
        )


def medical_innovation_paths() -> tuple[Path, Path]:
    """Paths of the committed Medical Innovation people and ties CSVs (``sim/data``)."""
    from sim.io import example_path

    return example_path("medical_innovation_people.csv"), example_path("medical_innovation_ties.csv")


def read_observed(
    people: str | Path,
    ties: str | Path | None,
    *,
    n_steps: int | None = None,
    tie_kinds: list[str] | None = None,
) -> ObservedDiffusion:
    """Read and check a people CSV and a ties CSV; build the organisation and the record.

    Args:
        people: the people CSV (``site``, ``id``, ``adopted``[, ``profession``, covariates]).
        ties: the ties CSV (``site``, ``from``, ``to``[, ``kind``]); None = no ties.
        n_steps: the observation window in steps; adoption times must lie in
            0..n_steps. None takes the latest adoption time in the file.
        tie_kinds: keep only ties of these kinds (None = all); a kind that no row has
            is an error (a typo would otherwise silently drop the network).

    Raises:
        ConfigError: one line naming the file, line and problem: a missing file or
            column, a blank or duplicate id, an adoption time that is not a whole number
            or lies outside the window, a non-numeric covariate, an unknown profession,
            a tie naming a site with no people or an id not in its site, a self-tie, or
            an unknown tie kind.
    """
    pname = Path(people).name
    df, line = read_table(people, PEOPLE_COLUMNS, "people file")
    for col in ("site", "id"):
        blank = np.flatnonzero(df[col].to_numpy(dtype=object) == "")
        if len(blank):
            raise ConfigError(f"{pname} line {line[blank[0]]}: {col} is blank")
    key = pd.Series(_keys(df["site"], df["id"]))
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        lines = line[(key == key.iat[i]).to_numpy()]
        raise ConfigError(
            f"{pname}: duplicate id {df['id'].iat[i]!r} in site {df['site'].iat[i]!r} on lines "
            f"{', '.join(map(str, lines))}; an id must be unique within its site"
        )
    raw = df["adopted"].to_numpy(dtype=object)
    t_adopted = np.full(len(df), NOT_ADOPTED, dtype=np.int64)
    for i, v in enumerate(raw):
        if v == "":
            continue
        try:
            f = float(v)
        except ValueError:
            f = float("nan")
        if not (f == f and f.is_integer()):
            raise ConfigError(
                f"{pname} line {line[i]}: adopted {v!r} must be a whole step number (blank = not adopted)"
            )
        t_adopted[i] = int(f)
    if n_steps is None:
        n_steps = max(int(t_adopted.max()), 1)
    if n_steps < 1:
        raise ConfigError(f"n_steps={n_steps} must be at least 1")
    outside = np.flatnonzero((t_adopted != NOT_ADOPTED) & ((t_adopted < 0) | (t_adopted > n_steps)))
    if len(outside):
        i = int(outside[0])
        raise ConfigError(
            f"{pname} line {line[i]}: adopted {raw[i]!r} is outside the observation window 0..{n_steps} "
            f"(0 = adopted before the start; blank = not adopted by step {n_steps})"
        )
    if "profession" in df:
        prof = df["profession"].str.lower().replace("", "other").to_numpy(dtype=object)
    else:
        prof = np.full(len(df), "other", dtype=object)
    code = pd.Index(PROFESSIONS).get_indexer(prof)
    if (code < 0).any():
        i = int(np.flatnonzero(code < 0)[0])
        raise ConfigError(f"{pname} line {line[i]}: profession {prof[i]!r} is not one of {list(PROFESSIONS)}")
    cov_cols = [c for c in df.columns if c not in (*PEOPLE_COLUMNS, "profession")]
    covariates = pd.DataFrame(index=range(len(df)))
    for c in cov_cols:
        values = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() & (df[c] != "").to_numpy())
        if len(bad):
            i = int(bad[0])
            raise ConfigError(
                f"{pname} line {line[i]}: covariate {c} = {df[c].iat[i]!r} is not a number (blank = missing)"
            )
        covariates[c] = values.astype(float).to_numpy()

    site_of = df["site"].to_numpy(dtype=object)
    person_id = df["id"].to_numpy(dtype=object)
    if ties is None:
        tu = tv = np.zeros(0, np.int64)
        tk = np.zeros(0, dtype=object)
    else:
        tu, tv, tk = _read_observed_ties(ties, site_of, person_id, pname, tie_kinds)
    return build(
        site_of=site_of,
        person_id=person_id,
        t_adopted=t_adopted,
        profession=code.astype(np.uint8),
        covariates=covariates,
        tie_from=tu,
        tie_to=tv,
        tie_kind=tk,
        n_steps=int(n_steps),
        sources={"people": str(people), "ties": "" if ties is None else str(ties)},
    )


def _keys(site: object, ids: object) -> list[str]:
    """One text key per (site, id) pair; the unit separator cannot occur in a CSV field we accept."""
    return [f"{s}\x1f{i}" for s, i in zip(site, ids, strict=True)]  # type: ignore[call-overload]


def _read_observed_ties(
    path: str | Path,
    site_of: np.ndarray,
    person_id: np.ndarray,
    people_name: str,
    tie_kinds: list[str] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed ties (row indices into the people file) and their kinds."""
    name = Path(path).name
    df, line = read_table(path, OBSERVED_TIE_COLUMNS, "ties file")
    sites = set(site_of)
    no_site = np.flatnonzero(~df["site"].isin(sites).to_numpy())
    if len(no_site):
        k = int(no_site[0])
        raise ConfigError(
            f"{name} line {line[k]}: site {df['site'].iat[k]!r} has no people in {people_name} "
            f"(sites there: {sorted(sites)[:10]})"
        )
    index = pd.Index(_keys(site_of, person_id))
    ends = []
    for col in ("from", "to"):
        idx = index.get_indexer(_keys(df["site"], df[col])).astype(np.int64)
        if (idx < 0).any():
            k = int(np.flatnonzero(idx < 0)[0])
            raise ConfigError(
                f"{name} line {line[k]}: {col} {df[col].iat[k]!r} is not an id of site "
                f"{df['site'].iat[k]!r} in {people_name}"
            )
        ends.append(idx)
    u, v = ends
    self_tie = np.flatnonzero(u == v)
    if len(self_tie):
        k = int(self_tie[0])
        raise ConfigError(f"{name} line {line[k]}: a tie from {df['from'].iat[k]!r} to themselves")
    kind = df["kind"].to_numpy(dtype=object) if "kind" in df else np.full(len(df), "", dtype=object)
    if tie_kinds is not None:
        present = set(kind)
        missing = [k for k in tie_kinds if k not in present]
        if missing:
            raise ConfigError(f"{name}: no ties of kind {missing}; kinds in the file: {sorted(present)}")
        keep = np.isin(kind, list(tie_kinds))
        u, v, kind = u[keep], v[keep], kind[keep]
    return u, v, kind


def build(
    *,
    site_of: np.ndarray,
    person_id: np.ndarray,
    t_adopted: np.ndarray,
    profession: np.ndarray,
    covariates: pd.DataFrame,
    tie_from: np.ndarray,
    tie_to: np.ndarray,
    tie_kind: np.ndarray,
    n_steps: int,
    sources: dict[str, str] | None = None,
) -> ObservedDiffusion:
    """Assemble checked columns (in file order) into an ``ObservedDiffusion``.

    Each site becomes one organisation of a flat chart (nobody manages anybody, one
    level, no team ties), so the only ties are the observed ones, joined as undirected
    ``peer`` ties. The organisation numbers people site by site (``sim.io``'s order);
    every per-person array here is permuted to match.
    """
    n = len(site_of)
    codes, names = pd.factorize(pd.Series(site_of, dtype=object), sort=False)
    staff_id = np.array([f"{s}/{i}" for s, i in zip(site_of, person_id, strict=True)], dtype=object)
    org = assemble(
        staff_id,
        np.full(n, -1, dtype=np.int64),
        profession,
        codes.astype(np.uint16),
        [str(x) for x in names],
        ["nhs_trust"] * len(names),
        np.zeros(n, dtype=np.int64),
        None,
        None,
        ties=(
            np.asarray(tie_from, np.int64),
            np.asarray(tie_to, np.int64),
            np.full(len(tie_from), PEER, np.uint8),
            lambda k: f"tie {k}",
        ),
        p_team_tie=None,
        seed=0,
    )
    order = pd.Index(staff_id).get_indexer(org.staff_id)  # org position -> file row
    new = np.empty(n, np.int64)
    new[order] = np.arange(n)
    return ObservedDiffusion(
        org=org,
        t_adopted=np.asarray(t_adopted)[order].astype(np.int32),
        n_steps=int(n_steps),
        site=codes[order].astype(np.int64),
        site_names=[str(x) for x in names],
        person_id=np.asarray(person_id, dtype=object)[order],
        covariates=covariates.iloc[order].reset_index(drop=True),
        tie_from=new[np.asarray(tie_from, np.int64)],
        tie_to=new[np.asarray(tie_to, np.int64)],
        tie_kind=np.asarray(tie_kind, dtype=object),
        sources=dict(sources or {}),
    )
