"""``changesim app``: serve the teaching app offline on this machine, with one line in the terminal.

The page itself is ``sim.views.app_page`` (Solara); its model side is ``sim.views.teaching``.
This launcher imports neither, so ``changesim app --help`` is instant and quiet. It turns
Solara's telemetry off, hides Solara's banner, and points its CDN at a closed loopback port,
so the page loads only what Solara's proxy cache holds: ``make setup`` fills it once
(``changesim app --fetch-assets``: ``npm pack`` from the npm registry). The server runs as a
child process; its start-up chatter is dropped and anything else it prints (a warning, an
error) is passed on, so the terminal shows the address and nothing else unless something
is wrong.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST, PORT = "127.0.0.1", 8765

# --- front-end assets, served from Solara's proxy cache ---

ASSETS: tuple[str, ...] = (
    "@widgetti/solara-vuetify-app@10.1.1",
    "requirejs@2.3.6",
    "font-awesome@4.5.0",
    "@widgetti/vue-grid-layout@2.3.13-alpha.2",
)
"""npm packages the page loads, at the versions the installed Solara asks for (Vue 2,
``ipyvue<2``); ``tests/test_app.py`` checks them against Solara's templates."""


def asset_cache() -> Path:
    """Solara's proxy cache folder (``SOLARA_ASSETS_PROXY_CACHE_DIR``, else ``<venv>/share/solara/cdn``)."""
    env = os.environ.get("SOLARA_ASSETS_PROXY_CACHE_DIR")
    return Path(env) if env else Path(sys.prefix) / "share" / "solara" / "cdn"


def missing_assets(cache: Path | None = None) -> list[str]:
    """The ``ASSETS`` not yet in the cache."""
    cache = asset_cache() if cache is None else cache
    return [a for a in ASSETS if not (cache / a / "package.json").is_file()]


def fetch_assets(cache: Path | None = None) -> list[str]:
    """Fill the cache from the npm registry with ``npm pack`` (needs npm); returns what was fetched."""
    cache = asset_cache() if cache is None else cache
    todo = missing_assets(cache)
    if todo and shutil.which("npm") is None:
        raise RuntimeError("fetching the app's front-end assets needs npm (apt-get install npm)")
    for spec in todo:
        with tempfile.TemporaryDirectory() as tmp:
            name = subprocess.run(
                ["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True, text=True
            ).stdout.split()[-1]
            with tarfile.open(Path(tmp) / name) as tar:
                tar.extractall(tmp, filter="data")
            target = cache / spec
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(Path(tmp) / "package"), target)
    return todo


def server_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment of the server: telemetry off, CDN closed, Agg, Reacton's fast renderer.

    The CDN is a loopback port nobody serves, so nothing is fetched from the internet.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        SOLARA_TELEMETRY_MIXPANEL_ENABLE="false",
        SOLARA_ASSETS_CDN="http://127.0.0.1:9/",
        SOLARA_ASSETS_PROXY_CACHE_DIR=str(asset_cache()),
        SOLARA_THEME_SHOW_BANNER="false",
        SOLARA_THEME_TITLE="changesim",
        MPLBACKEND="Agg",
        # Reacton's opt-in renderer skips subtrees whose element and state are unchanged: a
        # step re-renders the run card, Play/Step and the four pictures, not the levers.
        REACTON_FAST="1",
    )
    return env


def server_command(host: str = HOST, port: int = PORT) -> list[str]:
    """The command that serves the app (``solara run sim.views.app_page``, production mode)."""
    return [
        sys.executable,
        "-m",
        "solara",
        "run",
        "sim.views.app_page",
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-open",
    ]


CHATTER = re.compile(
    r"^(Solara server is starting|INFO:|\s*$|.*Uvicorn running|.*Started server process"
    r"|.*Waiting for application|.*Application startup complete|.*Press CTRL\+C)"
)
"""Lines of the server's start-up that say nothing a teacher needs (the address is printed once)."""


class _Stopped(Exception):
    """The launcher was asked to stop by a signal other than Ctrl-C (its number in ``args[0]``)."""


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def _die_with_parent() -> None:
    """In the server child, before it starts (Linux): ask the kernel to send it SIGTERM when
    its launcher dies, even by SIGKILL, which the launcher cannot catch. Elsewhere a no-op.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server child as Ctrl-C would (SIGINT), killing it after 10 s; reap it."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Signals on which the launcher stops its server and exits 128 + the signal's number:
``kill``, a job scheduler's cancel, a closed terminal."""


def serve(host: str = HOST, port: int = PORT) -> int:
    """Run the server as a child, pass on only what is not start-up chatter.

    The server never outlives its launcher, which would leave it holding the port: Ctrl-C
    (exit 0), SIGTERM or SIGHUP (exit 128 + the signal), an error in the launcher, and on
    Linux even a SIGKILL of the launcher (``_die_with_parent``) all stop it.
    """
    proc = subprocess.Popen(
        server_command(host, port),
        env=server_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_die_with_parent,  # safe: the launcher starts no threads
    )
    handlers = {}
    if threading.current_thread() is threading.main_thread():  # signal handlers live there only
        handlers = {s: signal.signal(s, _raise_stopped) for s in STOP_SIGNALS}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not CHATTER.match(line):
                sys.stdout.write(line)
                sys.stdout.flush()
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    except _Stopped as stop:
        return 128 + int(stop.args[0])
    finally:
        stop_server(proc)
        for s, h in handlers.items():
            signal.signal(s, h)


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on (host, port), or None where it can: checked before
    the server starts, so that a port in use (often another ``changesim app``) is one clear
    line instead of the server's own error after the launcher has printed the address.
    """
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
            s.bind((host, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            return (f"port {port} on {host} is in use (another changesim app?); stop that one, "
                    f"or pick another port: changesim app --port {port + 1}")  # fmt: skip
        return f"cannot listen on {host}:{port}: {e.strerror or e}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """``changesim app``: serve the teaching app on 127.0.0.1 (``--port``), or ``--fetch-assets``.

    Also accepts ``host=...`` and ``port=...`` words.
    """
    parser = argparse.ArgumentParser(
        prog="changesim app", description="Serve the teaching app in the browser."
    )
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, default=PORT, help=f"port (default {PORT})")
    parser.add_argument(
        "--fetch-assets",
        action="store_true",
        help="fill Solara's asset cache from the npm registry (make setup does this), then exit",
    )
    parser.add_argument("words", nargs="*", help="host=... port=...")
    args = parser.parse_args(argv)
    for word in args.words:
        key, sep, value = word.partition("=")
        if key not in ("host", "port") or not sep:
            parser.error(f"unknown setting {word!r}; use host=... or port=...")
        setattr(args, key, int(value) if key == "port" else value)
    if args.fetch_assets:
        got = fetch_assets()
        print(f"assets in {asset_cache()}: fetched {', '.join(got) if got else 'nothing (all present)'}")
        return 0
    busy = port_problem(args.host, args.port)
    if busy:
        print(f"error: {busy}", file=sys.stderr)
        return 2
    missing = missing_assets()
    if missing:
        print(
            f"error: the app's front-end assets are missing from {asset_cache()}: {', '.join(missing)}\n"
            "fetch them once with: changesim app --fetch-assets   (or make setup)",
            file=sys.stderr,
        )
        return 2
    print(f"changesim app: open http://{args.host}:{args.port}/ in a browser (Ctrl-C to stop)", flush=True)
    return serve(args.host, args.port)


if __name__ == "__main__":
    sys.exit(main())
