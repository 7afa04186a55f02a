"""Nothing lost, nothing silently wrong (issue 17): each case of the issue, as a user meets it.

Bad values and files go through the real command (``python -m sim``) or the real library
call; sweeps are real Hydra multiruns with joblib workers on tiny organisations; the
full disk is a real 256 kB tmpfs where the tests run as root. Every refusal is asserted to
be one line naming the key or file, with no traceback.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import changesim

from sim import cli
from sim.analysis import collect as collect_mod
from sim.analysis import sweep
from sim.io import build, from_csv
from sim.params import ConfigError, ConfigWarning, from_dict
from sim.run import run_batch
from sim.validate import MAX_LEVELS

SMALL = ["org.n_staff=200", "n_steps=20", "figures=false"]
ROOT = os.geteuid() == 0


def one_error_line(p: subprocess.CompletedProcess) -> str:
    """The single ``error: ...`` line of a refused command (asserting there is no traceback)."""
    assert "Traceback" not in p.stderr, f"a traceback instead of one line:\n{p.stderr[-2000:]}"
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, f"expected one error line, got:\n{p.stderr[-2000:]}"
    return lines[0]


# --- 5. Nothing silently dropped or changed ------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (
            ["scenario=command_and_control", "dynamics=bass"],
            ["dynamics.rule=bass ignores", "mandate.on=True"],
        ),
        (
            ["dynamics=change", "mandate.on=true", "mandate.start=30", "mandate.end=10"],
            ["mandate.end=10", "mandate.start=30"],
        ),
        (["org=random", "org.mean_degree=500"], ["org.mean_degree=500", "0 to 199"]),
        (["org.n_levels=50"], ["org.n_levels=50", "2 to 8"]),
        (["org.n_levels=4", "org.span_of_control=5"], ["org.n_levels=4", "org.span_of_control=5"]),
        (["org.profession_mix={nurse:0}"], ["org.profession_mix", "positive share"]),
        (["org.kind=complete", "org.n_staff=1000000"], ["org.kind=complete", "GiB"]),
    ],
)
def test_settings_that_would_be_ignored_or_altered_are_refused_naming_the_key(overrides, words):
    size = "org.n_staff=200" if "org.n_staff=1000000" not in overrides else "n_steps=1"
    with pytest.raises(ConfigError) as e:
        cfg, _ = cli.compose([*overrides, size])
        build(cfg.org)  # a depth the staff cannot fill is refused where the hierarchy is built
    for w in words:
        assert w in str(e.value), f"{overrides}: expected {w!r} in {e.value}"


def test_a_refused_setting_is_one_line_and_exit_2_from_the_command(tmp_path):
    p = changesim(*SMALL, "scenario=command_and_control", "dynamics=bass", cwd=tmp_path)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "mandate.on=True" in one_error_line(p)
    assert not (tmp_path / "outputs").exists() or not list((tmp_path / "outputs").rglob("DONE"))


def test_the_mandate_alone_is_fine_under_the_change_rule():
    cfg, _ = cli.compose(["scenario=command_and_control", "org.n_staff=200"])
    assert cfg.mandate.on and cfg.dynamics.rule == "change", "the scenario itself still composes"


def test_a_harmless_ignored_key_is_a_warning_naming_it(tmp_path):
    with pytest.warns(ConfigWarning, match="dynamics.threshold_mean=0.3"):
        from_dict({"dynamics": {"rule": "bass", "threshold_mean": 0.3}})
    p = changesim(*SMALL, "dynamics=bass", "dynamics.threshold_mean=0.3", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "warning: dynamics.rule=bass ignores dynamics.threshold_mean=0.3" in p.stderr
    assert "Warning" not in p.stderr.replace("warning:", ""), "one plain line, not Python's warning format"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"seeds": [1.7, 2.2]}, "seeds[0]=1.7"),
        ({"seeds": []}, "seeds=[] is empty"),
        ({"seeds": [2**63]}, "seeds[0]=9223372036854775808"),
        ({"seeds": [-1]}, "seeds[0]=-1"),
        ({"seeds": [1], "initial_adopters": [0.9, 1.7]}, "initial_adopters[0]=0.9"),
        ({"seeds": [1], "initial_adopters": [0, 200]}, "initial_adopters[1]=200"),
        ({"seeds": [1], "thresholds": ["abc"] * 200}, "thresholds[0]='abc'"),
    ],
)
def test_values_handed_to_the_kernels_are_validated(kwargs, words):
    cfg = from_dict(**{"org.n_staff": 200, "n_steps": 5})
    with pytest.raises(ConfigError) as e:
        run_batch(cfg, **kwargs)
    assert words in str(e.value), f"{kwargs}: expected {words!r} in {e.value}"


def test_whole_float_seeds_and_indices_are_accepted_exactly():
    cfg = from_dict(**{"org.n_staff": 200, "n_steps": 5})
    a = run_batch(cfg, seeds=[3.0, 4.0], initial_adopters=[1.0, 2.0])
    b = run_batch(cfg, seeds=[3, 4], initial_adopters=[1, 2])
    assert list(a.seeds) == [3, 4]
    pd.testing.assert_frame_equal(a.summary, b.summary)


def test_base_seed_range_is_0_to_2_63(tmp_path):
    p = changesim(*SMALL, f"seed={2**63}", cwd=tmp_path)
    assert p.returncode == 2 and "seed" in one_error_line(p)


def test_run_dir_pointing_at_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    p = changesim(*SMALL, f"hydra.run.dir={tmp_path / 'afile'}", cwd=tmp_path)
    assert p.returncode == 2
    assert "is a file, not a folder" in one_error_line(p)
    p = changesim(*SMALL, f"hydra.run.dir={tmp_path / 'afile' / 'below'}", cwd=tmp_path)
    assert p.returncode == 2 and "is a file, not a folder" in one_error_line(p)


# --- 6. Files -----------------------------------------------------------------------------

CHART = "staff_id,manager_id,profession\nA,,doctor\nB,A,nurse\nC,A,nurse\nD,B,nurse\n"


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        (
            "cp1252.csv",
            CHART.replace("D,B", "Ren\u00e9e,B").encode("cp1252"),
            ["line 5", "Windows-1252", "UTF-8"],
        ),
        ("utf16.csv", CHART.encode("utf-16"), ["UTF-16", "CSV UTF-8"]),
        ("utf16be.csv", CHART.encode("utf-16-be"), ["UTF-16"]),
        ("binary.csv", bytes(range(256)) * 4, ["line 1", "binary"]),
        ("chart.xlsx", b"PK\x03\x04" + bytes(100), ["zip", "xlsx"]),
    ],
)
def test_org_charts_in_another_encoding_name_the_file_line_and_fix(tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ConfigError) as e:
        from_csv(path)
    assert name in str(e.value) and "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value), f"{name}: expected {w!r} in {e.value}"


def test_a_cp1252_chart_is_one_line_from_the_command(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(CHART.replace("D,B", "Ren\u00e9e,B").encode("cp1252"))
    p = changesim("org=csv", f"org.path={path}", "n_steps=2", "figures=false", cwd=tmp_path)
    assert p.returncode == 2
    assert "excel.csv line 5" in one_error_line(p)


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_semicolon_and_tab_delimited_charts_are_read_like_commas(tmp_path, sep):
    (tmp_path / "comma.csv").write_text(CHART)
    (tmp_path / "other.csv").write_text(CHART.replace(",", sep))
    a, b = from_csv(tmp_path / "comma.csv"), from_csv(tmp_path / "other.csv")
    assert list(a.staff_id) == list(b.staff_id) and np.array_equal(a.manager, b.manager)
    assert np.array_equal(a.indices, b.indices), f"{sep!r}-delimited chart should give the same ties"


def test_a_semicolon_chart_missing_a_column_says_which_delimiter_was_read(tmp_path):
    (tmp_path / "c.csv").write_text("staff_id;manager\nA;\n")
    with pytest.raises(ConfigError, match="semicolon"):
        from_csv(tmp_path / "c.csv")


def test_a_directory_is_called_a_directory(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        from_csv(tmp_path)
    p = changesim("org=csv", f"org.path={tmp_path}", "n_steps=2", cwd=tmp_path)
    assert p.returncode == 2 and "is a folder" in one_error_line(p)


# --- 4. Limits ----------------------------------------------------------------------------


def test_a_manager_chain_deeper_than_levels_can_hold_is_refused(tmp_path):
    depth = MAX_LEVELS + 1
    rows = ["staff_id,manager_id,profession", "0,,nurse"] + [f"{i},{i - 1},nurse" for i in range(1, depth)]
    (tmp_path / "deep.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError, match=f"{depth:,} levels deep"):
        from_csv(tmp_path / "deep.csv")
    ok = depth - 1  # the deepest chain accepted is stored exactly
    (tmp_path / "ok.csv").write_text("\n".join(rows[: ok + 1]) + "\n")
    org = from_csv(tmp_path / "ok.csv", p_team_tie=0.0)
    assert org.n_levels == ok and int(org.level.max()) == ok - 1, "every level of the chain is kept"


# --- 1-3. Sweeps: folders, certified outputs, faults --------------------------------------


def sweep_cmd(sweep_dir: Path, *args: str, env: dict | None = None, timeout: float = 300, n_jobs: int = 1):
    """A real sweep; one job at a time unless a test is about the worker processes (saves their start)."""
    cwd = next(p for p in sweep_dir.parents if p.is_dir())
    return changesim(
        "-m", *SMALL, f"hydra.sweep.dir={sweep_dir}", f"hydra.launcher.n_jobs={n_jobs}", *args,
        cwd=cwd, env=env, timeout=timeout,
    )  # fmt: skip


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml"))


def test_jobs_whose_names_read_alike_get_folders_of_their_own(tmp_path):
    d = tmp_path / "m"
    p = sweep_cmd(d, "org.name=a/b,a_b")
    assert p.returncode == 0, p.stderr[-2000:]
    jobs = job_dirs(d)
    assert len(jobs) == 2, f"two jobs, two folders: {jobs}"
    table = pd.read_parquet(d / "sweep_summary.parquet")
    assert sorted(table["org.name"]) == ["a/b", "a_b"], "one row per job"


def test_a_sweep_whose_jobs_would_share_a_folder_is_refused_naming_both(tmp_path):
    d = tmp_path / "m"
    p = sweep_cmd(d, "seed=1,1")
    assert p.returncode == 2
    line = one_error_line(p)
    assert "share the folder" in line and line.count("seed=1") == 3, line
    assert not job_dirs(d), "nothing ran"


def test_job_folder_names_are_readable_and_injective():
    a, b = sweep.job_dirname(0, "org.name=a/b"), sweep.job_dirname(1, "org.name=a_b")
    assert a != b and a.startswith("org.name=a_b-") and b.startswith("org.name=a_b-")
    long = "x=" + "y" * 300
    assert sweep.job_dirname(0, long) != sweep.job_dirname(0, long + "z")
    assert len(sweep.job_dirname(0, long).encode()) <= sweep.MAX_DIRNAME + 11


@pytest.fixture(scope="module")
def certified(tmp_path_factory):
    """A finished three-job sweep (kept pristine: tests copy it)."""
    d = tmp_path_factory.mktemp("certified") / "m"
    p = sweep_cmd(d, "seed=0,1,2")
    assert p.returncode == 0, p.stderr[-2000:]
    return d


def copy_sweep(src: Path, tmp_path: Path) -> Path:
    d = tmp_path / "m"
    shutil.copytree(src, d)
    (d / cli_sweep_lock()).unlink(missing_ok=True)
    return d


def cli_sweep_lock() -> str:
    from sim import cli_sweep

    return cli_sweep.LOCK


def test_done_certifies_each_file_with_size_checksum_and_rows(certified):
    for job in job_dirs(certified):
        done = json.loads((job / "DONE").read_text())
        files = done["files"]
        assert {"summary.parquet", "timeseries.parquet", "provenance.json", "summary.txt"} <= set(files)
        for name, entry in files.items():
            assert entry["bytes"] == (job / name).stat().st_size
            assert len(entry["sha256"]) == 64
        assert files["summary.parquet"]["rows"] == 1, "one replicate, one summary row"
        assert sweep.verify(job) is None


def damage_two(d: Path) -> tuple[Path, Path, Path]:
    """Truncate the first job's summary, delete the second's; returns (truncated, deleted, intact)."""
    truncated, deleted, intact = job_dirs(d)
    (truncated / "summary.parquet").write_bytes((truncated / "summary.parquet").read_bytes()[:100])
    (deleted / "summary.parquet").unlink()
    return truncated, deleted, intact


def test_resume_reruns_jobs_whose_outputs_are_damaged(certified, tmp_path):
    d = copy_sweep(certified, tmp_path)
    truncated, deleted, intact = damage_two(d)
    p = sweep_cmd(d, "seed=0,1,2,3")
    assert p.returncode == 0, p.stderr[-2000:]
    for job, why in ((truncated, "summary.parquet has 100 bytes"), (deleted, "summary.parquet is missing")):
        line = next(
            (
                ln
                for ln in p.stdout.splitlines()
                if ln.startswith(f"re-running {job.name.rsplit('-', 1)[0]}:")
            ),
            "",
        )
        assert why in line, f"{job.name} should be re-run because {why}:\n{p.stdout[-2000:]}"
        assert sweep.verify(job) is None, "the job was redone and certified again"
    assert f"skipped {intact.name.rsplit('-', 1)[0]}:" in p.stdout, "the intact job is not redone"
    table = pd.read_parquet(d / "sweep_summary.parquet")
    assert sorted(table["seed"]) == [0, 1, 2, 3], "the table has every job, none stale"


def test_collect_writes_every_good_job_and_names_the_bad_ones(certified, tmp_path, capsys):
    d = copy_sweep(certified, tmp_path)
    truncated, deleted, intact = damage_two(d)
    p = changesim("collect", str(d), cwd=tmp_path)
    assert p.returncode == 1, "a damaged job makes collect exit non-zero"
    assert "Traceback" not in p.stderr
    assert f"DAMAGED {truncated.name}: summary.parquet has 100 bytes" in p.stdout, p.stdout
    assert f"DAMAGED {deleted.name}: summary.parquet is missing" in p.stdout, p.stdout
    runs = pd.read_parquet(d / "sweep_runs.parquet")
    assert list(runs["job"]) == [intact.name], "the good job is written, the bad ones left out"
    assert collect_mod.main([str(d), "--status"]) == 1
    out = capsys.readouterr().out
    assert f"DAMAGED {truncated.name}" in out and f"DAMAGED {deleted.name}" in out, (
        "--status reads what it reports"
    )


def test_sweep_table_step_exits_nonzero_naming_an_unreadable_job(certified, tmp_path):
    d = copy_sweep(certified, tmp_path)
    *_, bad = job_dirs(d)
    report = sweep.collect(d)
    assert report.damaged == {}, "a fresh sweep is whole"
    (bad / "summary.parquet").write_bytes(b"not parquet")
    report = sweep.collect(d)
    assert bad.name in report.damaged and len(report.table) == 2
    assert f"DAMAGED {bad.name}" in report.describe()


@pytest.mark.slow  # 30 s: twelve jobs on a real full disk
@pytest.mark.skipif(not ROOT or not shutil.which("mount"), reason="needs root to mount a tmpfs")
def test_a_full_disk_fails_jobs_alone_and_names_them(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    # About five jobs' outputs fit (each file takes at least a 4 kB page).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], check=True)
    try:
        d = disk / "m"
        p = sweep_cmd(d, "org.n_staff=1000", "n_replicates=3", "seed=range(0,12)", timeout=600, n_jobs=2)
        out = p.stdout + p.stderr
        assert "Traceback" not in out, out[-3000:]
        failed = [ln for ln in p.stderr.splitlines() if ln.startswith("FAILED ")]
        done = [ln for ln in p.stdout.splitlines() if ln.startswith("done ")]
        assert failed, f"the disk should fill up:\n{out[-3000:]}"
        assert done, "jobs before the disk filled finished"
        assert all("No space left on device" in ln for ln in failed), failed
        assert len(done) + len(failed) == 12, "every job ran or failed alone; none was dropped"
        assert p.returncode != 0
        summary = p.stdout[p.stdout.index("sweep: ") :]
        for k in range(12):
            job = f"seed={k}-"
            finished = any(ln.endswith(f"seed={k}") or f"seed={k} in" in ln for ln in done)
            assert finished or job in summary, f"seed={k} is neither done nor named at the end:\n{summary}"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.skipif(not ROOT or not shutil.which("mount"), reason="needs root to mount read-only")
def test_a_read_only_output_folder_is_one_line_before_anything_runs(tmp_path):
    disk = tmp_path / "ro"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(disk)], check=True)
    try:
        p = sweep_cmd(disk / "m", "seed=0,1")
        assert p.returncode == 2
        assert "Read-only file system" in one_error_line(p)
        p = changesim(*SMALL, f"hydra.run.dir={disk / 'run'}", cwd=tmp_path)
        assert p.returncode == 2 and "Read-only file system" in one_error_line(p)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_an_output_path_through_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("")
    p = sweep_cmd(tmp_path / "afile" / "m", "seed=0,1")
    assert p.returncode == 2 and "is a file, not a folder" in one_error_line(p)


def test_a_second_sweep_into_a_folder_in_use_is_refused_or_waits(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    fd = os.open(d / cli_sweep_lock(), os.O_RDWR | os.O_CREAT)
    os.write(fd, b"a test holding the lock\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        p = sweep_cmd(d, "seed=0,1")
        assert p.returncode == 2
        line = one_error_line(p)
        assert "in use by a test holding the lock" in line and "CHANGESIM_WAIT=1" in line
        assert not job_dirs(d), "the refused sweep wrote nothing"
        waiter = subprocess.Popen(
            [sys.executable, "-m", "sim", "-m", *SMALL, "seed=0,1", f"hydra.sweep.dir={d}",
             "hydra.launcher.n_jobs=1"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "CHANGESIM_WAIT": "1"},
        )  # fmt: skip
        first = waiter.stderr.readline()
        assert first.startswith("waiting: sweep folder") and "a test holding the lock" in first, first
        time.sleep(1.0)
        assert waiter.poll() is None and not job_dirs(d), "it waits, running nothing"
        fcntl.flock(fd, fcntl.LOCK_UN)
        rest = waiter.communicate(timeout=180)[1]
        assert waiter.returncode == 0, rest[-2000:]
        assert len(job_dirs(d)) == 2, "once the folder is free the sweep runs"
    finally:
        os.close(fd)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="ignore")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_workers_exit_when_the_main_sweep_process_is_killed(tmp_path):
    d = tmp_path / "m"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "-m", "org.n_staff=20000", "n_steps=1000", "n_replicates=2",
         "figures=false", "seed=0,1", f"hydra.sweep.dir={d}", "hydra.launcher.n_jobs=2"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(job_dirs(d)) < 1:
            time.sleep(0.5)
        workers = [c for c in _children(proc.pid) if "popen_loky" in _cmdline(c)]
        while time.monotonic() < deadline and not all(_children(w) for w in workers):
            time.sleep(0.5)  # until each running job has started its watchdog
        assert workers, "the sweep should have started joblib workers"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.5)
        assert not any(_alive(w) for w in workers), "workers outlived the killed sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in _children(proc.pid):
            os.kill(w, signal.SIGKILL)


def test_collect_status_and_describe_read_the_same_checks(certified, tmp_path):
    d = copy_sweep(certified, tmp_path)
    st = collect_mod.status(d)
    assert st.complete and st.n_done == 3


def test_a_sweep_from_before_hashed_names_is_resumed_not_doubled(certified, tmp_path):
    d = copy_sweep(certified, tmp_path)
    for job in job_dirs(d):  # the names an older changesim gave: the overrides without a hash
        job.rename(d / job.name.rsplit("-", 1)[0])
    p = sweep_cmd(d, "seed=0,1,2")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count("renamed ") == 3 and p.stdout.count("skipped ") == 3, p.stdout[-2000:]
    assert len(job_dirs(d)) == 3 and len(pd.read_parquet(d / "sweep_summary.parquet")) == 3, "no job twice"


def test_collect_names_a_csv_job_it_does_not_combine(tmp_path):
    d = tmp_path / "m"
    p = sweep_cmd(d, "output_format=parquet,csv")
    assert p.returncode == 0, p.stderr[-2000:]
    st = collect_mod.collect(d).status
    csv_job = next(j.name for j in job_dirs(d) if "output_format=csv" in j.name)
    assert not st.complete and "output_format=csv" in st.damaged[csv_job]
    assert f"NOT COLLECTED {csv_job}" in st.describe()


def test_the_library_warns_where_the_command_line_refuses_an_ignored_mechanism():
    with pytest.warns(ConfigWarning, match=r"dynamics.rule=bass ignores mandate.on=True"):
        from_dict({"dynamics": {"rule": "bass"}, "mandate": {"on": True}})
