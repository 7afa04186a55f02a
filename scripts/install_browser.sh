#!/usr/bin/env bash
# Install Debian's Chromium (and its driver) for the teaching app's browser tests.
#
# The tests drive /usr/bin/chromium with Playwright's Python client (pip package
# `playwright`); Playwright's own browser download (`playwright install`) is never used:
# it fetches from a CDN these machines cannot reach, and the Debian build is patched and
# kept up to date by apt. Idempotent: does nothing when /usr/bin/chromium exists.
# Usage: scripts/install_browser.sh          (as root, or with sudo available)
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: /usr/bin/chromium"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: installing chromium needs root (or sudo); run: apt-get install -y chromium chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core

if [ ! -x /usr/bin/chromium ]; then
    echo "error: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "installed: /usr/bin/chromium"
