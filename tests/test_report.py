"""The policy report: numbers with intervals, and an HTML page that renders in a real browser."""

from __future__ import annotations

import json
import re
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
    for needle in (
        "**Summary.**",
        "Headline findings",
        "simulation-noise interval",
        "share of plausible assumptions",
        "Trade-offs side by side",
        "What the model takes as given",
        "Appendix",
        "Provenance",
    ):
        assert needle in md, f"report.md should contain {needle!r}"
    assert md.index("**Summary.**") < md.index("## Headline findings"), "the summary comes first"
    assert md.index("## Appendix") > md.index("## Headline findings"), "statistics go to the appendix"
    main = md[: md.index("## Appendix")]
    assert "d_z" not in main and "command_and_control" not in main, "no d_z or code names in the main text"
    assert "not yet tested against the plausible ranges" in md, "without a robustness run the report says so"
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") >= 5, "figures must be embedded in the HTML"
    assert "http://" not in html and "https://" not in html, "the page must open offline: no external links"
    for name in ("outcomes_summary.csv", "differences.csv", "replicates_needed.csv", "configs.json"):
        assert (tmp_path / name).is_file(), f"{name} missing"
    prov = json.loads(paths["provenance"].read_text())
    for key in ("changesim", "git_commit", "git_modified", "created", "command", "machine", "seeds"):
        assert key in prov, f"the report's provenance.json should record {key}"
    tail = md[md.index("## Provenance") :]
    assert re.search(r"\| Git commit \| [0-9a-f]{40} \((clean|modified)", tail), tail
    assert re.search(r"\| Date \(UTC\) \| 20\d\d-", tail) and "cores; Python" in tail, tail


def test_report_command_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    from sim.params import ConfigError

    with pytest.raises(ConfigError, match="not in configs/scenario"):
        report(["scenarios=command_and_control,nonsense", f"out={tmp_path}"])


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/install_browser.sh)")
def test_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    assert (
        report(
            [
                *SMALL,
                "scenarios=command_and_control,let_it_happen,help_it_happen",
                f"out={tmp_path}",
                "robustness_points=6",
                "robustness_replicates=1",
            ]
        )
        == 0
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
    assert len(widths) >= 6 and min(widths) > 0, f"every figure should load, natural widths {widths}"
    md = (tmp_path / "report.md").read_text()
    assert "plausible sets of assumptions" in md and "fig_robustness.png" in md, (
        "the robustness section is in"
    )
    assert not errors, f"console errors: {errors}"
    artifacts = Path("results/app")
    if artifacts.is_dir():
        shutil.copy(tmp_path / "report.png", artifacts / "report_screenshot.png")


# --- Sentences come from the numbers; no interval can mislead --------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sim.views import report as report_mod  # noqa: E402
from sim.views.wording import assumption_share, human, pct, points, runs_share, share_with_interval  # noqa: E402

ANY_SHARE = st.one_of(st.floats(-2, 3), st.just(float("nan")))
PERCENTS = re.compile(r"(-?\d+(?:\.\d+)?)%")


def _numbers(text: str) -> list[float]:
    """Percentages in order; 'under 1%' reads as just below 1, 'over 99%' as just above 99."""
    out = []
    for m in re.finditer(r"(under |over )?(-?\d+(?:\.\d+)?)%", text):
        v = float(m.group(2))
        out.append(v - 1e-6 if m.group(1) == "under " else v + 1e-6 if m.group(1) == "over " else v)
    return out


def test_headlines_change_when_the_numbers_do() -> None:
    comp = _comparison(("command_and_control", "let_it_happen", "help_it_happen"))
    table, diff = comp.table(), comp.differences("let_it_happen")
    before = report_mod.headlines(comp, table, diff, "let_it_happen", None)
    lasting = next(h for h in before if h.startswith("**Most lasting:**"))
    # Make command and control keep exactly 90% in every run: the sentence must follow.
    comp.outcomes.loc[comp.outcomes.scenario == "command_and_control", "sustained"] = 0.9
    table, diff = comp.table(), comp.differences("let_it_happen")
    after = report_mod.headlines(comp, table, diff, "let_it_happen", None)
    lasting2 = next(h for h in after if h.startswith("**Most lasting:**"))
    assert lasting2 != lasting, "a changed outcome must change the headline"
    assert "command and control left the most" in lasting2 and "90% in every run" in lasting2, lasting2
    summary = report_mod.summary(comp, table, diff, "let_it_happen", None)
    assert "90% in every run" in summary and "not been tested" in summary, summary


def test_headlines_carry_the_share_of_plausible_assumptions() -> None:
    from types import SimpleNamespace

    import pandas as pd

    comp = _comparison(("command_and_control", "let_it_happen", "help_it_happen"))
    table, diff = comp.table(), comp.differences("let_it_happen")
    names = [s.name for s in comp.scenarios]
    outs = [o.key for o in report_mod._ranked()]
    lasting = report_mod.best(comp, report_mod._outcome("sustained"))

    def fake(p_lasting: float) -> SimpleNamespace:
        rows = [
            {
                "outcome": o,
                "scenario": n,
                "p_first": (p_lasting if n == lasting else (1 - p_lasting) / 2)
                if o == "sustained"
                else 1 / 3,
                "lo": 0.0,
                "hi": 1.0,
                "n_points": 200,
            }
            for o in outs
            for n in names
        ]
        pw = [
            {
                "outcome": o,
                "a": a,
                "b": b,
                "share": 0.5,
                "lo": 0.4,
                "hi": 0.6,
                "share_clearly": 0.3,
                "n_points": 200,
            }
            for o in outs
            for a in names
            for b in names
            if a != b
        ]
        return SimpleNamespace(rank_first=pd.DataFrame(rows), pairwise=pd.DataFrame(pw))

    h1 = report_mod.headlines(comp, table, diff, "let_it_happen", fake(0.73))
    h2 = report_mod.headlines(comp, table, diff, "let_it_happen", fake(0.41))
    line1 = next(h for h in h1 if h.startswith("**Most lasting:**"))
    line2 = next(h for h in h2 if h.startswith("**Most lasting:**"))
    assert "ranks first under 73% of 200 plausible sets" in line1, line1
    assert "ranks first under 41% of 200 plausible sets" in line2, line2


@settings(max_examples=300, deadline=None)
@given(
    ANY_SHARE,
    ANY_SHARE,
    ANY_SHARE,
    st.booleans(),
)
def test_no_printed_share_is_negative_impossible_or_degenerate(mean, lo, hi, every) -> None:
    text = share_with_interval(mean, lo, hi, every_run=every)
    nums = _numbers(text)
    assert all(-1e-5 <= v <= 100 + 1e-5 for v in nums), f"{text!r}: a share outside 0-100%"
    assert "-" not in text, f"{text!r}: a negative share"
    if len(nums) == 3:
        m, a, b = nums
        assert a <= m <= b and a < b, f"{text!r}: interval reversed or degenerate"
    assert not re.search(r"(\d+(?:\.\d+)?)% \(\1% to \1%\)", text), f"{text!r}: degenerate interval"


@settings(max_examples=300, deadline=None)
@given(st.integers(-5, 300), st.integers(0, 300))
def test_run_counts_use_wilson_and_say_every_run(k, n) -> None:
    text = runs_share(k, n)
    nums = _numbers(text)
    assert all(0 <= v <= 100 for v in nums), text
    if n > 0 and k >= n:
        assert text.startswith("in every run"), text
    if n > 0 and k <= 0:
        assert text.startswith("in no run"), text
    if len(nums) == 3:
        assert nums[1] <= nums[0] <= nums[2], text


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 1), st.integers(1, 10_000))
def test_assumption_shares_stay_in_range(p, n) -> None:
    text = assumption_share(p, n)
    nums = _numbers(text)
    assert all(0 <= v <= 100 for v in nums), text
    if len(nums) == 3:
        assert nums[1] <= nums[0] <= nums[2], text


@settings(max_examples=300, deadline=None)
@given(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1))
def test_differences_are_ordered_and_never_minus_zero(d, lo, hi) -> None:
    text = points(d, lo, hi)
    assert not re.search(r"[-+]0(\.0+)?(?![\d.])", text), f"{text!r}: a signed zero"
    nums = [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?", text)]
    if len(nums) == 3:
        assert nums[1] <= nums[0] <= nums[2], text


def test_labels_are_human() -> None:
    assert human("ahp") == "allied health professionals"
    assert human("nhs_trust_0") == "NHS trust" and human("trust") == "NHS trust"
    assert human("local_authority_1") == "local authority" and human("team_lead") == "team leads"
    assert pct(1e-9) == "under 1%" and pct(0.9999) == "over 99%" and pct(-0.3) == "0%" and pct(1.7) == "100%"


def test_heatmap_cells_are_labelled_in_percent_with_readable_text() -> None:
    import pandas as pd
    from matplotlib.figure import Figure

    from sim.views.style import label_cells

    shares = pd.DataFrame([[0.123, 0.75], [0.58, 0.999]])
    ax = Figure().add_subplot()
    label_cells(ax, shares, dark_below=0.55)
    texts = {t.get_position(): (t.get_text(), t.get_color()) for t in ax.texts}
    # Row i sits at y = i and column j at x = j, as ax.imshow draws them.
    assert texts == {
        (0, 0): ("12", "white"),
        (1, 0): ("75", "black"),
        (0, 1): ("58", "black"),
        (1, 1): ("100", "black"),
    }, f"one percent label per cell, white only below 0.55: {texts}"
    ax = Figure().add_subplot()
    label_cells(ax, shares, shares / 10)
    assert [t.get_text() for t in ax.texts] == ["12\n±1", "75\n±8", "58\n±6", "100\n±10"], (
        "with half-widths, each cell reads 'mean' over '±half-width' in points, row by row"
    )
    assert ax.texts[2].get_color() == "white", "0.58 is a dark cell (white text) below the default 0.6"


def test_paired_cells_pairs_two_grid_points_seed_by_seed() -> None:
    import pandas as pd

    from sim.analysis.compare import cell, paired_cells

    seeds = np.array([7, 3, 5])
    table = pd.DataFrame(
        {
            "model": ["a"] * 3 + ["a"] * 3 + ["b"] * 3,
            "gradient": [0.1] * 3 + [0.30000000000000004] * 3 + [0.1] * 3,  # 0.1 + 0.2, as a sum gives it
            "seed": np.concatenate([seeds, seeds[::-1], seeds]),
            "y": [0.7, 0.3, 0.5, 0.55, 0.35, 0.95, 0.0, 0.0, 0.0],
        }
    )
    low = {"model": "a", "gradient": 0.1}
    high = {"model": "a", "gradient": 0.3}
    assert cell(table, low, "y").tolist() == [0.3, 0.5, 0.7], "one cell's rows, ordered by seed (3, 5, 7)"
    assert cell(table, high, "y").tolist() == [0.35, 0.55, 0.95], (
        "numbers match within isclose; strings exactly"
    )
    d = paired_cells(table, "y", low, high)
    expected = paired_difference(np.array([0.3, 0.5, 0.7]), np.array([0.35, 0.55, 0.95]))
    assert d.estimate.mean == expected.estimate.mean and d.estimate.lo == expected.estimate.lo, (
        "paired_cells is paired_difference of the seed-sorted cells, b - a"
    )
    assert len(cell(table, {"model": "b", "gradient": 0.3}, "y")) == 0, "no rows at a point not in the grid"
