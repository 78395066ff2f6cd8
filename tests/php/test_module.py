"""The Magento module's own checks: `php -l` on every PHP file, then its PHPUnit suite."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.php.php import MODULE, require_php


def test_every_php_file_parses() -> None:
    php = require_php(phpunit=False)
    files = sorted(MODULE.rglob("*.php"))
    assert len(files) > 50, f"expected the module's PHP files under {MODULE}"

    def lint(path: Path) -> str | None:
        result = subprocess.run([php, "-l", str(path)], capture_output=True, text=True, timeout=30)
        if result.returncode == 0:
            return None
        return f"{path.relative_to(MODULE)}: {result.stdout.strip()} {result.stderr.strip()}"

    # Two at a time: the machine is shared; one php process per file is what `php -l` allows on 8.2.
    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(lint, files) if f is not None]
    assert not failures, "php -l failed:\n" + "\n".join(failures)


def test_phpunit_suite_passes() -> None:
    require_php(phpunit=True)
    phpunit = shutil.which("phpunit")
    assert phpunit is not None
    result = subprocess.run([phpunit, "-c", str(MODULE / "Test" / "phpunit.xml")], capture_output=True,
                            text=True, timeout=120, cwd=MODULE)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"PHPUnit failed:\n{output}"
    summary = re.search(r"OK \((\d+) tests?, (\d+) assertions?\)", output)
    assert summary is not None, f"PHPUnit gave no summary:\n{output}"
    assert int(summary.group(1)) >= 60, f"fewer PHPUnit tests ran than the module has:\n{output}"
