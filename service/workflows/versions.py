"""Workflow versions: a draft that changes, then published versions that never do.

draft → publish → roll back. One draft per workflow; each save raises its revision, and a save
made from an older revision is refused with who saved since ("ana saved version 3 while you
edited: reload it"), so two editors are told rather than silently overwritten. Publishing makes
the draft version N, immutable, and points the workflow's head at it in the same transaction; a
rollback points the head at the version before (or one named). Items pin the version the head
named at their first run (``pin``), so an event is processed by exactly one version, retries too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.store.db import Store
from service.store.tables import utcnow
from service.store.workflow_tables import WorkflowHead, WorkflowVersion
from service.workflows.model import Workflow, WorkflowError, publish_problems


class VersionError(ValueError):
    """An action on versions that cannot be done; the message says why and what to do."""


class StaleDraft(VersionError):
    """The draft changed since the editor loaded it."""


@dataclass(frozen=True)
class Version:
    workflow: str
    number: int
    state: str  # draft | published
    revision: int
    document: dict[str, Any]
    saved_by: str
    saved_at: datetime
    published_by: str
    published_at: datetime | None
    live: bool = False  # the version new items run


def _version(row: WorkflowVersion, live: int) -> Version:
    return Version(row.workflow, row.number, row.state, row.revision, dict(row.document), row.saved_by,
                   row.saved_at, row.published_by, row.published_at, live=row.number == live)


def live_version(store: Store, workflow: str) -> int:
    """The version new items of ``workflow`` run (0: the built-in flow's steps alone)."""
    with store.session() as s:
        head = s.get(WorkflowHead, workflow)
        return head.published if head is not None else 0


# The live version as this process last read it, with the stamp it was read under: a publish or a
# rollback bumps the stamp in Redis (``announce``) after its commit, so the next run of every process
# reads the new head, and a run costs one Redis read, not a query. Each item keeps the version of its
# first run (service/workflows/runner.py).
STAMP_KEY = "tb:workflows:stamp"
_live: dict[tuple[int, str], tuple[Any, int]] = {}


def live_for_run(store: Store, redis: Redis, workflow: str) -> int:
    key = (id(store), workflow)
    stamp: Any
    try:
        stamp = redis.get(STAMP_KEY)
    except RedisError:
        stamp = object()  # Redis is away: read the head itself
    cached = _live.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    version = live_version(store, workflow)
    _live[key] = (stamp, version)
    return version


def announce(redis: Redis) -> None:
    """Every process runs the new live version from its next item on."""
    redis.incr(STAMP_KEY)


def versions(store: Store, workflow: str) -> list[Version]:
    """Every version, newest first (the draft, if any, first of all)."""
    with store.session() as s:
        head = s.get(WorkflowHead, workflow)
        live = head.published if head is not None else 0
        rows = s.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow)
                         .order_by(WorkflowVersion.number.desc())).all()
        return [_version(r, live) for r in rows]


def workflows(store: Store) -> list[str]:
    with store.session() as s:
        names = set(s.scalars(select(WorkflowVersion.workflow).distinct()))
        names.update(s.scalars(select(WorkflowHead.workflow)))
        return sorted(names)


def get(store: Store, workflow: str, number: int) -> Version:
    with store.session() as s:
        row = s.scalar(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow,
                                                     WorkflowVersion.number == number))
        if row is None:
            raise VersionError(f"workflow {workflow!r} has no version {number}")
        head = s.get(WorkflowHead, workflow)
        return _version(row, head.published if head is not None else 0)


def draft(store: Store, workflow: str) -> Version | None:
    with store.session() as s:
        row = s.scalar(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow,
                                                     WorkflowVersion.state == "draft"))
        if row is None:
            return None
        head = s.get(WorkflowHead, workflow)
        return _version(row, head.published if head is not None else 0)


def save_draft(store: Store, workflow: Workflow, *, base_revision: int | None, actor: str) -> Version:
    """Save ``workflow`` as the draft. ``base_revision`` is the draft revision the editor started
    from (None: they started from no draft); another save since then refuses this one."""
    document = workflow.to_dict()
    now = utcnow()
    with store.session() as s:
        row = s.scalar(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow.name,
                                                     WorkflowVersion.state == "draft").with_for_update())
        if row is not None:
            if base_revision != row.revision:
                started = f"revision {base_revision}" if base_revision is not None else "no draft"
                raise StaleDraft(f"{row.saved_by or 'someone'} saved version {row.number} (revision {row.revision}) "
                                 f"at {row.saved_at:%H:%M:%S} UTC while you edited from {started}: reload the "
                                 "draft and make your change again")
            if row.document == document:
                return _version(row, 0)
            row.document = document
            row.revision += 1
            row.saved_by, row.saved_at = actor, now
        else:
            if base_revision is not None:
                raise StaleDraft(f"the draft you edited (revision {base_revision}) was published or discarded "
                                 "while you edited: reload and make your change again")
            number = (s.scalar(select(func.max(WorkflowVersion.number))
                               .where(WorkflowVersion.workflow == workflow.name)) or 0) + 1
            row = WorkflowVersion(workflow=workflow.name, number=number, state="draft", revision=1,
                                  document=document, saved_by=actor, saved_at=now, published_by="")
            s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise StaleDraft(f"someone else started a draft of {workflow.name!r} at the same moment: reload it") from None
        return _version(row, 0)


def discard_draft(store: Store, workflow: str) -> bool:
    with store.session() as s:
        row = s.scalar(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow,
                                                     WorkflowVersion.state == "draft"))
        if row is None:
            return False
        s.delete(row)
        return True


def publish(store: Store, workflow: str, *, actor: str, check: Any = None) -> Version:
    """Publish the draft: it becomes immutable and new items run it. ``check(document)`` returns the
    flow-specific problems (insertion points, locked names); the effect declarations are checked here."""
    now = utcnow()
    with store.session() as s:
        row = s.scalar(select(WorkflowVersion).where(WorkflowVersion.workflow == workflow,
                                                     WorkflowVersion.state == "draft").with_for_update())
        if row is None:
            raise VersionError(f"workflow {workflow!r} has no draft to publish: save one first")
        try:
            parsed = check(row.document) if check is not None else Workflow.from_dict(row.document)
        except WorkflowError as exc:
            raise VersionError(f"version {row.number} cannot be published: {exc}") from None
        problems = publish_problems(parsed)
        if problems:
            raise VersionError(f"version {row.number} cannot be published: " + "; ".join(problems))
        row.state = "published"
        row.published_by, row.published_at = actor, now
        _point_head(s, workflow, row.number, actor, f"published version {row.number}")
        return _version(row, row.number)


def rollback(store: Store, workflow: str, *, actor: str, to: int | None = None) -> int:
    """Point the workflow at an earlier published version (the one before the live one, or ``to``;
    0: the built-in flow alone). Returns the version now live. Versions are not changed."""
    with store.session() as s:
        head = s.get(WorkflowHead, workflow, with_for_update=True)
        live = head.published if head is not None else 0
        published = [n for n in s.scalars(select(WorkflowVersion.number).where(
            WorkflowVersion.workflow == workflow, WorkflowVersion.state == "published")
            .order_by(WorkflowVersion.number))]
        if to is None:
            if live == 0:
                raise VersionError(f"workflow {workflow!r} runs the built-in steps alone: nothing to roll back")
            earlier = [n for n in published if n < live]
            to = earlier[-1] if earlier else 0
        elif to != 0 and to not in published:
            raise VersionError(f"version {to} of {workflow!r} was never published: roll back to one of "
                               f"{', '.join(map(str, published)) or 'none'} (or 0, the built-in steps alone)")
        if to == live:
            raise VersionError(f"version {to} is already live")
        _point_head(s, workflow, to, actor, f"rolled back from version {live} to {to}")
        return to


def _point_head(s: Any, workflow: str, number: int, actor: str, note: str) -> None:
    _live.clear()  # this process sees the switch at once; the others when ``announce`` bumps the stamp
    head = s.get(WorkflowHead, workflow)
    if head is None:
        s.add(WorkflowHead(workflow=workflow, published=number, changed_by=actor, changed_at=utcnow(), note=note))
    else:
        head.published, head.changed_by, head.changed_at, head.note = number, actor, utcnow(), note
