"""Retention: finished work is purged after RETENTION_DAYS with its trace steps and inbox events;
what a person still has to act on is kept until they have, then the same period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from service.cli.main import main
from service.settings import replaced
from service.store import inbox, items, retention
from service.store.tables import (
    CustomerReview,
    DeadLetter,
    InboxEvent,
    OrderReview,
    SyncItem,
    TraceStep,
    utcnow,
)

OLD = utcnow() - timedelta(days=40)
RECENT = utcnow() - timedelta(days=3)


def _item(runtime: Any, label: str, state: str, finished: Any, *, event: bool = False) -> int:
    with runtime.store.session() as s:
        event_id = inbox.add(s, source="magento", event_id=label, event_type="order.created", store_code="default",
                             occurred_at=None, payload={"label": label}).id if event else None
        item = items.create(s, flow="orders", entity_key=f"orders:{label}", label=label, payload={"n": label},
                            inbox_event_id=event_id)
        s.add(TraceStep(item_id=item.id, step="deliver", message="ok"))
        s.add(TraceStep(item_id=item.id, step="confirm", message="ok"))
        s.execute(update(SyncItem).where(SyncItem.id == item.id).values(state=state, finished_at=finished))
        if event_id is not None:
            s.execute(update(InboxEvent).where(InboxEvent.id == event_id).values(received_at=finished))
        return int(item.id)


def _letter(runtime: Any, item_id: int, resolved: Any) -> None:
    with runtime.store.session() as s:
        s.add(DeadLetter(item_id=item_id, flow="orders", failure_class="data", error="bad", payload={},
                         resolved_at=resolved, resolution="resolved" if resolved else ""))


def _review(runtime: Any, item_id: int, state: str, decided: Any) -> None:
    with runtime.store.session() as s:
        s.add(OrderReview(item_id=item_id, order_key=f"k{item_id}", entity_id=str(item_id), state=state,
                          decided_at=decided))


def _ids(runtime: Any) -> set[int]:
    with runtime.store.session() as s:
        return set(s.scalars(select(SyncItem.id)))


def test_finished_work_goes_after_retention_and_open_work_stays(runtime: Any) -> None:
    old_done = _item(runtime, "old-done", "done", OLD, event=True)
    old_ignored = _item(runtime, "old-ignored", "ignored", OLD, event=True)
    recent_done = _item(runtime, "recent-done", "done", RECENT, event=True)
    open_letter = _item(runtime, "open-letter", "dead", OLD)
    _letter(runtime, open_letter, None)
    resolved_long_ago = _item(runtime, "resolved-old", "dead", OLD)
    _letter(runtime, resolved_long_ago, OLD + timedelta(days=1))
    resolved_lately = _item(runtime, "resolved-lately", "dead", OLD)
    _letter(runtime, resolved_lately, RECENT)
    in_review = _item(runtime, "in-review", "review", OLD)
    _review(runtime, in_review, "queued", None)
    decided = _item(runtime, "decided", "review", OLD)
    _review(runtime, decided, "rejected", OLD + timedelta(days=1))
    waiting = _item(runtime, "waiting", "received", None)
    with runtime.store.session() as s:
        for state, decided_at in (("pending", None), ("merged", OLD), ("not_same", RECENT)):
            s.add(CustomerReview(left_key=f"magento:default:{state}", left={}, right_id=state, right={}, state=state,
                                 decided_at=decided_at))

    dry = retention.purge(runtime.store, retention_days=30, dry_run=True)
    assert dry.counts["sync_items"] == 4 and dry.counts["trace_steps"] == 8
    assert _ids(runtime) >= {old_done, old_ignored}  # a dry run deletes nothing

    result = retention.purge(runtime.store, retention_days=30)
    assert result.finished
    assert _ids(runtime) == {recent_done, open_letter, resolved_lately, in_review, waiting}
    assert result.counts["sync_items"] == 4 and result.counts["trace_steps"] == 8
    assert result.counts["dead_letters"] == 1 and result.counts["order_reviews"] == 1
    with runtime.store.session() as s:
        assert s.scalar(select(func.count()).select_from(TraceStep)) == 10  # two steps per kept item
        assert set(s.scalars(select(InboxEvent.event_id))) == {"recent-done"}
        assert set(s.scalars(select(CustomerReview.state))) == {"pending", "not_same"}
        assert s.scalar(select(func.count()).select_from(DeadLetter)) == 2


def test_a_sweep_purges_in_batches_within_its_budget_and_carries_on_next_time(runtime: Any) -> None:
    for n in range(30):
        _item(runtime, f"old-{n}", "done", OLD)
    partial = retention.purge(runtime.store, retention_days=30, batch_size=10, budget_seconds=0.0)
    assert not partial.finished and partial.counts == {}  # the budget was spent before the first batch
    settings = replaced(runtime.settings, {"RETENTION_BATCH_SIZE": 10, "RETENTION_SWEEP_SECONDS": 5.0})
    runtime.redis.delete(retention.DUE_KEY)
    first = retention.purge_due(runtime.store, runtime.redis, settings)
    assert first is not None and first.finished and first.counts["sync_items"] == 30
    assert retention.purge_due(runtime.store, runtime.redis, settings) is None  # not due again yet
    assert _ids(runtime) == set()


def test_the_purge_command(runtime: Any, settings: dict[str, Any]) -> None:
    old = _item(runtime, "old", "done", OLD)
    env = {k: str(v) for k, v in settings.items()}
    dry = CliRunner().invoke(main, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would purge" in dry.output and "sync_items: 1" in dry.output and old in _ids(runtime)
    done = CliRunner().invoke(main, ["purge"], env=env)
    assert done.exit_code == 0, done.output
    assert "sync_items: 1" in done.output and _ids(runtime) == set()


def test_nothing_of_the_last_day_is_purged_whatever_the_retention_says(runtime: Any, settings: dict[str, Any]) -> None:
    recent = _item(runtime, "an hour ago", "done", utcnow() - timedelta(hours=1))
    with pytest.raises(ValueError, match="minimum of 1 day"):
        retention.purge(runtime.store, retention_days=0.01)
    env = {k: str(v) for k, v in settings.items()}
    refused = CliRunner().invoke(main, ["purge", "--days", "0.5"], env=env)
    assert refused.exit_code != 0 and "minimum of 1 day" in refused.output
    assert recent in _ids(runtime)
