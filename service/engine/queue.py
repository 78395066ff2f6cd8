"""Sending items to the RQ queue. Items are rows first; the queue only says "run this one now"."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from redis import Redis
from rq import Queue

# The job that runs an item: handed in by the composition root (service/app/jobs.py run_item).
Job = Callable[[int], Any]


def make_queue(redis: Redis, name: str, job_timeout: int) -> Queue:
    return Queue(name, connection=redis, default_timeout=job_timeout)


def enqueue_items(queue: Queue, job: Job, item_ids: Iterable[int]) -> int:
    """Enqueue one ``job`` per item, all in one round trip; returns how many were sent. RQ's bulk
    enqueue registers the queue once for the lot instead of once per job."""
    datas = [Queue.prepare_data(job, (item_id,), result_ttl=0, failure_ttl=7 * 86400) for item_id in item_ids]
    if not datas:
        return 0
    with queue.connection.pipeline() as pipe:
        queue.enqueue_many(datas, pipeline=pipe)
        pipe.execute()
    return len(datas)
