"""Run a `tillbridge …` command counting its database transactions, for the benchmarks.

    python bench/counted.py <redis-url> <role> <tillbridge arguments…>

With ``BENCH_PROFILE_DIR`` and ``BENCH_PROFILE_ROLES`` (e.g. ``worker``) set, the processes of
those roles are profiled (``profile_to``).

A SQLAlchemy event listener on every engine of the process (and of the processes it forks, such
as gunicorn's workers) counts transactions begun, commits, rollbacks and statements; every 0.2 s
the counts are added to the Redis hash ``tb:bench:counts`` under ``<role>:<what>``, where the
benchmark reads them. ``read_counts`` and ``reset_counts`` are its side of it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

COUNTS_KEY = "tb:bench:counts"
FLUSH_SECONDS = 0.2
WHAT = ("begin", "commit", "rollback", "statement")


class TransactionCounter:
    """Counts one process's transactions and hands them to Redis in the background."""

    def __init__(self, redis_url: str, role: str) -> None:
        self.redis_url = redis_url
        self.role = role
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "begin", lambda *_: self.add("begin"))
        event.listen(Engine, "commit", lambda *_: self.add("commit"))
        event.listen(Engine, "rollback", lambda *_: self.add("rollback"))
        event.listen(Engine, "before_cursor_execute", lambda *_: self.add("statement"))
        os.register_at_fork(after_in_child=self._after_fork)
        self._start()

    def add(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def _after_fork(self) -> None:
        self.lock = threading.Lock()
        self.counts = Counter()  # the parent's counts are the parent's to send
        self._start()

    def _start(self) -> None:
        threading.Thread(target=self._flush_forever, name="bench-counter", daemon=True).start()

    def _flush_forever(self) -> None:
        from redis import Redis

        redis = Redis.from_url(self.redis_url)
        while True:
            time.sleep(FLUSH_SECONDS)
            with self.lock:
                counts, self.counts = self.counts, Counter()
            if counts:
                pipe = redis.pipeline(transaction=False)
                for what, n in counts.items():
                    pipe.hincrby(COUNTS_KEY, f"{self.role}:{what}", n)
                pipe.execute()


def read_counts(redis_url: str) -> dict[str, int]:
    from redis import Redis

    raw = Redis.from_url(redis_url).hgetall(COUNTS_KEY)
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


def reset_counts(redis_url: str) -> None:
    from redis import Redis

    Redis.from_url(redis_url).delete(COUNTS_KEY)


def settle_counts(redis_url: str, quiet_seconds: float = 3 * FLUSH_SECONDS) -> dict[str, Any]:
    """The counts once every process has flushed what it counted (nothing new for a while)."""
    counts = read_counts(redis_url)
    while True:
        time.sleep(quiet_seconds)
        again = read_counts(redis_url)
        if again == counts:
            return dict(counts)
        counts = again


def profile_to(directory: str, role: str) -> None:
    """Profile this process's main thread (cProfile) and write ``<role>-<pid>.prof`` into
    ``directory`` when it exits: where a worker's time goes, per function. Wall time, or CPU time
    with ``BENCH_PROFILE_CLOCK=cpu`` (what the process itself spends, not what it waits for); with
    ``BENCH_PROFILE_SCOPE=job``, only while a worker runs a job."""
    import atexit
    import cProfile

    profiler = (cProfile.Profile(time.process_time) if os.environ.get("BENCH_PROFILE_CLOCK") == "cpu"
                else cProfile.Profile())
    if os.environ.get("BENCH_PROFILE_SCOPE") == "job":
        # Only while a job runs: start-up imports and the idle dequeue loop left out.
        from service.engine.worker import AppWorkerMixin

        perform = AppWorkerMixin.perform_job

        def profiled(self: Any, job: Any, queue: Any) -> bool:
            profiler.enable()
            try:
                return perform(self, job, queue)
            finally:
                profiler.disable()

        AppWorkerMixin.perform_job = profiled  # type: ignore[method-assign]
    else:
        profiler.enable()
    atexit.register(lambda: profiler.dump_stats(str(Path(directory) / f"{role}-{os.getpid()}.prof")))


def main() -> None:
    redis_url, role, *args = sys.argv[1:]
    TransactionCounter(redis_url, role).install()
    if role in os.environ.get("BENCH_PROFILE_ROLES", "").split(",") and os.environ.get("BENCH_PROFILE_DIR"):
        profile_to(os.environ["BENCH_PROFILE_DIR"], role)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from service.cli.main import main as tillbridge

    sys.argv = ["tillbridge", *args]
    tillbridge()


if __name__ == "__main__":
    main()
