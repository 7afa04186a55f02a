"""The ``changesim`` command: Hydra composes a configuration and the library runs it.

This is the only module that imports Hydra (STYLE.md: Hydra lives at the command-line
edge). The schema of ``configs/config.yaml`` is built from ``sim.params.ModelConfig``
itself (``schema``; ``CLIConfig`` adds the command's own keys), so a field or group
added to the dataclasses appears here without any change, and an unknown key or a
wrong type is refused while the config is composed. The composed config goes through ``sim.params.from_dict``,
which range-checks it; a ``ConfigError`` is reported as one line, ``error: <message>``,
with exit code 2.

One run writes into Hydra's output folder: ``timeseries`` and ``summary`` (parquet or
csv), ``provenance.json``, ``summary.txt``, PNG figures, and ``DONE`` last. A sweep
(``-m``) runs each job in a joblib worker; a job that fails leaves ``ERROR.txt`` and the
others go on; a job already complete with the same configuration is skipped, so a
sweep re-run into its folder resumes; at the end ``SweepTable`` writes one table for the
whole sweep (``sim.analysis.sweep``).

Why one module of more than 500 lines: it is the command-line edge, the one place (with
``sim.cli_sweep``, the sweep's guards) that imports Hydra; the Hydra task, the schema and
the subcommands (``report``, ``robustness``, ``calibrate``, ``bench``, ...) share the
composition helpers (``compose``, ``to_model_config``) and the one-line error handling.
The next seam is the subcommands, in a module of their own.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import sys
import time
import traceback
import typing
import warnings
from collections.abc import Sequence
from dataclasses import MISSING, Field, field, fields, is_dataclass, make_dataclass
from pathlib import Path
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from sim import __version__, cli_sweep
from sim.analysis import sweep
from sim.params import ConfigError, ConfigWarning, ModelConfig, from_dict
from sim.provenance import command_line
from sim.validate import check_model

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
"""The repository's ``configs/`` folder (the package is installed editable)."""
DATA_DIR = Path(__file__).resolve().parent / "data"
"""Data files bundled with the package, reached from configs as ``${pkg_data:name}``."""

log = logging.getLogger("changesim")
"""Writes each job's ``changesim.log`` (Hydra's job logging; the terminal gets prints)."""

OUTPUT_FORMATS = ("parquet", "csv")
ENGINES = ("kernel", "agents")


def _copy_field(f: Field) -> Any:
    if f.default_factory is not MISSING:
        return field(default_factory=f.default_factory, metadata=f.metadata)
    return field(default=f.default, metadata=f.metadata)


def _is_optional_mapping(tp: Any) -> bool:
    args = typing.get_args(tp)
    return type(None) in args and any(a is dict or typing.get_origin(a) is dict for a in args)


def schema(cls: type, extra: Sequence[tuple[str, type, Any]] = (), name: str | None = None) -> type:
    """A copy of the dataclass ``cls`` (and of its nested groups) to serve as Hydra's schema.

    Same fields, types, defaults and metadata, with one change: an optional mapping that
    defaults to None (``org.profession_mix``) defaults to ``{}``, because OmegaConf 2.3
    cannot merge a command-line mapping (``org.profession_mix={nurse:0.6,ahp:0.4}``) into
    a None node (``base_config`` also lets such a mapping take new keys);
    ``split_config`` turns ``{}`` back into None. The copies are module attributes of
    ``sim.cli`` so joblib can pickle configs that refer to them.
    """
    hints = typing.get_type_hints(cls)
    specs: list[tuple[str, Any, Any]] = []
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            sub = schema(type(default))
            specs.append((f.name, sub, field(default_factory=sub, metadata=f.metadata)))
        elif default is None and _is_optional_mapping(hints[f.name]):
            specs.append((f.name, hints[f.name], field(default_factory=dict, metadata=f.metadata)))
        else:
            specs.append((f.name, hints[f.name], _copy_field(f)))
    new = make_dataclass(name or cls.__name__, [*specs, *extra])
    new.__module__ = __name__
    new.__doc__ = cls.__doc__
    globals()[new.__name__] = new
    return new


CLIConfig = schema(
    ModelConfig,
    extra=[
        (
            "engine",
            str,
            field(
                default="kernel",
                metadata={
                    "help": "kernel (Numba) or agents (Mesa agents, the reference)",
                    "choices": ENGINES,
                },
            ),
        ),
        (
            "output_format",
            str,
            field(
                default="parquet",
                metadata={
                    "help": "file format of the time series and summary tables",
                    "choices": OUTPUT_FORMATS,
                },
            ),
        ),
        (
            "figures",
            typing.Optional[bool],  # noqa: UP045 (OmegaConf reads typing.Optional, not bool | None)
            field(
                default=None,
                metadata={"help": "write PNG figures (default: for one run yes, in a sweep no)"},
            ),
        ),
        (
            "levers",
            list[str],
            field(
                default_factory=list,
                metadata={
                    "help": "the leadership levers a scenario declares it sets on the common base "
                    "(sim.levers; checked by tests/test_levers.py)"
                },
            ),
        ),
    ],
    name="CLIConfig",
)
"""Schema of ``configs/config.yaml``: every ``ModelConfig`` field plus the command's own keys."""

CLI_KEYS: tuple[str, ...] = tuple(
    f.name for f in fields(CLIConfig) if f.name not in {g.name for g in fields(ModelConfig)}
)


def _open_mappings(node: DictConfig, cls: type) -> DictConfig:
    """Let the mappings ``schema`` turned from None into {} take keys from the command line."""
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default):
            _open_mappings(node[f.name], type(default))
        elif default is None and _is_optional_mapping(typing.get_type_hints(cls)[f.name]):
            OmegaConf.set_struct(node[f.name], False)
    return node


def _none_back(data: dict[str, Any], cls: type) -> dict[str, Any]:
    """Undo ``schema``'s None -> {} for optional mappings left empty."""
    for f in fields(cls):
        if f.name not in data:
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if is_dataclass(default) and isinstance(data[f.name], dict):
            _none_back(data[f.name], type(default))
        elif default is None and data[f.name] == {}:
            data[f.name] = None
    return data


def _pkg_data(name: str) -> str:
    return str(DATA_DIR / name)


ConfigStore.instance().store(
    name="base_config", node=_open_mappings(OmegaConf.structured(CLIConfig), ModelConfig)
)
# Registered at import: joblib workers import this module to unpickle the task function,
# and compose each job's config there too.
OmegaConf.register_new_resolver("pkg_data", _pkg_data, replace=True)
OmegaConf.register_new_resolver("job_dirname", sweep.job_dirname, replace=True)


def split_config(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(model keys, command keys) of a composed config, as plain resolved dicts."""
    plain: dict[str, Any] = {}
    for key in cfg:
        if key != "hydra":  # Hydra's own node holds job-time interpolations
            node = cfg[key]
            plain[str(key)] = (
                OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
            )
    cli = {k: plain.pop(k) for k in CLI_KEYS if k in plain}
    return _none_back(plain, ModelConfig), cli


def to_model_config(cfg: DictConfig) -> tuple[ModelConfig, dict[str, Any]]:
    """The validated ``ModelConfig`` and the command keys of a composed config.

    Raises:
        ConfigError: a value out of range or not among the choices (the key is named).
    """
    model, cli = split_config(cfg)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        model_cfg = from_dict(model)
    check_model(model_cfg, strict=True)  # on the command line an ignored mechanism is an error
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for f in fields(CLIConfig):
        choices = f.metadata.get("choices")
        if f.name in cli and choices and cli[f.name] not in choices:
            raise ConfigError(f"{f.name}={cli[f.name]!r} is not allowed; choose one of {list(choices)}")
    path = model_cfg.org.path
    if model_cfg.org.kind == "csv" and path and not Path(path).is_file():
        what = "is a folder, not an org-chart file" if Path(path).is_dir() else "no such file"
        raise ConfigError(f"org.path={path!r}: {what}")
    return model_cfg, cli


_SHOW_WARNING = warnings.showwarning


def _show_warning(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
    if issubclass(category, ConfigWarning):
        print(f"warning: {message}", file=sys.stderr, flush=True)
    else:
        _SHOW_WARNING(message, category, *args, **kwargs)


def plain_warnings() -> None:
    """Show each ``ConfigWarning`` once, as one line ``warning: <message>`` (not Python's format)."""
    warnings.showwarning = _show_warning
    warnings.filterwarnings("once", category=ConfigWarning)


def _share_cores(hc: Any) -> None:
    """Give each of n parallel jobs 1/n of the cores for Numba's threads (no oversubscription)."""
    import numba

    n_jobs = OmegaConf.select(hc, "launcher.n_jobs", default=None)
    if not isinstance(n_jobs, int) or n_jobs == 0:
        return
    cores = os.cpu_count() or 1
    parallel = max(1, cores + 1 + n_jobs) if n_jobs < 0 else n_jobs  # joblib: -1 = all cores
    numba.set_num_threads(max(1, min(cores // parallel, numba.config.NUMBA_NUM_THREADS)))


def task(cfg: DictConfig) -> dict[str, Any]:
    """One job: validate, run, write outputs, mark done (Hydra calls this once per job).

    In a sweep nothing escapes: a job that fails (a bad value, no memory, a full disk, no
    permission, a bug) leaves ``ERROR.txt`` where it can, prints its name and error on
    the terminal in any case, and the other jobs go on.
    """
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out = Path(hc.runtime.output_dir)
    label = hc.job.override_dirname or "(defaults)"
    plain_warnings()
    # The job's log file is a copy of what reaches the terminal: on a full disk its handler
    # must not print a traceback of its own over the one-line report.
    logging.raiseExceptions = False
    if multirun:
        sweep.watch_parent()
    t0 = time.perf_counter()
    log.info("%s (changesim %s) in %s", command_line(), __version__, out)
    try:
        model, cli = split_config(cfg)
        # Figures change no number: a sweep re-run with figures=true still skips finished jobs.
        kept = {k: v for k, v in cli.items() if k != "figures"}
        stamp = {"changesim": __version__, "config": model, "cli": kept}
        if multirun:
            why = sweep.redo_reason(out, stamp)
            if why is None:
                log.info("skipped: already done with this config")
                print(f"skipped {label}: already done with this config ({out})", flush=True)
                return {"status": "skipped", "output_dir": str(out)}
            if why != "new":
                log.info("re-running: %s", why)
                print(f"re-running {label}: {why}", flush=True)
        sweep.start(out)
        model_cfg, cli = to_model_config(cfg)
        if multirun:
            _share_cores(hc)
        if cli.get("figures") is None:  # a sweep's figures cost more than its runs (2 MB a job)
            cli["figures"] = not multirun
        text, written = run_and_save(model_cfg, cli, out)
        elapsed = time.perf_counter() - t0
        sweep.finish(out, stamp, written, seconds=round(elapsed, 3))
    except ConfigError as e:
        return _failed(out, label, multirun, f"error: {e}", 2)
    except MemoryError as e:
        return _failed(out, label, multirun, f"error: out of memory ({e or 'an allocation failed'}); "
                       "use fewer n_replicates or a smaller org.n_staff", 1)  # fmt: skip
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        return _failed(out, label, multirun, f"error: cannot write the outputs: {e.strerror or e}{where}", 1)
    except Exception as e:
        log.exception("failed")
        if not multirun:
            _record(out, traceback.format_exc())
            raise
        return _failed(out, label, multirun, f"{type(e).__name__}: {e}", 1, traceback.format_exc())
    log.info("done in %.1f s\n%s", elapsed, text)
    if multirun:
        first = text.splitlines()[1] if len(text.splitlines()) > 1 else text
        print(f"done {label} in {elapsed:.1f} s: {first.strip()}", flush=True)
    else:
        print(text, flush=True)
    return {"status": "done", "output_dir": str(out)}


def _record(out: Path, text: str) -> str:
    """Write ``ERROR.txt``; returns a note for the terminal if it could not be written."""
    try:
        sweep.fail(out, text)
    except OSError as e:
        return f" ({sweep.ERROR} could not be written either: {e.strerror or e})"
    return f" (see {out / sweep.ERROR})"


def _failed(out: Path, label: str, multirun: bool, msg: str, code: int, detail: str | None = None) -> dict:
    """Report a failed job: ``ERROR.txt`` if possible, and always one line on the terminal."""
    log.error("%s", msg)
    note = _record(out, (detail or msg) + "\n")
    if not multirun:
        print(msg, file=sys.stderr, flush=True)
        sys.exit(code)
    print(f"FAILED {label}: {msg.removeprefix('error: ')}{note}", file=sys.stderr, flush=True)
    return {"status": "failed", "output_dir": str(out), "error": msg}


def run_and_save(model_cfg: ModelConfig, cli: dict[str, Any], out: Path) -> tuple[str, list[Path]]:
    """Run ``model_cfg``'s replicates, write every output but ``DONE``; returns the summary text and files."""
    from sim.run import run_batch

    result = run_batch(model_cfg, engine=cli["engine"])
    paths = list(result.save(out, cli["output_format"]).values())
    if cli["figures"]:
        from sim.views import figures

        paths += list(figures.save_all(result, out))
    text = describe(result, out, [p.name for p in paths])
    sweep.write_text(out / "summary.txt", text + "\n")
    return text, [*paths, out / "summary.txt"]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def describe(result: Any, out: Path, written: list[str]) -> str:
    """Plain-language summary of a run: final adoption (mean, 95% t-interval), time to 50%."""
    import numpy as np
    from scipy.special import stdtrit

    from sim.views.figures import rule_words

    cfg = result.config
    s = result.summary
    final = s["final_frac_adopted"].to_numpy()
    r = len(final)
    rule = rule_words(dataclasses.asdict(cfg.dynamics))
    org = result.org
    lines = [
        f"changesim: {org.n_staff} staff ({cfg.org.kind} organisation, {org.n_levels} "
        f"level{'s' if org.n_levels != 1 else ''}), {rule}, "
        f"{cfg.seeding.n_seeds if cfg.seeding.strategy != 'none' else 0} initial adopters "
        f"({cfg.seeding.strategy}), {cfg.n_steps} weeks, {r} replicate{'s' if r > 1 else ''}."
    ]
    if r > 1:
        mean = final.mean()
        half = stdtrit(r - 1, 0.975) * final.std(ddof=1) / r**0.5
        lo, hi = max(0.0, mean - half), min(1.0, mean + half)
        lines.append(
            f"Final adoption: {_pct(mean)} of staff (95% CI {_pct(lo)} to {_pct(hi)}, "
            f"t-interval of the mean across {r} replicates)."
        )
    else:
        lines.append(f"Final adoption: {_pct(final[0])} of staff (one replicate: set n_replicates for a CI).")
    hit = s["t_50"].dropna().to_numpy(dtype=np.int64)
    if len(hit) == 0:
        lines.append("Time to 50% adoption: not reached within the run.")
    elif r == 1:
        lines.append(f"Time to 50% adoption: week {int(hit[0])}.")
    else:
        lines.append(
            f"Time to 50% adoption: median week {float(np.median(hit)):g} "
            f"(reached in {len(hit)} of {r} replicates)."
        )
    lines.append(f"Outputs in {out}: {', '.join(written)}")
    return "\n".join(lines)


class SweepTable(Callback):
    """Hydra callback: after a sweep, one tidy table of every job x replicate (``sim.analysis.sweep``).

    Configured in ``configs/config.yaml`` under ``hydra.callbacks``. It must stay
    picklable (the joblib launcher sends the callbacks to every worker).
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Before a single run: its output folder must be usable (one line, exit 2, if not)."""
        cli_sweep.check_run_dir(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Before a sweep: a usable folder, a folder per job, and the folder locked (``sim.cli_sweep``)."""
        cli_sweep.check_sweep(config)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Collect every job folder under the sweep folder and write the sweep table."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            report = sweep.collect(sweep_dir)
        except Exception as e:  # an unreadable sweep folder: say so, and leave no stale table
            report = sweep.SweepReport(table=sweep.pd.DataFrame(), table_error=f"{type(e).__name__}: {e}")
        cli_sweep.add_missing_jobs(report, config)
        if report.table_error is None:
            try:
                sweep.write(report, sweep_dir)
            except Exception as e:  # a full disk: the jobs' own results stay in their folders
                report.table_error = f"{type(e).__name__}: {getattr(e, 'strerror', None) or e}"
        if report.table_error is not None:  # never leave an earlier table standing as if it were this sweep's
            for ext in ("parquet", "csv"):
                (sweep_dir / f"{sweep.TABLE}.{ext}").unlink(missing_ok=True)
        print(report.describe(), flush=True)
        _LAST_SWEEP["report"] = report


_LAST_SWEEP: dict[str, sweep.SweepReport] = {}


LEADERSHIP_MODELS: tuple[tuple[str, str], ...] = (
    ("command_and_control", "Command and control (make it happen)"),
    ("let_it_happen", "Let it happen"),
    ("help_it_happen", "Help it happen (facilitation)"),
    ("full_ihi", "Full IHI framework (all five domains)"),
    ("hybrid", "Hybrid: central aim, local adaptation"),
    ("clinical_leadership", "Clinical leadership (FMLM enablers)"),
    ("ics_partnership", "ICS partnership (no cross-organisation mandate)"),
)
"""The flagship comparison's scenarios (configs/scenario/) and their plain-language titles."""


def compose(overrides: Sequence[str]) -> tuple[ModelConfig, dict[str, Any]]:
    """Compose ``configs/config.yaml`` with ``overrides`` outside a Hydra run, and validate it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name="config", overrides=list(overrides))
    return to_model_config(cfg)


def scenario_description(name: str) -> str:
    """The comment block at the top of ``configs/scenario/<name>.yaml``, as one paragraph."""
    path = CONFIG_DIR / "scenario" / f"{name}.yaml"
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        if "@package" not in line:
            lines.append(line.lstrip("# ").rstrip())
    return " ".join(x for x in lines if x)


REPORT_KEYS = ("scenarios", "reference", "out", "robustness", "robustness_points", "robustness_replicates")


def report(argv: Sequence[str]) -> int:
    """``changesim report [scenarios=a,b] [reference=a] [out=DIR] [robustness=run|off|DIR]
    [robustness_points=N] [robustness_replicates=R] [key=value ...]``.

    Runs each scenario (default: the seven leadership models) on common seeds and writes a
    self-contained HTML report and its Markdown twin. Differences are against ``reference``
    (default: let it happen). ``robustness=run`` (the default) also samples the plausible
    ranges of ``configs/uncertainty/default.yaml`` (``robustness_points`` x
    ``robustness_replicates``, default 40 x 4: a quick look; ``changesim robustness`` runs the
    full design) so that each headline carries the share of plausible assumptions under which
    it holds; ``robustness=DIR`` reads a saved ``changesim robustness`` run instead;
    ``robustness=off`` skips it. Other ``key=value`` overrides apply to every scenario (e.g.
    ``n_replicates=50 org.n_staff=2000``).
    """
    from sim.analysis import robustness as rob
    from sim.analysis import uncertainty as unc_mod
    from sim.analysis.compare import Scenario, run_comparison
    from sim.views.report import DEFAULT_REFERENCE, write_report
    from sim.views.wording import share_with_interval

    titles = dict(LEADERSHIP_MODELS)
    opts, overrides = _split_args(argv, REPORT_KEYS)
    names = [v for v in opts.get("scenarios", ",".join(n for n, _ in LEADERSHIP_MODELS)).split(",") if v]
    reference = opts.get("reference") or (DEFAULT_REFERENCE if DEFAULT_REFERENCE in names else names[0])
    configs = _leadership_scenarios(names, overrides)
    if reference not in names:
        raise ConfigError(f"reference={reference!r} must be one of the compared scenarios {names}")
    mode = opts.get("robustness", "run")
    if mode not in ("run", "off") and not Path(mode).is_dir():
        raise ConfigError(f"robustness={mode!r}: use run, off, or the folder of a `changesim robustness` run")
    scenarios = [
        Scenario(n, titles.get(n, n.replace("_", " ").capitalize()), scenario_description(n), configs[n])
        for n in names
    ]
    out = Path(opts.get("out") or Path("outputs") / "report" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    t0 = time.perf_counter()
    base = scenarios[0].config
    print(
        f"Comparing {len(scenarios)} scenarios x {base.n_replicates} replicates, {base.n_steps} weeks ...",
        flush=True,
    )
    comp = run_comparison(scenarios, n_replicates=base.n_replicates, seed=base.seed)
    res = None
    if mode == "run":
        design = {}
        for key, field_ in (("robustness_points", "points"), ("robustness_replicates", "replicates")):
            try:
                design[field_] = int(opts.get(key, {"points": 40, "replicates": 4}[field_]))
            except ValueError:
                raise ConfigError(f"{key}={opts[key]!r} must be an integer") from None
        unc = unc_mod.load("default", design)
        common = compose(["scenario=change_base", *overrides])[0]
        res = rob.run(unc, configs, common, {s.name: s.title for s in scenarios},
                      command="(within) " + " ".join(["changesim report", *argv]).strip())  # fmt: skip
    elif mode != "off":
        res = rob.load_saved(mode)
    command = " ".join(["changesim report", *argv]).strip()
    paths = write_report(comp, out, reference=reference, command=command, robustness=res)
    table = comp.table()
    for s in scenarios:
        row = table[(table.scenario == s.name) & (table.outcome == "sustained")].iloc[0]
        value = share_with_interval(row["mean"], row.ci_lo, row.ci_hi, every_run=bool(row.sd == 0))
        print(f"  {s.title:52s} sustained adoption {value}")
    if res is not None:
        w = res.winners.get("sustained")
        if w is not None:
            n = int(res.rank_first.n_points.iloc[0])
            share = 100 * res.p_first("sustained", w)
            print(f"  Robustness: {res.titles.get(w, w)} ranks first on sustained adoption under "
                  f"{share:.0f}% of {n} plausible sets of assumptions")  # fmt: skip
    print(f"Report: {paths['html']} (and {paths['md'].name}) in {time.perf_counter() - t0:.1f} s")
    return 0


def _leadership_scenarios(names: Sequence[str], overrides: Sequence[str]) -> dict[str, ModelConfig]:
    known = sorted(p.stem for p in (CONFIG_DIR / "scenario").glob("*.yaml"))
    for name in names:
        if name not in known:
            raise ConfigError(f"scenario {name!r} is not in configs/scenario/; choose from {known}")
    return {name: compose([f"scenario={name}", *overrides])[0] for name in names}


ROBUSTNESS_KEYS = ("uncertainty", "points", "replicates", "method", "seed", "sample_seed", "scenarios", "out",
                   "jobs")  # fmt: skip


def robustness(argv: Sequence[str]) -> int:
    """``changesim robustness [uncertainty=default] [points=N] [replicates=R] [method=lhs|sobol]
    [scenarios=a,b] [out=DIR] [jobs=N] [key=value ...]``.

    Samples the plausible ranges of ``configs/uncertainty/<uncertainty>.yaml``, runs every
    leadership model at each point on common seeds and writes the rank-first probabilities,
    pairwise shares, PRIM conditions, indices, figure and provenance into ``out``. Other
    ``key=value`` overrides apply to every model (``org.n_staff=500``).
    """
    from sim.analysis import robustness as rob
    from sim.analysis import uncertainty as unc_mod

    opts, overrides = _split_args(argv, ROBUSTNESS_KEYS)
    design = {k: opts[k] for k in ("points", "replicates", "method", "seed", "sample_seed") if k in opts}
    for k in design:
        if k != "method":
            try:
                design[k] = int(design[k])
            except ValueError:
                raise ConfigError(f"{k}={design[k]!r} must be an integer") from None
    unc = unc_mod.load(opts.get("uncertainty", "default"), design)
    names = [v for v in opts.get("scenarios", ",".join(n for n, _ in LEADERSHIP_MODELS)).split(",") if v]
    scenarios = _leadership_scenarios(names, overrides)
    base = compose(["scenario=change_base", *overrides])[0]
    titles = {n: dict(LEADERSHIP_MODELS).get(n, n.replace("_", " ").capitalize()) for n in names}
    out = Path(opts.get("out") or Path("outputs") / "robustness" / time.strftime("%Y-%m-%d_%H-%M-%S"))
    try:
        jobs = int(opts.get("jobs", 0))
    except ValueError:
        raise ConfigError(f"jobs={opts['jobs']!r} must be an integer") from None
    command = " ".join(["changesim robustness", *argv]).strip()
    from sim.views.robustness import write

    res = rob.run(unc, scenarios, base, titles, jobs=jobs, command=command)
    write(res, out)
    print(rob.describe(res))
    return 0


def _split_args(argv: Sequence[str], keys: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    overrides = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ConfigError(f"argument {arg!r} is not key=value")
        if key in keys:
            opts[key] = value
        else:
            overrides.append(arg)
    return opts, overrides


BENCH_SCRIPT = CONFIG_DIR.parent / "experiments" / "e09_benchmark" / "bench_peers.py"


def bench(argv: list[str]) -> int:
    """``changesim bench``: run the peer benchmark script of experiment e09 in a fresh process.

    The benchmarks live with their experiment, outside the runtime package; this entry
    only starts ``experiments/e09_benchmark/bench_peers.py`` with the same arguments.
    """
    import subprocess

    if not BENCH_SCRIPT.is_file():
        raise ConfigError(f"the benchmark script {BENCH_SCRIPT} is missing; run changesim bench from a clone")
    return subprocess.run([sys.executable, str(BENCH_SCRIPT), *argv], check=False).returncode


def calibrate(argv: list[str]) -> int:
    """``changesim calibrate [PRESET] [key=value ...]``: fit the model to observed diffusion.

    PRESET names a file of ``configs/calibration/`` (default ``default``: the Medical
    Innovation data); the rest are Hydra overrides of its keys, e.g.
    ``data.people=people.csv data.ties=ties.csv quick=true out=outputs/mine``.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from sim.analysis.calibrate_run import main as calibrate_main

    folder = CONFIG_DIR / "calibration"
    name = "default"
    if argv and "=" not in argv[0] and not argv[0].startswith("-"):
        name, argv = argv[0], argv[1:]
    if argv and argv[0] in ("-h", "--help"):
        print(calibrate.__doc__)
        print("presets:", ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))))
        return 0
    if not (folder / f"{name}.yaml").is_file():
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        raise ConfigError(f"calibration preset {name!r} is not one of {options} (files in {folder})")
    try:
        with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
            cfg = hydra_compose(config_name=name, overrides=list(argv))
    except (HydraException, OmegaConfBaseException) as e:
        raise ConfigError(f"calibrate {' '.join(argv)}: {str(e).splitlines()[0]}") from None
    from sim.views.calibration import draw_calibration

    command = [name, *argv] if name != "default" else argv
    return calibrate_main(OmegaConf.to_container(cfg, resolve=True), command, draw=draw_calibration)


def _subcommand(name: str, argv: list[str]) -> int:
    if name == "report":
        return report(argv)
    if name == "robustness":
        return robustness(argv)
    if name == "app":
        from sim.views.app import main as app_main

        return app_main(argv)
    if name == "animate":
        from sim.views.animate import main as animate_main

        return animate_main(argv)
    if name == "bench":
        return bench(argv)
    if name == "sensitivity":
        from sim.analysis.sensitivity import main as sensitivity_main

        return sensitivity_main(argv)
    if name == "collect":
        from sim.analysis.collect import main as collect_main

        return collect_main(argv)
    if name == "calibrate":
        return calibrate(argv)
    raise AssertionError(name)


SUBCOMMANDS: dict[str, str] = {
    "report": "compare the leadership models on common seeds: an HTML report with 95% intervals",
    "robustness": "which leadership model wins across the plausible ranges of the assumptions",
    "sensitivity": "global sensitivity analysis (Sobol or Latin hypercube) of one outcome",
    "app": "serve the teaching app in the browser (offline, http://127.0.0.1:8765)",
    "animate": "write an animated GIF or MP4 of a change spreading through the hierarchy",
    "collect": "combine the finished jobs of a sweep folder into one Parquet table",
    "bench": "speed against peer diffusion tools (experiments/e09_benchmark)",
    "calibrate": "fit the model to observed adoption (Medical Innovation data or your own CSVs) by ABC-SMC",
}
"""``changesim <name> ...`` runs these instead of a Hydra run (one line each for ``--help``)."""

_KEY_VALUE_SUBCOMMANDS = {"report": report, "robustness": robustness}
"""Subcommands that take ``key=value`` words, whose ``--help`` is their docstring."""


def subcommand_lines() -> str:
    """The subcommands, one line each, as ``changesim --help`` lists them."""
    width = max(map(len, SUBCOMMANDS))
    return "\n".join(f"changesim {name:<{width}}  {line}" for name, line in SUBCOMMANDS.items())


OmegaConf.register_new_resolver("subcommands", subcommand_lines, replace=True)


SUBCOMMAND_PRESETS: dict[str, str] = {
    "calibration": "changesim calibrate NAME",
    "sensitivity": "changesim sensitivity NAME",
    "uncertainty": "changesim robustness uncertainty=NAME",
}
"""Folders of ``configs/`` that a subcommand reads, not groups of a run (``org=...`` is a group)."""


def _options(folder: Path) -> str:
    return ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))


def group_lines() -> str:
    """The groups of a run with their options, then the launchers of a sweep, then the presets
    that subcommands read (not groups: ``changesim sensitivity=default`` is no run), for ``--help``.
    """
    run = [g for g in sorted(_groups()) if (CONFIG_DIR / g).is_dir()]
    lines = [f"{g}: {_options(CONFIG_DIR / g)}" for g in run]
    lines.append(f"hydra/launcher (with -m): {_options(CONFIG_DIR / 'hydra' / 'launcher')}")
    lines += ["", "== Presets of subcommands (not groups of a run) =="]
    lines += [f"{name}: {_options(CONFIG_DIR / name)}  ({use})" for name, use in SUBCOMMAND_PRESETS.items()]
    return "\n".join(lines)


OmegaConf.register_new_resolver("run_groups", group_lines, replace=True)


def _schema_keys(cls: type, prefix: str = "") -> dict[str, Any]:
    """Every settable dotted key of the schema ``cls`` -> its field type (open mappings end a path)."""
    out: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        key = f"{prefix}{f.name}"
        out[key] = hints[f.name]
        if is_dataclass(default):
            out.update(_schema_keys(type(default), key + "."))
    return out


def _groups() -> set[str]:
    """The config groups of ``configs/config.yaml``'s defaults list (``org``, ``scenario``, ...)."""
    import yaml

    defaults = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text()).get("defaults", [])
    names = {str(k).removeprefix("optional ") for d in defaults if isinstance(d, dict) for k in d}
    return {n for n in names if not n.startswith("override ")}


def unknown_key_message(override: str) -> str | None:
    """A one-line refusal of an override whose key is not in the schema, with a suggestion.

    ``dynamics.treshold_mean=0.5`` gives ``unknown key dynamics.treshold_mean; did you
    mean dynamics.threshold_mean? Keys of dynamics: rule, threshold_kind, ...``. None
    for a known key, a config group (``org=ward``), Hydra's own keys (``hydra.*``) and
    additions or deletions (``+key=``, ``~key``), which Hydra checks itself.
    """
    import difflib

    key, sep, _ = override.partition("=")
    if not sep or not key or key[0] in "+~" or key.startswith("hydra") or "/" in key or "@" in key:
        return None
    keys = _schema_keys(CLIConfig)
    if key in keys or key in _groups():
        return None
    parts = key.split(".")
    for i in range(1, len(parts)):  # below an open mapping (org.profession_mix.nurse) any key goes
        if _is_optional_mapping(keys.get(".".join(parts[:i]))):
            return None
    group = ".".join(parts[:-1])
    siblings = sorted(k for k in keys if k.rpartition(".")[0] == group) if group in keys else []
    pool = siblings or sorted(set(keys) | _groups())
    close = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
    msg = f"unknown key {key}"
    if close:
        msg += f"; did you mean {close[0]}?"
    if siblings:
        msg += f" Keys of {group}: {', '.join(k.rpartition('.')[2] for k in siblings)}"
    elif group and group not in keys:
        msg += f" ({parts[0]} is not a group; groups: {', '.join(sorted(_groups()))})"
    return msg


def _check_memory_first(argv: Sequence[str]) -> None:
    """Refuse a single run that will not fit in memory before Hydra creates its output folder.

    Composes the configuration as the run will (without a Hydra run); anything the
    composition cannot read here (a multirun, Hydra's own options) is left to the run,
    which checks again in ``run_batch`` before building the organisation.
    """
    if any(a.startswith("-") or a.startswith("hydra.") or a.startswith("hydra/") for a in argv):
        return
    from sim.memory import check_fits, estimate_config

    try:
        model_cfg, _ = compose(argv)
    except ConfigError:
        return  # reported by the run itself, with Hydra's context
    check_fits(estimate_config(model_cfg), "this run")


def main() -> None:
    """Entry point of ``changesim`` and ``python -m sim``."""
    if not (CONFIG_DIR / "config.yaml").is_file():
        print(
            f"error: the configs folder {CONFIG_DIR} is missing; changesim reads its configs from the "
            "repository, so install it editable from a clone (pip install -e .)",
            file=sys.stderr,
        )
        sys.exit(2)
    plain_warnings()
    if len(sys.argv) > 1 and sys.argv[1] in SUBCOMMANDS:
        name, argv = sys.argv[1], sys.argv[2:]
        if name in _KEY_VALUE_SUBCOMMANDS and ({"-h", "--help"} & set(argv)):
            print(inspect.getdoc(_KEY_VALUE_SUBCOMMANDS[name]))
            sys.exit(0)
        try:
            sys.exit(_subcommand(name, argv))
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
    for arg in sys.argv[1:]:
        msg = None if arg.startswith("-") else unknown_key_message(arg)
        if msg:
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(2)
    try:
        _check_memory_first(sys.argv[1:])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    app = hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")(task)
    app()
    swept = _LAST_SWEEP.get("report")
    if swept is not None and (swept.failed or swept.incomplete or swept.damaged or swept.table_error):
        sys.exit(1)


if __name__ == "__main__":
    main()
