#!/usr/bin/env bash
# Installs PHP 8.2 and PHPUnit from Debian's packages so the Magento module's tests
# (tests/php) always run in CI. Quick no-op when everything is already there.
set -euo pipefail

packages=(php-cli phpunit php-xml php-mbstring php-curl php-sqlite3)
extensions=(dom mbstring curl json xml pdo_sqlite)

have_all() {
    command -v php >/dev/null 2>&1 && command -v phpunit >/dev/null 2>&1 || return 1
    local loaded
    loaded="$(php -m 2>/dev/null | tr '[:upper:]' '[:lower:]')"
    for ext in "${extensions[@]}"; do
        grep -qx "$ext" <<<"$loaded" || return 1
    done
}

if have_all; then
    echo "php-deps: $(php -r 'echo PHP_VERSION;') and $(phpunit --version | head -n 1) already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "php-deps: need root to apt-get install ${packages[*]} (run with sudo)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

if ! have_all; then
    echo "php-deps: installed ${packages[*]} but php/phpunit or an extension (${extensions[*]}) is still missing" >&2
    exit 1
fi
echo "php-deps: installed $(php -r 'echo PHP_VERSION;') and $(phpunit --version | head -n 1)"
