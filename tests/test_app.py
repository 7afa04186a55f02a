"""The teaching app: its presets tell their stories, its sliders stay in range, and it works in a browser.

The browser test starts the app's own server on a free loopback port, drives Debian's
Chromium (``/usr/bin/chromium``, installed by ``scripts/install_browser.sh``) with
Playwright's Python client (never ``playwright install``), and saves screenshots and the
server log in ``results/app/`` (or ``$CHANGESIM_APP_ARTIFACTS``). It needs Solara's
front-end assets in its cache (``python -m sim.views.app --fetch-assets``) and no internet.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from sim.views import presets

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("CHANGESIM_APP_ARTIFACTS", REPO / "results" / "app"))
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEEDS = range(4)


# --- the presets tell their stories (numbers from the model, no browser) ---


def _run(name, seed, weeks=None, overrides=None):
    preset = presets.get(name) if isinstance(name, str) else name
    model = presets.model_for(preset, seed=seed, overrides=overrides)
    for _ in range(preset.n_steps if weeks is None else weeks):
        model.step()
    return model


def _share(model, week, states=(1, 2), group=0):
    c = model.counts[week, group]
    return c[list(states)].sum() / c.sum()


def test_presets_are_listed_and_described():
    table = presets.presets()
    assert tuple(table) == presets.NAMES, "NAMES lists every preset in order"
    for p in table.values():
        assert p.description.endswith((".", ")")) and len(p.description) < 260, f"{p.name}: one sentence"
    with pytest.raises(KeyError, match="choose one of"):
        presets.get("no such preset")
    assert presets.get("CO-DESIGN").name == "co-design", "names are case-insensitive"


def test_help_it_happen_starts_slowly_then_sticks():
    runs = [_run("help it happen", s) for s in SEEDS]
    early = np.mean([_share(m, 13) for m in runs])
    final = np.mean([_share(m, 104) for m in runs])
    assert early < 0.3, f"expected a slow start (under 30% by week 13), got {early:.0%}"
    assert final > 0.8, f"expected most staff to adopt by week 104, got {final:.0%}"


def test_make_it_happen_complies_fast_then_lapses():
    runs = [_run("make it happen", s) for s in SEEDS]
    complying = np.mean([_share(m, 13, (1,)) for m in runs])
    lapsed = np.mean([_share(m, 104, (3,)) for m in runs])
    assert complying > 0.5, f"expected most to comply by week 13, got {complying:.0%}"
    # Compliers may come to own the change (the base's p_internalise, shared by every model),
    # so not all who complied lapse; a tenth or more still do once the mandate goes.
    assert lapsed > 0.1, f"expected lapses after the mandate ends at week 52, got {lapsed:.0%}"


def _subtree(org, roots):
    inside = np.isin(np.arange(org.n_staff), roots)
    for _ in range(org.n_levels):
        inside |= (org.manager >= 0) & inside[np.maximum(org.manager, 0)]
    return inside


def test_frozen_middle_freezes_the_resisters_teams():
    rest = []
    for seed in SEEDS:
        m = _run("frozen middle", seed, weeks=26)
        resisters = np.flatnonzero(m.org.level == 1)[-presets.FROZEN_MIDDLE_RESISTERS :]
        adopted = np.isin(m.state.state, (1, 2))
        for r in resisters:
            if not adopted[r]:
                below = _subtree(m.org, [r]) & (np.arange(m.org.n_staff) != r)
                assert not adopted[below].any(), (
                    f"seed {seed}: staff under resister {r} adopted before they did"
                )
        rest.append(adopted[~_subtree(m.org, resisters)].mean())
    assert np.mean(rest) > 0.6, (
        f"outside the frozen wedges most should adopt by week 26, got {np.mean(rest):.0%}"
    )


def test_mandate_then_withdraw_collapses_after_week_26():
    runs = [_run("mandate then withdraw", s, weeks=52) for s in SEEDS]
    at_26 = np.mean([_share(m, 26, (1,)) for m in runs])
    at_52 = np.mean([_share(m, 52, (1,)) for m in runs])
    lapsed = np.mean([_share(m, 52, (3,)) for m in runs])
    assert at_26 > 0.5 and at_52 < 0.1, (
        f"compliance should collapse after withdrawal: {at_26:.0%} -> {at_52:.0%}"
    )
    assert lapsed > 0.25, f"expected over a quarter lapsed by week 52, got {lapsed:.0%}"


def test_co_design_beats_leaving_it_alone():
    alone = presets.Preset("alone", "", presets.merge(presets.CALIBRATED, {"org": {"n_staff": 500}}))
    with_co = np.mean([_share(_run("co-design", s), 104) for s in SEEDS])
    without = np.mean([_share(_run(alone, s), 104) for s in SEEDS])
    assert with_co > 0.8 and with_co > without + 0.3, f"co-design {with_co:.0%} vs alone {without:.0%}"


def test_ics_silos_keeps_the_change_in_the_lead_trust():
    for seed in SEEDS[:2]:
        m = _run("ICS silos", seed, weeks=26)
        labels = m.group_labels
        orgs = [g for g, (d, _) in enumerate(labels) if d == "organisation"]
        lead, partners = orgs[0], orgs[1:]
        assert _share(m, 26, group=lead) > 0.6, f"seed {seed}: the lead trust should mostly adopt"
        for g in partners:
            assert _share(m, 26, group=g) < 0.15, f"seed {seed}: partner {labels[g][1]} should barely move"


def test_granovetters_riot_and_the_one_threshold_that_stops_it():
    riot = _run("Granovetter's riot", 0)
    adopted = riot.counts[:, 0, 2]
    expected = np.minimum(np.arange(1, 102), 100)
    assert np.array_equal(adopted, expected), "one more person joins every step until all 100 have"
    stopped = _run("Granovetter's riot (one threshold moved)", 0)
    assert (stopped.counts[:, 0, 2] == 1).all(), "with person 1 waiting for two, only the instigator riots"


def test_watts_cascade_window():
    inside = [_share(_run("Watts's cascade window", s), 40) for s in SEEDS]
    dense = [
        _share(_run("Watts's cascade window", s, overrides={"org.mean_degree": 12.0}), 40) for s in SEEDS
    ]
    assert max(inside) > 0.5, f"at 4 ties a person a single seed should sometimes cascade: {inside}"
    assert max(dense) < 0.1, f"at 12 ties a person no single seed should cascade: {dense}"


def test_fixed_size_presets_refuse_a_new_size():
    from sim.params import ConfigError

    with pytest.raises(ConfigError, match="cannot be changed"):
        presets.model_for("Granovetter's riot", overrides={"org.n_staff": 50})


# --- the app's logic (Solara imported, no browser) ---


def test_knobs_stay_inside_the_model_ranges():
    app = pytest.importorskip("sim.views.app")
    app.check_knobs()
    for name in presets.NAMES:
        preset = presets.get(name)
        settings = app.settings_for(preset)
        cfg_overrides = app.overrides_for(preset, settings)
        model = presets.model_for(preset, overrides=cfg_overrides)
        assert model.org.n_staff == (preset.config.get("org", {}).get("n_staff", 1000)), (
            f"{name}: size changed"
        )
        for knob in app.KNOBS:
            assert knob.stored(knob.shown(settings[knob.key])) == settings[knob.key], (
                f"{name}: {knob.key} drifts"
            )
    size = app.KNOB["org.n_staff"]
    assert size.stored(5) == 30 and size.stored(10_000) == 2000, "the size slider clips to 30..2,000"


def test_slider_settings_reach_the_model():
    app = pytest.importorskip("sim.views.app")
    settings = app.settings_for("co-design") | {
        "org.n_staff": 300,
        "co_design.share": 0.2,
        "power.mode": "none",
    }
    model = app.TeachingModel(settings, seed="7")
    assert model.org.n_staff == 300 and model.seed == 7, "size and seed from the panel"
    assert model.cfg.co_design.share == 0.2 and model.cfg.power.mode == "none", "domain levers from the panel"
    again = app.TeachingModel(settings, seed=8)
    assert again.org is model.org and again.xy is model.xy, "Reset reuses the organisation and its layout"
    typo = app.TeachingModel(settings, seed="abc")
    assert typo.seed == 0 and "whole number" in typo.note, "a typo in the seed field must not crash the page"


def test_run_stops_at_the_presets_last_step():
    app = pytest.importorskip("sim.views.app")
    model = app.TeachingModel(app.settings_for("Granovetter's riot"))
    for _ in range(99):
        model.step()
    assert model.running, "still running before the last step"
    model.step()
    assert not model.running and model.steps == 100, "stops at step 100"


def test_a_500_staff_step_renders_in_under_half_a_second():
    app = pytest.importorskip("sim.views.app")
    seconds = app.render_time(n_staff=500, n_steps=20)
    print(f"step + redraw of all four pictures at 500 staff: {1000 * seconds:.0f} ms (median)")
    assert seconds < 0.5, f"a step at 500 staff took {seconds:.3f} s to render; the budget is 0.5 s"


def test_asset_list_matches_the_installed_solara():
    app = pytest.importorskip("sim.views.app")
    import solara

    root = Path(solara.__file__).parent
    text = "".join(
        p.read_text(errors="ignore")
        for p in [
            *root.glob("server/templates/*.j2"),
            *root.glob("widgets/vue/*.vue"),
            root / "server" / "settings.py",
        ]
    )
    for spec in app.ASSETS:
        assert spec in text, f"Solara no longer asks for {spec}: update sim.views.app.ASSETS"


def test_server_environment_has_no_telemetry_and_no_cdn():
    app = pytest.importorskip("sim.views.app")
    env = app.server_env({})
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false", "telemetry must be off"
    assert env["SOLARA_ASSETS_CDN"].startswith("http://127.0.0.1:"), "the CDN must be a closed loopback port"
    assert "--host" in app.server_command() and "127.0.0.1" in app.server_command(), "serve on loopback"


# --- end to end in a real browser ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install_browser.sh")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    app = pytest.importorskip("sim.views.app")
    missing = app.missing_assets()
    assert not missing, f"front-end assets missing ({missing}): python -m sim.views.app --fetch-assets"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    with open(ARTIFACTS / "server.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.views.app", "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, f"the app server exited ({proc.returncode}); see {log.name}"
                try:
                    urllib.request.urlopen(url, timeout=2).read()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the app server did not answer within 90 s"
                    time.sleep(0.25)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROME_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


def _open(browser, url):
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)
    page.get_by_text("Step: 0", exact=True).wait_for(timeout=60_000)
    return page, problems


def _step_count(page) -> int:
    return int(re.search(r"Step: (\d+)", page.get_by_text(re.compile(r"^Step: \d+$")).inner_text()).group(1))


def _shot(locator, tries=5) -> bytes:
    """Element screenshot; Solara swaps the image on every redraw, so retry if it detaches."""
    from playwright.sync_api import Error

    for k in range(tries):
        try:
            return locator.screenshot(timeout=5_000)
        except Error:
            if k == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def _choose(page, name):
    page.locator(".v-select").filter(has_text="Preset").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.get_by_text(f"Preset: {name} (seed 0)").wait_for()


def test_teaching_app_in_a_browser(server, browser):
    page, problems = _open(browser, server)
    step = page.get_by_role("button", name="Step", exact=True)
    _choose(page, "make it happen")
    assert page.locator(".run-size").inner_text() == "Organisation: 500 staff, 4 levels", (
        "preset's size shown"
    )
    adopted_before = page.locator(".run-adopted").inner_text()
    plot = page.locator(".picture-state img")
    plot_before = _shot(plot)

    latencies = []
    for k in (1, 2, 3):
        t0 = time.perf_counter()
        step.click()
        page.get_by_text(f"Step: {k}", exact=True).wait_for(timeout=10_000)
        latencies.append(time.perf_counter() - t0)
    print(f"Step click -> counter updated at 500 staff: {', '.join(f'{1000 * s:.0f}' for s in latencies)} ms")
    assert page.locator(".run-week").inner_text() == "Week 3 of 104", "the run card follows the steps"
    assert page.locator(".run-adopted").inner_text() != adopted_before, "adoption should change in 3 weeks"
    page.wait_for_timeout(300)
    assert _shot(plot) != plot_before, "the adoption plot should change after 3 steps"
    assert np.median(latencies) < 1.0, f"a step should show within 1 s in the browser: {latencies}"

    page.get_by_role("button", name="▶").click()
    deadline = time.monotonic() + 30
    while _step_count(page) < 10:
        assert time.monotonic() < deadline, "Play should reach step 10 within 30 s"
        page.wait_for_timeout(200)
    page.get_by_role("button", name="❚❚").click()
    page.wait_for_timeout(500)
    paused = _step_count(page)
    page.wait_for_timeout(1000)
    assert _step_count(page) == paused, "Pause should stop the steps"
    page.screenshot(path=str(ARTIFACTS / "app_playing.png"))

    size = page.locator(".knob-org-n-staff [role=slider]")
    size.focus()
    size.press("Home")
    page.locator(".knob-org-n-staff").get_by_text("Organisation size: 30 staff").wait_for()
    page.locator(".pending").wait_for()
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("Organisation: 30 staff, 3 levels").wait_for(timeout=10_000)
    page.get_by_text("Step: 0", exact=True).wait_for(timeout=10_000)  # Reset starts again at step 0
    assert page.locator(".run-week").inner_text() == "Week 0 of 104", "the run card restarts too"
    assert page.locator(".pending").count() == 0, "after Reset nothing is pending"
    seed = page.get_by_label("Random seed (then Reset)")
    seed.fill("12")
    seed.press("Enter")
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("Preset: make it happen (seed 12)").wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "app_after_reset.png"))
    assert not problems, f"the page reported problems: {problems}"
    page.close()


def test_every_browser_session_has_its_own_model(server, browser):
    first, problems = _open(browser, server)
    for k in (1, 2):
        first.get_by_role("button", name="Step", exact=True).click()
        first.get_by_text(f"Step: {k}", exact=True).wait_for(timeout=10_000)
    second, more = _open(browser, server)
    second.get_by_role("button", name="Step", exact=True).click()
    second.get_by_text("Step: 1", exact=True).wait_for(timeout=10_000)
    second.wait_for_timeout(500)
    assert _step_count(first) == 2, "a second visitor's Step must not move the first visitor's model"
    assert not problems + more, f"the page reported problems: {problems + more}"
    first.close()
    second.close()
