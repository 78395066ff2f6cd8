"""Acting on dead letters from the pages: retry as-is, retry edited, resolve, bulk retry by filter."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskClient

from service.app.runtime import Runtime
from service.engine.deadletters import get as get_letter
from service.store import items
from tests.web.support import Seeded, make_dead, post_form


def test_retry_as_is_requeues_the_item(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                       seeded: Seeded) -> None:
    client = signed_in("operator")
    response = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/items/{seeded.dead.id}"

    item = items.get(runtime.store, seeded.dead.id)
    assert item is not None and item.state == "received" and item.attempts == 0
    assert item.payload["customer_email"] == "not-an-email"  # as-is
    assert len(runtime.queue) == 1
    assert runtime.queue.jobs[0].args == (seeded.dead.id,)
    letter = get_letter(runtime.store, seeded.dead_letter_id)
    assert letter is not None and letter.resolution == "retried" and letter.resolved_by == "operator-user"

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "retried as-is: item" in page  # the flash message
    assert f"dead letter {seeded.dead_letter_id} retried by operator-user as-is" in page  # the trace step


def test_retry_with_an_edited_payload(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                      seeded: Seeded) -> None:
    edited = {**seeded.dead.payload, "customer_email": "ann@example.com"}
    client = signed_in("operator")
    response = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry",
                         {"edited": "1", "payload": json.dumps(edited)})
    assert response.status_code == 302
    item = items.get(runtime.store, seeded.dead.id)
    assert item is not None and item.state == "received"
    assert item.payload["customer_email"] == "ann@example.com"
    assert len(runtime.queue) == 1
    steps = items.steps(runtime.store, seeded.dead.id)
    assert steps[-1].message.endswith("with an edited payload")
    page = client.get(f"/items/{seeded.dead.id}").get_data(as_text=True)
    assert "Payload, as edited on the last retry" in page
    assert "Original payload, before the edit" in page and "not-an-email" in page


def test_invalid_edited_payload_is_refused_with_the_reason(signed_in: Callable[[str], FlaskClient],
                                                          runtime: Runtime, seeded: Seeded) -> None:
    client = signed_in("operator")
    broken = '{"customer_email": "ann@example.com",'
    response = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry", {"edited": "1", "payload": broken})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "the payload is not valid JSON" in page and "line 1" in page
    assert "{&#34;customer_email&#34;: &#34;ann@example.com&#34;," in page  # what was typed is kept to fix

    not_object = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry", {"edited": "1", "payload": "[1]"})
    assert "must be a JSON object" in not_object.get_data(as_text=True)

    item = items.get(runtime.store, seeded.dead.id)
    assert item is not None and item.state == "dead"
    assert len(runtime.queue) == 0


def test_resolve_needs_a_note_and_records_who(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                              seeded: Seeded) -> None:
    client = signed_in("operator")
    empty = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/resolve", {"note": "  "})
    assert empty.status_code == 400
    assert "a note is required" in empty.get_data(as_text=True)

    done = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/resolve",
                     {"note": "created the customer by hand in Heartland"})
    assert done.status_code == 302
    letter = get_letter(runtime.store, seeded.dead_letter_id)
    assert letter is not None
    assert (letter.resolution, letter.resolved_by, letter.note) == (
        "resolved", "operator-user", "created the customer by hand in Heartland")
    assert len(runtime.queue) == 0
    listing = client.get("/dead-letters").get_data(as_text=True)
    assert f'data-test="letter-{seeded.dead_letter_id}"' not in listing  # only open ones by default
    everything = client.get("/dead-letters?status=all").get_data(as_text=True)
    assert "resolved by operator-user" in everything


def test_acting_twice_says_it_was_already_done(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                               seeded: Seeded) -> None:
    client = signed_in("operator")
    post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry")
    again = post_form(client, f"/dead-letters/{seeded.dead_letter_id}/retry")
    assert again.status_code == 400
    assert "was already retried by operator-user" in again.get_data(as_text=True)
    assert len(runtime.queue) == 1


def test_bulk_retry_by_filter(signed_in: Callable[[str], FlaskClient], runtime: Runtime, seeded: Seeded) -> None:
    auth_items = [make_dead(runtime, n, failure_class="auth", error="Heartland answered 401: token expired")
                  for n in (81, 82, 83)]
    response = post_form(signed_in("admin"), "/dead-letters/retry-matching", {"class": "auth", "flow": "orders"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dead-letters?flow=orders&class=auth"
    assert len(runtime.queue) == 3
    assert sorted(job.args[0] for job in runtime.queue.jobs) == sorted(item.id for item, _ in auth_items)
    for item, _ in auth_items:
        stored = items.get(runtime.store, item.id)
        assert stored is not None and stored.state == "received"
    untouched = items.get(runtime.store, seeded.dead.id)
    assert untouched is not None and untouched.state == "dead"


def test_dead_letter_page_has_the_editor_for_operators(signed_in: Callable[[str], FlaskClient],
                                                       seeded: Seeded) -> None:
    page = signed_in("operator").get(f"/dead-letters/{seeded.dead_letter_id}").get_data(as_text=True)
    assert 'textarea id="payload" name="payload"' in page and "data-json" in page
    assert "&#34;customer_email&#34;: &#34;not-an-email&#34;" in page
    assert "Retry as-is" in page and "Resolve" in page
