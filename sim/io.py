"""Bring your own organisation: read an org-chart CSV (and a ties CSV) into an organisation.

The CSV side: each file is read as text (ids stay as written), in UTF-8, with its
delimiter (comma, semicolon or tab) found from the header; a file that is not a readable
CSV (another encoding, a spreadsheet, a folder) is one ``ConfigError`` naming the file,
the line and what to do. The parsed columns go to ``sim.chart``, which checks the chart
and assembles the arrays; ``from_networkx`` lives there and is re-exported here.
``build`` makes the organisation a config names, generated or read.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from sim.chart import (
    DEFAULT_ORGANISATION,
    DEFAULT_PROFESSION,
    INFER_KIND,
    MAX_LISTED,
    and_more,
    assemble,
    check_hierarchy,
    from_networkx,
    organisation_codes,
)
from sim.org import PROFESSIONS, TIE_KINDS, Organisation, complete, ics, random_graph, synthetic
from sim.params import ConfigError, OrgParams

__all__ = ["build", "example_path", "from_csv", "from_networkx", "read_table"]

REQUIRED_COLUMNS: tuple[str, ...] = ("staff_id", "manager_id", "profession")
"""Columns an org-chart CSV must have; ``organisation`` and ``org_kind`` are optional."""
TIE_COLUMNS: tuple[str, ...] = ("source", "target")
"""Columns a ties CSV must have; ``kind`` is optional."""


def example_path(name: str = "example_org.csv") -> Path:
    """Path of an example file shipped in ``sim/data``.

    ``example_org.csv`` is one hospital ward; ``example_ics.csv`` (with
    ``example_ics_ties.csv``) is a ward and a council's adult social care team.
    """
    return Path(str(files("sim") / "data" / name))


def from_csv(
    path: str | Path,
    *,
    p_team_tie: float = 1.0,
    single_root: bool = True,
    ties: str | Path | None = None,
    seed: int = 0,
) -> Organisation:
    """An organisation from an org-chart CSV: one row per person.

    Columns: ``staff_id``, ``manager_id`` (blank = a root), ``profession`` (one of
    ``sim.org.PROFESSIONS``; blank = ``"other"``), optional ``organisation`` (blank or
    missing = ``"org"``) and ``org_kind`` (one of ``sim.org.ORG_KINDS``; default
    ``"nhs_trust"``). Ids are read as text, so ``007`` stays ``007``. Each person gets a
    line tie to their manager and a team tie, with probability ``p_team_tie``, to each
    colleague sharing that manager. Levels are depths in the manager tree, aligned so
    that the deepest level of every organisation is the last level.

    Errors name the file and its **line number** (the header is line 1, so data row k is
    line k + 1 when there are no line breaks inside quoted fields).

    Args:
        path: the org chart.
        p_team_tie: probability that two people sharing a manager are tied.
        single_root: require exactly one person without a manager in each organisation.
        ties: optional CSV of further ties, columns ``source``, ``target`` (staff ids)
            and optional ``kind`` (default ``"cross_org"`` between organisations, else
            ``"peer"``).
        seed: structural seed of the team-tie draws.

    Raises:
        ConfigError: missing file or column, empty file, blank or duplicate staff_id,
            unknown manager_id, profession or org_kind, a manager cycle, a manager in
            another organisation, several roots with ``single_root``, or a bad tie.
    """
    name = Path(path).name
    df, line = read_table(path, REQUIRED_COLUMNS, "org chart")
    staff_id = df["staff_id"].to_numpy(dtype=object)

    def where(i: int) -> str:
        return f"line {line[i]} (staff_id {staff_id[i]!r})"

    blank = np.flatnonzero(staff_id == "")
    if len(blank):
        raise ConfigError(f"{name} line {line[blank[0]]}: staff_id is blank")
    dup = df["staff_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        first = staff_id[np.flatnonzero(dup)[0]]
        lines = line[staff_id == first]
        raise ConfigError(
            f"{name}: duplicate staff_id {first!r} on lines {', '.join(map(str, lines))}"
            + and_more(int(dup.sum()) - len(lines), "other duplicated rows")
        )
    prof = df["profession"].str.lower().replace("", DEFAULT_PROFESSION).to_numpy(dtype=object)
    code = pd.Index(PROFESSIONS).get_indexer(prof)
    if (code < 0).any():
        i = int(np.flatnonzero(code < 0)[0])
        raise ConfigError(f"{name} {where(i)}: profession {prof[i]!r} is not one of {list(PROFESSIONS)}")
    manager_id = df["manager_id"].to_numpy(dtype=object)
    manager = pd.Index(staff_id).get_indexer(manager_id).astype(np.int64)
    unknown = np.flatnonzero((manager < 0) & (manager_id != ""))
    if len(unknown):
        i = int(unknown[0])
        raise ConfigError(f"{name} {where(i)}: manager_id {manager_id[i]!r} is not a staff_id in the file")
    org_col = df["organisation"] if "organisation" in df else pd.Series([""] * len(df))
    kind_col = df["org_kind"] if "org_kind" in df else pd.Series([""] * len(df))
    org_of = org_col.replace("", DEFAULT_ORGANISATION).to_numpy(dtype=object)
    organisation, org_names, org_kinds = organisation_codes(org_of, list(kind_col), where, f"{name} ")
    depth = check_hierarchy(manager, organisation, org_names, where, f"{name}: ")
    if single_root:
        roots = np.flatnonzero(manager < 0)
        per_org = np.bincount(organisation[roots], minlength=len(org_names))
        if (per_org > 1).any():
            k = int(np.flatnonzero(per_org > 1)[0])
            these = roots[organisation[roots] == k]
            listed = ", ".join(f"{staff_id[i]!r} (line {line[i]})" for i in these[:MAX_LISTED])
            raise ConfigError(
                f"{name}: organisation {org_names[k]!r} has {len(these)} roots (blank manager_id): "
                f"{listed}{and_more(len(these) - MAX_LISTED, 'more')}; give them a common manager "
                "or pass single_root=False"
            )
    extra = _read_ties(ties, staff_id, name) if ties is not None else None
    return assemble(
        staff_id,
        manager,
        code.astype(np.uint8),
        organisation,
        org_names,
        org_kinds,
        depth,
        None,
        None,
        ties=extra,
        p_team_tie=p_team_tie,
        seed=seed,
    )


DELIMITERS: dict[str, str] = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
"""Field delimiters an org chart may use; the header decides which (Excel writes ';' in many locales)."""


def _text(path: str | Path, what: str) -> str:
    """The file's text, decoded as UTF-8; one ``ConfigError`` naming the file and line if it is not.

    Excel's plain "CSV" is Windows-1252 (or another code page) and its "Unicode text" is
    UTF-16: both are refused with the line of the first byte that is not UTF-8 and how to
    save the file, rather than guessed at (a wrong guess would silently change staff ids).
    """
    p = Path(path)
    name = p.name
    if p.is_dir():
        raise ConfigError(f"{what} {path} is a folder, not a file; give the path of the CSV file in it")
    if not p.exists():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{what} {path} cannot be read: {e.strerror or e}") from None
    save_as = "open it in Excel and save it as 'CSV UTF-8 (comma delimited)'"
    if raw[:4] == b"PK\x03\x04":
        raise ConfigError(f"{what} {name} is a zip archive (an Excel .xlsx workbook?), not a CSV: {save_as}")
    head = raw[:64]
    utf16 = raw[:2] in (b"\xff\xfe", b"\xfe\xff") or (
        len(head) >= 16 and max(head[0::2].count(0), head[1::2].count(0)) > len(head) // 4
    )
    if utf16:
        raise ConfigError(
            f"{what} {name} is UTF-16 text (Excel's 'Unicode Text'), not UTF-8: {save_as}, "
            f"or convert it: iconv -f UTF-16 -t UTF-8 {name} > utf8_{name}"
        )
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ConfigError(f"{what} {name} line {line} holds a NUL byte: a binary file, not CSV text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        start = raw.rfind(b"\n", 0, e.start) + 1
        column = e.start - start + 1
        row = raw[start : raw.find(b"\n", e.start) if b"\n" in raw[e.start :] else len(raw)]
        try:
            shown = row.decode("cp1252").strip()
            hint = (
                f"it looks like Windows-1252 (Excel's plain 'CSV'), where that line reads {shown[:60]!r}: "
                f"{save_as}, or convert it: iconv -f CP1252 -t UTF-8 {name} > utf8_{name}"
            )
        except UnicodeDecodeError:
            hint = f"it is not UTF-8 text (a binary file?): {save_as}"
        raise ConfigError(
            f"{what} {name} line {line}, column {column}: byte 0x{raw[e.start]:02x} is not UTF-8; {hint}"
        ) from None


def _delimiter(text: str, required: tuple[str, ...]) -> str:
    """The delimiter whose split of the header (first non-blank line) holds the required columns."""
    header = next((ln for ln in text.splitlines() if ln.strip()), "")
    for sep in DELIMITERS:
        names = [f.strip().lower() for f in next(csv.reader([header], delimiter=sep), [])]
        if all(c in names for c in required):
            return sep
    counts = {sep: header.count(sep) for sep in DELIMITERS}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > 0 else ","


def read_table(path: str | Path, required: tuple[str, ...], what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV as stripped text, the way every changesim CSV reader does (org charts, ties,
    observed diffusion): UTF-8, delimiter found from the header, ids kept as written.

    Args:
        path: the file.
        required: columns it must have (lower case; the header is matched case-insensitively).
        what: what the file is, for messages (``"org chart"``, ``"people file"``).

    Returns:
        The non-blank rows (every value a stripped string) and each row's line in the file
        (the header is line 1). Raises ``ConfigError`` naming the file and what is wrong.
    """
    name = Path(path).name
    text = _text(path, what)
    sep = _delimiter(text, required)
    try:
        with warnings.catch_warnings():
            # pandas only warns, and drops data, when every row has more fields than the header.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{what} {name} is empty: expected a header {', '.join(required)}") from None
    except (pd.errors.ParserError, pd.errors.ParserWarning) as e:
        raise ConfigError(
            f"{what} {name} is not a readable CSV with {DELIMITERS[sep]}-separated fields (a row with "
            f"more fields than the header? quote values that contain a {DELIMITERS[sep]}): {e}"
        ) from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{what} {name} is missing column(s) {missing}; required columns: {list(required)} "
            f"(found {list(df.columns)}, reading fields separated by {DELIMITERS[sep]}s)"
        )
    df = df.apply(lambda col: col.str.strip())
    line = df.index.to_numpy(dtype=np.int64) + 2  # the header is line 1
    filled = (df != "").any(axis=1).to_numpy()
    df, line = df[filled].reset_index(drop=True), line[filled]
    if len(df) == 0:
        raise ConfigError(f"{what} {name} has a header but no rows")
    return df, line


def _read_ties(
    path: str | Path, staff_id: np.ndarray, chart: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[[int], str]]:
    """Endpoints (indices into ``staff_id``), kind codes and a namer of each tie of a ties CSV."""
    name = Path(path).name
    df, line = read_table(path, TIE_COLUMNS, "ties file")
    ids = pd.Index(staff_id)
    ends = []
    for col in TIE_COLUMNS:
        values = df[col].to_numpy(dtype=object)
        idx = ids.get_indexer(values).astype(np.int64)
        if (idx < 0).any():
            k = int(np.flatnonzero(idx < 0)[0])
            raise ConfigError(f"{name} line {line[k]}: {col} {values[k]!r} is not a staff_id in {chart}")
        ends.append(idx)
    kind = np.full(len(df), INFER_KIND, dtype=np.uint8)
    if "kind" in df:
        names = df["kind"].str.lower().to_numpy(dtype=object)
        code = pd.Index(TIE_KINDS).get_indexer(names)
        bad = (code < 0) & (names != "")
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ConfigError(f"{name} line {line[k]}: kind {names[k]!r} is not one of {list(TIE_KINDS)}")
        kind[code >= 0] = code[code >= 0]

    def which_tie(k: int) -> str:
        return f"{name} line {line[k]} ({df['source'].iat[k]!r} - {df['target'].iat[k]!r})"

    return ends[0], ends[1], kind, which_tie


def build(params: OrgParams, seed: int = 0) -> Organisation:
    """Build the organisation that ``params.kind`` names (the one entry point configs use).

    It lives here, above ``sim.org``, because ``kind: csv`` reads a file: ``sim.org``
    generates organisations and never imports this module (no import cycle).
    """
    params.validate()
    if params.kind == "synthetic":
        return synthetic(params, seed)
    if params.kind == "ics":
        return ics(params, seed)
    if params.kind == "complete":
        return complete(params.n_staff)
    if params.kind == "random":
        return random_graph(params.n_staff, params.mean_degree, seed)
    return from_csv(params.path, p_team_tie=params.p_team_tie)
