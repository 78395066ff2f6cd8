"""Fixtures for the fault suite: a stack whose Redis (and, for one test, PostgreSQL) is the test's
own, so that the test can stop, kill and restart it mid-run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.servers import PrivateRedis, redis_server_binary
from tests.stack import Stack, build_stack


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (install redis-server, or the embedded extra)")
    server = PrivateRedis(binary=binary, workdir=tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def stack_on(settings: dict[str, Any], workdir: Path, **overrides: Any) -> Stack:
    return build_stack({**settings, **overrides}, workdir)


@pytest.fixture
def fault_stack(settings: dict[str, Any], tmp_path: Path, private_redis: PrivateRedis) -> Iterator[Stack]:
    s = stack_on(settings, tmp_path, REDIS_URL=private_redis.url)
    try:
        yield s
    finally:
        s.stop()
