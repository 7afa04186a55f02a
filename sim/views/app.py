"""The teaching app: watch a change spread, stick or fail, and pull the levers of the IHI framework.

A Solara page built on Mesa's ``SolaraViz``: a preset picker (``sim.views.presets``) with a
one-line story, sliders grouped by the five domains of the IHI Psychology of Change
Framework, the power gradient and the organisation's size; Mesa's Step / Play / Reset and
step counter; the hierarchy view (``sim.views.animate.OrgView``) and live plots of adoption by
state, level and profession. Every browser session gets its own model. Organisations and
their layouts are cached by configuration, so Reset never rebuilds a layout. Slider
changes apply on Reset; choosing a preset applies at once.

Run it with ``changesim app`` or ``python -m sim.views.app`` (serves http://127.0.0.1:8765/).
The launcher turns Solara's telemetry off and points its CDN at a closed loopback port,
so the page loads only what Solara's proxy cache holds: fill it once with
``python -m sim.views.app --fetch-assets`` (``npm pack`` from the npm registry).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.model import ChangeModel, organisation_for
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig, from_dict
from sim.views import presets
from sim.views.animate import AdoptionPlot, OrgView, SplitHistogram, ThresholdPlot, contact_share
from sim.views.figures import hierarchy_layout

TITLE = "changesim: how a change spreads, sticks or fails"
HOST, PORT = "127.0.0.1", 8765
SEED_LABEL = "Random seed (then Reset)"
PLAY_INTERVAL_MS = 150
"""Pause between steps while playing: about five steps a second at 500 staff."""


# --- the sliders ---


@dataclass(frozen=True)
class Knob:
    """One control of the scenario panel, bound to one config key.

    ``scale`` converts the config value to what the slider shows (100 for a share shown
    in percent); ``lo``, ``hi`` and ``step`` are in shown units. ``when`` says which
    scenarios it applies to: ``all``, ``change`` (the full model), ``hierarchy`` (an
    organisation with levels), ``random`` (a random graph).
    """

    key: str
    label: str
    unit: str = ""
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.05
    kind: str = "float"
    choices: tuple[str, ...] = ()
    scale: float = 1.0
    domain: str = "Organisation"
    when: str = "change"

    def shown(self, value: Any) -> Any:
        """The config value in the slider's units."""
        if self.kind in ("bool", "choice"):
            return value
        v = float(value) * self.scale
        return int(round(v)) if self.kind == "int" else round(v, 6)

    def stored(self, shown: Any) -> Any:
        """The slider's value in config units, clipped to the slider's range."""
        if self.kind == "bool":
            return bool(shown)
        if self.kind == "choice":
            if shown not in self.choices:
                raise ConfigError(f"{self.key}={shown!r} is not one of {list(self.choices)}")
            return shown
        v = min(max(float(shown), self.lo), self.hi)
        return int(round(v)) if self.kind == "int" else round(v / self.scale, 9)

    def text(self, value: Any) -> str:
        """Label and value in words, e.g. ``Co-design group: 10 % of staff``."""
        if self.kind == "bool":
            return f"{self.label}: {'on' if value else 'off'}"
        if self.kind == "choice":
            return f"{self.label}: {value}"
        v = self.shown(value)
        number = f"{v:,}" if self.kind == "int" else f"{v:g}"
        return f"{self.label}: {number}{(' ' + self.unit) if self.unit else ''}"


MOTIVATION = "Unleash intrinsic motivation"
CO_DESIGN = "Co-design people-driven change"
RELATIONSHIPS = "Co-produce in authentic relationship"
POWER = "Distribute power"
ADAPTATION = "Adapt in action"
LEADERSHIP = "Leadership"
DOMAINS = ("Organisation", MOTIVATION, CO_DESIGN, RELATIONSHIPS, POWER, ADAPTATION, LEADERSHIP)
"""Panel sections in order: the five IHI domains (IHI 2018), then the mandate."""

KNOBS: tuple[Knob, ...] = (
    Knob("org.n_staff", "Organisation size", "staff", 30, 2000, 10, "int", when="all"),
    Knob("org.mean_degree", "Mean ties per person", "ties", 1, 16, 0.5, when="random"),
    Knob(
        "dynamics.power_gradient",
        "Power gradient (influence ~ authority^g)",
        "",
        0,
        4,
        0.25,
        domain=POWER,
        when="hierarchy",
    ),
    Knob(
        "power.mode",
        "Who may act without approval",
        kind="choice",
        choices=("none", "centralised", "distributed"),
        domain=POWER,
    ),
    Knob("power.empowerment", "Empowerment (distributed power)", "", 0, 1, 0.05, domain=POWER),
    Knob("motivation.readiness_weight", "Readiness weight", "", 0, 1, 0.05, domain=MOTIVATION),
    Knob("motivation.recognition", "Recognition", "per week", 0, 0.1, 0.005, domain=MOTIVATION),
    Knob("co_design.on", "Co-design the change", kind="bool", domain=CO_DESIGN),
    Knob("co_design.share", "Co-design group", "% of staff", 1, 30, 1, scale=100, domain=CO_DESIGN),
    Knob(
        "relationships.trust_growth",
        "Trust growth from joint work",
        "per week",
        0,
        0.1,
        0.005,
        domain=RELATIONSHIPS,
    ),
    Knob(
        "adaptation.p_test",
        "PDSA test cycles",
        "% of adopters per week",
        0,
        100,
        5,
        scale=100,
        domain=ADAPTATION,
    ),
    Knob("adaptation.adapt", "Adapt the change after a failed test", kind="bool", domain=ADAPTATION),
    Knob("mandate.on", "Mandate (make it happen)", kind="bool", domain=LEADERSHIP),
    Knob("mandate.end", "Mandate withdrawn at week", "", 1, 104, 1, "int", domain=LEADERSHIP),
)
KNOB = {k.key: k for k in KNOBS}


def _field_meta(key: str) -> tuple[Any, dict[str, Any]]:
    """(default, metadata) of a dotted ``ModelConfig`` field."""
    group, name = key.split(".")
    cls = type(getattr(ModelConfig(), group))
    f = {f.name: f for f in fields(cls)}[name]
    return getattr(getattr(ModelConfig(), group), name), dict(f.metadata)


def check_knobs() -> None:
    """Every knob's range lies inside its parameter's allowed range (``sim.params``).

    Raises:
        ConfigError: a knob allows a value the model would refuse.
    """
    for k in KNOBS:
        _, meta = _field_meta(k.key)
        if k.kind == "choice":
            if set(k.choices) - set(meta.get("choices", ())):
                raise ConfigError(f"knob {k.key}: choices {k.choices} exceed {meta.get('choices')}")
        elif k.kind != "bool":
            lo, hi = meta["range"]
            if not (lo <= k.lo / k.scale and k.hi / k.scale <= hi):
                raise ConfigError(f"knob {k.key}: [{k.lo}, {k.hi}]/{k.scale:g} is outside [{lo}, {hi}]")


check_knobs()


def applies(knob: Knob, preset: presets.Preset) -> bool:
    """True when this knob changes anything in this preset."""
    kind = preset.config.get("org", {}).get("kind", "synthetic")
    if knob.key == "org.n_staff":
        return not preset.fixed_size
    return {
        "all": True,
        "change": preset.full_model,
        "hierarchy": kind in ("synthetic", "ics"),
        "random": kind == "random",
    }[knob.when]


def settings_for(preset: presets.Preset | str) -> dict[str, Any]:
    """The panel's starting values for a preset: its config, else the model's defaults."""
    preset = presets.get(preset) if isinstance(preset, str) else preset
    out: dict[str, Any] = {"preset": preset.name}
    for k in KNOBS:
        group, name = k.key.split(".")
        default, _ = _field_meta(k.key)
        value = preset.config.get(group, {}).get(name, default)
        if k.key == "mandate.end" and value < 0:
            value = preset.n_steps  # "never" within the run
        if k.kind not in ("bool", "choice"):
            value = k.stored(k.shown(value))  # onto the slider's grid and range
        out[k.key] = value
    return out


def overrides_for(preset: presets.Preset, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted-key config overrides of the knobs that apply to this preset."""
    return {
        k.key: k.stored(k.shown(settings[k.key])) for k in KNOBS if k.key in settings and applies(k, preset)
    }


# --- models, one per session; organisations and layouts shared ---


@lru_cache(maxsize=32)
def _organisation(org_json: str, org_seed: int) -> tuple[Organisation, tuple[np.ndarray, np.ndarray]]:
    params = json.loads(org_json)
    cfg = from_dict({"org": params, "org_seed": org_seed})
    org = organisation_for(cfg)
    return org, hierarchy_layout(org)


def organisation(cfg: ModelConfig) -> tuple[Organisation, tuple[np.ndarray, np.ndarray]]:
    """The organisation a configuration describes and its layout, built once per distinct
    ``org`` section (cached: Reset and other sessions reuse them; both are read-only).
    """
    return _organisation(json.dumps(asdict(cfg.org), sort_keys=True), cfg.org_seed)


def _seed(value: Any) -> int:
    """A seed from a text field: a whole number in [0, 2**31), else ConfigError."""
    try:
        seed = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"seed {value!r} is not a whole number") from None
    if not 0 <= seed < 2**31:
        raise ConfigError(f"seed {seed} must be in [0, 2147483647]")
    return seed


class TeachingModel(ChangeModel):
    """A ``ChangeModel`` made from the panel's settings, that stops at the preset's last step.

    Args:
        settings: the panel's values (``settings_for`` keys), or an object holding them in
            ``.value`` (the session's reactive settings, which Mesa's Reset passes back).
        seed: the replicate's seed; text from the seed field is accepted, and text that is
            not a whole number in [0, 2**31) gives seed 0 and a ``note`` (Mesa's Reset
            would otherwise take the page down with the exception).
    """

    def __init__(self, settings: Any = None, seed: Any = 0) -> None:
        if settings is not None and not isinstance(settings, Mapping):
            settings = settings.value
        values = dict(settings or settings_for(presets.DEFAULT))
        preset = presets.get(values["preset"])
        overrides = overrides_for(preset, values)
        cfg = from_dict(preset.config, **overrides)
        org, xy = organisation(cfg)
        self.note = ""
        """A message for the run card (a seed that was not a whole number)."""
        try:
            seed = _seed(seed)
        except ConfigError as e:  # from the seed field: say so, never crash the page
            self.note, seed = f"{e}: used seed 0.", 0
        super().__init__(
            cfg,
            org=org,
            seed=seed,
            thresholds=preset.thresholds,
            initial_adopters=preset.initial_adopters,
        )
        self.preset = preset
        self.settings = values
        self.xy = xy
        self.n_steps = preset.n_steps
        self.sizes = self.counts[0].sum(-1)
        self.needs_reset = False
        """True when Mesa's controls still show the previous run as ended (press Reset)."""

    def step(self) -> None:
        """One step; the run stops (Play and Step disabled until Reset) at the preset's last step."""
        super().step()
        self.running = self.steps < self.n_steps


PANEL_NAMES = ("org", "state", "by_group", "by_group_2")
"""The page's four pictures, in grid order; ``panels`` says what each shows."""


def panels(model: TeachingModel) -> dict[str, str]:
    """What each picture shows for this model.

    ``org``: the hierarchy view; ``state``: adoption by state. For an organisation with
    levels: adoption by level, then by profession (by partner organisation in an
    integrated care system). For a network without levels (the classic experiments):
    who has adopted by number of contacts (or by threshold where everyone has as many
    contacts), then exposure against threshold.
    """
    if model.org.n_levels > 1:
        second = "organisation" if len(model.org.org_names) > 1 else "profession"
        return {"org": "org", "state": "state", "by_group": "level", "by_group_2": second}
    return {"org": "org", "state": "state", "by_group": "histogram", "by_group_2": "threshold"}


def make_view(model: TeachingModel, what: str) -> Any:
    """A picture (``panels`` value) for this model, static parts drawn once."""
    if what == "org":
        return OrgView(model.org, model.xy, full_model=model.full_model)
    if what == "histogram":
        degree = model.org.degree
        if degree.min() != degree.max():
            bins = np.arange(-0.5, float(degree.max()) + 1.5)
            return SplitHistogram(degree, bins, "Who has adopted, by contacts", "Contacts per person")
        threshold = model.state.threshold
        bins = np.linspace(0.0, max(1.0, float(threshold.max())), 21)
        return SplitHistogram(threshold, bins, "Who has adopted, by threshold", "Threshold")
    if what == "threshold":
        return ThresholdPlot(model.state.threshold)
    return AdoptionPlot(model.group_labels, what, model.sizes, model.n_steps, full_model=model.full_model)


def draw_view(view: Any, model: TeachingModel) -> Any:
    """Redraw a picture for the model's current step; returns the view."""
    state = model.state.state
    if isinstance(view, OrgView):
        return view.update(state, model.steps)
    if isinstance(view, SplitHistogram):
        return view.update(state)
    if isinstance(view, ThresholdPlot):
        return view.update(state, contact_share(model.org, state))
    return view.update(model.counts)


def render(model: TeachingModel, views: dict[str, Any] | None = None) -> dict[str, bytes]:
    """PNG bytes of every picture the page shows for the model's current step.

    ``views`` keeps the pictures between calls (their static parts are drawn once).
    """
    views = {} if views is None else views
    out: dict[str, bytes] = {}
    for name, what in panels(model).items():
        if name not in views:
            views[name] = make_view(model, what)
        out[name] = draw_view(views[name], model).png()
    return out


def render_time(n_staff: int = 500, n_steps: int = 30, preset: str = "make it happen") -> float:
    """Median seconds to step and redraw every picture of the page, at ``n_staff`` staff."""
    settings = settings_for(preset) | {"org.n_staff": n_staff}
    model = TeachingModel(settings)
    views: dict[str, Any] = {}
    render(model, views)  # the backgrounds, drawn once per organisation
    times = []
    for _ in range(n_steps):
        t = time.perf_counter()
        model.step()
        render(model, views)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


# --- the page ---


def _panel(name: str) -> Any:
    @solara.component
    def Panel(model: TeachingModel) -> None:
        update_counter.get()  # subscribe: redraw after every step
        what = panels(model)[name]
        view = solara.use_memo(lambda: make_view(model, what), [id(model), what])
        png = draw_view(view, model).png()
        with solara.Column(classes=[f"picture-{name}"], style={"padding": "4px"}):
            solara.Image(png, width="100%")

    Panel.__name__ = f"Panel_{name}"
    return Panel


PANELS = [(_panel(name), 0) for name in PANEL_NAMES]
"""SolaraViz components: one per picture, always four, so the grid never changes shape."""


TEXT = {"font-size": "15px", "line-height": "1.4"}
NOTE = {"font-size": "13px", "color": "#555555"}
WARN = {"font-size": "14px", "color": "#B35900", "font-weight": "bold"}


@solara.component
def RunCard(model: TeachingModel) -> None:
    """What is running now: preset, size, week, shares by state."""
    update_counter.get()
    c = model.counts[-1, 0]
    n = max(int(c.sum()), 1)
    unit = "Week" if model.full_model else "Step"
    with solara.Card("This run", style={"margin-bottom": "8px"}):
        with solara.Column(gap="2px", style=TEXT):
            solara.Text(f"Preset: {model.preset.name} (seed {model.seed})", classes=["run-preset"])
            levels = f", {model.org.n_levels} levels" if model.org.n_levels > 1 else ""
            people = "staff" if model.org.n_levels > 1 else "people"
            solara.Text(f"Organisation: {model.org.n_staff:,} {people}{levels}", classes=["run-size"])
            solara.Text(f"{unit} {model.steps} of {model.n_steps}", classes=["run-week"])
            adopted = (c[1] + c[2]) / n
            solara.Text(f"Adopted: {adopted:.0%}", classes=["run-adopted"], style={"font-weight": "bold"})
            if model.full_model:
                solara.Text(f"complying {c[1] / n:.0%}, committed {c[2] / n:.0%}, lapsed {c[3] / n:.0%}")
            if model.note:
                solara.Text(model.note, style=WARN, classes=["run-note"])
            if not model.running:
                solara.Text("End of the run: press Reset to run again.", style=WARN)
            elif model.needs_reset and model.steps == 0:
                solara.Text("Press Reset to start this preset.", style=WARN)


@solara.component
def KnobControl(knob: Knob, settings: Any) -> None:
    """One control; its label shows the value and the unit."""
    value = settings.value[knob.key]

    def set_value(shown: Any) -> None:
        settings.set({**settings.value, knob.key: knob.stored(shown)})

    css = "knob-" + re.sub(r"[^a-z0-9]+", "-", knob.key.lower())
    with solara.Column(classes=[css], gap="0px"):
        if knob.kind == "bool":
            solara.Checkbox(label=knob.label, value=bool(value), on_value=set_value)
        elif knob.kind == "choice":
            solara.Select(label=knob.label, values=list(knob.choices), value=value, on_value=set_value)
        else:
            solara.Text(knob.text(value), style=TEXT, classes=["knob-value"])
            slider = solara.SliderInt if knob.kind == "int" and knob.scale == 1 else solara.SliderFloat
            slider(
                "",
                value=knob.shown(value),
                min=knob.lo,
                max=knob.hi,
                step=knob.step,
                on_value=set_value,
                thumb_label=False,
            )


@solara.component
def ScenarioCard(settings: Any, model: Any, on_preset: Any) -> None:
    """The preset picker and its story, then what is running now."""
    preset = presets.get(settings.value["preset"])
    with solara.Card("Scenario", style={"margin-bottom": "8px"}):
        with solara.Column(gap="6px"):
            solara.Select(label="Preset", values=list(presets.NAMES), value=preset.name, on_value=on_preset)
            solara.Text(preset.description, style=TEXT)
            if preset.fixed_size:
                n = preset.config["org"]["n_staff"]
                solara.Text(
                    f"Fixed at {n} people: the preset sets each person's threshold or start.", style=NOTE
                )
    RunCard(model.value)


@solara.component
def LeversCard(settings: Any, model: Any) -> None:
    """The sliders that apply to the chosen preset, by domain of the IHI framework."""
    preset = presets.get(settings.value["preset"])
    with solara.Card("Levers", style={"margin-bottom": "8px"}):
        with solara.Column(gap="4px"):
            pending = overrides_for(preset, settings.value) != overrides_for(preset, model.value.settings)
            if pending:
                solara.Text("Changed: press Reset to apply.", style=WARN, classes=["pending"])
            else:
                solara.Text("Changes apply when you press Reset.", style=NOTE)
            for domain in DOMAINS:
                knobs = [k for k in KNOBS if k.domain == domain and applies(k, preset)]
                if knobs:
                    solara.Text(domain, style=TEXT | {"font-weight": "bold", "margin-top": "8px"})
                    for knob in knobs:
                        KnobControl(knob, settings)
            if not any(applies(k, preset) for k in KNOBS):
                solara.Text("This classic experiment has no levers: try another seed.", style=NOTE)


@solara.component
def _SidebarAfter(children: list[Any] = []) -> None:  # noqa: B006 - Solara's children convention
    # Solara orders sidebar content by how deep in the page it is declared; one level
    # deeper than SolaraViz's own cards puts these below them (Step/Play/Reset stay in view).
    with solara.Sidebar():
        solara.Column(children=children, gap="0px")


@solara.component
def _Deeper(children: list[Any] = []) -> None:  # noqa: B006
    _SidebarAfter(children=children)


@solara.component
def Page() -> None:
    """The app's page: one model per browser session.

    Sidebar, top to bottom: the scenario and this run; Mesa's controls (Reset, Play,
    Step), seed and step counter; the levers. Main area: the hierarchy and three plots.
    Choosing a preset replaces the model at once (a run that was playing plays on);
    slider changes wait for Reset.
    """
    settings = solara.use_reactive(solara.use_memo(lambda: settings_for(presets.DEFAULT), []))
    model = solara.use_reactive(solara.use_memo(lambda: TeachingModel(settings.value), []))

    def choose(name: str) -> None:
        new = settings_for(name)
        old = model.value
        settings.set(new)
        fresh = TeachingModel(new, seed=old.seed)
        # Mesa's controls keep "run ended" until Reset; say so rather than look stuck.
        fresh.needs_reset = not old.running
        model.set(fresh)

    solara.Title("changesim")
    with solara.Sidebar():
        ScenarioCard(settings, model, choose)
    SolaraViz(
        model,
        components=PANELS,
        model_params={
            "settings": settings,
            "seed": {"type": "InputText", "value": str(model.value.seed), "label": SEED_LABEL},
        },
        name=TITLE,
        play_interval=PLAY_INTERVAL_MS,
    )
    with _Deeper():
        LeversCard(settings, model)


# --- front-end assets, served from Solara's proxy cache ---

ASSETS: tuple[str, ...] = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "requirejs@2.3.6",
    "font-awesome@4.5.0",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
)
"""npm packages the page loads, at the versions the installed Solara asks for (Vue 2,
``ipyvue<2``); ``tests/test_app.py`` checks them against Solara's templates."""


def asset_cache() -> Path:
    """Solara's proxy cache folder (``SOLARA_ASSETS_PROXY_CACHE_DIR``, else ``<venv>/share/solara/cdn``)."""
    env = os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR")
    return Path(env) if env else Path(sys.prefix) / "share" / "solara" / "cdn"


def missing_assets(cache: Path | None = None) -> list[str]:
    """The ``ASSETS`` not yet in the cache."""
    cache = asset_cache() if cache is None else cache
    return [a for a in ASSETS if not (cache / a / "package.json").is_file()]


def fetch_assets(cache: Path | None = None) -> list[str]:
    """Fill the cache from the npm registry with ``npm pack`` (needs npm); returns what was fetched."""
    cache = asset_cache() if cache is None else cache
    todo = missing_assets(cache)
    if todo and shutil.which("npm") is None:
        raise RuntimeError("fetching the app's front-end assets needs npm (apt-get install npm)")
    for spec in todo:
        with tempfile.TemporaryDirectory() as tmp:
            name = subprocess.run(
                ["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            with tarfile.open(Path(tmp) / name) as tar:
                tar.extractall(tmp, filter="data")
            target = cache / spec
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(Path(tmp) / "package"), target)
    return todo


def server_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of the server: telemetry off, CDN closed (a loopback port nobody serves), Agg."""
    env = dict(os.environ if base is None else base)
    env.update(
        SOLARA_TELEMETRY_MIXPANEL_ENABLE="false",
        SOLARA_ASSETS_CDN="http://127.0.0.1:9/",
        SOLARA_ASSETS_PROXY_CACHE_DIR=str(asset_cache()),
        MPLBACKEND="Agg",
    )
    return env


def server_command(host: str = HOST, port: int = PORT) -> list[str]:
    """The command that serves the app (``solara run sim.views.app``, production mode)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        "sim.views.app",
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``changesim app``: serve the teaching app on 127.0.0.1 (``--port``), or ``--fetch-assets``.

    Also accepts ``host=...`` and ``port=...`` words. Replaces this process with the server.
    """
    parser = argparse.ArgumentParser(prog="changesim app", description="Serve the teaching app.")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")
    parser.add_argument(
        "--fetch-assets",
        action="store_true",
        help="fill Solara's asset cache from the npm registry, then exit",
    )
    parser.add_argument("words", nargs="*", help="host=... port=...")
    args = parser.parse_args(argv)
    for word in args.words:
        key, sep, value = word.partition("=")
        if key not in ("host", "port") or not sep:
            parser.error(f"unknown setting {word!r}; use host=... or port=...")
        setattr(args, key, int(value) if key == "port" else value)
    if args.fetch_assets:
        got = fetch_assets()
        print(f"assets in {asset_cache()}: fetched {', '.join(got) if got else 'nothing (all present)'}")
        return 0
    missing = missing_assets()
    if missing:
        print(
            f"error: the app's front-end assets are missing from {asset_cache()}: {', '.join(missing)}\n"
            "fetch them once with: python -m sim.views.app --fetch-assets",
            file=sys.stderr,
        )
        return 2
    print(f"changesim app: http://{args.host}:{args.port}/  (Ctrl-C to stop)", flush=True)
    os.execve(sys.executable, server_command(args.host, args.port), server_env())
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
