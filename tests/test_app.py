"""The teaching app: its presets tell their stories, its sliders stay in range, and it works in a browser.

The browser test starts the app's own server on a free loopback port, drives Debian's
Chromium (``/usr/bin/chromium``, installed by ``scripts/install_browser.sh``) with
Playwright's Python client (never ``playwright install``), and saves screenshots and the
server log in ``results/app/`` (or ``$CHANGESIM_APP_ARTIFACTS``). It needs Solara's
front-end assets in its cache (``python -m sim.views.app --fetch-assets``) and no internet.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from sim.constants import ADOPTED, COMPLYING, LAPSED
from sim.views import presets, teaching

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


def _share(model, week, states=ADOPTED, group=0):
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
    complying = np.mean([_share(m, 13, (COMPLYING,)) for m in runs])
    lapsed = np.mean([_share(m, 104, (LAPSED,)) for m in runs])
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
        adopted = np.isin(m.state.state, ADOPTED)
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


# --- the app's logic (no Solara, no browser) ---


def test_knobs_stay_inside_the_model_ranges():
    teaching.check_knobs()
    for name in presets.NAMES:
        preset = presets.get(name)
        settings = teaching.settings_for(preset)
        cfg_overrides = teaching.overrides_for(preset, settings)
        model = presets.model_for(preset, overrides=cfg_overrides)
        assert model.org.n_staff == (preset.config.get("org", {}).get("n_staff", 1000)), (
            f"{name}: size changed"
        )
        for knob in teaching.KNOBS:
            assert knob.stored(knob.shown(settings[knob.key])) == settings[knob.key], (
                f"{name}: {knob.key} drifts"
            )
    size = teaching.KNOB["org.n_staff"]
    assert size.stored(5) == 30 and size.stored(10_000) == 2000, "the size slider clips to 30..2,000"


def test_slider_settings_reach_the_model():
    settings = teaching.settings_for("co-design") | {
        "org.n_staff": 300,
        "co_design.share": 0.2,
        "power.mode": "none",
    }
    model = teaching.TeachingModel(settings, seed="7")
    assert model.org.n_staff == 300 and model.seed == 7, "size and seed from the panel"
    assert model.cfg.co_design.share == 0.2 and model.cfg.power.mode == "none", "domain levers from the panel"
    again = teaching.TeachingModel(settings, seed=8)
    assert again.org is model.org and again.xy is model.xy, "Reset reuses the organisation and its layout"
    typo = teaching.TeachingModel(settings, seed="abc")
    assert typo.seed == 0 and "whole number" in typo.note, "a typo in the seed field must not crash the page"


def test_run_stops_at_the_presets_last_step():
    model = teaching.TeachingModel(teaching.settings_for("Granovetter's riot"))
    for _ in range(99):
        model.step()
    assert model.running, "still running before the last step"
    model.step()
    assert not model.running and model.steps == 100, "stops at step 100"


def test_a_step_renders_well_inside_the_latency_budget():
    # Budgets in the browser: 100 ms at 500 staff, 200 ms at 2,000, click to updated plots. The
    # server's share (step + four pictures) is measured here; the browser test measures the rest.
    # Generous bounds: this machine may be shared (the figures are printed, not asserted tightly).
    for n, budget in ((500, 0.1), (2000, 0.2)):
        seconds = teaching.render_time(n_staff=n, n_steps=15)
        print(f"step + redraw of all four pictures at {n} staff: {1000 * seconds:.0f} ms (median)")
        assert seconds < 3 * budget, f"a step at {n} staff took {seconds:.3f} s to draw (budget {budget} s)"


def test_every_lever_heading_and_preset_explains_itself():
    for k in teaching.KNOBS:
        assert k.help.endswith(".") and len(k.help) > 40, f"{k.key}: a one-sentence help"
        assert "_" not in k.label and "^" not in k.label, f"{k.key}: a plain label, not a parameter name"
    for domain in teaching.DOMAINS:
        assert len(teaching.DOMAIN_HELP[domain]) > 40, f"{domain}: what the model does with it"
    for name in presets.NAMES:
        info = presets.info(name)
        assert all(len(info[key]) > 40 for key in ("shows", "notice", "try")), f"{name}: an Info panel"
    odd = (REPO / "docs" / "ODD.md").read_text()
    for k in teaching.KNOBS:
        assert k.help in odd, f"docs/ODD.md should carry the app's help for {k.key} (make docs)"


def test_partner_organisations_have_readable_names():
    from sim.views.style import org_labels

    assert org_labels(["nhs_trust_0", "local_authority_1", "independent_2", "voluntary_3"]) == [
        "NHS trust", "Local authority", "Independent provider", "Voluntary organisation",
    ]  # fmt: skip
    assert org_labels(["nhs_trust_0", "nhs_trust_1"]) == ["NHS trust A", "NHS trust B"]


def test_a_small_random_network_is_drawn_with_its_ties():
    from sim.views.hierarchy import hierarchy_layout

    model = presets.model_for("Watts's cascade window")
    view = teaching.make_view(teaching.TeachingModel(teaching.settings_for("Watts's cascade window")), "org")
    assert view.ax.collections, "the ties of a 400-person random network are drawn"
    x, y = hierarchy_layout(model.org)
    src, dst = model.org.tie_sources(), model.org.indices
    tie = np.hypot(x[src] - x[dst], y[src] - y[dst]).mean()
    rand = np.hypot(x[src] - x[np.roll(dst, 7)], y[src] - y[np.roll(dst, 7)]).mean()
    assert tie < 0.6 * rand, f"a force layout puts tied people close together ({tie:.2f} vs {rand:.2f})"


def test_the_hierarchy_view_shows_everyone():
    # The dots are drawn per frame, so the view's limits must come from everyone's position:
    # a complete graph draws no ties (Granovetter's 100 were once off the picture), and
    # people without ties have none to set the limits by.
    from sim.views.hierarchy import RIM

    for name in presets.NAMES:
        model = teaching.TeachingModel(teaching.settings_for(name))
        view = teaching.make_view(model, "org")
        (x0, x1), (y0, y1) = view.ax.get_xlim(), view.ax.get_ylim()
        x, y = view.xy.T
        assert ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).all(), f"{name}: someone is off the picture"
    watts = teaching.TeachingModel(teaching.settings_for("Watts's cascade window"))
    x, y = watts.xy
    r = np.hypot(x, y) / np.hypot(x, y).max()
    alone = watts.org.degree == 0
    assert alone.any() and np.allclose(r[alone], 1.0), "people without ties sit on the rim"
    assert np.quantile(r[~alone], 0.98) <= 1 / RIM + 1e-9, "the tied network fills the disc inside the rim"


def test_asset_list_matches_the_installed_solara():
    from sim.views import app

    solara = pytest.importorskip("solara")

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
    from sim.views import app

    env = app.server_env({})
    assert env["SOLARA_THEME_SHOW_BANNER"] == "false", "no 'runs on Solara' badge over the plots"
    assert env["REACTON_FAST"] == "1", "a step re-renders only what reads it (not every lever)"
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false", "telemetry must be off"
    assert env["SOLARA_ASSETS_CDN"].startswith("http://127.0.0.1:"), "the CDN must be a closed loopback port"
    assert "--host" in app.server_command() and "127.0.0.1" in app.server_command(), "serve on loopback"


# --- end to end in a real browser ---


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_served(launcher: subprocess.Popen, url: str, see: str) -> None:
    """Wait (up to 90 s) until ``url`` answers, failing if the launcher exits first."""
    deadline = time.monotonic() + 90
    while True:
        assert launcher.poll() is None, f"the app server exited ({launcher.returncode}){see}"
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            assert time.monotonic() < deadline, "the app server did not answer within 90 s"
            time.sleep(0.25)


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (an exited child its parent has not reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_port_in_use_is_refused_in_one_line_before_the_server_starts(capsys):
    """A second ``changesim app`` on a port already served says so and exits 2, instead of
    printing the address of someone else's server and then the server's own error."""
    from sim.views import app

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert app.main(["--port", str(port)]) == 2
    out = capsys.readouterr()
    assert out.out == "", "no address is printed for a server that will not start"
    assert out.err.count("\n") == 1 and f"port {port} on 127.0.0.1 is in use" in out.err, out.err
    assert f"--port {port + 1}" in out.err, "it says how to pick another port"
    assert app.port_problem("127.0.0.1", port) is None, "a free port is no problem"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "SIGKILL"])
def test_the_app_server_stops_with_its_launcher(how):
    """``changesim app`` serves from a child process; stopping the launcher (``kill`` or a
    scheduler's cancel: SIGTERM; a closed terminal: SIGHUP; SIGKILL, which it cannot catch,
    through the kernel's parent-death signal) must stop the server too, or it keeps the
    port and a later ``changesim app`` cannot start. A leftover server is what this test once found."""
    app = pytest.importorskip("sim.views.app")
    if app.missing_assets():
        pytest.skip("front-end assets missing: changesim app --fetch-assets (or make setup)")
    sig = getattr(signal, how)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    launcher = subprocess.Popen([sys.executable, "-m", "sim.views.app", "--port", str(port)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
    children: list[int] = []
    try:
        _wait_until_served(launcher, url, "")
        children = _children(launcher.pid)
        assert len(children) == 1 and _running(children[0]), f"one server child, not {children}"
        launcher.send_signal(sig)
        rc = launcher.wait(30)
        assert rc == (128 + sig if sig != signal.SIGKILL else -sig), f"launcher exit status {rc}"
        deadline = time.monotonic() + 20
        while _running(children[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(children[0]), f"the server outlived its launcher ({how})"
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)
    finally:
        launcher.kill()
        launcher.wait()
        for c in children:
            if _running(c):
                os.kill(c, signal.SIGKILL)


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install_browser.sh")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    app = pytest.importorskip("sim.views.app")
    missing = app.missing_assets()
    assert not missing, f"front-end assets missing ({missing}): changesim app --fetch-assets (or make setup)"
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
            _wait_until_served(proc, url, f"; see {log.name}")
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


def _open(browser, url, width=1280, height=720):
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    problems = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console error: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)
    page.locator(".run-week").wait_for(timeout=60_000)
    page.locator(".picture-org img").wait_for(timeout=60_000)
    return page, problems


def _week(page) -> int:
    return int(re.search(r"(?:Week|Step) (\d+) of", page.locator(".run-week").inner_text()).group(1))


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
    page.locator(".preset-select").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.locator(".preset-story").get_by_text(presets.get(name).description[:30]).wait_for()
    page.wait_for_function("() => document.querySelector('.run-week').innerText.includes(' 0 of')")


def _inside(page, selector, width, height):
    """Every element matching ``selector`` lies inside the viewport (no scrolling needed)."""
    boxes = page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [r.left, r.top, r.right, r.bottom]; })"
    )
    assert boxes, f"nothing matches {selector}"
    outside = [b for b in boxes if b[0] < -1 or b[1] < -1 or b[2] > width + 1 or b[3] > height + 1]
    return outside


STEP_LATENCY_JS = """async (n) => {
  const srcs = () => [...document.querySelectorAll('.cs-plot img')].map(e => e.getAttribute('src'));
  const week = () => document.querySelector('.run-week').innerText;
  const out = [];
  for (let i = 0; i < n; i++) {
    const before = srcs(), wk = week();
    const t0 = performance.now();
    document.querySelector('.step-button').click();
    await new Promise((done) => {
      // The hierarchy view (first) is unchanged in a week when nobody changes state; the
      // three plots always change, and the page applies a step's updates in order.
      const ready = () => week() !== wk && srcs().every((s, k) => k === 0 || s !== before[k]);
      const obs = new MutationObserver(() => { if (ready()) { obs.disconnect(); done(); } });
      obs.observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
    });
    await Promise.all([...document.querySelectorAll('.cs-plot img')].map(e => e.decode().catch(() => null)));
    await new Promise((painted) => requestAnimationFrame(() => setTimeout(painted, 0)));
    out.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 150));
  }
  return out;
}"""
"""Step click to the week and all four pictures new, decoded and painted, timed in the page
(a Playwright click adds its own checks for a stable element, some 30 ms, that no teacher waits for)."""


def _step_latency(page, n_clicks=9):
    """Seconds from a Step click to the week counter and the four pictures updated (median), and all."""
    times = [t / 1000 for t in page.evaluate(STEP_LATENCY_JS, n_clicks)]
    return float(np.median(times)), times


def _slack():
    """1 on a machine with CPU to spare, 2 on a busy one; and words saying which (printed with a figure).

    The issue's targets are asserted as they stand unless the 1-minute load average is over
    two runnable tasks a core (it counts this test's own server and browser, about 1.5 in
    all): then the figure says more about the neighbours than about the app, and the bound
    is twice the target (half the rate).
    """
    busy = os.getloadavg()[0] / (os.cpu_count() or 1)
    if busy <= 2:
        return 1, f"the target (load {busy:.1f} a core)"
    return 2, f"twice the target: the machine is busy (load {busy:.1f} a core)"


def test_teaching_app_fits_a_projector_and_explains_itself(server, browser):
    width, height = 1280, 720
    page, problems = _open(browser, server, width, height)
    for name in ("make it happen", "help it happen"):  # mandate on: the longest list of levers
        _choose(page, name)
        page.wait_for_timeout(300)
        controls = (
            ".cs-knob, .cs-domain, .reset-button, .play-button, .step-button, .seed-field, .preset-select"
        )
        for selector in (controls, ".cs-plot"):
            outside = _inside(page, selector, width, height)
            assert not outside, f"{name} at {width}x{height}: {selector} outside the viewport: {outside}"
    page.screenshot(path=str(ARTIFACTS / "app_1280x720.png"))
    for leftover in ("PAGE 0", "Play Interval", "Render Interval", "Use Threads", "Model Parameters",
                     "Information", "runs on Solara"):  # fmt: skip
        assert page.get_by_text(leftover).count() == 0, f"framework leftover on the page: {leftover!r}"

    page.locator(".info-button").click()
    info = page.locator(".info-panel")
    info.get_by_text("What to notice").wait_for()
    assert presets.INFO["help it happen"][0][:40] in info.inner_text(), "the preset's Info panel"
    assert teaching.DOMAIN_HELP[teaching.POWER] in info.inner_text(), "every heading's help in the Info panel"
    info.get_by_role("button", name="Close").click()
    info.wait_for(state="detached", timeout=5_000)  # Close hides the Info panel

    page.locator(".knob-power-empowerment .cs-knob-label").hover()
    tip = page.get_by_text(teaching.KNOB["power.empowerment"].help)
    tip.wait_for(timeout=5_000)
    page.mouse.move(0, height - 1)

    assert page.locator(".run-size").inner_text().startswith("500 staff"), "measured at 500 staff"
    median, times = _step_latency(page)
    slack, bound = _slack()
    print(f"Step click -> week and plots updated, 500 staff, Chromium: median {1000 * median:.0f} ms "
          f"({', '.join(f'{1000 * t:.0f}' for t in times)}); asserted: {bound}")  # fmt: skip
    assert median < 0.1 * slack, f"a step at 500 staff should show within {100 * slack} ms: {times}"
    plot_before = _shot(page.locator(".picture-state"))

    page.locator(".play-button").click()
    start_week = _week(page)
    page.wait_for_function(
        f"() => !document.querySelector('.run-week').innerText.includes(' {start_week} of')"
    )
    start_week, t0 = _week(page), time.perf_counter()  # steady state: from the first step shown
    page.wait_for_timeout(3000)
    rate = (_week(page) - start_week) / (time.perf_counter() - t0)
    page.get_by_role("button", name="Pause").click()
    slack, bound = _slack()
    print(f"Play at 500 staff, Chromium: {rate:.1f} steps/s; asserted: {bound}")
    assert rate >= 10 / slack, f"Play should run at least {10 / slack:.0f} steps a second: {rate:.1f}"
    page.wait_for_timeout(500)
    paused = _week(page)
    page.wait_for_timeout(800)
    assert _week(page) == paused, "Pause stops the steps"
    page.screenshot(path=str(ARTIFACTS / "app_1280x720_running.png"))  # results/tour/app.png
    assert _shot(page.locator(".picture-state")) != plot_before, "the adoption plot follows the steps"

    size = page.locator(".knob-org-n-staff [role=slider]")
    size.focus()
    size.press("Home")
    page.locator(".knob-org-n-staff").get_by_text("Staff: 30 people").wait_for()
    page.locator(".pending").wait_for()
    page.locator(".seed-field input").fill("12")
    page.locator(".reset-button").click()
    page.locator(".run-size").get_by_text("30 staff, 3 levels").wait_for(timeout=10_000)
    assert _week(page) == 0 and page.locator(".pending").count() == 0, "Reset applies the levers, week 0"

    # A run that ended: choosing a preset must leave Play and Step ready at once.
    _choose(page, "Granovetter's riot (one threshold moved)")
    page.locator(".play-button").click()
    page.get_by_text("End of the run").wait_for(timeout=30_000)
    _choose(page, "Watts's cascade window")
    assert page.locator(".play-button").is_enabled() and page.locator(".step-button").is_enabled(), (
        "Play and Step are ready right after a preset change"
    )
    assert not problems, f"the page reported problems: {problems}"
    page.close()


def test_step_latency_at_2000_staff_and_the_layout_at_1024x768(server, browser):
    page, problems = _open(browser, server, 1024, 768)
    _choose(page, "make it happen")
    controls = ".cs-knob, .cs-domain, .reset-button, .play-button, .step-button, .seed-field, .preset-select"
    for selector in (controls, ".cs-plot"):
        outside = _inside(page, selector, 1024, 768)
        assert not outside, f"at 1024x768 {selector} reflows into the window: {outside}"
    assert page.locator(".cs-plot").first.bounding_box()["width"] > 300, "plots keep a readable size"
    page.screenshot(path=str(ARTIFACTS / "app_1024x768.png"))
    size = page.locator(".knob-org-n-staff [role=slider]")
    size.focus()
    size.press("End")
    page.locator(".knob-org-n-staff").get_by_text("Staff: 2,000 people").wait_for()
    page.locator(".reset-button").click()
    page.locator(".run-size").get_by_text("2,000 staff").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    median, times = _step_latency(page)
    slack, bound = _slack()
    print(f"Step click -> week and plots updated, 2,000 staff, Chromium: median {1000 * median:.0f} ms "
          f"({', '.join(f'{1000 * t:.0f}' for t in times)}); asserted: {bound}")  # fmt: skip
    assert median < 0.2 * slack, f"a step at 2,000 staff should show within {200 * slack} ms: {times}"
    assert not problems, f"the page reported problems: {problems}"
    page.close()


def test_every_browser_session_has_its_own_model(server, browser):
    first, problems = _open(browser, server)
    for k in (1, 2):
        first.locator(".step-button").click()
        first.wait_for_function(f"() => document.querySelector('.run-week').innerText.includes(' {k} of')")
    second, more = _open(browser, server)
    second.locator(".step-button").click()
    second.wait_for_function("() => document.querySelector('.run-week').innerText.includes(' 1 of')")
    second.wait_for_timeout(500)
    assert _week(first) == 2, "a second visitor's Step must not move the first visitor's model"
    assert not problems + more, f"the page reported problems: {problems + more}"
    lines = (ARTIFACTS / "server.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("changesim app: open http://127.0.0.1:"), (
        f"the terminal shows the address and nothing else after several sessions: {lines}"
    )
    first.close()
    second.close()
