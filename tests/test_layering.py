"""The package's layers, read from the source: who may import whom, and no import cycles.

Every ``import`` and ``from ... import`` in every module under ``sim/`` is read with
``ast`` (including imports inside functions and ``if TYPE_CHECKING:`` blocks: a cycle that
only a deferred import hides is still a cycle in the design). The layers, bottom up:

- core: ``sim/*.py`` and ``sim/dynamics/`` (params, constants, rng, org, io, state,
  seeding, the kernels, engine, agents, model, run, metrics);
- analysis: ``sim/analysis/`` (may import the core);
- views: ``sim/views/`` (may import the core and analysis);
- the command-line edge: ``sim/cli.py`` and ``sim/__main__.py`` (may import everything).

Nothing in ``sim/`` imports ``experiments/`` (the benchmarks and experiment scripts sit
above the package). ``from sim.x import name`` counts as importing ``sim.x.name`` when that
is a module, else ``sim.x``; the implicit import of a parent package's ``__init__`` is not
counted (every submodule has it, and it is not a choice the module makes).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"
EDGE = {"sim.cli", "sim.cli_sweep", "sim.__main__"}  # cli_sweep: the command line's sweep guards


def module_name(path: Path, root: Path) -> str:
    """``sim/dynamics/change.py`` -> ``sim.dynamics.change``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: Path) -> dict[str, Path]:
    """Every module of the package at ``package``, by dotted name."""
    root = package.parent
    return {module_name(p, root): p for p in sorted(package.rglob("*.py"))}


def imported_names(source: str, name: str, is_package: bool) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every import in the source, relative ones resolved.

    ``import a.b`` gives ``("a.b", None, line)``; ``from a import b, c`` gives
    ``("a", "b", line)`` and ``("a", "c", line)``.
    """
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out += [(mod, a.name, node.lineno) for a in node.names]
    return out


def resolve(target: str, known: Iterable[str]) -> str | None:
    """The module of ``known`` that importing ``target`` runs: ``target`` itself or its nearest parent."""
    known = set(known)
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in known:
            return candidate
    return None


def import_graph(package: Path) -> tuple[dict[str, set[str]], dict[tuple[str, str], int], dict[str, list]]:
    """(edges among the package's modules, the line of each edge, every raw import by module)."""
    mods = modules(package)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    lines: dict[tuple[str, str], int] = {}
    raw: dict[str, list] = {}
    for name, path in mods.items():
        found = imported_names(path.read_text(), name, path.name == "__init__.py")
        raw[name] = found
        for mod, item, line in found:
            # ``from a.b import c`` imports the module a.b.c when there is one, else a name of a.b.
            full = f"{mod}.{item}" if item is not None else mod
            dep = full if full in mods else resolve(mod, mods)
            if dep is not None and dep != name:
                edges[name].add(dep)
                lines.setdefault((name, dep), line)
    return edges, lines, raw


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Cycles (a -> ... -> a) covering every module that is on one (Tarjan, then shortest paths)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    cycles = []
    for comp in components:
        covered: set[str] = set()
        for start in sorted(comp):  # a shortest cycle through each module not yet on one
            if start not in covered:
                cycle = _shortest_cycle(edges, comp, start)
                covered |= set(cycle)
                cycles.append(cycle)
    return cycles


def _shortest_cycle(edges: dict[str, set[str]], comp: set[str], start: str) -> list[str]:
    """start -> ... -> start inside one strongly connected component (breadth first)."""
    prev: dict[str, str] = {}
    frontier, seen = [start], {start}
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{start} is on no cycle of its component {sorted(comp)}")


def layer(module: str) -> str:
    """core, analysis, views or edge."""
    if module in EDGE:
        return "edge"
    if module == "sim.analysis" or module.startswith("sim.analysis."):
        return "analysis"
    if module == "sim.views" or module.startswith("sim.views."):
        return "views"
    return "core"


ALLOWED = {
    "core": {"core"},
    "analysis": {"core", "analysis"},
    "views": {"core", "analysis", "views"},
    "edge": {"core", "analysis", "views", "edge"},
}


def layer_violations(edges: dict[str, set[str]], lines: dict[tuple[str, str], int]) -> list[str]:
    """One line per import that reaches a layer above (or beside) its own."""
    out = []
    for a, deps in sorted(edges.items()):
        for b in sorted(deps):
            if layer(b) not in ALLOWED[layer(a)]:
                out.append(f"{a} ({layer(a)}) imports {b} ({layer(b)}) at line {lines[(a, b)]}")
    return out


def describe(cycle: list[str], lines: dict[tuple[str, str], int]) -> str:
    """``a -> b (line 3) -> a (line 9)``."""
    pairs = zip(cycle[:-1], cycle[1:], strict=True)
    steps = [cycle[0]] + [f"{b} (line {lines.get((a, b), '?')} of {a})" for a, b in pairs]
    return " -> ".join(steps)


@pytest.fixture(scope="module")
def graph():
    return import_graph(SIM)


def test_the_graph_sees_every_module_and_known_imports(graph):
    edges, _, _ = graph
    # The reader must see the package: a broken walk would pass every check below.
    assert {"sim.model", "sim.agents", "sim.org", "sim.io", "sim.params", "sim.dynamics.change"} <= set(edges)
    assert "sim.agents" in edges["sim.model"], "model.py imports the agents (from sim.agents import ...)"
    assert "sim.io" in edges["sim.model"], "model.py builds organisations with sim.io.build"
    assert "sim.rng" in edges["sim.org"], "org.py runs 'from sim import rng': a submodule, not the package"


def test_no_import_cycles(graph):
    edges, lines, _ = graph
    cycles = find_cycles(edges)
    assert not cycles, "import cycles among sim modules (move the shared names down, e.g. into " \
        "sim.constants):\n" + "\n".join(describe(c, lines) for c in cycles)  # fmt: skip


def test_layers_import_only_downwards(graph):
    edges, lines, _ = graph
    bad = layer_violations(edges, lines)
    assert not bad, "imports against the layering (core < analysis < views < cli):\n" + "\n".join(bad)


EDGE_FRAMEWORKS = ("hydra", "omegaconf", "matplotlib", "solara", "ipyvuetify", "ipywidgets", "PIL")
"""Configuration, plotting and app frameworks: the analysis, views and the CLI may use them, the core not."""


def test_the_core_imports_no_configuration_plotting_or_app_framework(graph):
    _, _, raw = graph
    bad = [
        f"{m} imports {mod} at line {line}"
        for m, found in sorted(raw.items())
        if layer(m) == "core"
        for mod, _, line in found
        if mod.split(".")[0] in EDGE_FRAMEWORKS
    ]
    assert not bad, "the model core must run without these frameworks:\n" + "\n".join(bad)


def test_nothing_in_sim_imports_experiments(graph):
    _, _, raw = graph
    bench_modules = {p.stem for p in (ROOT / "experiments").rglob("*.py")}
    bad = [
        f"{m} imports {mod} at line {line}"
        for m, found in sorted(raw.items())
        for mod, _, line in found
        if mod.split(".")[0] == "experiments" or mod.split(".")[0] in bench_modules
    ]
    assert not bad, "sim/ must not import experiments/ (it sits above the package):\n" + "\n".join(bad)


def test_the_named_cycles_of_issue_15_stay_broken(graph):
    edges, _, _ = graph
    assert "sim.model" not in edges["sim.agents"], "agents must not import model (model imports agents)"
    assert "sim.io" not in edges["sim.org"], "org must not import io (sim.io.build reads CSV org charts)"
    assert "sim.org" not in edges["sim.params"], "params must not import org (shared names: sim.constants)"
    assert edges["sim.constants"] == set(), "sim.constants is the bottom of the core"


# --- the checks can fail -----------------------------------------------------------------


def test_a_reintroduced_cycle_is_caught_and_named(graph):
    edges, lines, _ = graph
    broken = {m: set(d) for m, d in edges.items()}
    broken["sim.agents"].add("sim.model")  # as before issue 15: agents imported ChangeModel
    cycles = find_cycles(broken)
    assert cycles, "agents -> model with model -> agents must be reported as a cycle"
    text = "\n".join(describe(c, lines) for c in cycles)
    assert "sim.agents" in text and "sim.model" in text, text
    broken = {m: set(d) for m, d in edges.items()}
    broken["sim.params"].add("sim.org")  # params -> org -> params, through OrgParams
    assert any({"sim.params", "sim.org"} <= set(c) for c in find_cycles(broken))


def test_cycles_in_source_are_found_through_deferred_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("X = 1\n")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    deferred = "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pkg.a\n"
    (pkg / "sub" / "c.py").write_text(deferred)
    (pkg / "d.py").write_text("from pkg.sub import X\n")
    edges, lines, _ = import_graph(pkg)
    assert edges["pkg.a"] == {"pkg.b"}, "'from pkg import b' imports the module pkg.b"
    assert edges["pkg.b"] == {"pkg.sub.c"}, "a relative import inside a function counts"
    assert edges["pkg.d"] == {"pkg.sub"}, "'from pkg.sub import X' (a name) imports the package pkg.sub"
    cycles = find_cycles(edges)
    assert len(cycles) == 1 and set(cycles[0]) == {"pkg.a", "pkg.b", "pkg.sub.c"}, cycles
    assert "line 2 of pkg.b" in describe(cycles[0], lines)


def test_a_core_module_importing_a_view_is_a_violation(graph):
    edges, lines, _ = graph
    broken = {m: set(d) for m, d in edges.items()}
    broken["sim.run"].add("sim.views.figures")
    broken["sim.analysis.compare"].add("sim.views.report")
    lines = {**lines, ("sim.run", "sim.views.figures"): 1, ("sim.analysis.compare", "sim.views.report"): 1}
    bad = layer_violations(broken, lines)
    assert any(v.startswith("sim.run (core) imports sim.views.figures") for v in bad), bad
    assert any(v.startswith("sim.analysis.compare (analysis) imports sim.views.report") for v in bad), bad


def private_imports(raw: dict[str, list]) -> list[str]:
    """``from sim.x import _name`` in a module other than ``sim.x``: a private name crossing modules."""
    return [
        f"{name} imports {item} from {mod} (line {line})"
        for name, found in raw.items()
        for mod, item, line in found
        if mod.startswith("sim")
        and mod != name
        and item
        and item.startswith("_")
        and not item.startswith("__")
    ]


def test_no_module_imports_another_modules_private_names(graph):
    """A helper two modules share is public API of one of them (sim.observed reads CSVs as sim.io does)."""
    bad = private_imports(graph[2])
    assert not bad, "private names imported across modules (make them public):\n" + "\n".join(bad)
    caught = private_imports({"sim.observed": [("sim.io", "_read", 29)], "sim.io": [("sim.io", "_read", 1)]})
    assert caught == ["sim.observed imports _read from sim.io (line 29)"], caught


def test_no_test_module_imports_another():
    """Shared test code lives in tests/helpers.py or tests/conftest.py, not in a test module."""
    tests = Path(__file__).resolve().parent
    bad = [
        f"{path.name} imports {mod} at line {line}"
        for path in sorted(tests.glob("test_*.py"))
        for mod, _, line in imported_names(path.read_text(), path.stem, False)
        if mod.split(".")[0].startswith("test_")
    ]
    assert not bad, "a test module imports another (shared code: tests/helpers.py):\n" + "\n".join(bad)


def test_the_readme_architecture_names_every_core_module():
    """The README's layer diagram stays true: each module of the core appears in it."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Architecture")
    section = readme[start : readme.index("\n## ", start + 1)]
    words = set(re.findall(r"[A-Za-z_]+", section))
    core = sorted(
        p.stem for p in SIM.glob("*.py") if not p.stem.startswith("_") and f"sim.{p.stem}" not in EDGE
    )
    missing = [m for m in core if m not in words]
    assert not missing, f"README.md 'Architecture' does not place these core modules in a layer: {missing}"


LONG_MODULE = 500
"""Lines above which a module says at its top why it is one module (a paragraph naming "500 lines")."""


def test_a_long_module_says_why_at_its_top():
    bad = []
    for name, path in sorted(modules(SIM).items()):
        source = path.read_text()
        n = len(source.splitlines())
        doc = ast.get_docstring(ast.parse(source)) or ""
        if n > LONG_MODULE and f"{LONG_MODULE} lines" not in doc:
            bad.append(f"{name}: {n} lines")
    assert not bad, (
        f"modules over {LONG_MODULE} lines without a reason in their docstring (split along a seam, or add "
        f"a paragraph 'Why one module of more than {LONG_MODULE} lines: ...'):\n" + "\n".join(bad)
    )
