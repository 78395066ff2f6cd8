"""Items waiting in review have a way out on their page: a link to the fix, Retry, Resolve with a note;
and the dashboard counts them as the items table does."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.store import items
from tests.web.support import add_item, post_form, queue_length

REASON = ("Magento SKU 'WEB-ONLY-1' not found in Heartland (flow orders, order #000000321, line 1) — add the "
          "item in Heartland (Item # = SKU) or map the SKU in rules/mappings/orders.canonical_to_heartland.yaml, "
          "then retry")


def waiting_item(runtime: Runtime) -> int:
    item = add_item(runtime, label="order #000000321", entity_key="magento:default:order:321")
    items.finish(runtime.store, item.id, fence=items.claim(runtime.store, item.id, 60).fence,  # type: ignore[union-attr]
                 state="review", reason=REASON, result={}, attempts=1,
                 failure_class="not_found", steps=[])
    return item.id


def test_a_review_item_links_to_its_fix_and_can_be_retried(runtime: Runtime,
                                                          signed_in: Callable[[str], FlaskClient]) -> None:
    item_id = waiting_item(runtime)
    client = signed_in("operator")

    html = client.get(f"/items/{item_id}").get_data(as_text=True)
    assert 'href="/mappings/orders.canonical_to_heartland"' in html
    assert "Retry now" in html and "Resolve with note" in html

    before = queue_length(runtime)
    response = post_form(client, f"/items/{item_id}/retry", follow_redirects=True)
    assert "Sent back to the queue" in response.get_data(as_text=True)
    item = items.get(runtime.store, item_id)
    assert item is not None and item.state == "received" and item.attempts == 0
    assert queue_length(runtime) == before + 1
    assert any(s.step == "retry" and "operator-user" in s.message for s in items.steps(runtime.store, item_id))


def test_resolving_needs_a_note_and_closes_the_item(runtime: Runtime,
                                                    signed_in: Callable[[str], FlaskClient]) -> None:
    item_id = waiting_item(runtime)
    client = signed_in("operator")

    refused = post_form(client, f"/items/{item_id}/resolve", {"note": "  "}, follow_redirects=True)
    assert "a note is required" in refused.get_data(as_text=True)
    assert items.get(runtime.store, item_id).state == "review"  # type: ignore[union-attr]

    post_form(client, f"/items/{item_id}/resolve", {"note": "entered by hand in Heartland"})
    item = items.get(runtime.store, item_id)
    assert item is not None and item.state == "ignored"
    assert "entered by hand in Heartland" in item.reason and "operator-user" in item.reason


def test_only_operators_act_and_others_are_told_who_can(runtime: Runtime,
                                                       signed_in: Callable[[str], FlaskClient]) -> None:
    item_id = waiting_item(runtime)
    client = signed_in("integrator")
    assert "An operator can retry or resolve it" in client.get(f"/items/{item_id}").get_data(as_text=True)
    assert post_form(client, f"/items/{item_id}/retry").status_code == 403
    assert items.get(runtime.store, item_id).state == "review"  # type: ignore[union-attr]


def test_the_dashboard_counts_review_items_as_the_table_does(runtime: Runtime,
                                                            signed_in: Callable[[str], FlaskClient]) -> None:
    waiting_item(runtime)
    client = signed_in("operator")
    overview = client.get("/", headers={"Accept": "application/json"}).get_json()
    listed = client.get("/items?state=review", headers={"Accept": "application/json"}).get_json()["items"]
    assert overview["items_in_review"] == len(listed) == overview["totals"]["review"] == 1


def test_polls_that_found_no_change_are_counted_not_listed(runtime: Runtime,
                                                           signed_in: Callable[[str], FlaskClient]) -> None:
    for n in range(3):
        quiet = add_item(runtime, label="Heartland item #CAP-1202 (poll)", entity_key="products:heartland:item:7")
        items.finish(runtime.store, quiet.id, fence=items.claim(runtime.store, quiet.id, 60).fence,  # type: ignore[union-attr]
                     state="ignored", result={}, attempts=1, steps=[],
                     reason=f"no changes to SKU CAP-1202 since the last write (poll {n})")
    shown = add_item(runtime, label="order #000000042", entity_key="magento:default:order:42")
    items.finish(runtime.store, shown.id, fence=items.claim(runtime.store, shown.id, 60).fence,  # type: ignore[union-attr]
                 state="ignored", reason="already in Heartland", result={}, attempts=1,
                 steps=[])
    client = signed_in("operator")
    json = {"Accept": "application/json"}

    listed = client.get("/items?state=ignored", headers=json).get_json()
    assert [i["id"] for i in listed["items"]] == [shown.id] and listed["quiet_polls_not_listed"] == 3
    overview = client.get("/", headers=json).get_json()
    assert overview["totals"]["ignored"] == len(listed["items"]) + listed["quiet_polls_not_listed"], \
        "the dashboard's count is the listed items and the polls said to be left out"
    assert "Not listed: 3 poll(s)" in client.get("/items?state=ignored").get_data(as_text=True)
    everything = client.get("/items?state=ignored&quiet=1", headers=json).get_json()
    assert len(everything["items"]) == 4
