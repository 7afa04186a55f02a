"""The peer benchmark's tools run the same rules as changesim.

``python experiments/e09_benchmark/bench_peers.py`` times changesim against NDlib, Mesa 3,
EoN and a plain C loop. Those times mean something only if every tool computes the same thing, so this
smoke test runs the quick mode's correctness checks at 1,000 staff, once for each peer,
skipping peers that are not installed (``pip install 'changesim[bench]'``). Each check
raises ``Disagreement`` naming the rule, the network and the two tools that differ.
There are no timing assertions: the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bench
import bench_peers as bp

# Peer -> (the implementations it adds, the package that provides them).
PEERS = {
    "mesa": ({bp.MESA}, None),
    "ndlib": ({bp.ND_T, bp.ND_IC}, "ndlib"),
    "eon": ({bp.EON}, "EoN"),
    "c": ({bp.C_LOOP}, None),
}
# Fewer replicates than the benchmark: the z = 4 test holds for any sample this size, and
# every tool is seeded, so the outcome does not change from run to run.
REPLICATES = {bp.CS: 1000, bp.REF: 3, bp.ND_IC: 60, bp.EON: 200, bp.MESA: 40}


@pytest.mark.parametrize("peer", PEERS)
def test_peer_and_changesim_agree_at_1000_staff(peer: str, tmp_path) -> None:
    names, package = PEERS[peer]
    if package is not None and (why := bp.importable(package)):
        pytest.skip(why)
    lib = None
    if peer == "c":
        if shutil.which("cc") is None:
            pytest.skip("no C compiler (cc) on PATH")
        lib = bench.compile_c(tmp_path)
    report = bp.correctness_checks(1000, lib, peers=names, replicates=REPLICATES)
    for family, adopted in report["threshold"].items():
        # With thresholds around 0.18 and 1% seeds the cascade is global; a tiny count would
        # mean the check compared runs that never spread.
        assert adopted > 900, f"threshold {family}: expected a global cascade, {adopted} of 1000 adopted"
    for family, table in report["cascade"].items():
        compared = {d["implementation"] for d in table}
        expected = names & {bp.ND_IC, bp.EON, bp.MESA}
        assert expected <= compared, f"cascade {family}: {expected - compared} missing from the comparison"
        assert all(abs(d["z"]) <= bp.Z for d in table), f"cascade {family}: {table}"
    assert report["change"] >= 1, "the full model's fast and reference engines were not compared"


def test_changesim_bench_runs_the_benchmark_script_of_e09():
    """``changesim bench`` is only a lazy entry: it starts experiments/e09_benchmark/bench_peers.py."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "sim", "bench", "--help"], capture_output=True, text=True,
                       env=env, cwd=root, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    assert "usage: python experiments/e09_benchmark/bench_peers.py" in p.stdout, p.stdout[:500]
    assert "--quick" in p.stdout
