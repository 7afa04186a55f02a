"""Run a calibration end to end: fit, tables, figure, validation, provenance (``changesim calibrate``).

The output folder holds ``abc.db`` (pyabc's database: rerunning the same command, or the
same one with a larger budget, resumes it), ``posterior.parquet`` (the last generation's
particles and weights), ``posterior_summary.csv``, ``posterior_correlation.csv``,
``likelihood.csv`` (exact-likelihood fits), ``attribution.csv`` (contagion against outside
influence), ``predictive.parquet``, ``fig_posterior_predictive.png``,
``fig_posterior_pairs.png``, ``provenance.json`` and ``DONE`` last; with ``loo=true`` also
``validation.csv`` (``calibrate_validate``).
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibrate import (
    CalibrationSpec,
    Simulator,
    attribution,
    draw_posterior,
    fit_abc,
    likelihood_table,
    load_data,
    posterior_tables,
    predict,
    spec_from_dict,
)
from sim.analysis.calibrate_stats import Network, curves
from sim.analysis.calibrate_validate import leave_one_site_out
from sim.params import ConfigError


def git_state() -> tuple[str | None, bool | None]:
    """The checkout's commit and whether tracked files differ from it (None outside a clone)."""
    root = Path(__file__).resolve().parents[2]
    commit, modified = None, None
    try:
        git = ["git", "-C", str(root)]
        commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                                check=True).stdout.strip()  # fmt: skip
        status = [*git, "status", "--porcelain", "--untracked-files=no"]
        modified = bool(subprocess.run(status, capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return commit, modified


def provenance(
    spec: CalibrationSpec,
    argv: list[str],
    facts: dict[str, Any],
    git: tuple[str | None, bool | None],
    started: str,
) -> dict[str, Any]:
    """The shared record (``sim.provenance``: version, time, command, machine) with the git
    commit and modified flag as they were when the run started, the dates and the spec.
    """
    from sim.provenance import provenance as record

    return record(
        ["changesim", "calibrate", *argv],
        git_commit=git[0],
        git_modified=git[1],
        started=started,
        spec=asdict(spec),
        spec_digest=spec.digest(),
        **facts,
    )


def _write(df: pd.DataFrame, path: Path, index: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".parquet":
        df.to_parquet(tmp, index=index)
    else:
        df.to_csv(tmp, index=index, float_format="%.6g")
    tmp.replace(path)


def calibrate(
    spec: CalibrationSpec,
    argv: list[str] | None = None,
    progress: bool = True,
    draw: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Run a calibration end to end into ``spec.out``; returns the tables it wrote.

    Data and configuration are checked before anything is written; every file is
    written to a temporary name and renamed; ``DONE`` comes last.

    Args:
        spec: the calibration.
        argv: the command line, for the provenance.
        progress: print progress (pyabc's generations) and the result.
        draw: ``draw(out, obs, predicted_curves, posterior, parameters, note=...)`` writes
            the figures (``sim.views.calibration.draw_calibration``: posterior predictive
            and posterior pairs; passed in because analysis code does not import the views).
    """
    obs = load_data(spec)
    git, started = git_state(), _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    out = Path(spec.out or f"outputs/calibrate/{spec.name}")
    budget = spec.active_budget()
    say = print if progress else (lambda *a, **k: None)
    prov_path = out / "provenance.json"
    if prov_path.exists():
        old = json.loads(prov_path.read_text()).get("spec_digest")
        if old != spec.digest():
            raise ConfigError(f"{out} holds a calibration of a different configuration; choose another out=")
    if (out / "abc.db").exists() and not prov_path.exists():
        raise ConfigError(f"{out}/abc.db exists without provenance.json; choose another out=")
    out.mkdir(parents=True, exist_ok=True)
    (out / "DONE").unlink(missing_ok=True)
    prov_path.write_text(json.dumps({"spec_digest": spec.digest(), "status": "running"}))
    adopted = (obs.t_adopted >= 0).mean()
    say(f"changesim calibrate: {obs.n_people} people in {obs.n_sites} sites, {obs.org.n_ties} ties, "
        f"{obs.n_steps} steps, {adopted:.0%} adopted; fitting {', '.join(spec.parameters)} by ABC-SMC "
        f"(population {budget.population}, up to {budget.max_simulations:,} simulations, "
        f"{spec.n_procs} process{'es' if spec.n_procs > 1 else ''}) into {out}")  # fmt: skip
    post, facts = fit_abc(spec, obs, out / "abc.db", budget, progress)
    summary, corr = posterior_tables(post, spec)
    rng = np.random.default_rng(spec.seed)
    sim = Simulator(spec, obs)
    draws = draw_posterior(post, spec, budget.n_predictive, rng)
    pred = predict(sim, draws, obs, spec.seed + 1_000_003)
    attr = attribution(sim, draws, obs, spec.seed + 2_000_003)
    lik = likelihood_table(obs, spec.covariates)
    net = Network.of(obs.org, obs.n_steps)
    pc = curves(pred, net)
    predictive = pd.DataFrame(
        [(r, obs.site_names[s], t, pc[r, s, t]) for r in range(pc.shape[0]) for s in range(pc.shape[1])
         for t in range(pc.shape[2])],
        columns=["draw", "site", "step", "frac_adopted"],
    )  # fmt: skip
    post_out = post.copy()
    post_out["generation"] = facts["generations"] - 1
    _write(post_out, out / "posterior.parquet")
    _write(summary, out / "posterior_summary.csv")
    _write(corr, out / "posterior_correlation.csv", index=True)
    _write(lik, out / "likelihood.csv")
    _write(attr, out / "attribution.csv")
    _write(predictive, out / "predictive.parquet")
    if draw is not None:
        sims = f"{facts['total_simulations']:,} simulations"
        note = f"{spec.name}: {sims}; {len(pc)} predictive draws, bands 50% and 90%"
        draw(out, obs, pc, post, list(spec.parameters), note=note)
    tables: dict[str, Any] = {"posterior": post, "summary": summary, "correlation": corr, "likelihood": lik,
                              "attribution": attr, "facts": facts}  # fmt: skip
    if spec.loo:
        val = leave_one_site_out(spec, obs, out, progress=progress)
        _write(val, out / "validation.csv")
        tables["validation"] = val
    tmp = prov_path.with_name("provenance.json.tmp")
    tmp.write_text(json.dumps(provenance(spec, argv or [], facts, git, started), indent=2, default=str))
    tmp.replace(prov_path)
    (out / "DONE").write_text("")
    for _, row in summary.iterrows():
        say(f"  {row['parameter']:28s} posterior median {row['median']:.3g} "
            f"(95% interval {row['q2.5']:.3g} to {row['q97.5']:.3g})")  # fmt: skip
    cs = attr.set_index("quantity").loc["contagion_share"]
    say(
        f"  share of adoption owed to contagion: {cs['median']:.0%} (95% interval {cs['q2.5']:.0%} to "
        f"{cs['q97.5']:.0%}); {facts['total_simulations']:,} simulations, {facts['generations']} generations"
    )
    say(f"Wrote {out}/ (posterior_summary.csv, fig_posterior_predictive.png, ...)")
    return tables


def main(cfg: dict[str, Any], argv: list[str], draw: Callable[..., Any] | None = None) -> int:
    """Entry of ``changesim calibrate`` once the CLI has composed the config into a dict."""
    spec = spec_from_dict(cfg)
    calibrate(spec, argv, draw=draw)
    return 0
