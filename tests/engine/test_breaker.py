import time

import pytest
from redis import Redis

from service.engine.breaker import RedisBreaker
from service.engine.errors import DestinationUnavailable


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
