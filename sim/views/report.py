"""A report a non-modeller can read: which leadership model spreads a change, which makes it last.

``write_report(comparison, folder)`` writes ``report.html`` (self-contained: figures
embedded, opens offline in any browser) and ``report.md`` with its figures beside it,
plus the tables as CSV. Every number carries its 95% confidence interval; differences
between scenarios are paired over common random numbers (``sim.analysis.compare``).
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.analysis.compare import EARLY_STEP, OUTCOMES, Comparison  # noqa: E402
from sim.analysis.stats import describe_effect, mean_ci  # noqa: E402
from sim.provenance import provenance  # noqa: E402
from sim.provenance import write as write_provenance  # noqa: E402

COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

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
        "calibrated by eye, not to data",
    ),
]


def _pct(x: float) -> str:
    return "n/a" if np.isnan(x) else f"{100 * x:.0f}%"


def _fmt(est_mean: float, lo: float, hi: float, percent: bool) -> str:
    if np.isnan(est_mean):
        return "n/a"
    if percent:
        return f"{100 * est_mean:.0f}% ({100 * lo:.0f} to {100 * hi:.0f})"
    return f"{est_mean:.0f} ({lo:.0f} to {hi:.0f})"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def figure_adoption(comp: Comparison) -> bytes:
    """Adoption over time per scenario: mean and 95% band across replicates."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for k, s in enumerate(comp.scenarios):
        fa = comp.results[s.name].frac_adopted
        steps = np.arange(fa.shape[1])
        m = fa.mean(axis=0)
        ests = [mean_ci(fa[:, t]) for t in range(fa.shape[1])]
        lo = np.array([e.lo for e in ests])
        hi = np.array([e.hi for e in ests])
        colour = COLOURS[k % len(COLOURS)]
        ax.plot(steps, 100 * m, color=colour, lw=2, label=s.title)
        ax.fill_between(steps, 100 * lo, 100 * hi, color=colour, alpha=0.2, lw=0)
    ax.set_xlabel("Weeks since the change was introduced")
    ax.set_ylabel("Staff using the change (%)")
    ax.set_ylim(0, 100)
    ax.set_title("How far the change spread, by leadership model")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    fig.text(0.01, -0.04, f"Lines: mean of {len(comp.seeds)} runs; bands: 95% confidence interval of the mean.",
             fontsize=8, color="#555")  # fmt: skip
    return _png(fig)


def figure_ownership(comp: Comparison) -> bytes:
    """Committed versus complying versus lapsed at the end, per scenario."""
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(comp.scenarios) + 1.5))
    names = [s.title for s in comp.scenarios]
    df = comp.outcomes.groupby("scenario", sort=False)[["committed", "complying", "lapsed"]].mean()
    df = df.loc[[s.name for s in comp.scenarios]]
    left = np.zeros(len(df))
    for col, colour, label in (
        ("committed", "#1b9e77", "Committed (owns it)"),
        ("complying", "#e6ab02", "Complying (told to)"),
        ("lapsed", "#b2182b", "Lapsed (stopped)"),
    ):
        ax.barh(names, 100 * df[col].to_numpy(), left=100 * left, color=colour, label=label)
        left += df[col].to_numpy()
    ax.invert_yaxis()
    ax.set_xlabel("Staff at the end of the run (%)")
    ax.set_xlim(0, 100)
    ax.set_title("Does the change stick? Ownership at the end")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.45), ncol=3, frameon=False, fontsize=9)
    return _png(fig)


def figure_differences(diff: pd.DataFrame, outcome: str, reference_title: str) -> bytes:
    """Forest plot: paired differences from the reference scenario with 95% intervals."""
    d = diff[diff.outcome == outcome]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(d) + 1.4))
    y = np.arange(len(d))
    ax.errorbar(100 * d.difference, y, xerr=[100 * (d.difference - d.ci_lo), 100 * (d.ci_hi - d.difference)],
                fmt="o", color="#333", capsize=3)  # fmt: skip
    ax.axvline(0, color="#999", lw=1)
    ax.set_yticks(y, d.title)
    ax.invert_yaxis()
    label = next(o.label for o in OUTCOMES if o.key == outcome)
    ax.set_xlabel(f"Difference from '{reference_title}' (percentage points)")
    ax.set_title(f"{label}: difference and 95% interval (paired runs)")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def figure_reach(reach: pd.DataFrame, dimension: str, comp: Comparison) -> bytes:
    """Heatmap: final adoption by scenario and group."""
    pivot = reach.pivot(index="scenario", columns="group", values="mean")
    pivot = pivot.loc[[s.name for s in comp.scenarios], list(dict.fromkeys(reach.group))]
    titles = [s.title for s in comp.scenarios]
    fig, ax = plt.subplots(figsize=(1.1 * pivot.shape[1] + 3, 0.45 * len(titles) + 1.5))
    im = ax.imshow(100 * pivot.to_numpy(), vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(pivot.shape[1]), [str(c).replace("_", " ") for c in pivot.columns], rotation=30,
                  ha="right")  # fmt: skip
    ax.set_yticks(range(len(titles)), titles)
    for i in range(pivot.shape[0]):
        for j in range(pivot.shape[1]):
            v = pivot.iat[i, j]
            if not np.isnan(v):
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v < 0.6 else "black")  # fmt: skip
    fig.colorbar(im, ax=ax, label="Adopted at the end (%)")
    ax.set_title(f"Who the change reached, by {dimension}")
    return _png(fig)


def findings(comp: Comparison, table: pd.DataFrame, diff: pd.DataFrame, reference: str) -> list[str]:
    """Headline findings in plain language, each with its uncertainty."""
    title = {s.name: s.title for s in comp.scenarios}
    out = []

    def best(outcome: str) -> pd.Series:
        t = table[table.outcome == outcome]
        return t.loc[t["mean"].idxmax()]

    b = best("early")
    out.append(
        f"Fastest start: **{b.title}** had {_fmt(b['mean'], b.ci_lo, b.ci_hi, True)} of staff using the "
        f"change after {EARLY_STEP} weeks."
    )
    b = best("sustained")
    out.append(
        f"Most lasting: **{b.title}** ended with {_fmt(b['mean'], b.ci_lo, b.ci_hi, True)} of staff "
        f"using the change."
    )
    b = best("committed")
    out.append(
        f"Most ownership: under **{b.title}**, {_fmt(b['mean'], b.ci_lo, b.ci_hi, True)} of staff "
        f"were committed to the change (using it because they value it, not because they were told)."
    )
    for _, row in diff[diff.outcome == "sustained"].iterrows():
        if row.ci_lo > 0:
            word = "more"
        elif row.ci_hi < 0:
            word = "less"
        else:
            out.append(
                f"**{title[row.scenario]}** and **{title[reference]}** ended with adoption that we cannot "
                f"tell apart (difference {100 * row.difference:+.0f} points, 95% CI {100 * row.ci_lo:+.0f} "
                f"to {100 * row.ci_hi:+.0f})."
            )
            continue
        other_org = comp.results[row.scenario].org is not comp.results[reference].org
        caveat = (
            " It runs on a different organisation, so the runs share seeds but not people."
            if other_org
            else ""
        )
        out.append(
            f"**{title[row.scenario]}** ended with {abs(100 * row.difference):.0f} percentage points {word} "
            f"adoption than **{title[reference]}** (95% CI {100 * row.ci_lo:+.0f} to {100 * row.ci_hi:+.0f}; "
            f"{describe_effect(row.effect_size_dz)} effect, d_z = {row.effect_size_dz:.1f}).{caveat}"
        )
    return out


def _table_md(table: pd.DataFrame, comp: Comparison) -> pd.DataFrame:
    rows = []
    for s in comp.scenarios:
        t = table[table.scenario == s.name].set_index("outcome")
        row = {"Scenario": s.title}
        for o in OUTCOMES:
            r = t.loc[o.key]
            row[o.label] = _fmt(r["mean"], r.ci_lo, r.ci_hi, o.percent)
        rows.append(row)
    return pd.DataFrame(rows)


def _md_table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def write_report(
    comp: Comparison,
    folder: str | Path,
    reference: str | None = None,
    command: str = "changesim report",
    title: str = "Comparing leadership models for spreading a change",
) -> dict[str, Path]:
    """Write report.html, report.md, figures and tables into ``folder``; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reference = reference or comp.scenarios[0].name
    ref_title = next(s.title for s in comp.scenarios if s.name == reference)
    table = comp.table()
    diff = comp.differences(reference)
    need = comp.replicates_for(0.02)
    has_orgs = len(comp.results[comp.scenarios[0].name].org.org_names) > 1 or any(
        len(r.org.org_names) > 1 for r in comp.results.values()
    )
    figs = {
        "adoption": ("How far the change spread over time", figure_adoption(comp)),
        "ownership": ("Does it stick: committed, complying, lapsed", figure_ownership(comp)),
        "difference": ("Sustained adoption compared with the reference", figure_differences(diff, "sustained", ref_title)),
        "reach_level": ("Who it reached: by level", figure_reach(comp.reach("level"), "level", comp)),
        "reach_profession": ("Who it reached: by profession", figure_reach(comp.reach("profession"), "profession", comp)),
    }  # fmt: skip
    if has_orgs:
        figs["reach_organisation"] = (
            "Who it reached: by partner organisation",
            figure_reach(comp.reach("organisation"), "organisation", comp),
        )
    paths: dict[str, Path] = {}
    for key, (_, png) in figs.items():
        p = folder / f"fig_{key}.png"
        p.write_bytes(png)
        paths[f"fig_{key}"] = p
    table.to_csv(folder / "outcomes_summary.csv", index=False)
    diff.to_csv(folder / "differences.csv", index=False)
    comp.outcomes.to_csv(folder / "outcomes_by_replicate.csv", index=False)
    need.to_csv(folder / "replicates_needed.csv", index=False)

    found = findings(comp, table, diff, reference)
    nice = _table_md(table, comp)
    org = comp.results[comp.scenarios[0].name].org
    intro = (
        f"We ran {len(comp.scenarios)} ways of leading the same change, each {len(comp.seeds)} times, in a "
        f"simulated organisation of {org.n_staff:,} staff over {comp.scenarios[0].config.n_steps} weeks. "
        "Every run of every scenario uses the same simulated people and the same chance events (common "
        "random numbers), so the differences below come from the leadership model, not from luck. "
        "Numbers in brackets are 95% confidence intervals."
    )
    precision = ", ".join(f"{r.scenario}: {r.replicates_needed}" for r in need.itertuples())
    scen_md = "\n".join(f"- **{s.title}** (`{s.name}`): {s.description}" + (f" *Source: {s.source}.*" if s.source else "")
                        for s in comp.scenarios)  # fmt: skip
    assumptions_md = _md_table(
        pd.DataFrame(ASSUMPTIONS, columns=["Kind", "What the model takes as given", "Basis"])
    )
    configs = {s.name: s.config.to_dict() for s in comp.scenarios}

    md = [f"# {title}", "", intro, "", "## What was compared", "", scen_md, "", "## Headline findings", ""]
    md += [f"- {f}" for f in found]
    md += ["", "## Outcomes by scenario", "", _md_table(nice), ""]
    md += [
        f"Replicates needed for a 95% interval of plus or minus 2 points on sustained adoption: {precision}.",
        "",
    ]
    for key, (cap, _) in figs.items():
        md += [f"![{cap}](fig_{key}.png)", "", f"*{cap}.*", ""]
    md += ["## What drives these results", "", assumptions_md, "",
           "## Reproduce", "", f"```\n{command}\n```", "",
           "Configurations (the exact parameters of every scenario) are in `configs.json` beside this file.", ""]  # fmt: skip
    (folder / "configs.json").write_text(json.dumps(configs, indent=2))
    paths["provenance"] = write_provenance(
        folder / "provenance.json", provenance(report_command=command, seeds=[int(s) for s in comp.seeds])
    )
    (folder / "report.md").write_text("\n".join(md))
    paths["md"] = folder / "report.md"

    def img(png: bytes, cap: str) -> str:
        b64 = base64.b64encode(png).decode()
        return f'<figure><img alt="{html.escape(cap)}" src="data:image/png;base64,{b64}"><figcaption>{html.escape(cap)}</figcaption></figure>'

    def md_inline(text: str) -> str:
        parts = html.escape(text).split("**")
        return "".join(f"<strong>{p}</strong>" if k % 2 else p for k, p in enumerate(parts)).replace("`", "")

    rows_html = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in nice.itertuples(index=False)
    )
    head_html = "".join(f"<th>{html.escape(c)}</th>" for c in nice.columns)
    ass_html = "".join(
        f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td>{html.escape(c)}</td></tr>"
        for a, b, c in ASSUMPTIONS
    )
    body = [
        f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(intro)}</p>",
        "<h2>What was compared</h2><ul>",
        *[f"<li><strong>{html.escape(s.title)}</strong>: {html.escape(s.description)}"
          + (f" <em>Source: {html.escape(s.source)}.</em>" if s.source else "") + "</li>" for s in comp.scenarios],
        "</ul><h2>Headline findings</h2><ul>", *[f"<li>{md_inline(f)}</li>" for f in found], "</ul>",
        "<h2>Outcomes by scenario</h2>", f"<table><thead><tr>{head_html}</tr></thead><tbody>{rows_html}</tbody></table>",
        f"<p>Replicates needed for a 95% interval of &plusmn;2 points on sustained adoption: {html.escape(precision)}.</p>",
        *[img(png, cap) for cap, png in figs.values()],
        "<h2>What drives these results</h2>",
        f"<table><thead><tr><th>Kind</th><th>What the model takes as given</th><th>Basis</th></tr></thead><tbody>{ass_html}</tbody></table>",
        "<h2>Reproduce</h2>", f"<pre>{html.escape(command)}</pre>",
        f"<details><summary>Exact configuration of every scenario</summary><pre>{html.escape(json.dumps(configs, indent=2))}</pre></details>",
    ]  # fmt: skip
    style = (
        "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:980px;margin:2em auto;"
        "padding:0 1em;color:#222;line-height:1.5}table{border-collapse:collapse;font-size:0.85em;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 6px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}figure{margin:1.5em 0}figcaption{font-size:0.85em;color:#555}"
        "pre{background:#f6f6f6;padding:0.6em;overflow-x:auto;font-size:0.8em}"
    )
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
    (folder / "report.html").write_text(page)
    paths["html"] = folder / "report.html"
    return paths
