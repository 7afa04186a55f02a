"""A run as a film: the hierarchy view over time, written headless as a GIF or an MP4.

``animate(scenario, out_path, n_steps, fps)`` runs a preset or config and writes the
hierarchy view (``sim.views.live.OrgView``) with the adoption curve under it, frame by
frame, as a GIF (Pillow) or an MP4 (the ``ffmpeg`` program).
Command line: ``changesim animate --preset "co-design" --out co_design.gif``.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from sim.views.live import (  # noqa: F401  re-exported: the live views were defined here before
    FONT,
    AdoptionPlot,
    OrgView,
    SplitHistogram,
    ThresholdPlot,
    contact_share,
    pretty,
    state_legend,
)
from sim.views.style import GROUP_COLOURS, STATE_COLOURS

# --- export ---


def _scenario(scenario: Any) -> tuple[Any, int, str]:
    """(preset or config dict, steps worth watching, name) of what ``animate`` was given."""
    from sim.views import presets

    if isinstance(scenario, str):
        scenario = presets.get(scenario)
    if isinstance(scenario, presets.Preset):
        return scenario, scenario.n_steps, scenario.name
    if isinstance(scenario, Mapping):
        from sim.params import from_dict

        return dict(scenario), from_dict(scenario).n_steps, "custom scenario"
    kind = type(scenario).__name__
    raise TypeError(f"scenario must be a preset name, a Preset or a config dict, not {kind}")


def frames(
    scenario: Any,
    n_steps: int | None = None,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    curve: bool = True,
    dpi: int = 80,
) -> Any:
    """Yield one RGB image ((h, w, 3) uint8) per step 0..n_steps of a fresh run.

    Left: the hierarchy view; right (``curve``): adoption by state so far.
    """
    from sim.views import presets

    scenario, default_steps, name = _scenario(scenario)
    n_steps = default_steps if n_steps is None else int(n_steps)
    model = presets.model_for(scenario, seed=seed, overrides=overrides)
    full = model.full_model
    view = OrgView(model.org, full_model=full, width_in=7.2, height_in=4.6, dpi=dpi)
    plot = None
    if curve:
        plot = AdoptionPlot(
            model.group_labels,
            "state",
            model.counts[0].sum(-1),
            n_steps,
            full_model=full,
            width_in=5.0,
            height_in=4.6,
            dpi=dpi,
        )
    for t in range(n_steps + 1):
        if t > 0:
            model.step()
        left = view.update(model.state.state, t).rgba()[..., :3]
        if plot is None:
            yield left.copy()
            continue
        right = plot.update(model.counts).rgba()[..., :3]
        yield np.concatenate([left, right], axis=1)


def animate(
    scenario: Any,
    out_path: str | Path,
    n_steps: int | None = None,
    fps: float = 5.0,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    curve: bool = True,
    dpi: int = 80,
) -> Path:
    """Write the hierarchy view of a run over time as a GIF or MP4 (by ``out_path``'s suffix).

    Args:
        scenario: a preset name, a ``sim.views.presets.Preset`` or a nested config dict.
        out_path: ``.gif`` (Pillow) or ``.mp4`` (needs the ``ffmpeg`` program).
        n_steps: steps to run (default: the preset's, or the config's ``n_steps``); the
            file has ``n_steps + 1`` frames (the start, then one per step).
        fps: frames (steps) per second.
        seed: the replicate's seed.
        overrides: dotted-key config overrides, e.g. ``{"org.n_staff": 200}``.
        curve: add the adoption-by-state plot beside the hierarchy.
        dpi: resolution (80 gives a 920 x 370 pixel GIF with the curve).

    Returns:
        The path written.

    Raises:
        ValueError: an unsupported suffix, or fps not positive.
        RuntimeError: ``.mp4`` without ``ffmpeg`` on the PATH (the message suggests .gif).
    """
    out = Path(out_path)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"{out}: write a .gif (Pillow) or an .mp4 (ffmpeg), not {suffix or 'no suffix'!r}")
    if not fps > 0:
        raise ValueError(f"fps={fps} must be positive")
    ffmpeg = shutil.which("ffmpeg")
    if suffix == ".mp4" and ffmpeg is None:
        raise RuntimeError(
            f"writing {out.name} needs the ffmpeg program, which is not on the PATH "
            "(install it: apt-get install ffmpeg); or write a GIF instead: "
            f"--out {out.with_suffix('.gif').name}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    images = frames(scenario, n_steps, seed=seed, overrides=overrides, curve=curve, dpi=dpi)
    if suffix == ".gif":
        _write_gif(images, tmp, fps)
    else:
        _write_mp4(images, tmp, fps, ffmpeg)
    tmp.replace(out)
    return out


SWATCHES = (*STATE_COLOURS.values(), *GROUP_COLOURS[:6], "#444444", "#888888", "#6A3D9A", "#000000")
"""Colours a GIF frame's palette must hold exactly."""


def _rgb(colour: str) -> tuple[int, int, int]:
    h = colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _write_gif(images: Any, path: Path, fps: float) -> None:
    # One palette for every frame and no dithering: flat colours compress well (a 104-week
    # run of 500 staff: ~300 KiB, not MBs). Blocks of the exact state and group colours
    # beside the first frame make median cut keep those colours exact.
    first = next(images)
    width = first.shape[1]
    blocks = [np.full((48, width // len(SWATCHES), 3), _rgb(c), np.uint8) for c in SWATCHES]
    swatch = np.concatenate(blocks, axis=1)
    swatch = np.pad(swatch, ((0, 0), (0, width - swatch.shape[1]), (0, 0)), constant_values=255)
    sample = Image.fromarray(np.concatenate([first, swatch]))
    palette = sample.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    pics = [
        Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE)
        for f in itertools.chain([first], images)
    ]
    pics[0].save(
        path, format="gif", save_all=True, append_images=pics[1:], duration=round(1000 / fps), loop=0
    )


def _write_mp4(images: Any, path: Path, fps: float, ffmpeg: str) -> None:
    first = next(images)
    h, w = first.shape[:2]
    cmd = [
        ffmpeg,
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{w}x{h}",
        "-r",
        f"{fps:g}",
        "-i",
        "-",
        "-vf",
        "pad=ceil(iw/2)*2:ceil(ih/2)*2",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-f",
        "mp4",
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        proc.stdin.write(np.ascontiguousarray(first).tobytes())
        for frame in images:
            proc.stdin.write(np.ascontiguousarray(frame).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed (exit {proc.returncode}): {err.strip()}")


# --- command line ---


def _value(text: str) -> Any:
    """A command-line value as bool, int, float or str."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``--preset NAME --out FILE`` options, or ``key=value`` words.

    ``key=value`` words (for ``changesim animate scenario=... out=...``): ``scenario``
    (or ``preset``), ``out``, ``n_steps``, ``fps``, ``seed``, ``curve``; any dotted key
    (``org.n_staff=300``) overrides the configuration. Returns the exit code.
    """
    from sim.params import ConfigError
    from sim.views import presets

    parser = argparse.ArgumentParser(
        prog="changesim animate",
        description="Write the hierarchy view of a run over time as a GIF or MP4.",
        epilog="Presets: " + "; ".join(presets.NAMES),
    )
    parser.add_argument("--preset", "--scenario", dest="scenario", default=None, help="preset name")
    parser.add_argument("--out", default=None, help="output file, .gif or .mp4 (default: <preset>.gif)")
    parser.add_argument("--n-steps", type=int, default=None, help="steps to run (default: the preset's)")
    parser.add_argument("--fps", type=float, default=5.0, help="frames per second (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="replicate seed (default 0)")
    parser.add_argument("--no-curve", dest="curve", action="store_false", help="hierarchy view only")
    parser.add_argument("words", nargs="*", help="key=value settings, e.g. scenario=co-design out=x.gif")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for word in args.words:
        key, sep, text = word.partition("=")
        if not sep:
            parser.error(f"{word!r} is not key=value")
        key = key.strip().lstrip("+")
        if key in ("scenario", "preset"):
            args.scenario = text
        elif key == "out":
            args.out = text
        elif key in ("n_steps", "fps", "seed"):
            setattr(args, key, _value(text))
        elif key == "curve":
            args.curve = bool(_value(text))
        else:
            overrides[key] = _value(text)
    if args.scenario is None:
        parser.error("choose a preset: --preset NAME (or scenario=NAME)")
    out = args.out or presets.get(args.scenario).name.replace(" ", "_").replace("'", "") + ".gif"
    try:
        path = animate(
            args.scenario, out, args.n_steps, args.fps, seed=args.seed, overrides=overrides, curve=args.curve
        )
    except (KeyError, ConfigError, ValueError, RuntimeError) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
