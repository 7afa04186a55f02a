"""The memory estimate against measured peaks, and the refusal when a run will not fit.

Each case runs in a fresh process, which compiles (or loads) the kernels on a tiny run
first, resets its peak resident size (``/proc/self/clear_refs``), then runs the batch;
the estimate must be within 30% of the increase of the peak over the resident size
before the batch. The cases are chosen so the batch dominates: an organisation of
400,000 staff (building it dominates) and 200 full-model replicates of 20,000 staff
(replicate state and recorded series dominate).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim import from_dict
from sim.memory import ResourceError, check_fits, estimate_config

ROOT = Path(__file__).resolve().parents[1]

MEASURE = """
import json, sys
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
from sim import run_batch
from sim.memory import estimate_config
from sim.params import from_dict
cfg = json.loads(sys.argv[1])
small = dict(cfg, n_replicates=2, org=dict(cfg["org"], n_staff=50))
run_batch(small)
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS:")
c = from_dict(cfg)
est = sum(estimate_config(c, by_group=True, timeseries=False).values())
run_batch(c)
print(json.dumps({"peak": status("VmHWM:") - base, "estimate": est}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to reset the peak")
@pytest.mark.parametrize(
    "cfg",
    [
        {"org": {"n_staff": 400_000}, "n_replicates": 1, "n_steps": 20},
        {"org": {"n_staff": 20_000}, "n_replicates": 200, "n_steps": 50, "dynamics": {"rule": "change"}},
    ],
)
def test_estimate_within_30_percent_of_the_measured_peak(cfg: dict) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(cfg)], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = m["estimate"] / m["peak"]
    assert 0.7 <= ratio <= 1.3, f"estimate {m['estimate'] >> 20} MiB vs peak {m['peak'] >> 20} MiB"


def test_a_run_that_cannot_fit_is_refused_in_one_line() -> None:
    cfg = from_dict({"org": {"n_staff": 50_000_000}})
    parts = estimate_config(cfg)
    with pytest.raises(ResourceError) as err:
        check_fits(parts | {"replicate state": 2**50}, "this run")
    msg = str(err.value)
    assert "\n" not in msg and "GiB" in msg and "available" in msg, msg


def test_the_cli_refuses_before_writing_anything(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-m", "sim", "org.n_staff=50000000", "n_replicates=1000000"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [x for x in out.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: this run needs about"), out.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is written when a run is refused"
