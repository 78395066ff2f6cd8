"""The active mapping versions, kept per process and dropped when any process changes them.

A flow maps every record through its templates' active versions (service/store/mappings.py);
reading them from the store costs a transaction per template per record. They change only when a
person saves, activates, rolls back or deactivates a version, so each process keeps them and
checks one Redis stamp per lookup instead: every commit that wrote ``mapping_versions`` through a
watched store bumps the stamp (``watch``), and a process whose stamp differs reads again.

The stamp is read before the store, and bumped after the commit, so a lookup never keeps a
version older than the stamp it was read under. When Redis does not answer, lookups go to the
store (nothing is kept), and an entry is read again after ``MAX_AGE_SECONDS`` whatever the stamp
says, so a bump lost with a Redis restart delays a change by that long at most.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from service.store import mappings as versions_store
from service.store.db import Store
from service.store.tables import MappingVersion

STAMP_KEY = "tb:mappings:stamp"
MAX_AGE_SECONDS = 60.0
_CHANGED = "tillbridge_mappings_changed"

log = logging.getLogger(__name__)


class ActiveMappings:
    """``spec(template)``: the active version's spec of a template, or None (the file is in force)."""

    def __init__(self, store: Store, redis: Redis, *, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self.store = store
        self.redis = redis
        self.max_age_seconds = max_age_seconds
        self._lock = threading.Lock()
        # template -> (stamp it was read under, monotonic time read, spec or None)
        self._kept: dict[str, tuple[bytes | None, float, dict[str, Any] | None]] = {}
        watch(store, self.changed)

    def spec(self, template: str) -> dict[str, Any] | None:
        try:
            stamp: bytes | None = self.redis.get(STAMP_KEY)  # type: ignore[assignment]
        except RedisError:
            return versions_store.active_spec(self.store, template)
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(template)
        if kept is not None and kept[0] == stamp and now - kept[1] < self.max_age_seconds:
            return copy.deepcopy(kept[2])
        spec = versions_store.active_spec(self.store, template)
        with self._lock:
            self._kept[template] = (stamp, now, copy.deepcopy(spec))
        return spec

    def changed(self) -> None:
        """A version was written here: forget what this process keeps and tell the others."""
        with self._lock:
            self._kept.clear()
        try:
            self.redis.incr(STAMP_KEY)
        except RedisError as exc:
            log.warning("mapping versions changed but Redis did not take the news (%s): other processes "
                        "use the new version within %.0f s", exc, self.max_age_seconds)


def watch(store: Store, on_change: Callable[[], None]) -> None:
    """Call ``on_change`` after every commit of ``store``'s sessions that wrote mapping versions."""
    sessions = store.sessions

    def flushed(session: Session, _flush: UOWTransaction) -> None:
        touched = (*session.new, *session.dirty, *session.deleted)
        if any(isinstance(row, MappingVersion) for row in touched):
            session.info[_CHANGED] = True

    def executed(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None \
                and state.bind_mapper.class_ is MappingVersion:
            state.session.info[_CHANGED] = True

    def committed(session: Session) -> None:
        if session.info.pop(_CHANGED, False):
            on_change()

    def rolled_back(session: Session) -> None:
        session.info.pop(_CHANGED, None)

    event.listen(sessions, "after_flush", flushed)
    event.listen(sessions, "do_orm_execute", executed)
    event.listen(sessions, "after_commit", committed)
    event.listen(sessions, "after_rollback", rolled_back)
