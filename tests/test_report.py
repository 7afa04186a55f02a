"""The policy report: numbers with intervals, and an HTML page that renders in a real browser."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.compare import Scenario, run_comparison
from sim.analysis.stats import mean_ci, paired_difference, replicates_needed
from sim.cli import compose, report
from sim.rng import replicate_seeds
from sim.views.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
SMALL = ["n_replicates=6", "org.n_staff=150", "n_steps=30"]


def _comparison(names=("command_and_control", "help_it_happen", "ics_partnership")):
    scenarios = [
        Scenario(n, n.replace("_", " "), "test", compose([f"scenario={n}", *SMALL])[0]) for n in names
    ]
    return run_comparison(scenarios, n_replicates=6, seed=0)


def test_intervals_and_paired_differences_follow_the_textbook() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    est = mean_ci(x)
    # t_{0.975, 3} = 3.182; sd = 1.291; half-width = 3.182 * 1.291 / 2 = 2.054
    assert est.mean == 2.5 and abs(est.half_width - 2.054) < 1e-3, f"t-interval wrong: {est}"
    d = paired_difference(x, x + np.array([1.0, 1.2, 0.8, 1.0]))
    assert abs(d.estimate.mean - 1.0) < 1e-12, "mean paired difference should be 1.0"
    assert d.estimate.lo > 0.6 and d.estimate.hi < 1.4, f"paired interval should be narrow: {d.estimate}"
    assert replicates_needed(sd=0.1, half_width=0.02) == 97, "(1.96 * 0.1 / 0.02)^2 = 96.04 -> 97"


def test_comparison_pairs_scenarios_on_common_seeds() -> None:
    comp = _comparison()
    assert set(comp.outcomes.scenario) == {"command_and_control", "help_it_happen", "ics_partnership"}
    for name, res in comp.results.items():
        assert list(res.seeds) == list(replicate_seeds(0, 6)), f"{name}: the same 6 seeds as the others"
    diff = comp.differences("command_and_control")
    assert set(diff.scenario) == {"help_it_happen", "ics_partnership"}, (
        "differences are against the reference"
    )
    assert (diff.ci_lo <= diff.difference).all() and (diff.difference <= diff.ci_hi).all()
    # The ICS runs on its own organisation; the two single-organisation scenarios share one.
    assert comp.results["command_and_control"].org is comp.results["help_it_happen"].org
    assert (
        comp.results["ics_partnership"].org.n_staff == 150
        and len(comp.results["ics_partnership"].org.org_names) == 4
    )


def test_report_files_and_plain_language(tmp_path: Path) -> None:
    paths = write_report(_comparison(), tmp_path, reference="command_and_control")
    md = paths["md"].read_text()
    for needle in ("Headline findings", "95%", "What drives these results", "Assumption", "Reproduce"):
        assert needle in md, f"report.md should contain {needle!r}"
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") >= 5, "figures must be embedded in the HTML"
    assert "http://" not in html and "https://" not in html, "the page must open offline: no external links"
    for name in ("outcomes_summary.csv", "differences.csv", "replicates_needed.csv", "configs.json"):
        assert (tmp_path / name).is_file(), f"{name} missing"
    prov = json.loads(paths["provenance"].read_text())
    for key in ("changesim", "git_commit", "git_modified", "created", "command", "machine", "seeds"):
        assert key in prov, f"the report's provenance.json should record {key}"


def test_report_command_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    from sim.params import ConfigError

    with pytest.raises(ConfigError, match="not in configs/scenario"):
        report(["scenarios=command_and_control,nonsense", f"out={tmp_path}"])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/install_browser.sh)")
def test_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    assert (
        report([*SMALL, "scenarios=command_and_control,let_it_happen,help_it_happen", f"out={tmp_path}"]) == 0
    )
    page_path = tmp_path / "report.html"
    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        title = page.title()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        browser.close()
    assert title.startswith("Comparing leadership models"), f"unexpected title {title!r}"
    assert len(widths) >= 5 and min(widths) > 0, f"every figure should load, natural widths {widths}"
    assert not errors, f"console errors: {errors}"
    artifacts = Path("results/app")
    if artifacts.is_dir():
        shutil.copy(tmp_path / "report.png", artifacts / "report_screenshot.png")
