import time

import pytest
from redis import Redis

from service.engine.breaker import RedisBreaker
from service.kernel.errors import DestinationUnavailable


def test_opens_after_threshold_and_probes_after_the_open_period(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    redis.delete("tb:breaker:test-dest")
    breaker = RedisBreaker(redis, "test-dest", threshold=3, open_seconds=0.5)
    for _ in range(2):
        breaker.record_failure()
    breaker.before_call()  # still closed
    breaker.record_failure()
    with pytest.raises(DestinationUnavailable) as info:
        breaker.before_call()
    assert 0 < (info.value.retry_after or 0) <= 0.5
    assert breaker.state()["state"] == "open"
    time.sleep(0.6)
    breaker.before_call()  # the probe may go out
    breaker.record_failure()  # …and fails: open again at once
    with pytest.raises(DestinationUnavailable):
        breaker.before_call()
    time.sleep(0.6)
    breaker.record_success()
    assert breaker.state() == {**breaker.state(), "state": "closed", "failures": 0}


def test_another_worker_sees_an_open_breaker_within_the_refresh_time(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    redis.delete("tb:breaker:shared-dest")
    mine = RedisBreaker(redis, "shared-dest", threshold=1, open_seconds=5, refresh_seconds=0.1)
    theirs = RedisBreaker(redis, "shared-dest", threshold=1, open_seconds=5, refresh_seconds=0.1)
    theirs.before_call()  # closed, and now cached
    mine.record_failure()
    time.sleep(0.15)
    with pytest.raises(DestinationUnavailable):
        theirs.before_call()
    time.sleep(0.15)
    mine.record_success()  # the probe succeeded in another process
    time.sleep(0.15)
    theirs.before_call()


def test_half_open_lets_one_probe_through_across_workers(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    redis.delete("tb:breaker:probed", "tb:breaker:probed:probe")
    workers = [RedisBreaker(redis, "probed", threshold=2, open_seconds=0.5, refresh_seconds=0) for _ in range(4)]
    workers[0].record_failure()
    workers[0].record_failure()  # open
    time.sleep(0.6)  # half-open: every worker asks at once
    let_through = []
    for breaker in workers:
        try:
            breaker.before_call()
            let_through.append(breaker)
        except DestinationUnavailable as exc:
            assert "being probed" in str(exc)
    assert len(let_through) == 1
    let_through[0].record_success()  # the probe answered: closed for everyone
    for breaker in workers:
        breaker.before_call()


def test_a_throttled_answer_neither_opens_nor_closes_the_breaker(redis_url: str) -> None:
    import requests

    from service.connectors.http import HttpConnector
    from service.kernel.errors import RateLimitedError
    from service.sandbox.heartland.app import create_app
    from service.sandbox.server import start_in_thread

    redis = Redis.from_url(redis_url)
    redis.delete("tb:breaker:throttled")
    server = start_in_thread(create_app(seed="demo", token="t"))
    try:
        requests.post(f"{server.url}/__sandbox/faults", json={"rate_limit_per_second": 0.001}, timeout=5)
        connector = HttpConnector(f"{server.url}/api")
        connector.destination = "throttled"
        connector.breaker = breaker = RedisBreaker(redis, "throttled", threshold=1, open_seconds=5, refresh_seconds=0)
        breaker.record_failure()
        redis.hset(breaker.key, "open_until", 0)  # half-open after one failure: the next answer decides
        redis.hset(breaker.key, "failures", 1)
        for _ in range(3):
            redis.delete(breaker.key + ":probe")
            with pytest.raises(RateLimitedError):
                connector.send("GET", "locations")
        assert breaker.state()["failures"] == 1  # a 429 did not count as the probe's success
    finally:
        server.stop()
