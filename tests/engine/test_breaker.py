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
