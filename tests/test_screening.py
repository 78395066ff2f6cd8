"""Card numbers at every door: refused at ingest and on dead-letter edits, masked and marked on
records Tillbridge pulls (polls, backfill). Afterwards no table and no process log holds one."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import inspect, select, text

from service.flows.backfill import Backfill
from service.flows.order_polling import POLL_RESOURCE as ORDERS_POLL
from service.flows.products import POLL_RESOURCE as ITEMS_POLL
from service.kernel.cards import (
    CARD_RUN,
    card_number_paths,
    find_card_numbers,
    json_body_may_hold_card_numbers,
    luhn_valid,
    mask_value,
    screen,
)
from service.kernel.redaction import redact, redact_json
from service.store import cursors, items, users
from service.store.tables import DeadLetter, SyncItem, TraceStep
from tests.stack import HEARTLAND_TOKEN, Stack, build_stack


def card_number(prefix: str = "4") -> str:
    """A Luhn-valid 16-digit number made up here, so no card number sits in the repository."""
    body = prefix + "".join(random.choice("0123456789") for _ in range(14 - len(prefix) + 1))
    for check in "0123456789":
        if find_card_numbers(body + check):
            return body + check
    raise AssertionError("no check digit")


# -- the screening function itself --------------------------------------------------------------------


def test_screen_finds_numbers_in_text_spaced_and_as_json_numbers() -> None:
    card = card_number()
    spaced = " ".join(card[i:i + 4] for i in range(0, 16, 4))
    record = {"note": f"paid with {spaced}", "payment": {"cc": int(card), "as_float": float(card[:15] + "0"),
                                                          "last4": card[-4:]},
              "lines": [{"sku": "TEE-1000", "qty": 2}], "ok": True, card: "as a key"}
    result = screen(record)
    assert set(result.paths) >= {"$.note", "$.payment.cc", f"$.{card} (key)"}
    stored = json.dumps(result.value)
    assert not find_card_numbers(stored) and card not in stored
    assert result.value["payment"]["cc"] == "*" * 12 + card[-4:]
    assert result.value["payment"]["last4"] == card[-4:] and result.value["lines"] == record["lines"]
    assert screen({"order": 12, "total": 19.99}).paths == []
    assert screen({"order": 12}).value == {"order": 12}


def test_the_fraction_of_a_decimal_number_is_not_a_card_number() -> None:
    card = card_number()
    noise = "1234.5670000000005"  # float noise whose fraction happens to pass Luhn
    assert luhn_valid(noise.split(".")[1])
    assert find_card_numbers(noise) == [] and mask_value({"p50_ms": noise}) == {"p50_ms": noise}
    assert find_card_numbers(f"order {card}.") == [card] and find_card_numbers(f"x.{card}") == [card]


def test_the_fast_test_before_the_pattern_never_hides_a_number() -> None:
    """Text the fast test clears skips the pattern: whatever the text holds (digits of other scripts,
    characters beyond ASCII, runs of separators, lone surrogates), what is found is what the pattern
    alone finds."""
    card = card_number()
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in card)  # digits \d matches, beyond ASCII
    pieces = [card, f"{card[:8]} {card[8:]}", "-".join(card[i:i + 4] for i in range(0, 16, 4)), card[:7],
              arabic_indic, arabic_indic[:7], "\U0001d7ce" * 5, "é", "中文", " ", "-", " - ", "12", "x", ".", "\ud800"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        alone = [digits for match in CARD_RUN.finditer(text)
                 if 13 <= len(digits := match.group(0).replace(" ", "").replace("-", "")) <= 19 and luhn_valid(digits)]
        assert find_card_numbers(text) == alone, repr(text)
    assert find_card_numbers(f"Müller {card[:4]} {card[4:8]} {card[8:12]} {card[12:]}") == [card]


def test_a_body_cleared_by_its_bytes_holds_no_card_number() -> None:
    """The ingest endpoints skip the walk of a document whose body's bytes clear it: no body that
    parses to a document holding a card number (written plainly, spread, escaped, as a number in
    any form, in a key, or in another encoding) is ever cleared."""
    card = card_number()
    escaped = "".join(f"\\u{ord(d):04x}" for d in card)
    holding = [f'"{card}"', f'"{card[:4]} {card[4:8]} {card[8:12]} {card[12:]}"', card, f"{card}.0", f"-{card}",
               f"{card[0]}.{card[1:]}e15", f"{card[0]}.{card[1:]}E+15", f"{int(card) - 1}.9999999999", f'"{escaped}"',
               f"{card[:13]}.{card[13:]}e3"]
    for value in holding:
        for document in (f'{{"v": {value}}}', f'[1, {value}]', f'{{"a": {{"b": [{value}]}}}}'):
            body = document.encode()
            assert card_number_paths(json.loads(body)) or find_card_numbers(body.decode()), document
            assert json_body_may_hold_card_numbers(body), document
        key = json.dumps({card: 1}).encode()
        assert json_body_may_hold_card_numbers(key) and json_body_may_hold_card_numbers(key.decode().encode("utf-16"))
    rng = random.Random(11)
    pieces = ["1", "12", "123456", "0.5", ".25", "9999", "-", " ", "e", "é", "x"]
    for _ in range(3000):  # whatever is cleared, the walk and the text search find nothing in either
        numbers = ["".join(rng.choice(pieces[:5]) for _ in range(rng.randint(1, 4))).lstrip(".") for _ in range(3)]
        strings = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 6))) for _ in range(3)]
        body = json.dumps({"n": [float(n) if "." in n else int(n) for n in numbers if n.replace(".", "", 1).isdigit()],
                           "s": strings, strings[0]: numbers[0]}, ensure_ascii=rng.random() < 0.5).encode()
        if not json_body_may_hold_card_numbers(body):
            assert not card_number_paths(json.loads(body)) and not find_card_numbers(body.decode()), body
    assert not json_body_may_hold_card_numbers(b'{"order": "000000042", "total": 85.7, "items": [{"qty": 1.0}]}')


def test_redact_masks_numbers_held_as_ints() -> None:
    card = card_number("5")
    redacted = redact({"payment": {"additional": [int(card)], "cc_number": card}, "amount": 12})
    assert redacted["payment"]["additional"] == ["*" * 12 + card[-4:]]
    assert redacted["payment"]["cc_number"] == "[redacted]" and redacted["amount"] == 12
    assert card_number_paths(mask_value({"n": int(card)})) == []


def test_redact_json_is_redact_for_bodies_with_and_without_secrets() -> None:
    card = card_number("4")
    plain = {"id": 7, "lines": [{"sku": "TEE-1", "qty": 2, "price": 1234.5670000000005}], "note": "ok", "n": None}
    copy = redact_json(plain)
    assert copy == redact(plain) == plain and copy is not plain and copy["lines"] is not plain["lines"]
    for body in ({"payment": {"cc_number": card}}, {"auth": {"Authorization": "Bearer x"}},
                 {"comment": f"paid with {card[:4]} {card[4:8]} {card[8:12]} {card[12:]}"},
                 [{"additional": [int(card)]}], {"big": float(int(card))}, {"when": object()}):
        assert redact_json(body) == redact(body)
    assert card[-4:] in redact_json({"comment": f"card {card}"})["comment"]
    assert card not in str(redact_json({"comment": f"card {card}"}))


# -- every door, end to end ---------------------------------------------------------------------------


@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, "POLL_INTERVAL_SECONDS": 0.5, "POLL_OVERLAP_SECONDS": 5.0,
                     "INVENTORY_SETTLE_SECONDS": 0, "LOG_LEVEL": "DEBUG"}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def every_stored_value(stack: Stack) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every column of every row of every table."""
    store = stack.runtime.store
    with store.engine.connect() as conn:
        for table in inspect(store.engine).get_table_names():
            columns = [c["name"] for c in inspect(store.engine).get_columns(table)]
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for column, value in zip(columns, row, strict=True):
                    if value is not None:
                        yield table, column, value if isinstance(value, str) else json.dumps(value, default=str)


def test_no_card_number_is_stored_or_logged_through_any_door(stack: Stack, caplog: pytest.LogCaptureFixture,
                                                             tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    cards = [card_number() for _ in range(8)]
    store = stack.runtime.store
    # Magento's outbox is down: changes reach Tillbridge only through the polls.
    stack.magento.server.app.extensions["magento_sandbox"].events.url = None  # type: ignore[attr-defined]
    stack.start_worker()
    stack.start_scheduler()

    # 1. Magento events: refused with 422, wherever the number sits (text, spaced, a JSON number).
    for data in ({"entity_id": 901, "increment_id": "000000901", "customer_note": f"card {cards[0]}"},
                 {"entity_id": 902, "payment": {"cc_number_enc": int(cards[0])}},
                 {"entity_id": 903, "payment": {"additional_information": [" ".join(cards[0][i:i + 4]
                                                                                    for i in range(0, 16, 4))]}}):
        refused = stack.send_event("order.created", data)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "card_number_refused" and cards[0] not in refused.text

    # 2. Heartland webhook: refused with 422.
    body = json.dumps({"id": 77, "public_id": "TEE-77", "description": f"Tee {cards[1]}",
                       "updated_at": "2026-11-27T10:00:00Z"}).encode()
    refused = requests.post(stack.heartland_hook_url(), data=body, timeout=10)
    assert refused.status_code == 422, refused.text

    # 3. The Magento orders poll: an order whose comment holds a number is stored masked and marked.
    stack.wait_for(lambda: all(cursors.get(store, r) for r in (ITEMS_POLL, ORDERS_POLL)), what="the first polls")
    order = stack.checkout([{"sku": "MUG-1003", "qty": 1}])
    stack.magento_post(f"orders/{order['entity_id']}/comments",
                       {"statusHistory": {"comment": f"customer read out {cards[2]} on the phone",
                                          "is_customer_notified": 0, "is_visible_on_front": 0}})

    # 4. The Heartland items poll: an item description holding a number.
    auth = {"Authorization": f"Bearer {HEARTLAND_TOKEN}"}
    tee = requests.get(f"{stack.heartland.url}/api/items", params={"_filter": json.dumps({"public_id": "TEE-1000"})},
                       headers=auth, timeout=10).json()["results"][0]
    answer = requests.put(f"{stack.heartland.url}/api/items/{tee['id']}", json={"description": f"Tee {cards[3]}"},
                          headers=auth, timeout=10)
    assert answer.status_code == 200, answer.text

    def marked(label_part: str) -> bool:
        with store.session() as s:
            return s.scalars(select(TraceStep.id).join(SyncItem, SyncItem.id == TraceStep.item_id).where(
                TraceStep.step == "screening", SyncItem.label.contains(label_part))).first() is not None

    stack.wait_for(lambda: marked(f"order #{order['increment_id']}"), timeout=40, what="the polled order, marked")
    stack.wait_for(lambda: marked(f"#{tee['public_id']}"), timeout=40, what="the polled item, marked")

    # 5. Backfill: a Heartland customer with a number in a field, one as a JSON number.
    created = requests.post(f"{stack.heartland.url}/api/customers", headers=auth, timeout=10, json={
        "first_name": "Card", "last_name": f"Holder {cards[4]}", "email": f"holder-{uuid.uuid4().hex[:6]}@example.com"})
    assert created.status_code in (200, 201), created.text
    hl_state = stack.heartland.server.app.extensions["heartland_sandbox"].state  # type: ignore[attr-defined]
    customer_id = int(created.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    with hl_state.lock:
        hl_state.customers.get(customer_id)["custom"] = {"legacy_card": int(cards[5])}
    Backfill(stack.runtime, "customers", page_size=50).run()
    assert marked("Heartland customer holder-")

    # 6. Dead-letter edits, on the page's JSON API and with the CLI: refused, nothing changes.
    with store.session() as s:
        dead = items.create(s, flow="orders", entity_key="orders:magento:default:999", label="order #999",
                            payload={"event": "order.created", "data": {"entity_id": 999}})
        dead_id = int(dead.id)
    with store.session() as s:
        item = s.get(SyncItem, dead_id)
        assert item is not None
    fence = items.claim(store, dead_id, 60).fence  # type: ignore[union-attr]
    items.kill(store, item, fence=fence, failure_class="data", error="test dead letter", attempts=1, steps=[])
    with store.session() as s:
        letter_id = s.scalars(select(DeadLetter.id).where(DeadLetter.item_id == dead_id)).one()
    users.create_user(store, "op", "op-password-123456", "operator")
    _, token = users.create_token(store, "op", "screening test")
    edited = {"event": "order.created", "data": {"entity_id": 999, "payment": {"cc": int(cards[6])}}}
    answer = requests.post(f"{stack.web.url}/dead-letters/{letter_id}/retry", json={"payload": edited},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 422 and cards[6] not in answer.text, answer.text
    payload_file = tmp_path / "edited.json"
    payload_file.write_text(json.dumps({"data": {"entity_id": 999, "note": f"card {cards[7]}"}}))
    with open(tmp_path / "cli.log", "wb") as log:
        cli = subprocess.run([sys.executable, "-m", "service", "dead-letters", "retry", str(letter_id),
                              "--payload", str(payload_file)], env=stack.env(), stdout=log, stderr=subprocess.STDOUT,
                             timeout=60)
    assert cli.returncode != 0
    assert "card number" in (tmp_path / "cli.log").read_text()
    payload_file.unlink()  # the operator's own file: the only place the number was
    with store.session() as s:
        letter = s.get(DeadLetter, letter_id)
        assert letter is not None and letter.resolved_at is None

    # The pulled records went on through their flows; let them settle.
    stack.wait_for(lambda: stack.states().get("received", 0) + stack.states().get("processing", 0) == 0,
                   timeout=60, what="every item finished")
    time.sleep(1.0)

    leaks = [(table, column) for table, column, value in every_stored_value(stack)
             if any(card in value for card in cards) or find_card_numbers(value)]
    assert not leaks, f"card numbers stored in {sorted(set(leaks))}"
    logs = {p.name: p.read_text() for p in tmp_path.glob("*.log")}
    logs["this process"] = caplog.text
    assert set(logs) >= {"worker.log", "scheduler.log", "cli.log", "this process"}
    found = [name for name, text_ in logs.items() if any(card in text_ for card in cards)]
    assert not found, f"card numbers logged by {found}"
