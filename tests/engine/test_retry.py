import random

from service.kernel.retry import RetryPolicy


def test_full_jitter_stays_under_the_exponential_ceiling_and_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0, max_attempts=8)
    rng = random.Random(1)
    for attempt in range(1, 12):
        ceiling = min(30.0, 2 ** (attempt - 1))
        draws = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # jitter covers the range, not one fixed value


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_seconds=1.0, cap_seconds=30.0)
    assert all(7.0 <= policy.delay(1, retry_after=7.0) <= 8.0 for _ in range(50))


def test_exhaustion() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert not policy.exhausted(2)
    assert policy.exhausted(3)
