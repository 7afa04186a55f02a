"""The tables of the ODD description (``docs/ODD.md``), rendered from the code.

Each function returns one Markdown section body: the state variables
(``sim.state.STAFF_ATTRIBUTES``, ``TIE_ATTRIBUTES`` and the organisation's arrays from the
``Attributes`` section of ``sim.org.Organisation``'s docstring), the parameters (the field
metadata of ``sim.params.ModelConfig``), the phase lists (the docstrings of ``sim.engine``
and ``sim.dynamics.change``) and the random streams (``sim.rng``). ``sim.views.odd`` puts
them between the document's marker comments.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, Field, fields, is_dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from sim import agents, engine, org, rng, state
from sim.dynamics import change
from sim.params import ModelConfig

ROOT = Path(__file__).resolve().parents[2]
UNDOCUMENTED = "(not documented in the code)"

RUN_GROUP = "run"
"""Heading for ModelConfig's top-level keys (``n_steps``, ``seed``, ...), which have no group."""

STREAM_MEANINGS: dict[str, str] = {
    "ADOPT": "adoption draw u of each person and step (classic rules; full model: commit, internalise)",
    "THRESHOLD": "initial thresholds (step 0)",
    "MOTIVATION": "initial intrinsic motivation (step 0)",
    "COURAGE": "initial courage, one draw per team (the team id is the counter)",
    "BELIEF": "initial belief (step 0)",
    "SEEDING": "random order that breaks ties between candidate initial adopters",
    "ORG": "structure of a synthetic organisation (team and peer ties, professions, spanners)",
    "TEST": "full model: whether an adopter runs a PDSA test this step",
    "LAPSE": "full model: comply, lapse of compliance, abandonment",
    "CHURN": "full model: whether a senior post-holder leaves this step",
    "TRUST": "reserved (no draw uses it yet)",
    "FIT": "random order that breaks ties when choosing the co-design group",
    "OUTCOME": "full model: outcome of a PDSA test (success or failure)",
    "PIPELINE": "full model: whether a senior successor is a clinician",
}
"""What each counter-based stream of ``sim.rng`` decides; a stream missing here is flagged."""

DERIVED_ARRAYS: tuple[tuple[str, str, Callable[..., Any]], ...] = (
    ("Staff", "clinician", change.clinician_mask),
    ("Staff", "senior", change.senior_mask),
    ("Staff", "boundary_spanner", org.boundary_spanners),
    ("Tie", "pair", change.tie_pairs),
)
"""Static arrays derived once from the organisation: (entity, name, function that makes it)."""


# --- formatting ---------------------------------------------------------------------


def _cell(text: str) -> str:
    """Markdown table cell: rst ``code`` to Markdown `code`, pipes escaped, one line."""
    text = " ".join(str(text).split()).replace("``", "`")
    return text.replace("|", "\\|")


def fmt_number(v: float | int) -> str:
    """A number as a reader wants it: 0.15, 1e+06, 50000000 -> 5·10^7, 2^63 − 1, ∞."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if math.isnan(v):
            return "NaN"
        if v.is_integer() and abs(v) < 1e5:
            return f"{v:.1f}"
        if v.is_integer():
            return fmt_number(int(v))
        return repr(float(v))
    v = int(v)
    if abs(v) < 100_000:
        return str(v)
    if (v + 1) & v == 0:
        return f"2^{(v + 1).bit_length() - 1} − 1"
    exp = len(str(abs(v))) - 1
    mant, rest = divmod(v, 10**exp)
    if rest == 0:
        return f"10^{exp}" if mant == 1 else f"{mant}·10^{exp}"
    return str(v)


def fmt_value(v: Any) -> str:
    """A parameter value as it would be written in a config file (no backticks)."""
    if v is None:
        return "None"
    if isinstance(v, (bool, int, float, np.integer, np.floating)):
        return fmt_number(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {fmt_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _fmt_range(lo: float, hi: float, dtype: Any = float) -> str:
    kind = np.dtype(dtype).kind
    if kind in "iu":
        if np.iinfo(dtype).max == hi:
            return f"integer ≥ {fmt_number(int(lo))}"
        if hi - lo == 1:
            return f"{{{int(lo)}, {int(hi)}}}"
        return f"{{{fmt_number(int(lo))}, …, {fmt_number(int(hi))}}}"
    close = ")" if math.isinf(hi) else "]"
    return f"[{_compact(lo)}, {_compact(hi)}{close}"


def _compact(v: float) -> str:
    """A range bound: whole numbers without a decimal point."""
    v = float(v)
    return fmt_number(int(v)) if v.is_integer() else fmt_number(v)


def _summary(obj: Any) -> str:
    """First paragraph of an object's docstring, on one line."""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


# --- state variables ------------------------------------------------------------------


def organisation_arrays() -> list[dict[str, str]]:
    """The organisation's arrays and lists, parsed from ``Organisation``'s docstring.

    Every dataclass field of ``sim.org.Organisation`` is returned; a field the
    ``Attributes`` section does not describe gets the meaning ``UNDOCUMENTED``.

    Returns:
        One dict per field: name, entity (Staff, Tie or Organisation), shape, dtype, meaning.
    """
    doc = inspect.getdoc(org.Organisation) or ""
    described: dict[str, str] = {}
    in_section = False
    current = None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        if line and not line.startswith(" "):
            break
        m = re.match(r"^ {4}(\w+): (.*)$", line)
        if m:
            current = m.group(1)
            described[current] = m.group(2)
        elif current and line.startswith(" " * 8):
            described[current] += " " + line.strip()
    rows = []
    for f in fields(org.Organisation):
        text = described.get(f.name, UNDOCUMENTED)
        shape, dtype, meaning = "", "", text
        m = re.match(r"^\(([^)]*)\)\s+(\w+),?\s*(.*)$", text)
        if m:
            shape, word, rest = m.groups()
            try:
                np.dtype(word)
                dtype, meaning = word, rest
            except TypeError:
                meaning = f"{word} {rest}"
        elif text == UNDOCUMENTED:
            shape = ""
        entity = "Organisation"
        if shape.startswith("n,"):
            entity = "Staff"
        elif shape.startswith("m,") or shape.startswith("n+1,"):
            entity = "Tie"
        if not dtype and text != UNDOCUMENTED:
            dtype = str(f.type).replace("np.ndarray", "array")
        rows.append(
            {"name": f.name, "entity": entity, "shape": shape, "dtype": dtype, "meaning": meaning.rstrip(".")}
        )
    return rows


def _writers() -> dict[str, list[str]]:
    """Numba kernels that assign to each array, found in the source of the engines.

    A function "writes" ``x`` when it assigns to an element ``x[...] = ...`` or
    ``bundle.x[...] = ...``; the kernels name their arrays after the state attributes
    (the fields of ``sim.state.People``), so this lists which phase changes which state
    variable.
    """
    out: dict[str, list[str]] = {}
    modules = ["sim.engine"] + [
        f"sim.dynamics.{p.stem}" for p in sorted((ROOT / "sim" / "dynamics").glob("*.py"))
    ]
    for name in modules:
        mod = import_module(name)
        tree = ast.parse(inspect.getsource(mod))
        short = name.removeprefix("sim.dynamics.").removeprefix("sim.")
        for fn in tree.body:
            # Only Numba kernels run during a run; plain functions belong to initialisation.
            if not isinstance(fn, ast.FunctionDef) or not hasattr(getattr(mod, fn.name, None), "py_func"):
                continue
            for node in ast.walk(fn):
                targets = []
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, ast.AugAssign):
                    targets = [node.target]
                for tgt in targets:
                    if not isinstance(tgt, ast.Subscript):
                        continue
                    arr = tgt.value
                    if isinstance(arr, ast.Attribute) and isinstance(arr.value, ast.Name):
                        array_name = arr.attr
                    elif isinstance(arr, ast.Name):
                        array_name = arr.id
                    else:
                        continue
                    where = f"{short}.{fn.name}"
                    lst = out.setdefault(array_name, [])
                    if where not in lst:
                        lst.append(where)
    return out


def state_table() -> str:
    """Markdown tables of the entities and their state variables.

    Dynamic state (``STAFF_ATTRIBUTES``, ``TIE_ATTRIBUTES``) with the kernels that change
    each variable; then the static structure (``Organisation``) and the arrays derived
    from it once.
    """
    writers = _writers()
    lines = [
        "**Dynamic state** (`sim.state`; one array per variable, shape (n,) for staff and (p,) "
        "for undirected ties, with a leading replicate axis in batches):",
        "",
        "| Entity | Variable | dtype | Default | Range | Meaning | Changed during a run by |",
        "|---|---|---|---|---|---|---|",
    ]
    for entity, attrs in (("Staff", state.STAFF_ATTRIBUTES), ("Tie", state.TIE_ATTRIBUTES)):
        for a in attrs:
            dtype = np.dtype(a.dtype).name
            default = fmt_number(a.default) if np.dtype(a.dtype).kind == "f" else str(int(a.default))
            w = writers.get(a.name, [])
            changed = ", ".join(f"`{x}`" for x in w) if w else "— (fixed after initialisation)"
            lines.append(
                f"| {entity} | `{a.name}` | {dtype} | {default} | {_fmt_range(*a.range, a.dtype)} "
                f"| {_cell(a.meaning)} | {changed} |"
            )
    lines += [
        "",
        "**Structure** (`sim.org.Organisation`; fixed during a run):",
        "",
        "| Entity | Variable | Shape | dtype | Meaning |",
        "|---|---|---|---|---|",
    ]
    for row in organisation_arrays():
        shape = f"({row['shape']})" if row["shape"] else "per organisation"
        lines.append(
            f"| {row['entity']} | `{row['name']}` | {_cell(shape)} | {_cell(row['dtype'])} "
            f"| {_cell(row['meaning'])} |"
        )
    lines += [
        "",
        "**Derived once from the structure** (fixed during a run):",
        "",
        "| Entity | Variable | Made by | Meaning |",
        "|---|---|---|---|",
    ]
    for entity, name, fn in DERIVED_ARRAYS:
        where = f"{fn.__module__}.{fn.__name__}"
        lines.append(f"| {entity} | `{name}` | `{where}` | {_cell(_summary(fn))} |")
    return "\n".join(lines)


# --- parameters -----------------------------------------------------------------------


def _default(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def parameter_groups() -> list[tuple[str, type | None, list[Field]]]:
    """(group name, dataclass or None, fields) for every group of ``ModelConfig``.

    Groups are the dataclass-valued fields of ``ModelConfig``, in declaration order;
    its scalar fields form the last group, ``RUN_GROUP``, whose keys have no prefix.
    """
    groups: list[tuple[str, type | None, list[Field]]] = []
    top: list[Field] = []
    for f in fields(ModelConfig):
        d = _default(f)
        if is_dataclass(d):
            groups.append((f.name, type(d), list(fields(d))))
        else:
            top.append(f)
    if top:
        groups.append((RUN_GROUP, None, top))
    return groups


def parameter_keys() -> dict[str, Any]:
    """Every configuration key (``group.field``, or ``field`` for top-level keys) -> default."""
    out = {}
    for group, _, fs in parameter_groups():
        for f in fs:
            out[f.name if group == RUN_GROUP else f"{group}.{f.name}"] = _default(f)
    return out


def _allowed(f: Field) -> str:
    choices = f.metadata.get("choices")
    if choices is not None:
        return ", ".join(f"`{c}`" for c in choices)
    rng_ = f.metadata.get("range")
    default = _default(f)
    if rng_ is not None:
        dtype = int if isinstance(default, int) and not isinstance(default, bool) else float
        text = _fmt_range(*rng_, np.int64 if dtype is int else np.float64)
        if dtype is int and rng_[1] >= np.iinfo(np.int64).max:
            text = f"integer ≥ {fmt_number(rng_[0])}"
        return f"each in {text}" if isinstance(default, list) else text
    if isinstance(default, bool):
        return "true, false"
    return "—"


def parameter_tables() -> str:
    """One Markdown table per parameter group: key, type, default, allowed values, meaning."""
    parts = []
    for group, cls, fs in parameter_groups():
        if cls is None:
            parts.append(f"#### Run keys (top level of `ModelConfig`)\n\n{_cell(_summary(ModelConfig))}")
        else:
            parts.append(f"#### `{group}` (`{cls.__name__}`)\n\n{_cell(_summary(cls))}")
        rows = ["| Key | Type | Default | Allowed | Meaning |", "|---|---|---|---|---|"]
        for f in fs:
            key = f.name if cls is None else f"{group}.{f.name}"
            default = fmt_value(_default(f))
            rows.append(
                f"| `{key}` | {_cell(str(f.type))} | `{_cell(default)}` | {_allowed(f)} "
                f"| {_cell(f.metadata.get('help', UNDOCUMENTED))} |"
            )
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


# --- schedule -------------------------------------------------------------------------


def _numbered_list(doc: str) -> list[tuple[int, str]]:
    """The items of the first numbered list in a docstring, each joined onto one line."""
    items: list[list[Any]] = []
    for line in doc.splitlines():
        m = re.match(r"^(\d+)\. (.*)$", line)
        if m:
            items.append([int(m.group(1)), m.group(2)])
        elif items and line.startswith("   ") and line.strip():
            items[-1][1] += " " + line.strip()
        elif items and line.strip():
            break
    return [(k, " ".join(text.split())) for k, text in items]


def classic_phases() -> list[tuple[int, str, str]]:
    """(number, name, description) of each phase of a classic step (``sim.engine``)."""
    out = []
    for k, text in _numbered_list(inspect.getdoc(engine) or ""):
        m = re.match(r"^\*\*(\w+)\*\*(.*)$", text)
        name, rest = (m.group(1), m.group(2)) if m else ("", " " + text)
        out.append((k, name, rest))
    return out


def change_phases() -> list[tuple[int, str, str, str]]:
    """(number, kernel, reference method, description) of each phase of the full model.

    Kernels come from ``sim.dynamics.change``'s docstring, reference methods from
    ``sim.agents.CHANGE_PHASES``.

    Raises:
        ValueError: the two lists differ in length (the engines would disagree).
    """
    items = _numbered_list(inspect.getdoc(change) or "")
    methods = agents.CHANGE_PHASES
    if len(items) != len(methods):
        raise ValueError(
            f"sim.dynamics.change lists {len(items)} phases but sim.agents.CHANGE_PHASES has {len(methods)}"
        )
    out = []
    for (k, text), method in zip(items, methods, strict=True):
        m = re.match(r"^``([\w.]+)``:?\s*(.*)$", text)
        kernel, rest = (m.group(1), m.group(2)) if m else ("", text)
        out.append((k, kernel, method, rest))
    return out


def phase_lists() -> str:
    """Markdown: the phases of a classic step and of a full-model step, in order."""
    lines = ["**Classic rules** (`threshold`, `bass`, `cascade`; `sim.engine`):", ""]
    for k, name, text in classic_phases():
        lines.append(f"{k}. " + _cell(f"**{name}**{text}"))
    lines += [
        "",
        "**Full model** (rule `change`; `sim.dynamics.change.change_step`; reference: "
        "`sim.agents.ChangeStaffMember`, one method per phase):",
        "",
        "| # | Kernel (`sim.dynamics.`…) | Reference method | What happens |",
        "|---|---|---|---|",
    ]
    for k, kernel, method, text in change_phases():
        lines.append(f"| {k} | `{kernel}` | `{method}` | {_cell(text)} |")
    return "\n".join(lines)


# --- randomness -----------------------------------------------------------------------


def streams() -> list[tuple[str, int]]:
    """(name, purpose code) of every counter-based stream declared in ``sim.rng``."""
    src = inspect.getsource(rng)
    names = re.findall(r"^([A-Z][A-Z0-9_]*) = (\d+)$", src, flags=re.M)
    return sorted(((n, int(v)) for n, v in names), key=lambda x: x[1])


def stream_table() -> str:
    """Markdown table of the random streams: name, purpose code, what it decides."""
    rows = ["| Stream | Purpose code | Decides |", "|---|---|---|"]
    for name, code in streams():
        rows.append(f"| `{name}` | {code} | {_cell(STREAM_MEANINGS.get(name, UNDOCUMENTED))} |")
    return "\n".join(rows)
