"""The teaching app's model side: its levers, one model per session, and the pictures it draws.

No Solara here (``sim.views.app_page`` is the page), so this is what the tests and the
documentation read: ``KNOBS`` (each lever with its range, unit and one-sentence help),
``DOMAIN_HELP`` (what the model does with each panel heading), ``TeachingModel`` (a
``ChangeModel`` built from a preset and the panel's settings) and ``render`` (the four
pictures of a step, drawn by ``sim.views.live``). ``docs/ODD.md`` lists the same help
(``lever_table``), so the app and the model description cannot drift apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np

from sim.model import ChangeModel, organisation_for
from sim.org import Organisation
from sim.params import ConfigError, ModelConfig, from_dict
from sim.views import presets
from sim.views.hierarchy import hierarchy_layout
from sim.views.live import AdoptionPlot, OrgView, SplitHistogram, ThresholdPlot, contact_share


@dataclass(frozen=True)
class Knob:
    """One control of the levers panel, bound to one config key.

    ``scale`` converts the config value to what the slider shows (100 for a share shown
    in percent); ``lo``, ``hi`` and ``step`` are in shown units. ``when`` says which
    scenarios it applies to: ``all``, ``change`` (the full model), ``hierarchy`` (an
    organisation with levels), ``random`` (a random graph). ``help`` is one plain sentence
    (the app's tooltip, the Info panel and docs/ODD.md all show it); ``words`` names the
    options of a choice.
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
    help: str = ""
    words: tuple[str, ...] = ()

    def shown(self, value: Any) -> Any:
        """The config value in the slider's units (a choice: its words)."""
        if self.kind == "bool":
            return value
        if self.kind == "choice":
            return self.words[self.choices.index(value)] if self.words else value
        v = float(value) * self.scale
        return int(round(v)) if self.kind == "int" else round(v, 6)

    def stored(self, shown: Any) -> Any:
        """The slider's value in config units, clipped to the slider's range."""
        if self.kind == "bool":
            return bool(shown)
        if self.kind == "choice":
            if self.words and shown in self.words:
                return self.choices[self.words.index(shown)]
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
            return f"{self.label}: {self.shown(value)}"
        v = self.shown(value)
        number = f"{v:,}" if self.kind == "int" else f"{v:g}"
        sep = "" if self.unit.startswith("%") else " "
        return f"{self.label}: {number}{(sep + self.unit) if self.unit else ''}"


MOTIVATION = "Unleash intrinsic motivation"
CO_DESIGN = "Co-design people-driven change"
RELATIONSHIPS = "Co-produce in authentic relationship"
POWER = "Distribute power"
ADAPTATION = "Adapt in action"
LEADERSHIP = "Leadership"
DOMAIN_HELP: dict[str, str] = {
    "Organisation": "Who is in the organisation and how many contacts each person has.",
    MOTIVATION: "People act on what matters to them: readiness lowers the share of colleagues a "
    "person waits for, and recognition makes adopters keener still.",
    CO_DESIGN: "A group drawn from the workforce designs the change, so it fits the work of the "
    "roles represented and their teams.",
    RELATIONSHIPS: "People copy those they trust: working on the change together builds trust "
    "between adopters, and pressure down the line wears it away.",
    POWER: "Who may act without waiting for a manager, and how much a senior person's example "
    "counts for more than a junior colleague's.",
    ADAPTATION: "Adopters test the change in their own work (plan-do-study-act): a success "
    "builds belief, a failure can lead them to adapt it so it fits.",
    LEADERSHIP: "A top-down mandate: staff comply because they are told to, and may lapse "
    "when it is withdrawn.",
}
"""What the model does with each panel heading: the five domains of the IHI Psychology of
Change Framework (Hilton and Anderson 2018), the organisation, and the mandate."""
DOMAINS = tuple(DOMAIN_HELP)
"""Panel sections in order."""

KNOBS: tuple[Knob, ...] = (
    Knob("org.n_staff", "Staff", "people", 30, 2000, 10, "int", when="all",
         help="How many people work in the organisation (Reset builds a new one)."),
    Knob("org.mean_degree", "Contacts per person", "on average", 1, 16, 0.5, when="random",
         help="Average number of people each person knows in this random network: too few and "
         "nothing can spread, too many and no one is swayed by one contact."),
    Knob("dynamics.power_gradient", "Weight of seniority", "", 0, 4, 0.25, domain=POWER, when="hierarchy",
         help="0: everyone's example counts the same; higher: a senior person's example counts "
         "far more than a junior colleague's (influence grows as authority to this power)."),
    Knob("power.mode", "Who may start without approval", kind="choice",
         choices=("none", "centralised", "distributed"),
         words=("anyone", "managers (centralised)", "by agency (distributed)"),
         domain=POWER,
         help="Centralised: staff below the managers wait until their own manager has adopted; "
         "distributed: anyone with enough power and courage may start on their own."),
    Knob("power.empowerment", "Power everyone holds", "", 0, 1, 0.05, domain=POWER,
         help="With distributed power, the least power anyone has: more power means more agency "
         "(power times courage) to start the change on one's own initiative."),
    Knob("motivation.readiness_weight", "Effect of readiness", "", 0, 1, 0.05, domain=MOTIVATION,
         help="How far being ready (motivated, convinced, the change fits) lowers the share of "
         "colleagues a person waits for before adopting."),
    Knob("motivation.recognition", "Recognition", "a week", 0, 0.1, 0.005, domain=MOTIVATION,
         help="Each week, how much recognition and feedback raise the motivation of those who "
         "use the change."),
    Knob("co_design.on", "Co-design the change", kind="bool", domain=CO_DESIGN,
         help="A group of staff designs the change: it fits their roles and their teams better, "
         "and they adopt it from the start."),
    Knob("co_design.share", "Co-design group", "% of staff", 1, 30, 1, scale=100, domain=CO_DESIGN,
         help="How big the design group is, as a share of all staff (drawn across levels and "
         "professions)."),
    Knob("relationships.trust_growth", "Trust from joint work", "a week", 0, 0.1, 0.005,
         domain=RELATIONSHIPS,
         help="Each week, how much trust grows between two colleagues who both own the change; "
         "trusted colleagues sway each other more."),
    Knob("adaptation.p_test", "Test cycles (PDSA)", "%/week", 0, 100, 5, scale=100,
         domain=ADAPTATION,
         help="Share of adopters who try the change out in their work each week: successes "
         "build belief in it, failures shake it."),
    Knob("adaptation.adapt", "Adapt after failed tests", kind="bool", domain=ADAPTATION,
         help="After a failed test, people rework the change so it fits their work better."),
    Knob("mandate.on", "Mandate from the top", kind="bool", domain=LEADERSHIP,
         help="Leaders instruct everyone to adopt: many comply quickly without owning it."),
    Knob("mandate.end", "Mandate ends at week", "", 1, 104, 1, "int", domain=LEADERSHIP,
         help="The week the instruction stops: those who only complied may then stop again."),
)  # fmt: skip
"""The levers of the app, with a one-sentence help each."""
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


ORG_TITLE = "Who has adopted, across the organisation"
"""The hierarchy view's title in the app."""


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
        # The run card beside it prints the week and the share adopted: a fixed title is cheaper.
        return OrgView(model.org, model.xy, full_model=model.full_model, title=ORG_TITLE)
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
    """JPEG bytes of every picture the page shows for the model's current step.

    ``views`` keeps the pictures between calls (their static parts are drawn once).
    """
    views = {} if views is None else views
    out: dict[str, bytes] = {}
    for name, what in panels(model).items():
        if name not in views:
            views[name] = make_view(model, what)
        out[name] = draw_view(views[name], model).jpeg()
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


def lever_table() -> str:
    """Markdown: every panel heading and lever of the app with its help (for docs/ODD.md)."""
    rows = ["| Panel heading or lever | Config key | What it does |", "|---|---|---|"]
    for domain, text in DOMAIN_HELP.items():
        rows.append(f"| **{domain}** | | {text} |")
        for k in KNOBS:
            if k.domain == domain:
                unit = f" ({k.unit})" if k.unit else ""
                rows.append(f"| {k.label}{unit} | `{k.key}` | {k.help} |")
    return "\n".join(rows)
