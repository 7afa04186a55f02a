"""What every experiments/eNN_*/analyse.py shares: its command line, grid, headline and number formatting.

An analysis either runs its grid in this process (``--run``, ``--quick`` for a tiny
version), re-reads the per-replicate table of an earlier ``--run``, or reads a Hydra sweep
folder written by ``changesim -m experiment=<name>``; it ends by writing ``headline.md``.
Scripts import this module by adding the ``experiments/`` folder to ``sys.path``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from sim.cli import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
REPLICATES = "replicates.parquet"  # per-replicate outcomes written by --run (outputs/, not committed)


def sweep_grid(name: str) -> dict[str, list]:
    """The swept keys and values of ``configs/experiment/<name>.yaml`` (its hydra.sweeper.params)."""
    doc = yaml.safe_load((CONFIG_DIR / "experiment" / f"{name}.yaml").read_text())
    params = doc["hydra"]["sweeper"]["params"]
    return {k: [yaml.safe_load(v) for v in str(raw).split(",")] for k, raw in params.items()}


def run_or_load(
    name: str,
    description: str,
    run_grid: Callable[[bool], pd.DataFrame],
    read_sweep: Callable[[Path], pd.DataFrame] | None = None,
    run_help: str = "run the sweep here instead of reading one",
    quick_help: str = "with --run: 2 values per axis, 2 replicates, 60 staff, 8 weeks",
    argv: list[str] | None = None,
) -> tuple[argparse.Namespace, pd.DataFrame, str]:
    """Parse the command line and return (arguments, per-replicate table, reproducing command).

    ``read_sweep`` turns a Hydra sweep folder into the table; without it the analysis only
    runs in process (or re-reads an earlier run). ``--run`` keeps the per-replicate table in
    ``outputs/<name>/<time>/`` (``--out`` with ``--quick``) so it can be analysed again.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "sweep_dir",
        nargs="?",
        type=Path,
        help="folder of an earlier --run"
        + (" or of a `changesim -m experiment=...` sweep" if read_sweep else ""),
    )
    ap.add_argument("--run", action="store_true", help=run_help)
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument(
        "--out", type=Path, default=ROOT / "results" / name, help="folder for the figure and tables"
    )
    args = ap.parse_args(argv)
    script = f"python experiments/{name}/analyse.py"
    if args.run:
        table = run_grid(args.quick)
        raw = args.out if args.quick else ROOT / "outputs" / name / time.strftime("%Y-%m-%d_%H-%M-%S")
        raw.mkdir(parents=True, exist_ok=True)
        table.to_parquet(raw / REPLICATES, index=False)
        print(f"per-replicate outcomes: {raw / REPLICATES}")
        source = f"{script} --run" + (" --quick" if args.quick else "")
    elif args.sweep_dir is not None and (args.sweep_dir / REPLICATES).is_file():
        table = pd.read_parquet(args.sweep_dir / REPLICATES)
        source = f"{script} --run; {script} {args.sweep_dir}"
    elif args.sweep_dir is not None and read_sweep is not None:
        table = read_sweep(args.sweep_dir)
        source = f"changesim -m experiment={name}; {script} {args.sweep_dir}"
    else:
        ap.error(
            "give a sweep folder (or the folder of an earlier --run), or --run"
            if read_sweep
            else "pass --run (or the folder of an earlier --run)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    return args, table, source


def write_headline(out: Path, name: str, source: str, lines: list[str], t0: float) -> None:
    """Write the findings as ``out/headline.md`` under the command that made them, and print them.

    ``t0`` is the ``time.perf_counter()`` at the start of the analysis, for the closing line.
    """
    (out / "headline.md").write_text(
        f"# {name}: headline\n\nFrom: `{source}`\n\n" + "\n".join(f"- {x}" for x in lines) + "\n"
    )
    print("\n".join(lines))
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s")


def points(x: float) -> str:
    """Percentage points with a sign, and no "-0.0" for a value that rounds to zero."""
    v = round(100 * x, 1)
    return "0.0" if v == 0 else f"{v:+.1f}"


def difference(d) -> str:
    """A ``sim.analysis.stats.Difference`` in percentage points with its 95% CI and effect size."""
    e = d.estimate
    dz = f", d_z = {d.effect_size:.1f}" if abs(d.effect_size) < 50 else ""  # d_z means little with ~0 spread
    return f"{points(e.mean)} points (95% CI {points(e.lo)} to {points(e.hi)}{dz})"
