"""Numbers into words for the report: intervals that cannot mislead, labels a non-modeller knows.

Every function here turns numbers into text and nothing else, so the report's sentences
change when the numbers do, and the property tests can check that no interval printed is
negative, above 100%, reversed, or a degenerate "100% (100 to 100)".
"""

from __future__ import annotations

import math

import numpy as np

from sim.analysis.stats import wilson

PROFESSION_WORDS = {
    "doctor": "doctors",
    "nurse": "nurses",
    "ahp": "allied health professionals",
    "manager": "managers",
    "admin": "administrative staff",
    "social_care": "social care staff",
    "other": "other staff",
}
LEVEL_WORDS = {
    "board": "board and directors",
    "manager": "managers",
    "team_lead": "team leads",
    "frontline": "frontline staff",
}
ORG_WORDS = {
    "nhs_trust": "NHS trust",
    "trust": "NHS trust",
    "local_authority": "local authority",
    "independent": "independent care provider",
    "voluntary": "voluntary organisation",
}


def human(name: str) -> str:
    """A group's name as a reader would say it: 'ahp' -> 'allied health professionals',
    'nhs_trust_0' -> 'NHS trust', 'team_lead' -> 'team leads'.
    """
    for table in (PROFESSION_WORDS, LEVEL_WORDS, ORG_WORDS):
        if name in table:
            return table[name]
    stem, _, tail = name.rpartition("_")
    if stem and tail.isdigit() and stem in ORG_WORDS:
        return ORG_WORDS[stem]
    return name.replace("_", " ").replace("nhs", "NHS")


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def pct(x: float, decimals: int = 0) -> str:
    """A share in [0, 1] as a percentage; never negative, never above 100%."""
    if x is None or math.isnan(x):
        return "n/a"
    x = _clip01(x)
    s = f"{100 * x:.{decimals}f}%"
    if x > 0 and float(s[:-1]) == 0:
        return f"under {10.0**-decimals:g}%"
    if x < 1 and float(s[:-1]) == 100:
        return f"over {100 - 10.0**-decimals:g}%"
    return s


def share_with_interval(mean: float, lo: float, hi: float, every_run: bool = False) -> str:
    """'57% (52% to 61%)': a mean share and its interval, clipped to [0, 1] and ordered.

    With ``every_run`` (no spread between runs) the value is said once: '57% in every run'.
    The interval is printed with enough decimals that its two ends differ.
    """
    if mean is None or math.isnan(mean):
        return "n/a"
    mean = _clip01(mean)
    lo = mean if lo is None or math.isnan(lo) else min(_clip01(lo), mean)
    hi = mean if hi is None or math.isnan(hi) else max(_clip01(hi), mean)
    if every_run or hi - lo < 1e-12:
        return f"{pct(mean)} in every run"
    for d in (0, 1, 2):
        a, m, b = pct(lo, d), pct(mean, d), pct(hi, d)
        if a != b and (d == 2 or not any(w in t for t in (a, m, b) for w in ("under", "over"))):
            return f"{m} ({a} to {b})"
    return f"{pct(mean, 2)} (within 0.01 points either way)"


def runs_share(k: int, n: int) -> str:
    """'in 3 of 30 runs (10%; 95% interval 3% to 26%)', with a Wilson interval; 'in every run' at k = n."""
    if n <= 0:
        return "n/a"
    k = int(min(max(k, 0), n))
    if k == n:
        return f"in every run ({n} of {n})"
    if k == 0:
        return f"in no run (0 of {n})"
    lo, hi = wilson(k, n)
    return f"in {k} of {n} runs ({pct(k / n)}; 95% interval {pct(lo)} to {pct(hi)})"


def weeks(values: np.ndarray, n_runs: int, horizon: int) -> str:
    """Time to an event from the runs that reached it, honest about the runs that did not."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    k = len(v)
    if k == 0:
        return f"not reached in any of {n_runs} runs within {horizon} weeks"
    if k < 5:
        return f"reached in only {k} of {n_runs} runs: too few to give a typical week"
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    tail = "" if k == n_runs else f"; reached in {k} of {n_runs} runs"
    middle = f"weeks {q1:.0f} to {q3:.0f}" if f"{q1:.0f}" != f"{q3:.0f}" else f"week {q1:.0f}"
    return f"week {med:.0f} (middle half of runs: {middle}{tail})"


def signed(x: float, decimals: int = 0) -> str:
    """'+12', '-3', '0' (never '-0' or '+0')."""
    s = f"{x:+.{decimals}f}"
    return s[1:] if float(s) == 0 else s


def points(diff: float, lo: float, hi: float) -> str:
    """A difference in percentage points with its interval: '+12 points (+8 to +15)'."""
    if diff is None or math.isnan(diff):
        return "n/a"
    lo = diff if lo is None or math.isnan(lo) else min(lo, diff)
    hi = diff if hi is None or math.isnan(hi) else max(hi, diff)
    if hi - lo < 1e-12:
        return f"{signed(100 * diff)} points in every paired run"
    for d in (0, 1, 2):
        a, b = signed(100 * lo, d), signed(100 * hi, d)
        if a != b:
            return f"{signed(100 * diff, d)} points ({a} to {b})"
    return f"{signed(100 * diff, 2)} points (within 0.01 points either way)"


def assumption_share(p: float, n: int, lo: float | None = None, hi: float | None = None) -> str:
    """'under 72% of 200 plausible sets of assumptions (95% interval 65% to 78%)'."""
    if p is None or math.isnan(p) or n <= 0:
        return "not assessed against the plausible ranges"
    p = _clip01(p)
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        lo, hi = wilson(p * n, n)
    if p >= 1 - 1e-12:
        return f"under every one of {n} plausible sets of assumptions"
    if p <= 1e-12:
        return f"under none of {n} plausible sets of assumptions"
    return f"under {pct(p)} of {n} plausible sets of assumptions (95% interval {pct(lo)} to {pct(hi)})"


def effect_words(dz: float) -> str:
    """Cohen's (1988) words for a standardised paired difference, for the appendix."""
    a = abs(dz)
    if math.isinf(a):
        return "identical in every paired run (no spread)"
    return "negligible" if a < 0.2 else "small" if a < 0.5 else "medium" if a < 0.8 else "large"
