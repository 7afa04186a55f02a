"""Rebuild sim/data/medical_innovation_{people,ties}.csv from netdiffuseR's medInnovations.

One-off conversion, kept so the committed CSVs can be rebuilt and checked. Needs the
``rdata`` package (``pip install rdata``; not a changesim dependency) and the file
``data/medInnovations.rdata`` of the R package netdiffuseR (MIT licence, Valente, Vega
Yon et al., https://github.com/USCCANA/netdiffuseR), e.g. from a clone:

    git -C netdiffuseR show HEAD:data/medInnovations.rdata > medInnovations.rdata
    python scripts/convert_medical_innovation.py medInnovations.rdata

Choices (also in sim/data/README_medical_innovation.md):
- ``toa`` 18 means "not adopted by month 17": written as a blank ``adopted`` (censored).
- Nominations (``net1_*`` advice, ``net2_*`` discussion, ``net3_*`` friendship) name
  ids within the same city; a nominee who is not a respondent of that city (a doctor
  outside the sample) is dropped, as netdiffuseR's diffnet does. Self-nominations are
  dropped. Each nomination is one row of the ties file (from = the physician who
  named, to = the one named).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

KINDS = {"net1": "advice", "net2": "discussion", "net3": "friendship"}
# Covariates kept, with netdiffuseR's labels (codes as in Burt 1987's recoding).
COVARIATES = (
    "detail", "meet", "coll", "attend", "proage", "length", "here", "science", "position",
    "journ2", "nojourn", "free", "social", "club", "friends", "belief", "presc", "home",
    "special", "proximty",
)  # fmt: skip
OUT = Path(__file__).resolve().parents[1] / "sim" / "data"


def convert(rdata_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The people and ties tables from the R data frame."""
    import rdata

    df = rdata.read_rda(str(rdata_path))["medInnovations"]
    df = df.sort_values(["city", "id"], kind="stable").reset_index(drop=True)
    people = pd.DataFrame(
        {
            "site": df["city"].astype(int).astype(str),
            "id": df["id"].astype(int).astype(str),
            "adopted": [str(int(t)) if t < 18 else "" for t in df["toa"]],
            "profession": "doctor",
        }
    )
    for c in COVARIATES:
        col = df[c].astype("Float64")
        whole = bool((col.dropna() % 1 == 0).all())
        people[c] = col.astype("Int64") if whole else col.round(4)
    known = set(zip(people["site"], people["id"], strict=True))
    rows = []
    for _, r in df.iterrows():
        site, me = str(int(r["city"])), str(int(r["id"]))
        for prefix, kind in KINDS.items():
            for k in (1, 2, 3):
                v = r[f"{prefix}_{k}"]
                if v != v:  # NaN: no nomination
                    continue
                them = str(int(v))
                if them != me and (site, them) in known:
                    rows.append((site, me, them, kind))
    ties = pd.DataFrame(rows, columns=["site", "from", "to", "kind"])
    return people, ties


def main() -> None:
    """Convert and write the two CSVs."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rdata", type=Path, help="netdiffuseR's data/medInnovations.rdata")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    people, ties = convert(args.rdata)
    people.to_csv(args.out / "medical_innovation_people.csv", index=False)
    ties.to_csv(args.out / "medical_innovation_ties.csv", index=False)
    adopted = people["adopted"] != ""
    print(
        f"{len(people)} physicians in {people['site'].nunique()} towns, {adopted.mean():.1%} adopt; "
        f"{len(ties)} nominations ({ties.groupby(['site', 'from', 'to']).ngroups} directed pairs)"
    )
    print("per site:", people.groupby("site").size().to_dict(), np.unique(ties["kind"]).tolist())


if __name__ == "__main__":
    main()
