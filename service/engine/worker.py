"""The RQ worker: runs each job inside the app context built by the same factory as the web."""

from __future__ import annotations

from typing import Any

from flask import Flask
from rq import SimpleWorker, Worker
from rq.worker import BaseWorker


class AppWorkerMixin:
    app: Flask

    def perform_job(self, job: Any, queue: Any) -> bool:
        with self.app.app_context():
            return bool(super().perform_job(job, queue))  # type: ignore[misc]


class AppSimpleWorker(AppWorkerMixin, SimpleWorker):
    """No fork per job: pooled HTTP and database connections stay warm between jobs."""


class AppForkWorker(AppWorkerMixin, Worker):
    """A fork per job: isolation from leaks and crashes, at the cost of a fork each time."""

    def main_work_horse(self, job: Any, queue: Any) -> None:
        # The child must not share the parent's pooled database connections.
        self.app.extensions["tillbridge"].after_fork()
        super().main_work_horse(job, queue)


def make_worker(app: Flask, *, fork: bool = False, name: str | None = None) -> BaseWorker:
    runtime = app.extensions["tillbridge"]
    cls: type[AppForkWorker] | type[AppSimpleWorker] = AppForkWorker if fork else AppSimpleWorker
    worker: AppForkWorker | AppSimpleWorker = cls([runtime.queue], connection=runtime.worker_redis, name=name)
    worker.app = app
    return worker
