"""The operator pages render what the store holds: dashboard, item list with filters, item traces."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask.testing import FlaskClient

from service.app.runtime import Runtime
from tests.web.support import Seeded, add_item, make_dead, make_done


def _text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_dashboard_counts_breakers_and_oldest_pending(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                                      seeded: Seeded) -> None:
    add_item(runtime, label="order #000000050", entity_key="magento:default:order:50")
    add_item(runtime, label="customer ann@example.com", entity_key="magento:default:customer:9", flow="customers")
    breaker = runtime.breaker("heartland")
    for _ in range(breaker.threshold):
        breaker.record_failure()

    page = _text(signed_in("integrator").get("/"))
    orders_row = re.search(r"<tr>\s*<th><a href=\"/items\?flow=orders\">orders</a></th>(.*?)</tr>", page, re.S)
    assert orders_row, page
    counts = re.findall(r'<td class="num">\s*(?:<a [^>]*>(\d+)</a>|<span class="muted">(\d+)</span>)', orders_row[1])
    # received, processing, done, ignored, review, dead
    assert [a or b for a, b in counts] == ["1", "0", "1", "0", "0", "1"]
    assert 'href="/items?flow=customers"' in page
    assert re.search(r'data-test="dead-letters">1<', page)
    assert re.search(r'data-test="oldest-pending">\d+ s<', page)
    heartland = re.search(r'data-test="breaker-heartland">.*?tile-value">(\w+)<', page, re.S)
    magento = re.search(r'data-test="breaker-magento">.*?tile-value">(\w+)<', page, re.S)
    assert heartland and heartland[1] == "open"
    assert magento and magento[1] == "closed"


def test_dashboard_with_nothing_yet(signed_in: Callable[[str], FlaskClient]) -> None:
    page = _text(signed_in("operator").get("/"))
    assert "No sync items yet" in page
    assert 'data-test="oldest-pending">none pending<' in page


def test_items_list_filters_and_pages(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                      seeded: Seeded) -> None:
    client = signed_in("risk")
    page = _text(client.get("/items"))
    assert "order #000000042" in page and "order #000000077" in page
    assert "customer email is invalid" in page  # the reason column

    dead_only = _text(client.get("/items?state=dead"))
    assert "order #000000077" in dead_only and "order #000000042" not in dead_only

    searched = _text(client.get("/items?q=000000042"))
    assert "order #000000042" in searched and "order #000000077" not in searched

    assert "No items match" in _text(client.get("/items?flow=customers"))

    for n in range(100, 160):
        add_item(runtime, label=f"order #{n}", entity_key=f"magento:default:order:{n}")
    first = _text(client.get("/items?flow=orders"))
    assert 'href="/items?flow=orders&amp;page=2" rel="next"' in first
    assert "order #159" in first and "order #000000042" not in first
    second = _text(client.get("/items?flow=orders&page=2"))
    assert "order #000000042" in second and "order #159" not in second
    assert 'href="/items?flow=orders" rel="prev"' in second


def test_item_page_shows_trace_exchange_and_payload(signed_in: Callable[[str], FlaskClient],
                                                    seeded: Seeded) -> None:
    page = _text(signed_in("integrator").get(f"/items/{seeded.done.id}"))
    assert "order #000000042" in page
    assert page.count('data-test="step"') == 2
    assert "Request sent: POST http://127.0.0.1:9001/api/sales/orders" in page
    assert "Response got: 201" in page
    assert "&#34;public_id&#34;: &#34;S-1001&#34;" in page  # the response body, pretty-printed
    assert "12 ms" in page  # step timing
    assert "Payload, as received" in page and "TEE-RED-M" in page


def test_dead_item_page_links_its_dead_letter(signed_in: Callable[[str], FlaskClient], seeded: Seeded) -> None:
    page = _text(signed_in("operator").get(f"/items/{seeded.dead.id}"))
    assert f'href="/dead-letters/{seeded.dead_letter_id}"' in page
    assert "Response got: 422" in page
    assert "customer email is invalid" in page


def test_item_page_escapes_what_came_from_outside(signed_in: Callable[[str], FlaskClient],
                                                  runtime: Runtime) -> None:
    item = add_item(runtime, label="<script>alert(1)</script>", entity_key="magento:default:order:1",
                    payload={"note": "<img src=x onerror=alert(1)>"})
    page = _text(signed_in("operator").get(f"/items/{item.id}"))
    assert "<script>alert(1)</script>" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_missing_item_is_a_clear_404(signed_in: Callable[[str], FlaskClient]) -> None:
    response = signed_in("operator").get("/items/999999")
    assert response.status_code == 404
    assert "There is no sync item 999999" in _text(response)


def test_item_json_for_api_callers(signed_in: Callable[[str], FlaskClient], seeded: Seeded) -> None:
    data = signed_in("operator").get(f"/items/{seeded.done.id}", headers={"Accept": "application/json"}).get_json()
    assert data["state"] == "done"
    assert [s["step"] for s in data["steps"]] == ["fetch", "heartland"]
    assert data["steps"][1]["detail"]["response"] == {"id": 1001, "public_id": "S-1001"}


def test_dead_letters_page_filters(signed_in: Callable[[str], FlaskClient], runtime: Runtime,
                                   seeded: Seeded) -> None:
    _, auth_letter = make_dead(runtime, 78, failure_class="auth", error="Heartland answered 401: token expired")
    _, customer_letter = make_dead(runtime, 79, flow="customers", error="Magento refused the customer: bad phone")
    make_done(runtime, 80)
    client = signed_in("operator")

    def rows(query: str) -> set[int]:
        return {int(n) for n in re.findall(r'data-test="letter-(\d+)"', _text(client.get(f"/dead-letters{query}")))}

    assert rows("") == {seeded.dead_letter_id, auth_letter, customer_letter}
    assert rows("?class=auth") == {auth_letter}
    assert rows("?flow=customers") == {customer_letter}
    assert rows("?q=token+expired") == {auth_letter}
    assert rows("?flow=orders&class=data") == {seeded.dead_letter_id}


def test_viewers_see_dead_letters_without_actions(signed_in: Callable[[str], FlaskClient], seeded: Seeded) -> None:
    client = signed_in("risk")
    listing = _text(client.get("/dead-letters"))
    assert f'data-test="letter-{seeded.dead_letter_id}"' in listing
    assert "Retry all matching" not in listing
    detail = _text(client.get(f"/dead-letters/{seeded.dead_letter_id}"))
    assert "Retry as-is" not in detail and "not-an-email" in detail


def test_static_files_are_served_locally(client: FlaskClient) -> None:
    login = _text(client.get("/login"))
    assert "http://" not in login and "https://" not in login  # no CDN: the pages work offline
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_dashboard_counts_what_waits_for_a_person(signed_in: Callable[[str], FlaskClient], runtime: Runtime) -> None:
    from service.store import reviews

    client = signed_in("operator")
    page = _text(client.get("/"))
    assert 'data-test="order-reviews">0<' in page and 'data-test="customer-reviews">0<' in page
    item = add_item(runtime, label="order #000000061", entity_key="orders:magento:default:61")
    reviews.open_review(runtime.store, item_id=item.id, order_key="orders:magento:default:61", entity_id="61",
                        increment_id="000000061", score=0.99, threshold=0.98, explanation=["countries differ"])
    page = _text(client.get("/"))
    assert 'data-test="order-reviews">1<' in page
    assert client.get("/", headers={"Accept": "application/json"}).json["open_order_reviews"] == 1


def test_an_order_in_fraud_review_links_to_its_review(signed_in: Callable[[str], FlaskClient],
                                                      runtime: Runtime) -> None:
    from service.store import items, reviews

    item = add_item(runtime, label="order #000000062", entity_key="orders:magento:default:62")
    review, _ = reviews.open_review(runtime.store, item_id=item.id, order_key="orders:magento:default:62",
                                    entity_id="62", increment_id="000000062", score=0.99, threshold=0.98)
    fence = items.claim(runtime.store, item.id, 60).fence  # type: ignore[union-attr]
    items.finish(runtime.store, item.id, fence=fence, state="review", reason="anomaly score 0.99 above threshold 0.98",
                 result={"review_id": review.id}, attempts=1, steps=[])
    page = _text(signed_in("risk").get(f"/items/{item.id}"))
    assert f'href="/reviews/orders/{review.id}" data-test="review-link"' in page


def test_a_customer_search_in_other_digits_finds_no_one_instead_of_failing(
        signed_in: Callable[[str], FlaskClient]) -> None:
    # "²".isdigit() is true and int("²") raises: this search used to answer 500.
    response = signed_in("operator").get("/customers?q=heartland:%C2%B2")
    assert response.status_code == 200
    assert "No customer found for" in _text(response)
