"""The RQ worker: runs each job inside the app context built by the same factory as the web.

SIGTERM or SIGINT stops it promptly: RQ's warm shutdown lets the job in hand finish, and
service/engine/shutdown.py interrupts that job once ``stop_grace_seconds`` have passed, so the
item is handed back rather than the process outliving its stop by a whole job (or a long wait).
"""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.worker import BaseWorker

from service.engine import shutdown

log = logging.getLogger(__name__)


class AppWorkerMixin:
    app: Flask
    stop_grace_seconds: float = 10.0

    def perform_job(self, job: Any, queue: Any) -> bool:
        with self.app.app_context():
            return bool(super().perform_job(job, queue))  # type: ignore[misc]

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[misc]
        shutdown.install(self.stop_grace_seconds, stop_signals=False)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        shutdown.request(self.stop_grace_seconds)
        super().request_stop(signum, frame)  # type: ignore[misc]

    def subscribe(self) -> None:
        # RQ listens for its commands with a 60 s poll and counts on UNSUBSCRIBE to wake the thread;
        # with redis-py 8 an unsubscribed listener waits out the whole poll, and the worker's exit
        # with it. A 1 s poll bounds that wait (and costs one idle read a second).
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)  # type: ignore[attr-defined]
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1.0, daemon=True,
                                                       exception_handler=self._pubsub_exception_handler)  # type: ignore[attr-defined]


class AppSimpleWorker(AppWorkerMixin, SimpleWorker):
    """No fork per job: pooled HTTP and database connections stay warm between jobs."""


class AppForkWorker(AppWorkerMixin, Worker):
    """A fork per job: isolation from leaks and crashes, at the cost of a fork each time."""

    def main_work_horse(self, job: Any, queue: Any) -> None:
        # The child must not share the parent's pooled database connections.
        self.app.extensions["tillbridge"].after_fork()
        super().main_work_horse(job, queue)

    def setup_work_horse_signals(self) -> None:
        # The horse stops as its parent does: SIGTERM asks, the grace passes, the item is handed back.
        shutdown.install(self.stop_grace_seconds)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which sends SIGTERM

    def handle_warm_shutdown_request(self) -> None:
        super().handle_warm_shutdown_request()
        if self.horse_pid:
            self.kill_horse(sig=signal.SIGTERM)


def make_worker(app: Flask, *, fork: bool = False, name: str | None = None) -> BaseWorker:
    runtime = app.extensions["tillbridge"]
    cls: type[AppForkWorker] | type[AppSimpleWorker] = AppForkWorker if fork else AppSimpleWorker
    worker: AppForkWorker | AppSimpleWorker = cls([runtime.queue], connection=runtime.worker_redis, name=name)
    worker.app = app
    worker.stop_grace_seconds = runtime.settings.WORKER_STOP_GRACE_SECONDS
    return worker


def run_worker(app: Flask, *, fork: bool = False, name: str | None = None, burst: bool = False) -> None:
    """Work until asked to stop, outliving Redis outages.

    RQ quits on a Redis error met outside its dequeue loop (finishing a job, a heartbeat). Work is
    not lost when that happens (items are rows; the scheduler re-sends them), but a worker that
    stays down is. So the worker waits until Redis answers again, with a growing pause, and starts
    over; only a stop request (SIGTERM, Ctrl-C) or the end of a burst ends it.
    """
    runtime = app.extensions["tillbridge"]
    pause = 1.0
    while True:
        worker = make_worker(app, fork=fork, name=name)
        try:
            worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("the worker lost Redis: %s", exc)
        if burst or shutdown.requested():
            return
        log.warning("the worker stopped without being asked (Redis lost?); starting again once Redis answers")
        try:
            while True:
                try:
                    runtime.worker_redis.ping()
                    break
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    shutdown.wait(pause)
                    pause = min(pause * 2, 30.0)
        except (shutdown.Stopping, StopRequested):
            return
        pause = 1.0
