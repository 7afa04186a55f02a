"""The teaching app's page: one screen a class can read from the back of the room.

Left column, top to bottom: the title and Info button, the preset picker, Reset / Play /
Step with the seed, what is running now, and the levers grouped by the domains of the IHI
Psychology of Change Framework (each lever and heading has a one-sentence tooltip). Right:
the hierarchy view and three live plots in a 2 x 2 grid that fills the window. Info opens
a panel over the plots: what the preset shows, what to notice, things to try, and the help
of every lever. At 1280 x 720 (a projector) everything fits without scrolling; below
1100 px wide the left column narrows (1024 x 768 still fits), below 800 px the pictures go on top.

Every browser session gets its own model (``sim.views.teaching.TeachingModel``). Play
steps the model 12 times a second and redraws as often as the pictures can be drawn (on a
slow machine a redraw may cover two steps; the plots still show every week). Slider
changes wait for Reset; choosing a preset starts it at once, ready to play.

Served by ``changesim app`` (``sim.views.app``): ``solara run sim.views.app_page``.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from typing import Any

import solara
import solara.lab
from solara.alias import rv

from sim.params import ConfigError
from sim.views import presets
from sim.views.teaching import (
    DOMAIN_HELP,
    DOMAINS,
    KNOBS,
    PANEL_NAMES,
    Knob,
    TeachingModel,
    applies,
    draw_view,
    make_view,
    overrides_for,
    panels,
    settings_for,
)

# A classroom app on the teacher's own machine is never embedded in another site's iframe,
# so Solara's fallback to a samesite=lax session cookie over http is what we want; its
# nine-line warning per browser session would only alarm the teacher.
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")

STEPS_PER_SECOND = 12
"""Play's pace: twelve weeks a second, 104 weeks in under nine seconds (at least 10 a second
as measured in the browser, where a click and the last redraw also take time)."""
MAX_CATCH_UP = 3
"""Steps Play may take between two redraws when drawing falls behind (a large organisation)."""

CSS = """
html, body { overflow: hidden; }
.v-application--wrap { min-height: 0 !important; }
.cs-root { display: grid; grid-template-columns: 340px minmax(0, 1fr); height: 100vh; width: 100vw;
  overflow: hidden; background: #fafafa; }
.cs-side { display: flex; flex-direction: column; gap: 2px; padding: 6px 10px 4px 10px; overflow-y: auto;
  border-right: 1px solid #ddd; background: white; font-size: 14px; line-height: 1.25; }
.cs-main { position: relative; display: grid; grid-template-columns: 1fr 1fr; grid-template-rows: 1fr 1fr;
  gap: 4px; padding: 4px; min-height: 0; min-width: 0; }
.cs-plot { min-height: 0; min-width: 0; display: flex; align-items: center; justify-content: center;
  background: white; border: 1px solid #e4e4e4; overflow: hidden; }
.cs-plot img { width: 100%; height: 100%; object-fit: contain; }
.cs-title { font-size: 17px; font-weight: bold; color: #0b3d91; }
.cs-side .v-btn.v-size--default { height: 30px; }
.cs-buttons { display: flex; gap: 6px; align-items: center; }
.cs-buttons .v-btn { min-width: 0 !important; padding: 0 12px !important; }
.cs-run { font-size: 12.5px; line-height: 1.2; }
.cs-warn { color: #b35900; font-weight: bold; font-size: 13px; }
.cs-note { color: #555; font-size: 12px; line-height: 1.2; }
.cs-domain { font-weight: bold; font-size: 13.5px; margin-top: 4px; color: #0b3d91; cursor: help; }
.cs-knob { display: grid; grid-template-columns: 60% 40%; align-items: center; min-height: 21px; }
.cs-knob-label { font-size: 13px; cursor: help; line-height: 1.15; }
.cs-knob .v-input { margin: 0 !important; padding: 0 !important; }
.cs-knob .v-input__control, .cs-knob .v-input__slot, .cs-knob .v-slider, .cs-knob .v-slider--horizontal {
  min-height: 0 !important; height: 22px; margin-top: 0 !important; margin-bottom: 0 !important; }
.cs-knob .v-input--switch .v-input--selection-controls__input { margin: 0 !important; }
.cs-knob .v-select .v-input__slot { min-height: 26px !important; }
.cs-knob .v-select__selection { font-size: 12.5px; }
.cs-choice { grid-template-columns: 42% 58%; }  /* a choice's words are longer than a number */
.cs-choice .v-select__selection { font-size: 12px; max-width: 100%; }
.cs-choice .v-select__selections input { display: none; }
.cs-levers { display: flex; flex-direction: column; gap: 2px; }
.cs-domain-row { margin-top: 2px; }
.cs-info { position: absolute; inset: 4px; z-index: 5; background: white; border: 2px solid #0b3d91;
  padding: 12px 18px; overflow-y: auto; font-size: 15px; line-height: 1.4; }
.cs-info h3 { margin: 10px 0 4px 0; color: #0b3d91; }
.cs-info dt { font-weight: bold; margin-top: 4px; }
@media (max-width: 1100px) {
  .cs-root { grid-template-columns: 290px minmax(0, 1fr); }
  .cs-side { padding: 4px 6px; }
  .cs-knob-label, .cs-knob .v-select__selection { font-size: 12px; }
  .cs-note { font-size: 11.5px; }
}
@media (max-width: 800px) {
  html, body { overflow: auto; }
  .cs-root { grid-template-columns: 1fr; height: auto; }
  .cs-side { border-right: none; overflow: visible; }
  .cs-main { order: -1; height: 78vh; }
}
"""


@solara.component
def Layout(children: list[Any] = []) -> Any:  # noqa: B006 - Solara's children convention
    """No app bar, no padding: the page uses the whole window (Solara calls this for the page)."""
    return solara.Column(children=children, style={"padding": "0", "margin": "0"}, gap="0px")


def _css_name(key: str) -> str:
    return "knob-" + re.sub(r"[^a-z0-9]+", "-", key.lower())


@solara.component
def Help(text: str, children: list[Any] = []) -> None:  # noqa: B006
    """Its children with ``text`` as a tooltip."""
    solara.Tooltip(text, children=children)


@solara.component
def KnobControl(knob: Knob, settings: Any) -> None:
    """One lever: its label with value and unit (tooltip: its help), then its control."""
    value = settings.value[knob.key]

    def set_value(shown: Any) -> None:
        settings.set({**settings.value, knob.key: knob.stored(shown)})

    def label() -> Any:
        return solara.Text(knob.text(value), classes=["cs-knob-label", "knob-value"])

    if knob.kind == "bool":
        with solara.Div(classes=["cs-knob", _css_name(knob.key)]):
            Help(knob.help, children=[label()])
            rv.Switch(v_model=bool(value), on_v_model=set_value, dense=True, hide_details=True, inset=False)
    elif knob.kind == "choice":
        with solara.Div(classes=["cs-knob", "cs-choice", _css_name(knob.key)]):
            Help(knob.help, children=[solara.Text(knob.label, classes=["cs-knob-label"])])
            rv.Select(
                items=list(knob.words or knob.choices), v_model=knob.shown(value), on_v_model=set_value,
                dense=True, hide_details=True,
            )  # fmt: skip
    else:
        with solara.Div(classes=["cs-knob", _css_name(knob.key)]):
            Help(knob.help, children=[label()])
            rv.Slider(
                v_model=knob.shown(value), on_v_model=set_value, min=knob.lo, max=knob.hi, step=knob.step,
                dense=True, hide_details=True,
            )  # fmt: skip


@solara.component
def Levers(settings: Any, model: TeachingModel) -> None:
    """The levers that apply to the chosen preset, under their domain headings."""
    preset = presets.get(settings.value["preset"])
    with solara.Div(classes=["cs-levers", "cs-wide"]):
        for domain in DOMAINS:
            knobs = [k for k in KNOBS if k.domain == domain and applies(k, preset)]
            if not settings.value.get("mandate.on"):  # when the mandate ends matters only with one
                knobs = [k for k in knobs if k.key != "mandate.end"]
            if knobs:
                with solara.Div(classes=["cs-domain-row"]):
                    Help(DOMAIN_HELP[domain], children=[solara.Text(domain, classes=["cs-domain"])])
                for knob in knobs:
                    KnobControl(knob, settings)
        if not any(applies(k, preset) for k in KNOBS):
            solara.Text(
                "This classic experiment has no levers: try another seed, then Reset.", classes=["cs-note"]
            )


@solara.component
def RunStatus(model: TeachingModel, tick: Any) -> None:
    """What is running now: size, week, adoption (redrawn on every step: reads ``tick``)."""
    tick.value  # noqa: B018 - subscribe to the step counter
    c = model.counts[-1, 0]
    n = max(int(c.sum()), 1)
    unit = "Week" if model.full_model else "Step"
    people = "staff" if model.org.n_levels > 1 else "people"
    levels = f", {model.org.n_levels} levels" if model.org.n_levels > 1 else ""
    with solara.Div(classes=["cs-run", "cs-wide"]):
        solara.Text(f"{model.org.n_staff:,} {people}{levels}", classes=["run-size"])
        solara.Text(" · ")
        solara.Text(
            f"{unit} {model.steps} of {model.n_steps}", classes=["run-week"], style={"font-weight": "bold"}
        )
        solara.HTML("br")
        solara.Text(
            f"Adopted {(c[1] + c[2]) / n:.0%}", classes=["run-adopted"], style={"font-weight": "bold"}
        )
        if model.full_model:
            solara.Text(f": {c[1] / n:.0%} comply, {c[2] / n:.0%} committed, {c[3] / n:.0%} lapsed")
    if model.note:
        solara.Text(model.note, classes=["cs-warn", "run-note", "cs-wide"])
    if not model.running:
        solara.Text("End of the run: press Reset to run it again.", classes=["cs-warn", "cs-wide"])


@solara.component
def Picture(model: TeachingModel, name: str, tick: Any) -> None:
    """One of the four pictures, redrawn for the model's current step (reads ``tick``)."""
    tick.value  # noqa: B018 - subscribe to the step counter
    what = panels(model)[name]
    view = solara.use_memo(lambda: make_view(model, what), [id(model), what])
    image = draw_view(view, model).jpeg()
    with solara.Div(classes=["cs-plot", f"picture-{name}"]):
        solara.Image(image, format="jpeg")


@solara.component
def Controls(
    model: TeachingModel, tick: Any, playing: Any, seed_text: Any, on_reset: Any, on_step: Any
) -> None:
    """Reset, Play / Pause, Step and the seed (re-rendered on every step: Play ends with the run)."""
    tick.value  # noqa: B018 - subscribe to the step counter
    with solara.Div(classes=["cs-buttons", "cs-wide"]):
        solara.Button("Reset", on_click=on_reset, color="primary", dense=True, classes=["reset-button"])
        solara.Button(
            "Pause" if playing.value else "Play", on_click=lambda: playing.set(not playing.value),
            color="primary", dense=True, disabled=not model.running, classes=["play-button"],
        )  # fmt: skip
        solara.Button(
            "Step", on_click=on_step, color="primary", dense=True,
            disabled=not model.running or playing.value, classes=["step-button"],
        )  # fmt: skip
        with Help("The seed picks the chance events: the same seed gives the same run. Applies on Reset."):
            rv.TextField(
                label="Seed", v_model=seed_text.value, on_v_model=seed_text.set, dense=True,
                hide_details=True, outlined=True, style_="max-width: 80px", class_="seed-field",
            )  # fmt: skip


@solara.component
def InfoPanel(preset_name: str, on_close: Any) -> None:
    """What the preset shows, what to notice, things to try; then how to read the page and every lever."""
    info = presets.info(preset_name)
    with solara.Div(classes=["cs-info", "info-panel"]):
        with solara.Row(justify="space-between"):
            solara.HTML("h2", preset_name.capitalize(), style={"margin": "0"})
            solara.Button("Close", on_click=on_close, color="primary", outlined=True, dense=True)
        for title, key in (
            ("What it shows", "shows"),
            ("What to notice", "notice"),
            ("Things to try", "try"),
        ):
            solara.HTML("h3", title)
            solara.Text(info[key], classes=[f"info-{key}"])
        solara.HTML("h3", "How to read the page")
        solara.Text(
            "Top left: everyone in the organisation, one dot each (in a hierarchy: the board at the top, "
            "frontline teams as short columns). Grey have not adopted; orange comply because they are told "
            "to; blue are committed because it matters to them; pink have stopped again. The other pictures "
            "show adoption over time, by state and by group (level, profession or partner organisation), or "
            "for the classic experiments who adopts and who is about to. Reset starts again with the levers "
            "as set and the seed shown; Play runs twelve steps a second; Step moves one step (a week)."
        )
        solara.HTML("h3", "The levers")
        rows = []
        for domain, text in DOMAIN_HELP.items():
            rows.append(f"<dt>{domain}</dt><dd>{text}<ul>")
            rows += [f"<li><b>{k.label}</b>: {k.help}</li>" for k in KNOBS if k.domain == domain]
            rows.append("</ul></dd>")
        solara.HTML("dl", "".join(rows))


@solara.component
def Page() -> None:
    """The app's page: one model per browser session (see the module docstring)."""
    settings = solara.use_reactive(solara.use_memo(lambda: settings_for(presets.DEFAULT), []))
    model = solara.use_reactive(solara.use_memo(lambda: TeachingModel(settings.value), []))
    seed_text = solara.use_reactive("0")
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    info_open = solara.use_reactive(False)
    problem = solara.use_reactive("")
    lock = solara.use_memo(threading.Lock, [])

    def redraw() -> None:
        tick.set(tick.value + 1)

    def step() -> None:
        with lock:
            if model.value.running:
                model.value.step()
        redraw()

    def reset() -> None:
        playing.set(False)
        try:
            fresh = TeachingModel(settings.value, seed=seed_text.value)
        except ConfigError as e:  # a combination of levers the model refuses: say so, keep the run
            problem.set(f"Not applied: {e}")
            return
        problem.set("")
        with lock:
            model.set(fresh)
        redraw()

    def choose(name: str) -> None:
        playing.set(False)
        new = settings_for(name)
        settings.set(new)
        with lock:
            model.set(TeachingModel(new, seed=seed_text.value))
        redraw()

    def play() -> None:
        """Step at ``STEPS_PER_SECOND`` while playing; redraw after each batch of steps."""
        if not playing.value:
            return
        m = model.value
        start, done = time.perf_counter(), 0
        while playing.value and m is model.value and m.running:
            due = int((time.perf_counter() - start) * STEPS_PER_SECOND) + 1 - done
            with lock:
                for _ in range(max(1, min(due, MAX_CATCH_UP))):
                    if m.running:
                        m.step()
                        done += 1
            redraw()
            pause = start + done / STEPS_PER_SECOND - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        if not m.running:
            playing.set(False)

    solara.lab.use_task(play, dependencies=[playing.value, model.value], prefer_threaded=True)

    m = model.value
    preset = presets.get(settings.value["preset"])
    pending = overrides_for(preset, settings.value) != overrides_for(preset, m.settings)
    solara.Title("changesim: how a change spreads")
    solara.Style(CSS)
    with solara.Div(classes=["cs-root"]):
        with solara.Div(classes=["cs-side"]):
            with solara.Row(justify="space-between", classes=["cs-wide"], style={"align-items": "center"}):
                solara.Text("How a change spreads", classes=["cs-title"])
                solara.Button(
                    "Close info" if info_open.value else "Info",
                    on_click=lambda: info_open.set(not info_open.value),
                    color="primary", outlined=not info_open.value, dense=True, classes=["info-button"],
                )  # fmt: skip
            with solara.Div(classes=["cs-wide"]):
                rv.Select(
                    label="Preset", items=list(presets.NAMES), v_model=preset.name, on_v_model=choose,
                    dense=True, hide_details=True, outlined=True, class_="preset-select mt-2",
                )  # fmt: skip
                solara.Text(preset.description, classes=["cs-note", "preset-story"])
            Controls(m, tick, playing, seed_text, reset, step)
            if problem.value:
                solara.Text(problem.value, classes=["cs-warn", "cs-wide", "run-problem"])
            if pending:
                solara.Text(
                    "Levers changed: press Reset to apply them.", classes=["cs-warn", "pending", "cs-wide"]
                )
            RunStatus(m, tick)
            Levers(settings, m)
        with solara.Div(classes=["cs-main"]):
            for name in PANEL_NAMES:
                Picture(m, name, tick)
            if info_open.value:
                InfoPanel(preset.name, on_close=lambda: info_open.set(False))
