#!/usr/bin/env bash
# Installs headless Chromium from Debian's packages so the web pages' browser tests
# (tests/web, through Playwright) always run in CI. Quick no-op when it is already there.
# Playwright's own browser download is never used: it needs the internet.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

have_chromium() {
    [ -x "$CHROMIUM" ] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1
}

if have_chromium; then
    echo "browser-deps: $("$CHROMIUM" --version 2>/dev/null) already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "browser-deps: need root to apt-get install chromium (run with sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

if ! have_chromium; then
    echo "browser-deps: installed chromium but $CHROMIUM does not start" >&2
    exit 1
fi
echo "browser-deps: installed $("$CHROMIUM" --version 2>/dev/null)"
