"""Export runs for the EMA Workbench (Kwakkel 2017): an experiments table and a dict of outcomes.

The workbench's ``perform_experiments`` returns ``(experiments, outcomes)``: a DataFrame
with one row per experiment (a column per uncertainty, plus ``scenario``, ``policy`` and
``model``) and a dict of NumPy arrays whose first axis is the experiment. Its
``save_results`` writes them as a ``.tar.gz`` that ``ema_workbench.load_results`` reads,
and ``save_results`` here writes the same layout (read from the workbench's
``util/utilities.py`` and ``em_framework/outcomes.py``, metadata version 0.1; checked by
loading an archive with ``ema_workbench.load_results`` 2.5.3 on Python 3.11):

- ``experiments.csv``: the experiments table, header, no index.
- one file per outcome: a 1-D outcome (one value per experiment) is a ``ScalarOutcome``
  in ``<name>.cls`` (headerless one-column CSV); a 2-D outcome is an ``ArrayOutcome`` in
  ``<name>.csv`` (headerless CSV, one row per experiment); 3-D or more an ``ArrayOutcome``
  in ``<name>.npy`` (``numpy.save``).
- ``metadata.json``: ``{"version": 0.1, "outcomes": [[class name, name, file name], ...],
  "experiments": {column: dtype name}}``.

An experiment here is one point (a configuration); its replicates, which share seeds
across points, become a second axis as in the workbench's replicator models: an outcome
is (n_points,) with one seed and (n_points, n_seeds) with several. ``read`` reads the
archive back without the workbench installed (it is not a dependency of changesim).
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

METADATA_VERSION = 0.1
MODEL_NAME = "changesim"
OUTCOMES = (
    "final_frac_adopted",
    "final_frac_committed",
    "final_frac_complying",
    "final_frac_lapsed",
    "peak_frac_adopted",
    "t_peak",
    "t_10",
    "t_50",
    "t_90",
)
"""Summary columns exported by default (``sim.metrics.summary``)."""


def from_runs(
    runs: pd.DataFrame,
    parameters: Sequence[str],
    outcomes: Sequence[str] | None = None,
    point: str = "point",
    policy: str = "base",
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Experiments and outcomes from a table with one row per point x replicate.

    Args:
        runs: e.g. ``sim.analysis.sensitivity`` ``runs.parquet`` (``point``) or a collected sweep
            (``sim.analysis.collect``; pass ``point="job"``), with a ``seed`` column.
        parameters: the columns that are uncertainties (varied between points).
        outcomes: summary columns to export (default ``OUTCOMES`` found in ``runs``).
        point: the column that identifies a point.
        policy: name written in the ``policy`` column (one policy: the scenario as configured).

    Every point must have run the same seeds (the workbench's outcome arrays are rectangular).
    """
    outcomes = [c for c in (outcomes or OUTCOMES) if c in runs.columns]
    runs = runs.sort_values([point, "seed"], kind="stable")
    points = runs[point].drop_duplicates().to_list()
    seeds = runs.groupby(point, sort=False)["seed"].apply(tuple)
    if seeds.nunique() != 1:
        raise ValueError("every point must have run the same seeds to export rectangular outcome arrays")
    n_seeds = len(seeds.iloc[0])
    first = runs.drop_duplicates(point)
    experiments = first[list(parameters)].reset_index(drop=True)
    experiments["scenario"] = np.arange(len(points), dtype=np.int64)
    experiments["policy"] = policy
    experiments["model"] = MODEL_NAME
    out: dict[str, np.ndarray] = {}
    for name in outcomes:
        # Never reached (a missing t_50) goes to the workbench as NaN.
        values = runs[name].astype("Float64").to_numpy(np.float64, na_value=np.nan)
        values = values.reshape(len(points), n_seeds)
        out[name] = values[:, 0] if n_seeds == 1 else values
    return experiments, out


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _csv(values: np.ndarray) -> bytes:
    return pd.DataFrame(values).to_csv(header=False, index=False).encode()


def save_results(experiments: pd.DataFrame, outcomes: dict[str, np.ndarray], path: str | Path) -> Path:
    """Write ``(experiments, outcomes)`` as an archive ``ema_workbench.load_results`` reads."""
    path = Path(path)
    n = len(experiments)
    entries = []
    tmp = path.with_name(path.name + ".tmp")
    with tarfile.open(tmp, "w:gz") as archive:
        _add(archive, "experiments.csv", experiments.to_csv(index=False).encode())
        for name, values in outcomes.items():
            values = np.asarray(values)
            if values.shape[0] != n:
                raise ValueError(f"outcome {name!r} has {values.shape[0]} rows for {n} experiments")
            if values.ndim == 1:
                kind, fname, data = "ScalarOutcome", f"{name}.cls", _csv(values)
            elif values.ndim == 2:
                kind, fname, data = "ArrayOutcome", f"{name}.csv", _csv(values)
            else:
                buf = io.BytesIO()
                np.save(buf, values)
                kind, fname, data = "ArrayOutcome", f"{name}.npy", buf.getvalue()
            _add(archive, fname, data)
            entries.append([kind, name, fname])
        meta = {
            "version": METADATA_VERSION,
            "outcomes": entries,
            "experiments": {k: v.name for k, v in experiments.dtypes.items()},
        }
        _add(archive, "metadata.json", json.dumps(meta).encode())
    tmp.replace(path)
    return path


def read(path: str | Path) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Read an archive written by ``save_results`` (or the workbench's) without the workbench."""
    with tarfile.open(path, "r:gz") as archive:
        meta = json.loads(archive.extractfile("metadata.json").read())
        experiments = pd.read_csv(archive.extractfile("experiments.csv"))
        for col, dtype in meta["experiments"].items():
            if dtype in ("object", "str", "string"):
                experiments[col] = experiments[col].astype("category")
            else:
                experiments[col] = experiments[col].astype(dtype)
        outcomes = {}
        for _kind, name, fname in meta["outcomes"]:
            raw = archive.extractfile(fname).read()
            if fname.endswith(".npy"):
                outcomes[name] = np.load(io.BytesIO(raw))
            else:
                values = pd.read_csv(io.BytesIO(raw), header=None).to_numpy()
                outcomes[name] = values[:, 0] if fname.endswith(".cls") else values
    return experiments, outcomes
