from typing import Any

from service.store import bindings


def test_bind_is_idempotent_and_merges_the_data_of_each_flow(runtime: Any) -> None:
    store = runtime.store
    first = bindings.bind(store, entity="customer", key="magento:default:7", system="heartland",
                          external_id="100042", data={"addresses": {"1 main st|78701": 5}})
    again = bindings.bind(store, entity="customer", key="magento:default:7", system="heartland",
                          external_id="100042", source_version="2026-11-27T10:00:00+00:00",
                          data={"written": "abc"})
    assert again.id == first.id
    found = bindings.find(store, "customer", "magento:default:7", "heartland")
    assert found is not None
    assert found.data == {"addresses": {"1 main st|78701": 5}, "written": "abc"}
    assert found.source_version == "2026-11-27T10:00:00+00:00"
    assert bindings.count(store, "customer", "heartland") == 1


def test_a_binding_handed_to_the_run_s_end_commits_with_it_and_never_for_a_stale_run(runtime: Any) -> None:
    from functools import partial

    import pytest

    from service.store import items

    store = runtime.store
    with store.session() as s:
        item_id = items.create(s, flow="orders", entity_key="orders:magento:default:9", payload={}).id
    claimed = items.claim(store, item_id, lease_seconds=60)
    assert claimed is not None and claimed.fence == 1
    write = partial(bindings.bind_within, entity="order", key="magento:default:9", system="heartland",
                    external_id="77", external_ref="30077")
    with pytest.raises(items.StaleRun):
        items.finish(store, item_id, fence=0, state="done", reason="", result={}, attempts=1, steps=[],
                     writes=[write])
    assert bindings.find(store, "order", "magento:default:9", "heartland") is None
    items.finish(store, item_id, fence=1, state="done", reason="", result={}, attempts=1,
                 steps=[{"step": "confirm", "message": "ok"}], writes=[write])
    found = bindings.find(store, "order", "magento:default:9", "heartland")
    assert found is not None and found.external_ref == "30077"
    assert items.get(store, item_id).state == "done"
    # Bound already (a run that found its order): the same write updates it in place.
    bindings.bind(store, entity="order", key="magento:default:9", system="heartland", external_id="77",
                  data={"payments": {"mode": "order"}})
    with store.session() as s:
        bindings.bind_within(s, entity="order", key="magento:default:9", system="heartland", external_id="77",
                             external_ref="30077", data={"magento_number": "9"})
    assert bindings.find(store, "order", "magento:default:9", "heartland").data == {
        "payments": {"mode": "order"}, "magento_number": "9"}


def test_another_item_of_the_record_ever_claimed(runtime: Any) -> None:
    from service.store import items

    store = runtime.store
    with store.session() as s:
        first = items.create(s, flow="orders", entity_key="orders:magento:default:10", payload={}).id
        second = items.create(s, flow="orders", entity_key="orders:magento:default:10", payload={}).id
    assert not items.other_ever_claimed(store, "orders:magento:default:10", second)
    items.claim(store, first, lease_seconds=60)
    assert items.other_ever_claimed(store, "orders:magento:default:10", second)
    assert not items.other_ever_claimed(store, "orders:magento:default:10", first)


def test_a_customer_s_binding_and_merge_decision_come_in_one_read_as_each_alone(runtime: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from service.store import customer_reviews
    from service.store.customer_reviews import NewPair

    store = runtime.store
    assert customer_reviews.binding_and_merge(store, "email:nobody@example.com") == (None, None)
    bindings.bind(store, entity="customer", key="magento:default:7", system="heartland", external_id="100042",
                  data={"addresses": {"1 main st|78701": 5}})
    bindings.bind(store, entity="customer", key="magento:default:7", system="magento", external_id="7")
    bindings.bind(store, entity="order", key="email:jo@example.com", system="heartland", external_id="9")
    found, merged = customer_reviews.binding_and_merge(store, "magento:default:7")
    alone = bindings.find(store, "customer", "magento:default:7", "heartland")
    assert found is not None and alone is not None and merged is None
    columns = [c.key for c in found.__table__.c]
    assert {c: getattr(found, c) for c in columns} == {c: getattr(alone, c) for c in columns}
    # Only the customer's Heartland binding: not another system's, nor another entity's of that key.
    assert customer_reviews.binding_and_merge(store, "email:jo@example.com") == (None, None)

    # A guest email merged twice on the review page: the newest decision wins, as merged_target says.
    for n, (right, minutes) in enumerate((("300", 10), ("301", 20))):
        pair = customer_reviews.queue(store, NewPair(
            left_key="email:jo@example.com", left_id="", left={"first_name": "Jo"}, right_id=right,
            right={"first_name": "Jo"}, linked_id="", linked_created=False, score=0.5, drivers=[],
            origin=f"Magento order #{n}", model_version="test"))
        customer_reviews.decide(store, pair.id, "merged", actor="tester",
                                at=datetime(2026, 11, 27, tzinfo=UTC) + timedelta(minutes=minutes))
    assert customer_reviews.merged_target(store, "email:jo@example.com") == "301"
    assert customer_reviews.binding_and_merge(store, "email:jo@example.com") == (None, "301")


def test_a_key_bound_by_another_run_between_read_and_insert_is_updated_not_refused(runtime: Any) -> None:
    from sqlalchemy import event, insert

    from service.store.tables import Binding

    store = runtime.store
    raced: list[str] = []

    def another_run_binds_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO BINDINGS") and not raced:
            raced.append(statement)
            with store.engine.connect() as other:
                other.execute(insert(Binding).values(entity="order", key="magento:default:11", system="heartland",
                                                     external_id="88", data={"theirs": 1}))
                other.commit()

    event.listen(store.engine, "before_cursor_execute", another_run_binds_first)
    try:
        with store.session() as s:
            bound = bindings.bind_within(s, entity="order", key="magento:default:11", system="heartland",
                                         external_id="88", external_ref="30088", data={"ours": 2})
    finally:
        event.remove(store.engine, "before_cursor_execute", another_run_binds_first)
    assert raced, "the race was not staged"
    found = bindings.find(store, "order", "magento:default:11", "heartland")
    assert found is not None and found.id == bound.id
    assert (found.external_ref, found.data) == ("30088", {"theirs": 1, "ours": 2})
    assert bindings.count(store, "order", "heartland") == 1


def test_an_external_id_bound_to_another_key_is_refused(runtime: Any) -> None:
    import pytest
    from sqlalchemy.exc import IntegrityError

    store = runtime.store
    bindings.bind(store, entity="customer", key="email:a@example.com", system="heartland", external_id="500")
    with pytest.raises(IntegrityError):
        bindings.bind(store, entity="customer", key="email:b@example.com", system="heartland", external_id="500")
    with pytest.raises(IntegrityError), store.session() as s:
        bindings.bind_within(s, entity="customer", key="email:b@example.com", system="heartland", external_id="500")
    assert bindings.find(store, "customer", "email:b@example.com", "heartland") is None
    assert bindings.find(store, "customer", "email:a@example.com", "heartland").external_id == "500"
