"""The ODD document (docs/ODD.md) cannot drift from the code.

Its generated sections must equal what ``sim.views.odd`` renders from the code now; every
parameter group, parameter key and state variable must appear; defaults quoted in the
prose ("`key` (default value)") must be the code's defaults; and every module of
``sim.dynamics`` that states a mechanism must cite a source in its docstring.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import fields

import pytest

from sim import state
from sim.dynamics import change
from sim.views import odd

DOC = odd.DOC_PATH.read_text(encoding="utf-8")
DYNAMICS = sorted(p.stem for p in (odd.ROOT / "sim" / "dynamics").glob("*.py"))

# An author-like capitalised word followed by a year: "Granovetter 1978",
# "Langley et al. 2009", "Gneezy and Rustichini (2000)", "IHI (2018)".
CITATION = re.compile(r"[A-Z][\w'\-]+(?:\s+et\s+al\.)?,?\s+\(?(?:19|20)\d\d\b")

# Modules that state no mechanism of their own, so they need no source: the package
# marker, the parameter-vector layout and the step that calls the phases in order.
# ``test_exempt_modules_define_no_phase`` holds them to that.
NO_MECHANISM = {
    "__init__": "package marker",
    "layout": "parameter slots",
    "change": "phase order",
    "simd": "vector arithmetic for sums",
}


def prose(text: str) -> str:
    """The document without its generated sections."""
    for name in odd.SECTIONS:
        begin, end = odd.BEGIN.format(name=name), odd.END.format(name=name)
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), "", text, flags=re.S)
    return text


def test_generated_sections_match_the_code() -> None:
    rendered = odd.generated(odd.render_text(DOC))
    found = odd.generated(DOC)
    for name in odd.SECTIONS:
        assert name in found, f"docs/ODD.md has no generated section {name!r}; add its markers"
        assert found[name] == rendered[name], (
            f"generated section {name!r} of docs/ODD.md is out of date: run `python -m sim.views.odd`"
        )


def test_check_command_reports_up_to_date(tmp_path) -> None:
    doc = tmp_path / "ODD.md"
    doc.write_text(DOC, encoding="utf-8")
    assert odd.main(["--check", str(doc)]) == 0, (
        "`python -m sim.views.odd --check` should pass on the committed doc"
    )
    stale = DOC.replace("| `org.n_staff` |", "| `org.n_staff_old` |", 1)
    doc.write_text(stale, encoding="utf-8")
    assert odd.main(["--check", str(doc)]) == 1, "--check should exit 1 when a generated table was edited"
    assert doc.read_text(encoding="utf-8") == stale, "--check must not rewrite the file"
    assert odd.main([str(doc)]) == 0 and doc.read_text(encoding="utf-8") == DOC, (
        "rendering should restore the generated table and leave the prose alone"
    )


def test_render_refuses_a_document_without_markers() -> None:
    with pytest.raises(ValueError, match="BEGIN GENERATED: state"):
        odd.render_text("# no markers here\n")


def test_every_parameter_group_and_key_appears() -> None:
    section = odd.generated(DOC)["parameters"]
    for group, cls, fs in odd.parameter_groups():
        if cls is not None:
            assert f"#### `{group}` (`{cls.__name__}`)" in section, f"no table for parameter group {group!r}"
        for f in fs:
            key = f.name if cls is None else f"{group}.{f.name}"
            assert f"| `{key}` |" in section, f"parameter {key!r} missing from the parameter tables"
            assert "help" in f.metadata, f"parameter {key!r} has no `help` metadata to document it"


def test_every_state_variable_appears() -> None:
    section = odd.generated(DOC)["state"]
    for a in state.STAFF_ATTRIBUTES:
        assert f"| Staff | `{a.name}` |" in section, (
            f"staff attribute {a.name!r} missing from the state table"
        )
    for a in state.TIE_ATTRIBUTES:
        assert f"| Tie | `{a.name}` |" in section, f"tie attribute {a.name!r} missing from the state table"
    from sim.org import Organisation

    for f in fields(Organisation):
        assert f"| `{f.name}` |" in section, f"Organisation.{f.name} missing from the structure table"


def test_organisation_docstring_describes_every_field() -> None:
    undocumented = [r["name"] for r in odd.organisation_arrays() if r["meaning"] == odd.UNDOCUMENTED]
    assert not undocumented, f"sim.org.Organisation's docstring does not describe {undocumented}"


def test_every_random_stream_is_described() -> None:
    missing = [name for name, _ in odd.streams() if name not in odd.STREAM_MEANINGS]
    assert not missing, f"add the meaning of streams {missing} to sim.views.odd.STREAM_MEANINGS"
    assert len(odd.streams()) >= 10, "expected the purposes of sim.rng (ADOPT, THRESHOLD, ...) to be found"


def test_phase_lists_agree_between_engines() -> None:
    phases = odd.change_phases()
    assert [p[0] for p in phases] == list(range(1, len(phases) + 1)), "phases should be numbered 1..k"
    for _, kernel, method, _ in phases:
        module, func = kernel.rsplit(".", 1)
        mod = importlib.import_module(f"sim.dynamics.{module}")
        assert hasattr(mod, func), f"phase kernel sim.dynamics.{kernel} named in change.py does not exist"
        from sim.agents import ChangeStaffMember

        assert hasattr(ChangeStaffMember, method), f"reference method {method!r} does not exist"
    assert [p[1] for p in odd.classic_phases()] == ["candidates", "exposure", "decide", "apply"], (
        "the classic step's phases changed: update the ODD prose that explains them"
    )


def test_defaults_quoted_in_the_prose_are_the_code_defaults() -> None:
    keys = odd.parameter_keys()
    quoted = re.findall(r"`([a-z_]+(?:\.[a-z_0-9]+)?)` \(default ([^);,]+)", prose(DOC))
    assert len(quoted) > 40, "expected the submodels to quote their parameters' defaults"
    for key, value in quoted:
        assert key in keys, f"docs/ODD.md quotes a default for `{key}`, which is not a parameter"
        want = odd.fmt_value(keys[key])
        assert value.strip() == want, (
            f"docs/ODD.md says `{key}` (default {value}); the code's default is {want}"
        )


def test_settings_written_in_the_prose_name_real_keys() -> None:
    keys = odd.parameter_keys()
    for key in re.findall(r"`([a-z_]+\.[a-z_0-9]+)=[^`]+`", prose(DOC)):
        assert key in keys, f"docs/ODD.md sets `{key}=...`, which is not a parameter"


def test_prose_has_the_odd_sections_and_the_assumptions() -> None:
    for heading in (
        "### 1. Purpose and patterns",
        "### 2. Entities, state variables and scales",
        "### 3. Process overview and scheduling",
        "## Design concepts",
        "### Initialisation",
        "### Input data",
        "### Submodels",
        "### Observation",
        "## What is assumed rather than evidenced",
    ):
        assert heading in DOC, f"docs/ODD.md lacks the section {heading!r}"
    assert "Hughes" in DOC and "70%" in DOC, (
        "the sustainment caveat (Hughes 2011 on the 70% claim) is missing"
    )


@pytest.mark.parametrize("name", DYNAMICS)
def test_dynamics_module_cites_a_source(name: str) -> None:
    if name in NO_MECHANISM:
        pytest.skip(f"sim.dynamics.{name} states no mechanism ({NO_MECHANISM[name]})")
    doc = importlib.import_module(f"sim.dynamics.{name}").__doc__ or ""
    assert doc.strip(), f"sim.dynamics.{name} has no module docstring"
    assert CITATION.search(doc), f"sim.dynamics.{name}'s docstring cites no source (author and year)"


def test_exempt_modules_define_no_phase() -> None:
    phase_modules = {kernel.rsplit(".", 1)[0] for _, kernel, _, _ in odd.change_phases()}
    phase_modules |= {"contagion", "co_design"}
    assert not phase_modules & set(NO_MECHANISM), (
        f"modules {phase_modules & set(NO_MECHANISM)} hold a mechanism and must cite a source"
    )
    for name in NO_MECHANISM:
        mod = importlib.import_module(f"sim.dynamics.{name}")
        own = [
            n
            for n, obj in vars(mod).items()
            if getattr(getattr(obj, "py_func", obj), "__module__", None) == mod.__name__
            and inspect.isfunction(getattr(obj, "py_func", obj))
            and (getattr(obj, "py_func", obj).__doc__ or "").lstrip().startswith("Phase")
        ]
        assert not own, f"sim.dynamics.{name} defines phase kernels {own}; it must cite a source"
    assert change.__doc__ and "1." in change.__doc__, "change.py's docstring should list the phases"
