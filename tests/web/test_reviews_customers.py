"""The customer review page: pairs side by side, Merge / Not the same / Skip, decisions as training labels.

The app runs on a real store and Redis, against the Heartland sandbox over HTTP (a merge writes the
surviving values there); one test merges a pair in headless Chromium.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from service.app.runtime import Runtime
from service.flows.checks import duplicates
from service.sandbox.heartland.app import create_app as create_heartland
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store import bindings, customer_reviews
from service.store.customer_reviews import NewPair
from service.store.db import Store, database_url
from service.store.tables import CustomerReview
from tests.web.browser import go_to, sign_in_browser
from tests.web.support import post_form

HEARTLAND_TOKEN = "review-tests-heartland-token"


@pytest.fixture
def heartland() -> Iterator[RunningSandbox]:
    server = start_in_thread(create_heartland(seed=None, token=HEARTLAND_TOKEN))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web_config(web_config: dict[str, Any], heartland: RunningSandbox) -> dict[str, Any]:
    if web_config["DATABASE_URL"].startswith("postgresql"):
        # A shared PostgreSQL (CI): the tables these tests write start empty too.
        store = Store(database_url(web_config["DATABASE_URL"], web_config["DATA_DIR"]))
        store.upgrade()
        with store.engine.begin() as conn:
            conn.execute(text("TRUNCATE customer_reviews, bindings RESTART IDENTITY CASCADE"))
        store.dispose()
    return {**web_config, "TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
            "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN}


def till_customer(runtime: Runtime, first: str, last: str, email: str, phone: str, line_1: str,
                  postcode: str) -> int:
    created = runtime.heartland.create_customer({"first_name": first, "last_name": last, "email": email})
    customer_id = int(created["id"])
    runtime.heartland.add_customer_address(customer_id, {
        "first_name": first, "last_name": last, "line_1": line_1, "city": "Portland", "state": "OR",
        "postal_code": postcode, "country": "US", "phone": phone})
    return customer_id


def magento_customer(first: str, last: str, email: str, phone: str, street: str, postcode: str) -> dict[str, str]:
    return {"first_name": first, "middle_name": "", "last_name": last, "email": email, "phone": phone,
            "street": street, "city": "Portland", "region": "OR", "postcode": postcode, "country": "US",
            "dob": "", "magento_id": "", "heartland_id": "", "source": "magento",
            "updated_at": datetime.now(UTC).isoformat()}  # newer than the till records made before it


def queue_pair(runtime: Runtime, left: dict[str, str], key: str, right_id: int, linked_id: int,
               score: float = 0.89) -> CustomerReview:
    service = duplicates.for_runtime(runtime)
    right = service.fetch_heartland(right_id)
    service.index_heartland(right_id, right)
    service.index_heartland(linked_id, left)
    return customer_reviews.queue(runtime.store, NewPair(
        left_key=key, left_id="", left=left, right_id=str(right_id), right=right, linked_id=str(linked_id),
        linked_created=True, score=score, drivers=["same phone (+0.89)", "last name Garcia / Lopez 0% alike (-0.02)"],
        origin="Magento order #000000042"))


@pytest.fixture
def pair(runtime: Runtime) -> CustomerReview:
    """Maria Garcia at the till; Marie Lopez online with the same phone, a new street and email."""
    maria = till_customer(runtime, "Maria", "Garcia", "maria.garcia@example.com", "(503) 555-0177",
                          "40 Elm Avenue", "97205")
    left = magento_customer("Marie", "Lopez", "marie.lopez@example.net", "503-555-0177", "9 Pine Rd", "97205")
    lopez = int(runtime.heartland.create_customer({"first_name": "Marie", "last_name": "Lopez",
                                                   "email": "marie.lopez@example.net"})["id"])
    bindings.bind(runtime.store, entity="customer", key="email:marie.lopez@example.net", system="heartland",
                  external_id=str(lopez), data={"addresses": {}})
    return queue_pair(runtime, left, "email:marie.lopez@example.net", maria, lopez)


def test_pending_pair_shows_both_records_with_differences_score_and_drivers(
        signed_in: Any, pair: CustomerReview) -> None:
    client: FlaskClient = signed_in("integrator")
    html = client.get("/reviews/customers").get_data(as_text=True)
    assert f'data-test="pair-{pair.id}"' in html
    assert 'data-field="last_name" data-status="differs"' in html
    assert 'data-field="phone" data-status="same"' in html
    assert 'data-field="street" data-status="differs"' in html
    assert "Lopez" in html and "Garcia" in html and "9 Pine Rd" in html and "40 Elm Avenue" in html
    assert '<strong data-test="score">0.89</strong>' in html
    assert "same phone (+0.89)" in html
    assert "Heartland cannot merge customers" in html
    assert 'data-test="merge"' in html and 'data-test="not-same"' in html and 'data-test="skip"' in html
    assert "Customer reviews" in html  # the navigation link


def test_who_may_see_and_decide(signed_in: Any, client: FlaskClient, pair: CustomerReview) -> None:
    assert client.get("/reviews/customers").status_code == 302  # to the sign-in page
    operator = signed_in("operator")
    page = operator.get("/reviews/customers")
    assert page.status_code == 200 and 'data-test="merge"' not in page.get_data(as_text=True)
    assert post_form(operator, f"/reviews/customers/{pair.id}/not-same").status_code == 403
    assert signed_in("risk").get("/reviews/customers").status_code == 403
    admin = signed_in("admin")
    assert post_form(admin, f"/reviews/customers/{pair.id}/skip").status_code == 302


def test_not_same_and_skip_are_recorded_with_who_and_when_and_final(
        signed_in: Any, runtime: Runtime, pair: CustomerReview) -> None:
    client = signed_in("integrator")
    response = post_form(client, f"/reviews/customers/{pair.id}/skip", follow_redirects=True)
    assert "skipped" in response.get_data(as_text=True)
    assert customer_reviews.get(runtime.store, pair.id).state == "skipped"  # type: ignore[union-attr]
    assert f'data-test="pair-{pair.id}"' in client.get("/reviews/customers?show=skipped").get_data(as_text=True)

    post_form(client, f"/reviews/customers/{pair.id}/not-same", {"note": "different people, same phone line"})
    decided = customer_reviews.get(runtime.store, pair.id)
    assert decided is not None and decided.state == "not_same"
    assert decided.decided_by == "integrator-user" and decided.decided_at is not None
    assert decided.note == "different people, same phone line"
    refused = post_form(client, f"/reviews/customers/{pair.id}/merge", follow_redirects=True)
    assert "already decided" in refused.get_data(as_text=True)
    assert customer_reviews.get(runtime.store, pair.id).state == "not_same"  # type: ignore[union-attr]
    # Not the same: nothing was linked, the Magento customer keeps its own Heartland customer.
    binding = bindings.find(runtime.store, "customer", "email:marie.lopez@example.net", "heartland")
    assert binding is not None and binding.external_id == pair.linked_id


def test_merge_links_the_magento_customer_applies_survivorship_and_updates_the_index(
        signed_in: Any, runtime: Runtime, pair: CustomerReview) -> None:
    client = signed_in("integrator")
    response = post_form(client, f"/reviews/customers/{pair.id}/merge", follow_redirects=True)
    text = response.get_data(as_text=True)
    assert f"linked to Heartland customer {pair.right_id}" in text

    decided = customer_reviews.get(runtime.store, pair.id)
    assert decided is not None and decided.state == "merged" and decided.decided_by == "integrator-user"
    binding = bindings.find(runtime.store, "customer", "email:marie.lopez@example.net", "heartland")
    assert binding is not None and binding.external_id == pair.right_id
    # rules/dedup.yaml: last name most recent (the web order), email preferred from Magento,
    # first name the longer (a tie keeps Heartland's).
    survivor = runtime.heartland.customer(int(pair.right_id))
    assert (survivor["first_name"], survivor["last_name"], survivor["email"]) == (
        "Maria", "Lopez", "marie.lopez@example.net")
    # The shopper now resolves to the survivor; the duplicate made meanwhile left the index.
    service = duplicates.for_runtime(runtime)
    decision = service.resolve(pair.left, "email:marie.lopez@example.net")
    assert decision.kind == "match" and decision.candidate_id == f"heartland:{pair.right_id}"
    assert not service.is_indexed(pair.linked_id)
    fresh = service.resolver.resolve(pair.left)
    assert fresh.candidate_id == f"heartland:{pair.right_id}"


def test_decisions_download_as_training_labels(signed_in: Any, runtime: Runtime, pair: CustomerReview) -> None:
    from training.dedup import read_pairs

    other = queue_pair(
        runtime, magento_customer("Jon", "Smith", "jon@example.com", "503-555-0142", "12 Oak St", "97201"),
        "email:jon@example.com",
        till_customer(runtime, "Jonathan", "Smith", "", "(503) 555-0142", "12 Oak Street", "97201"),
        int(runtime.heartland.create_customer({"first_name": "Jon", "last_name": "Smith"})["id"]), score=0.9)
    client = signed_in("integrator")
    post_form(client, f"/reviews/customers/{pair.id}/not-same")
    post_form(client, f"/reviews/customers/{other.id}/merge")
    response = client.get("/reviews/customers/labels.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["review_id"], r["label"]) for r in rows] == [(str(pair.id), "0"), (str(other.id), "1")]
    assert rows[0]["left_last_name"] == "Lopez" and rows[0]["right_last_name"] == "Garcia"
    assert rows[1]["decided_by"] == "integrator-user"
    path = Path(runtime.settings.DATA_DIR) / "labels.csv"
    path.write_text(response.get_data(as_text=True), encoding="utf-8")
    labelled = read_pairs(path)  # what `tillbridge models train dedup --pairs` reads
    assert labelled.labels.tolist() == [0, 1]


def test_json_answers_for_the_api(signed_in: Any, app: Any, make_user: Any, pair: CustomerReview) -> None:
    client = signed_in("integrator")
    listing = client.get("/reviews/customers", headers={"Accept": "application/json"}).get_json()
    assert listing["counts"]["pending"] == 1
    assert listing["reviews"][0]["right"]["id"] == pair.right_id
    one = client.get(f"/reviews/customers/{pair.id}", headers={"Accept": "application/json"}).get_json()
    assert {f["name"]: f["status"] for f in one["fields"]}["last_name"] == "differs"
    assert client.get("/reviews/customers/999999").status_code == 404


def test_merge_a_pair_in_the_browser(live_server: str, browser_page: Any, make_user: Any, runtime: Runtime,
                                     pair: CustomerReview) -> None:
    page = browser_page
    sign_in_browser(page, live_server, make_user("integrator"))
    go_to(page, "Customer reviews")
    card = page.locator(f'[data-test="pair-{pair.id}"]')
    card.wait_for()
    differs = card.locator('tr[data-status="differs"]')
    assert differs.count() >= 2
    background = differs.first.locator("td").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), "differing fields are not highlighted"
    card.locator('[data-test="merge"]').click()
    page.wait_for_selector(".flash-ok")
    assert f"linked to Heartland customer {pair.right_id}" in page.inner_text(".flash-ok")
    assert page.locator(f'[data-test="pair-{pair.id}"]').count() == 0
    page.click("text=Decided")
    assert "Merged by integrator-user" in page.inner_text(f'[data-test="pair-{pair.id}"]')
    decided = customer_reviews.get(runtime.store, pair.id)
    assert decided is not None and decided.state == "merged"
