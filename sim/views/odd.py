"""Generated parts of the ODD model description (``docs/ODD.md``), rendered from the code.

The state-variable tables come from ``sim.state.STAFF_ATTRIBUTES`` and
``TIE_ATTRIBUTES``, the organisation's arrays from the ``Attributes`` section of
``sim.org.Organisation``'s docstring, the parameter tables from the field metadata of
``sim.params.ModelConfig``, the phase lists from the docstrings of ``sim.engine`` and
``sim.dynamics.change``, the random streams from ``sim.rng``, and the plausible ranges of
the assumptions from ``configs/uncertainty/default.yaml``. ``render`` rewrites
only the text between marker comments such as ``<!-- BEGIN GENERATED: state -->`` and
``<!-- END GENERATED: state -->``; the prose around them is left alone.

The tables themselves are drawn by ``sim.views.odd_tables``; this module finds the
marker comments, puts the tables between them and checks that the committed document is
up to date.

Usage:
    python -m sim.views.odd            # rewrite the generated sections of docs/ODD.md
    python -m sim.views.odd --check    # exit 1 if docs/ODD.md is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from sim.views.odd_tables import (  # noqa: F401  the tables, re-exported as sim.views.odd.<name>
    DERIVED_ARRAYS,
    ROOT,
    RUN_GROUP,
    STREAM_MEANINGS,
    UNDOCUMENTED,
    change_phases,
    classic_phases,
    fmt_number,
    fmt_value,
    organisation_arrays,
    parameter_groups,
    parameter_keys,
    parameter_tables,
    phase_lists,
    state_table,
    stream_table,
    streams,
)

DOC_PATH = ROOT / "docs" / "ODD.md"
BEGIN = "<!-- BEGIN GENERATED: {name} -->"
END = "<!-- END GENERATED: {name} -->"


# --- the document ---------------------------------------------------------------------


def uncertainty_tables() -> str:
    """The plausible ranges of ``configs/uncertainty/default.yaml`` (``sim.analysis.uncertainty``)."""
    from sim.analysis.uncertainty import odd_tables

    return odd_tables()


def lever_table() -> str:
    """The teaching app's levers and panel headings with their help (``sim.views.teaching``)."""
    from sim.views.teaching import lever_table as table

    return table()


SECTIONS: dict[str, Callable[[], str]] = {
    "state": state_table,
    "parameters": parameter_tables,
    "phases": phase_lists,
    "streams": stream_table,
    "uncertainty": uncertainty_tables,
    "levers": lever_table,
}
"""Name of each generated section -> the function that renders its body."""


def generated(text: str) -> dict[str, str]:
    """Bodies of the generated sections found in ``text`` (between the markers, stripped)."""
    out = {}
    for name in SECTIONS:
        pattern = re.escape(BEGIN.format(name=name)) + r"\n(.*?)\n?" + re.escape(END.format(name=name))
        m = re.search(pattern, text, flags=re.S)
        if m:
            out[name] = m.group(1).strip("\n")
    return out


def render_text(text: str) -> str:
    """``text`` with every generated section replaced by what the code renders now.

    Raises:
        ValueError: a section's markers are missing or out of order.
    """
    for name, make in SECTIONS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            raise ValueError(f"markers {begin!r} ... {end!r} not found in order")
        text = text[: i + len(begin)] + "\n" + make() + "\n" + text[j:]
    return text


def render(path: str | Path = DOC_PATH, check: bool = False) -> bool:
    """Rewrite the generated sections of the ODD document (or only compare them).

    Args:
        path: the Markdown file; its prose outside the markers is kept as it is.
        check: do not write; only report whether the file is up to date.

    Returns:
        True if the file was already up to date.
    """
    path = Path(path)
    old = path.read_text(encoding="utf-8")
    new = render_text(old)
    if new == old:
        return True
    if not check:
        path.write_text(new, encoding="utf-8")
    return False


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m sim.views.odd [--check] [path]``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m sim.views.odd", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(DOC_PATH), help="the ODD Markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    up_to_date = render(args.path, check=args.check)
    if args.check and not up_to_date:
        print(f"{args.path} is out of date: run `python -m sim.views.odd`", file=sys.stderr)
        return 1
    print(f"{args.path}: {'up to date' if up_to_date else 'rewritten'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
