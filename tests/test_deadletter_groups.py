"""Dead letters grouped by signature on the real store: twenty failures of one kind are one group,
retried or resolved in one action, each letter still recorded on its own item."""

from __future__ import annotations

from typing import Any

from service.engine.deadletters import DeadLetterFilter, query
from service.operations import deadletter_groups
from service.store import items
from tests.web.support import make_dead


def sku_error(n: int) -> str:
    return (f"Magento SKU 'WEB-{n}' not found in Heartland (flow orders, order #000000{300 + n}, line {n % 3 + 1}) "
            "— add the item in Heartland or map the SKU, then retry")


def test_messages_differing_only_in_values_share_a_signature() -> None:
    assert deadletter_groups.normalise(sku_error(1)) == deadletter_groups.normalise(sku_error(2))
    assert deadletter_groups.normalise("customer ann@example.com is invalid") == "customer <email> is invalid"
    assert deadletter_groups.signature("orders", "data", sku_error(1)) != \
        deadletter_groups.signature("orders", "not_found", sku_error(1)), "the class is part of the signature"


def test_twenty_alike_are_one_group_retried_in_one_action(runtime: Any) -> None:
    for n in range(20):
        make_dead(runtime, 100 + n, failure_class="data", error=sku_error(n))
    make_dead(runtime, 999, failure_class="data", error="Heartland refused the order: customer email is invalid")

    groups = deadletter_groups.open_groups(runtime.store)
    assert [g.count for g in groups] == [20, 1]
    assert groups[0].labels[0] == "order #0000000119", "each letter is shown by its record's name"

    item_ids = deadletter_groups.retry(runtime.store, groups[0].signature, actor="olga")

    assert len(item_ids) == 20
    assert all(items.get(runtime.store, i).state == "received" for i in item_ids)  # type: ignore[union-attr]
    assert len(query(runtime.store, DeadLetterFilter(open_only=True))) == 1
    assert any(s.step == "retry" and "olga" in s.message for s in items.steps(runtime.store, item_ids[0]))


def test_resolving_a_group_needs_a_note(runtime: Any) -> None:
    for n in range(3):
        make_dead(runtime, 200 + n, failure_class="data", error=sku_error(n))
    key = deadletter_groups.open_groups(runtime.store)[0].signature
    try:
        deadletter_groups.resolve(runtime.store, key, actor="olga", note=" ")
        raise AssertionError("resolved without a note")
    except deadletter_groups.deadletters.DeadLetterError as exc:
        assert "a note is required" in str(exc)
    assert deadletter_groups.resolve(runtime.store, key, actor="olga", note="SKUs retired") == 3
    assert query(runtime.store, DeadLetterFilter(open_only=True)) == []
