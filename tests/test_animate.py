"""Headless export of the hierarchy view over time: GIF always, MP4 where ffmpeg exists."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops

from sim.views import animate as anim
from sim.views import presets

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "org": {"n_staff": 60},
    "dynamics": {"rule": "change", "threshold_mean": 0.3, "p_spontaneous": 0.05},
    "seeding": {"n_seeds": 6},
    "n_steps": 4,
}


def _frames(path: Path) -> list[Image.Image]:
    with Image.open(path) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out.append(im.convert("RGB"))
        return out


def test_gif_of_a_preset_has_one_frame_per_step(tmp_path):
    out = anim.animate("Granovetter's riot", tmp_path / "riot.gif", n_steps=5, fps=4)
    frames = _frames(out)
    assert len(frames) == 6, f"expected 6 frames (step 0 and 5 steps), got {len(frames)}"
    assert ImageChops.difference(frames[0], frames[-1]).getbbox() is not None, "the animation does not change"
    with Image.open(out) as im:
        assert im.info.get("duration") == 250, (
            f"expected 250 ms a frame at 4 fps, got {im.info.get('duration')}"
        )


def test_gif_of_a_config_dict_uses_its_n_steps(tmp_path):
    out = anim.animate(TINY, tmp_path / "tiny.gif", curve=False)
    assert len(_frames(out)) == TINY["n_steps"] + 1, "a config's n_steps sets the number of frames"
    assert not (tmp_path / "tiny.gif.part").exists(), "the temporary file should be renamed"


def test_frames_match_the_model_run():
    # Granovetter's riot: exactly one more person adopts each step, so the view must change every frame.
    images = list(anim.frames("Granovetter's riot", 3, curve=False))
    assert len(images) == 4, "frames() yields the start and one image per step"
    assert all(a.shape == images[0].shape for a in images), "every frame has the same size"
    assert all(not np.array_equal(a, b) for a, b in zip(images, images[1:], strict=False)), "frames repeat"


def test_mp4_without_ffmpeg_suggests_a_gif(tmp_path, monkeypatch):
    monkeypatch.setattr(anim.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match=r"ffmpeg.*\.gif"):
        anim.animate(TINY, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists(), "nothing should be written"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg on the PATH (apt-get install ffmpeg)")
def test_mp4_with_ffmpeg(tmp_path):
    out = anim.animate(TINY, tmp_path / "tiny.mp4")
    assert out.read_bytes()[4:8] == b"ftyp", "expected an MP4 container"


def test_unsupported_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match="gif"):
        anim.animate(TINY, tmp_path / "x.avi")


def test_every_preset_renders_a_first_frame():
    for name in presets.NAMES:
        first = next(anim.frames(name, 0))
        assert first.ndim == 3 and first.shape[2] == 3, f"{name}: expected an RGB frame"
        assert first.std() > 10, f"{name}: the frame looks blank"


def test_command_line_module(tmp_path):
    out = tmp_path / "riot.gif"
    cmd = [
        sys.executable,
        "-m",
        "sim.views.animate",
        "--preset",
        "Granovetter's riot",
        "--out",
        str(out),
        "--n-steps",
        "2",
    ]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"python -m sim.views.animate failed: {done.stderr}"
    assert len(_frames(out)) == 3, "expected 3 frames for --n-steps 2"


def test_main_takes_key_value_words(tmp_path, capsys):
    out = tmp_path / "w.gif"
    code = anim.main(["scenario=Granovetter's riot", f"out={out}", "n_steps=1", "curve=false"])
    assert code == 0, capsys.readouterr().err
    assert len(_frames(out)) == 2, "n_steps=1 gives two frames"


def test_main_reports_an_unknown_preset(capsys):
    assert anim.main(["--preset", "no such thing", "--out", "x.gif"]) == 2, "an unknown preset is exit code 2"
    assert "choose one of" in capsys.readouterr().err, "the error should list the presets"
