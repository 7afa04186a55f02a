"""A report a non-modeller can read: which leadership model spreads a change, which makes it last, and how far to trust it.

``write_report(comparison, folder, robustness=...)`` writes ``report.html`` (self-contained:
figures embedded, opens offline) and its Markdown twin ``report.md`` with the figures beside
it, plus the tables as CSV. The page opens with a one-paragraph summary; every headline
carries two kinds of uncertainty side by side: the simulation-noise interval (chance, with
the assumptions held fixed) and the share of plausible assumptions under which it holds
(``sim.analysis.robustness``). Differences are against one stated reference (by default
"let it happen", doing nothing special), paired over common random numbers. Statistics for
specialists (d_z, replicates needed, code names) are in an appendix, in words; provenance
(version, commit, date, machine, the exact command) is at the end.

Every sentence is built from the numbers by the functions here and in
``sim.views.wording``, so a different result gives a different sentence.

Why one module of more than 500 lines: the report's content (headlines, summary,
robustness and provenance blocks, as ``Block``s) and its two renderings (HTML and
Markdown) are built from the same blocks in one pass; the figures
(``sim.views.report_figures``) and the number words (``sim.views.wording``) are already
apart. The next seam is the renderers (``to_markdown``, ``to_html``).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.compare import EARLY_STEP, OUTCOMES, Comparison, Outcome
from sim.views import report_figures as rf
from sim.views.wording import (
    assumption_share,
    effect_words,
    pct,
    points,
    runs_share,
    share_with_interval,
    weeks,
)

COLOURS = rf.OKABE_ITO
"""The models' colours (Okabe and Ito 2008, colour-blind safe); experiments' figures use them too."""
DEFAULT_REFERENCE = "let_it_happen"
HEADLINE_OUTCOME = "sustained"
HEADLINES = {
    "early": ("Fastest start", "had the most staff using the change after {early} weeks"),
    "peak": ("Highest peak", "reached the highest share of staff using the change at any time"),
    "sustained": ("Most lasting", "left the most staff using the change at the end"),
    "committed": (
        "Most ownership",
        "left the most staff committed to the change (using it because they value "
        "it, not because they were told)",
    ),
    "lapsed": ("Fewest lapses", "left the fewest staff who had used the change and stopped"),
    "t_50": ("Quickest to half the staff", "reached half the staff soonest"),
    "cumulative_use": (
        "Most use over the whole period",
        "had the most staff using the change, week by week, over the whole period",
    ),
    "timely_use": (
        "Most timely use",
        "had the most use once each week is weighted by how urgent the change is",
    ),
}
NOISE_WORDS = (
    "Numbers in brackets are 95% simulation-noise intervals: where the average would lie if the model were "
    "run many more times with the same assumptions. They cover chance (who happens to adopt when), not "
    "whether the assumptions are right."
)
TRUST_WORDS = (
    "The share of plausible assumptions says how often a conclusion still holds when every assumed rate and "
    "every lever's strength is drawn from its documented plausible range (docs/ODD.md, 'Assumptions as "
    "ranges'). It covers our uncertainty about those values within those ranges, not values outside them, "
    "not a different model structure, and not the fidelity with which a real organisation carries a model out."
)

ASSUMPTIONS = [
    (
        "Evidence",
        "Controlling pressure crowds out intrinsic motivation; feedback raises it",
        "Deci, Koestner and Ryan 1999 (d = -0.28 to -0.40; +0.33); Frey and Jegen 2001",
    ),
    (
        "Evidence",
        "Behaviour that needs reinforcement spreads through clustered, trusting ties",
        "Centola and Macy 2007; Centola 2010 (54% vs 38% adoption)",
    ),
    (
        "Evidence",
        "Senior-leader churn is high (median chief-executive tenure about 3 years)",
        "King's Fund 2018",
    ),
    (
        "Evidence",
        "Partners in an integrated care system can influence but not command each other",
        "SCIE 2018",
    ),
    ("Assumption", "Agency is power times courage; initiative scales with it", "our form of IHI 2018"),
    (
        "Assumption",
        "Readiness = (motivation + belief) / 2 + fit lowers the social threshold",
        "our form of IHI 2018 and Rogers 2003",
    ),
    (
        "Assumption",
        "Compliance lapses once pressure goes, at a swept rate",
        "no valid estimate: the '70% of change fails' figure has no sound basis (Hughes 2011)",
    ),
    (
        "Assumption",
        "Trust grows with joint work and erodes under directives, at swept rates",
        "direction from Fitzgerald et al. 2013; rates assumed",
    ),
    (
        "Assumption",
        "Thresholds, spontaneous adoption and test success rates",
        "set by eye; the one data check (e12: 125 physicians, Medical Innovation, fitted by changesim "
        "calibrate) finds outside influence of 0.3-3% a week, thresholds barely identified and no "
        "detectable contagion effect out of sample; a 1950s prescribing decision does not transfer directly",
    ),
]


@dataclass
class Block:
    """One piece of the document, rendered to both Markdown and HTML."""

    kind: str  # h1, h2, h3, p, ul, table, fig, pre, details
    text: str = ""
    items: list[str] | None = None
    table: pd.DataFrame | None = None
    image: bytes | None = None
    name: str = ""


def _outcome(key: str) -> Outcome:
    return next(o for o in OUTCOMES if o.key == key)


def _ranked(comp: Comparison | None = None) -> list[Outcome]:
    """Ranked outcomes; urgency-weighted use is left out where it equals cumulative use (no urgency)."""
    out = [o for o in OUTCOMES if o.better in ("higher", "lower")]
    if comp is not None and "timely_use" in comp.outcomes and "cumulative_use" in comp.outcomes:
        if np.allclose(comp.outcomes["timely_use"], comp.outcomes["cumulative_use"], equal_nan=True):
            out = [o for o in out if o.key != "timely_use"]
    return out


def describe_scenario(title: str, description: str) -> str:
    """The description without a leading repeat of the model's own name."""
    short = re.escape(title.split(" (")[0].split(":")[0].strip())
    text = re.sub(rf"^{short}\s*(\([^)]*\))?\s*:\s*", "", description, flags=re.I)
    return text[:1].upper() + text[1:] if text else description


def value_text(comp: Comparison, table: pd.DataFrame, name: str, o: Outcome) -> str:
    """One model's value on one outcome, with its simulation-noise interval, in words."""
    x = comp.outcomes.loc[comp.outcomes.scenario == name, o.key].to_numpy(np.float64)
    n = len(x)
    if not o.censored and np.isnan(x).all():
        return "does not apply"
    if o.binary:
        return runs_share(int(np.nansum(x)), n)
    if o.censored:
        return weeks(x, n, comp.scenarios[0].config.n_steps)
    r = table[(table.scenario == name) & (table.outcome == o.key)].iloc[0]
    if o.percent:
        return share_with_interval(r["mean"], r.ci_lo, r.ci_hi, every_run=bool(np.nanstd(x) == 0))
    lo, hi = max(0.0, r.ci_lo), max(0.0, r.ci_hi)
    return f"{r['mean']:.0f} ({lo:.0f} to {hi:.0f})"


def _rank_score(comp: Comparison, name: str, o: Outcome) -> float:
    x = comp.outcomes.loc[comp.outcomes.scenario == name, o.key].to_numpy(np.float64)
    if o.censored:
        x = np.where(np.isnan(x), comp.scenarios[0].config.n_steps + 1, x)
    if np.isnan(x).all():
        return -np.inf
    m = float(np.nanmean(x))
    return m if o.better == "higher" else -m


def best(comp: Comparison, o: Outcome) -> str:
    """The model that does best on an outcome at the stated assumptions (mean over runs)."""
    return max((s.name for s in comp.scenarios), key=lambda n: _rank_score(comp, n, o))


TRADEOFFS = ("early", "sustained", "committed", "cumulative_use", "timely_use", "t_50", "use_after_mandate")
"""The outcomes shown side by side (where the comparison has them), in this order."""


def tradeoff_outcomes(comp: Comparison | None = None) -> list[Outcome]:
    """The trade-off outcomes: speed, the share at the end, ownership, cumulative use, time to 50% and
    sustainment a year after a mandate ends; urgency-weighted use only where it differs from cumulative use.
    """
    keys = {o.key for o in OUTCOMES}
    out = [_outcome(k) for k in TRADEOFFS if k in keys]
    if comp is not None and {"timely_use", "cumulative_use"} <= keys:
        a, b = comp.outcomes["timely_use"].to_numpy(), comp.outcomes["cumulative_use"].to_numpy()
        if np.allclose(a, b, equal_nan=True):
            out = [o for o in out if o.key != "timely_use"]
    return out


def _trust_first(rob: Any, o: Outcome, name: str) -> str:
    if rob is None or o.key not in set(rob.rank_first.outcome):
        return "not yet tested against the plausible ranges"
    r = rob.rank_first
    row = r[(r.outcome == o.key) & (r.scenario == name)].iloc[0]
    return f"it ranks first {assumption_share(row.p_first, int(row.n_points), row.lo, row.hi)}"


def _trust_beats(rob: Any, o: Outcome, a: str, b: str) -> str:
    if rob is None or o.key not in set(rob.pairwise.outcome):
        return "not yet tested against the plausible ranges"
    p = rob.pairwise
    row = p[(p.outcome == o.key) & (p.a == a) & (p.b == b)].iloc[0]
    return assumption_share(row.share, int(row.n_points), row.lo, row.hi)


def headlines(
    comp: Comparison, table: pd.DataFrame, diff: pd.DataFrame, reference: str, rob: Any
) -> list[str]:
    """The headline findings: the best model on each ranked outcome, then each model against the reference."""
    title = {s.name: s.title for s in comp.scenarios}
    out = []
    for o in _ranked(comp):
        if o.key not in HEADLINES:
            name, verb = f"Best on {o.label.lower()}", f"did best on {o.label.lower()}"
        else:
            name, verb = HEADLINES[o.key]
        b = best(comp, o)
        out.append(
            f"**{name}:** {title[b]} {verb.format(early=EARLY_STEP)}: {value_text(comp, table, b, o)}; "
            f"{_trust_first(rob, o, b)}."
        )
    o = _outcome(HEADLINE_OUTCOME)
    for row in diff[diff.outcome == o.key].itertuples():
        d = points(row.difference, row.ci_lo, row.ci_hi)
        holds = _trust_beats(rob, o, row.scenario, reference)
        if row.ci_lo > 0 or row.ci_hi < 0:
            word = "more" if row.difference > 0 else "fewer"
            claim = (
                f"**{title[row.scenario]}** left {word} staff using the change at the end than "
                f"{title[reference]}: {d}."
            )
            if rob is not None:
                better = row.difference > 0
                share = (
                    _trust_beats(rob, o, row.scenario, reference)
                    if better
                    else _trust_beats(rob, o, reference, row.scenario)
                )
                claim += f" It {'beats' if better else 'falls behind'} {title[reference]} {share}."
        else:
            claim = (
                f"**{title[row.scenario]}** and {title[reference]} ended with adoption we cannot tell apart: "
                f"{d}. {title[row.scenario]} is ahead {holds}."
            )
        if comp.results[row.scenario].org is not comp.results[reference].org:
            claim += " (It runs on a different organisation, so the runs share seeds but not people.)"
        out.append(claim)
    return out


def condition_sentences(rob: Any, outcomes: list[Outcome] | None = None) -> list[str]:
    """Where the usual winner on each outcome loses, from PRIM (and the tree as a cross-check), in words."""
    if rob is None:
        return []
    out = []
    for o in outcomes or _ranked():
        c = rob.conditions[rob.conditions.outcome == o.key]
        if c.empty:
            continue
        w = rob.winners.get(o.key, str(c.winner.iloc[0]))
        wt = rob.titles.get(w, w)
        prim = c[c.method == "PRIM"].iloc[0]
        lose = float(prim.share_loses)
        head = (
            f"On {o.label.lower()}, the usual winner, {wt}, is behind another model under "
            f"{pct(lose)} of the plausible assumptions"
        )
        if bool(prim.found):
            out.append(
                f"{head}, mostly where {prim.words}. That region holds {pct(prim.coverage)} of the cases "
                f"where it is behind (coverage), and inside it, it is behind in {pct(prim.density)} of them "
                f"(density; PRIM)."
            )
        else:
            out.append(f"{head}: {prim.words}.")
        tree = c[c.method == "decision tree"]
        if len(tree) and bool(tree.iloc[0].found):
            t = tree.iloc[0]
            out[-1] += (
                f" A two-level decision tree points to {t.words} (coverage {pct(t.coverage)}, "
                f"density {pct(t.density)})."
            )
    return out


def driver_sentence(rob: Any, outcome: str = HEADLINE_OUTCOME, k: int = 3) -> str:
    """The inputs that move the usual winner's lead most (first-order sensitivity indices)."""
    from sim.analysis.robustness import input_label

    idx = rob.indices[(rob.indices.outcome == outcome) & np.isfinite(rob.indices.S1)]
    if idx.empty:
        return ""
    top = idx.sort_values("S1", ascending=False).head(k)
    w = rob.winners.get(outcome, str(top.winner.iloc[0]))
    parts = [
        f"{input_label(r.input, rob.unc)} ({pct(max(0.0, r.S1))} of the variance, give or take "
        f"{100 * r.S1_conf:.0f} points)"
        for r in top.itertuples()
    ]
    kind = "Sobol" if top.ST.notna().any() else "first-order Sobol indices estimated by RBD-FAST"
    clear = (top.S1 - top.S1_conf > 0).any()
    caveat = (
        ""
        if clear
        else f" None is clearly above zero with {int(rob.rank_first.n_points.iloc[0])} sets: no single assumption "
        "dominates the lead; it rests on many together."
    )
    return (
        f"What moves the lead of {rob.titles.get(w, w)} on {_outcome(outcome).label.lower()} most: "
        f"{'; '.join(parts)} ({kind}).{caveat}"
    )


def summary(comp: Comparison, table: pd.DataFrame, diff: pd.DataFrame, reference: str, rob: Any) -> str:
    """The one-paragraph summary that opens the report, built from the numbers."""
    title = {s.name: s.title for s in comp.scenarios}
    org = comp.results[reference].org
    n_multi = sum(len(comp.results[s.name].org.org_names) > 1 for s in comp.scenarios)
    o_s, o_e = _outcome(HEADLINE_OUTCOME), _outcome("early")
    b_s, b_e = best(comp, o_s), best(comp, o_e)
    text = (
        f"We simulated {len(comp.scenarios)} ways of leading the same change in an NHS trust of {org.n_staff:,} "
        f"staff over {comp.scenarios[0].config.n_steps} weeks, {len(comp.seeds)} runs each, and compared each "
        f"with {title[reference]} (doing nothing special)."
    )
    if n_multi:
        text += " The partnership model runs across several partner organisations instead of one trust."
    text += (
        f" {title[b_s]} left the most staff using the change at the end "
        f"({value_text(comp, table, b_s, o_s)}); {_trust_first(rob, o_s, b_s)}."
    )
    if b_e != b_s:
        text += (
            f" {title[b_e]} got the fastest start ({value_text(comp, table, b_e, o_e)} after {EARLY_STEP} "
            f"weeks); {_trust_first(rob, o_e, b_e)}."
        )
    row = diff[(diff.outcome == o_s.key) & (diff.scenario == b_s)]
    if len(row):
        r = row.iloc[0]
        text += f" Against {title[reference]}, {title[b_s]} made a difference of {points(r.difference, r.ci_lo, r.ci_hi)}."
    if rob is not None:
        c = rob.conditions[(rob.conditions.outcome == o_s.key) & (rob.conditions.method == "PRIM")]
        w = rob.winners.get(o_s.key)
        if w is not None and w != b_s and o_s.key in set(rob.rank_first.outcome):
            text += (
                f" Across the plausible assumptions, though, {title.get(w, w)} ranks first on the share at the "
                f"end more often ({pct(rob.p_first(o_s.key, w))} of the sets against "
                f"{pct(rob.p_first(o_s.key, b_s))})."
            )
        if len(c) and bool(c.iloc[0].found) and w is not None:
            text += f" {title.get(w, w)} falls behind mostly where {c.iloc[0].words}."
    else:
        text += " These results have not been tested against the plausible ranges of the assumptions."
    return text + " " + NOISE_WORDS.split(":")[0].replace("Numbers in brackets are", "Brackets hold") + "."


def _value_table(comp: Comparison, table: pd.DataFrame, outcomes: list[Outcome], rob: Any) -> pd.DataFrame:
    rows = []
    for s in comp.scenarios:
        row = {"Leadership model": s.title}
        for o in outcomes:
            v = value_text(comp, table, s.name, o)
            if rob is not None and o.key in set(rob.rank_first.outcome):
                r = rob.rank_first
                p = float(r[(r.outcome == o.key) & (r.scenario == s.name)].p_first.iloc[0])
                v += f"; first in {pct(p)} of sets"
            row[o.label] = v
        rows.append(row)
    return pd.DataFrame(rows)


def _all_zero(comp: Comparison, o: Outcome) -> bool:
    x = comp.outcomes[o.key].to_numpy(np.float64)
    return bool(np.all(np.nan_to_num(x) == 0))


def _robustness_blocks(rob: Any, comp: Comparison, reference: str) -> list[Block]:
    if rob is None:
        return [
            Block("h2", "How far to trust the ranking"),
            Block(
                "p",
                "Not assessed in this run: rerun with robustness=run (a design sampled from "
                "configs/uncertainty/default.yaml) or robustness=DIR (a saved `changesim robustness` run).",
            ),
        ]
    p = rob.provenance
    unc = rob.unc
    title = {s.name: s.title for s in comp.scenarios}
    blocks = [
        Block("h2", "How far to trust the ranking"),
        Block(
            "p",
            f"We drew {p.get('n_points', len(rob.design))} sets of values for the {len(unc.parameters)} "
            f"assumed parameters and the strengths of {len(unc.levers)} leadership levers from their plausible "
            f"ranges ({p.get('sample', unc.design.method)}; every range and its source is listed in docs/ODD.md) "
            f"and ran every model {p.get('n_replicates', unc.design.replicates)} times at each, on the same "
            f"random numbers ({p.get('n_runs', len(rob.runs)):,} runs). {fitted_sentence(p)}",
        ),
    ]
    outs = [o for o in _ranked(comp) if o.key in set(rob.rank_first.outcome)]
    rows = []
    for name in rob.order:
        row = {"Leadership model": rob.titles.get(name, name)}
        for o in outs:
            r = rob.rank_first[(rob.rank_first.outcome == o.key) & (rob.rank_first.scenario == name)].iloc[0]
            row[o.label] = f"{pct(r.p_first)} ({pct(r.lo)} to {pct(r.hi)})"
        rows.append(row)
    blocks += [
        Block("h3", "How often each model ranks first"),
        Block(
            "p",
            "Share of the plausible sets of assumptions under which each model does best on each "
            "outcome (a tie shares the credit); brackets: 95% interval for the finite number of sets.",
        ),
        Block("table", table=pd.DataFrame(rows)),
    ]
    o = _outcome(HEADLINE_OUTCOME)
    winner = rob.winners.get(o.key, reference)
    pw = rob.pairwise[rob.pairwise.outcome == o.key]
    rows = []
    for name in rob.order:
        row = {"Leadership model": rob.titles.get(name, name)}
        for other in dict.fromkeys([reference, winner]):
            if other == name:
                row[f"beats {title.get(other, other)}"] = "(itself)"
                continue
            r = pw[(pw.a == name) & (pw.b == other)].iloc[0]
            row[f"beats {title.get(other, other)}"] = f"{pct(r.share)}; clearly {pct(r.share_clearly)}"
        rows.append(row)
    blocks += [
        Block("h3", f"Who beats whom on {o.label.lower()}"),
        Block(
            "p",
            "Share of plausible assumptions under which the model in the row beats the model named "
            "in the column; 'clearly' counts only sets where its paired 95% interval over the runs "
            "excludes no difference. The figure below has every pair.",
        ),
        Block("table", table=pd.DataFrame(rows)),
        Block("h3", "When the usual winner loses"),
        Block("ul", items=condition_sentences(rob, outs)),
    ]
    drivers = driver_sentence(rob)
    if drivers:
        blocks.append(Block("p", drivers))
    return blocks


def fitted_sentence(prov: dict[str, Any]) -> str:
    """Which ranges come from data (the calibration file) and which are assumed, in one sentence."""
    fitted = prov.get("fitted") or []
    if not fitted:
        note = prov.get("calibration", "")
        return (
            f"Every range is an assumption ({note})."
            if note and note != "none"
            else "Every range is an assumption."
        )
    parts = [f"{f['key']} ({f['low']:.3g} to {f['high']:.3g})" for f in fitted]
    return (
        f"Ranges taken from data: {', '.join(parts)}, the 95% intervals fitted by `changesim calibrate` "
        "to the Medical Innovation data (physicians and a new drug in the 1950s, so their transfer to "
        "an NHS trust is itself an assumption); every other range is an assumption."
    )


def _appendix(comp: Comparison, diff: pd.DataFrame, need: pd.DataFrame, reference: str) -> list[Block]:
    title = {s.name: s.title for s in comp.scenarios}
    o = _outcome(HEADLINE_OUTCOME)
    eff = []
    for r in diff[diff.outcome == o.key].itertuples():
        if np.isinf(r.effect_size_dz):
            eff.append(f"{title[r.scenario]} against {title[reference]}: {effect_words(r.effect_size_dz)}.")
            continue
        eff.append(
            f"{title[r.scenario]} against {title[reference]}: the mean paired difference is "
            f"{abs(r.effect_size_dz):.1f} times the spread of the paired differences "
            f"(d_z = {r.effect_size_dz:.1f}, a {effect_words(r.effect_size_dz)} effect by Cohen's "
            f"conventions; paired t-test p = {r.p_value:.2g})."
        )
    reps = []
    n = len(comp.seeds)
    for r in need.itertuples():
        half = 1.96 * r.sd / np.sqrt(n) if r.sd > 0 else 0.0
        verdict = "enough" if r.replicates_needed <= n else f"more than the {n} used here"
        reps.append(
            f"{title[r.scenario]}: {r.replicates_needed} runs for plus or minus {100 * r.half_width:.0f} "
            f"points ({verdict}; with {n} runs the interval is plus or minus {100 * half:.1f} points)."
        )
    codes = [f"{s.title}: `{s.name}` (configs/scenario/{s.name}.yaml)" for s in comp.scenarios]
    return [
        Block("h2", "Appendix: for specialists"),
        Block("h3", f"Effect sizes on {o.label.lower()}"),
        Block("ul", items=eff),
        Block("h3", f"Runs needed for a precise {o.label.lower()}"),
        Block("ul", items=reps),
        Block("h3", "Names used in the configuration files and tables"),
        Block("ul", items=codes),
    ]


def machine_words(m: Any) -> str:
    """'host (Linux-6.1-x86_64, 2 cores; Python 3.11.9, NumPy 2.4.6, Numba 0.61.2)' from a machine record."""
    if not isinstance(m, dict):
        return str(m or "unknown")
    return (
        f"{m.get('hostname', '?')} ({m.get('platform', '?')}, {m.get('cpu_count', '?')} cores; Python "
        f"{m.get('python', '?')}, NumPy {m.get('numpy', '?')}, Numba {m.get('numba', '?')})"
    )


def _provenance_blocks(prov: dict[str, Any], rob: Any) -> list[Block]:
    modified = prov.get("git_modified")
    state = "unknown" if modified is None else ("modified (uncommitted changes)" if modified else "clean")
    rows = [
        ("changesim version", prov.get("changesim", "")),
        ("Git commit", f"{prov.get('git_commit', '')} ({state})"),
        ("Date (UTC)", prov.get("created", "")),
        ("Machine", machine_words(prov.get("machine"))),
        ("Command", prov.get("command", "")),
    ]
    if rob is not None:
        rp = rob.provenance
        rows += [
            (
                "Robustness run",
                f"{rp.get('command', '')} (commit {rp.get('git_commit', '')}, {rp.get('created', '')}, "
                f"{rp.get('seconds', '?')} s on {machine_words(rp.get('machine'))})",
            )
        ]
    return [
        Block("h2", "Provenance"),
        Block("table", table=pd.DataFrame(rows, columns=["Item", "Value"])),
        Block(
            "p",
            "The exact parameters of every model are in configs.json beside this file; "
            "scripts/reproduce_results.py re-runs them and compares the tables to the byte.",
        ),
    ]


def build(
    comp: Comparison, reference: str, rob: Any, prov: dict[str, Any], title: str
) -> tuple[list[Block], dict[str, pd.DataFrame]]:
    """The report's blocks and its tables (the tables are also written as CSV)."""
    table = comp.table()
    diff = comp.differences(reference)
    need = comp.replicates_for(0.02)
    ref_title = next(s.title for s in comp.scenarios if s.name == reference)
    ranked = _ranked(comp)
    side = {o.key for o in tradeoff_outcomes(comp)}
    shown = [o for o in OUTCOMES if o.key not in side and not _all_zero(comp, o)]
    dropped = [o.label.lower() for o in OUTCOMES if o.key not in side and _all_zero(comp, o)]
    blocks = [
        Block("h1", title),
        Block("p", "**Summary.** " + summary(comp, table, diff, reference, rob)),
        Block("h2", "How to read the numbers"),
        Block(
            "ul",
            items=[
                NOISE_WORDS,
                TRUST_WORDS,
                f"Differences are against one reference, {ref_title} (doing nothing special), "
                "paired run by run on the same simulated people and chance events.",
            ],
        ),
        Block("h2", "Headline findings"),
        Block("ul", items=headlines(comp, table, diff, reference, rob)),
        Block("h2", "Trade-offs side by side"),
        Block(
            "p",
            "What each model gains and gives up: how fast it starts, how many use the change at the end and "
            "over the whole period, how soon half the staff use it, and whether use lasts a year after a mandate "
            "ends. Each value has its simulation-noise interval; after 'first in', the share of the plausible sets "
            "of assumptions under which the model does best on that outcome.",
        ),
        Block("table", table=_value_table(comp, table, tradeoff_outcomes(comp), rob)),
    ]
    figs = [
        (
            "adoption",
            "How far the change spread over time, one panel per model",
            rf.adoption_panels(comp, reference),
        ),
        (
            "ownership",
            "Does it stick: committed, complying, lapsed and never used, at the end",
            rf.ownership(comp),
        ),
        (
            "difference",
            f"Differences from {ref_title} (simulation noise only)",
            rf.difference_panels(diff, [o.key for o in ranked if o.percent and not o.censored], ref_title),
        ),
    ]
    for dim in ("level", "profession", "organisation"):
        png = rf.reach(comp, dim)
        if png is not None:
            figs.append((f"reach_{dim}", f"Who it reached, by {dim}", png))
    blocks += [Block("fig", cap, image=png, name=key) for key, cap, png in figs[:3]]
    blocks += _robustness_blocks(rob, comp, reference)
    if rob is not None:
        from sim.views.report_figures import png as to_png
        from sim.views.robustness import figure

        blocks.append(
            Block(
                "fig",
                "Robustness: (a) how often each model ranks first; (b) who beats whom; (c) what "
                "drives the usual winner's lead; (d) where it loses (PRIM box)",
                image=to_png(figure(rob)),
                name="robustness",
            )
        )
    blocks += [
        Block("h2", "Other outcomes and who the change reached"),
        Block("table", table=_value_table(comp, table, shown, rob)),
    ]
    if dropped:
        blocks.append(
            Block("p", f"Not shown: {', '.join(dropped)}, which is zero in every run of every model.")
        )
    blocks += [Block("fig", cap, image=png, name=key) for key, cap, png in figs[3:]]
    blocks += [
        Block("h2", "What was compared"),
        Block(
            "ul",
            items=[
                f"**{s.title}**: {describe_scenario(s.title, s.description)}"
                + (f" *Source: {s.source}.*" if s.source else "")
                for s in comp.scenarios
            ],
        ),
        Block("h2", "What the model takes as given"),
        Block(
            "table",
            table=pd.DataFrame(ASSUMPTIONS, columns=["Kind", "What the model takes as given", "Basis"]),
        ),
    ]
    blocks += _appendix(comp, diff, need, reference)
    blocks += _provenance_blocks(prov, rob)
    return blocks, {
        "outcomes_summary.csv": table,
        "differences.csv": diff,
        "outcomes_by_replicate.csv": comp.outcomes,
        "replicates_needed.csv": need,
    }


def _inline_html(text: str) -> str:
    s = html.escape(text)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as Markdown (figures referenced as fig_<name>.png beside the file)."""
    out = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            out += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "ul":
            out += [f"- {i}" for i in b.items or []] + [""]
        elif b.kind == "table" and b.table is not None:
            cols = list(b.table.columns)
            out += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
            out += [
                "| " + " | ".join(str(v).replace("|", "/") for v in row) + " |"
                for row in b.table.itertuples(index=False)
            ]
            out.append("")
        elif b.kind == "fig":
            out += [f"![{b.text}](fig_{b.name}.png)", "", f"*{b.text}.*", ""]
    return "\n".join(out)


def to_html(blocks: list[Block], title: str) -> str:
    """The blocks as one self-contained HTML page (figures embedded; no external resources)."""
    body = []
    for b in blocks:
        if b.kind in ("h1", "h2", "h3"):
            body.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items or []) + "</ul>")
        elif b.kind == "table" and b.table is not None:
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in b.table.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(str(v))}</td>" for v in row) + "</tr>"
                for row in b.table.itertuples(index=False)
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif b.kind == "fig" and b.image is not None:
            b64 = base64.b64encode(b.image).decode()
            cap = html.escape(b.text)
            body.append(
                f'<figure><img alt="{cap}" src="data:image/png;base64,{b64}"><figcaption>{cap}</figcaption></figure>'
            )
    style = (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1040px;margin:2em auto;"
        "padding:0 1em;color:#222;line-height:1.5}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}"
        "img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:0.85em;color:#555}"
        "code{background:#f3f3f3;padding:0 0.2em}"
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


def write_report(
    comp: Comparison,
    folder: str | Path,
    reference: str | None = None,
    command: str = "changesim report",
    title: str = "Comparing leadership models for spreading a change",
    robustness: Any = None,
    provenance: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write report.html, report.md, figures and tables into ``folder``; return their paths.

    Args:
        reference: the model every difference is taken against (default: let it happen
            when compared, else the first).
        robustness: a ``sim.analysis.robustness.Robustness`` over the same models, or None.
        provenance: version, commit, date, machine and command (default: gathered now).
    """
    from sim.provenance import provenance as gather
    from sim.provenance import write as write_provenance

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in comp.scenarios]
    reference = reference or (DEFAULT_REFERENCE if DEFAULT_REFERENCE in names else names[0])
    if robustness is not None and list(robustness.order) != names:
        from sim.params import ConfigError

        raise ConfigError(
            f"robustness run compares {list(robustness.order)}, the report {names}: they must match"
        )
    prov = provenance or gather(command=command, seeds=[int(s) for s in comp.seeds])
    blocks, tables = build(comp, reference, robustness, prov, title)
    paths: dict[str, Path] = {}
    for b in blocks:
        if b.kind == "fig" and b.image is not None:
            p = folder / f"fig_{b.name}.png"
            p.write_bytes(b.image)
            paths[f"fig_{b.name}"] = p
    for name, df in tables.items():
        df.to_csv(folder / name, index=False)
    (folder / "configs.json").write_text(
        json.dumps({s.name: s.config.to_dict() for s in comp.scenarios}, indent=2)
    )
    paths["provenance"] = write_provenance(folder / "provenance.json", prov)
    paths["md"] = folder / "report.md"
    paths["md"].write_text(to_markdown(blocks))
    paths["html"] = folder / "report.html"
    paths["html"].write_text(to_html(blocks, title))
    return paths
