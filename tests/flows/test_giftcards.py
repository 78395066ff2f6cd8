"""Gift cards, both ways, against both sandboxes over HTTP: every balance change on one side becomes
one adjustment on the other, keyed by the change it copies; our own copies coming back are echoes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.engine import polling
from service.flows.giftcards import (
    ECHO_REASON,
    HEARTLAND_POLL,
    MAGENTO_POLL,
    GiftCardsFlow,
    card_key,
    resolve_rules,
)
from service.kernel.errors import DataError
from service.sandbox.server import RunningSandbox, start_in_thread
from service.store import cursors, items
from service.store.tables import Base
from tests.stack import HEARTLAND_TOKEN, MAGENTO_TOKEN, Stack, build_stack

POLLING = {"POLL_INTERVAL_SECONDS": 0.5, "POLL_OVERLAP_SECONDS": 30}
REASONS = [{"id": 1, "name": "Issued"}, {"id": 2, "name": "Redeemed online"}, {"id": 3, "name": "Promotion"},
           {"id": 4, "name": "Correction"}]


def new_number(prefix: str) -> str:
    return f"{prefix}{random.randint(10**9, 10**10 - 1)}"


def reason(runtime: Any, name: str) -> int:
    return int(next(r["id"] for r in runtime.heartland.gift_card_reasons() if r["name"] == name))


def heartland_balance(runtime: Any, number: str) -> float:
    card = runtime.heartland.find_gift_card(number)
    return float(card["balance"]) if card else -1.0


def magento_balance(runtime: Any, code: str) -> float:
    found = runtime.magento.search_giftcards([("code", code, "eq")])["items"]
    return float(found[0]["balance"]) if found else -1.0


def heartland_keys(runtime: Any, number: str) -> list[tuple[float, str]]:
    heartland = runtime.heartland
    card = heartland.find_gift_card(number)
    return [(float(a["amount"]), str((a.get("custom") or {}).get(heartland.key_field) or ""))
            for a in heartland.gift_card_adjustments(int(card["id"]))]


def magento_changes(runtime: Any, code: str) -> list[tuple[str, float, str]]:
    return [(e["action"], float(e["balance_delta"]), str(e.get("idempotency_key") or ""))
            for e in runtime.magento.giftcard_history(code=code)]


def card_items(runtime: Any, number: str) -> list[Any]:
    return [i for i in items.search(runtime.store, flow="giftcards", limit=500) if i.entity_key == card_key(number)]


# -- end to end: real worker and scheduler ------------------------------------------------------------
@pytest.fixture
def stack(settings: dict[str, Any], tmp_path: Path) -> Iterator[Stack]:
    s = build_stack({**settings, **POLLING}, tmp_path)
    try:
        yield s
    finally:
        s.stop()


def test_gift_card_adjusted_on_both_sides(stack: Stack) -> None:
    runtime = stack.runtime
    stack.start_worker()
    stack.start_scheduler()
    store = runtime.store
    stack.wait_for(lambda: all(cursors.get(store, r) is not None for r in (HEARTLAND_POLL, MAGENTO_POLL)),
                   what="the first gift card polls")

    # Sold at the POS: a new Heartland card, issued with 50. Magento opens the account.
    number = new_number("TBGC")
    card = runtime.heartland.create_gift_card({"number": number, "balance": 0})
    runtime.heartland.adjust_gift_card(int(card["id"]), 50, reason(runtime, "Issued"))
    stack.wait_for(lambda: magento_balance(runtime, number) == 50.0, what="the Magento account with 50")

    # At the same time: +10 in Heartland, -5 at a Magento checkout. Both apply on both sides.
    promotion = reason(runtime, "Promotion")
    both = [threading.Thread(target=runtime.heartland.adjust_gift_card, args=(int(card["id"]), 10, promotion)),
            threading.Thread(target=runtime.magento.adjust_giftcard, args=(number, -5, "checkout:000000731"))]
    for t in both:
        t.start()
    for t in both:
        t.join()
    stack.wait_for(lambda: heartland_balance(runtime, number) == 55.0 and magento_balance(runtime, number) == 55.0,
                   what="both sides at 50 + 10 - 5")

    # Our copies come back through the polls: recognised as echoes, never copied again.
    stack.wait_for(lambda: any(ECHO_REASON in i.reason for i in card_items(runtime, number)), what="an echo item")
    stack.wait_for(lambda: not [i for i in card_items(runtime, number) if i.state in ("received", "processing")],
                   what="the card's items to finish")
    time.sleep(1.5)  # a few more polls through the overlap window
    assert heartland_balance(runtime, number) == 55.0 and magento_balance(runtime, number) == 55.0
    hl_id = int(card["id"])
    adjustments = runtime.heartland.gift_card_adjustments(hl_id)
    assert sorted(heartland_keys(runtime, number)) == sorted(
        [(50.0, ""), (10.0, ""), (-5.0, f"magento-adj:{magento_id(runtime, number, 'checkout:000000731')}")])
    assert sorted(magento_changes(runtime, number)) == sorted([
        ("created", 0.0, ""), ("updated", -5.0, "checkout:000000731"),
        ("updated", 50.0, f"heartland-adj:{adjustments[0]['id']}"),
        ("updated", 10.0, f"heartland-adj:{adjustments[1]['id']}")])
    states = {i.state for i in card_items(runtime, number)}
    assert states <= {"done", "ignored"}, [(i.state, i.reason) for i in card_items(runtime, number)]
    # The number itself is stored nowhere: items carry a fingerprint and the last four characters.
    for item in card_items(runtime, number):
        assert number not in item.label and number not in str(item.payload) and number not in item.entity_key
        assert item.label.startswith(f"gift card …{number[-4:]}")
    # Nor anywhere else: not in a trace's recorded requests, a binding, any table, or a process log.
    with runtime.store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert number not in str(tuple(row)), f"the gift card number is stored in {table.name}"
    assert number not in stack.logs()


def magento_id(runtime: Any, code: str, key: str) -> int:
    return int(next(e["id"] for e in runtime.magento.giftcard_history(code=code) if e.get("idempotency_key") == key))


# -- in process: polls and runs on the real store and pipeline, both sandboxes over HTTP -------------
@pytest.fixture
def sides(runtime: Any) -> Iterator[Any]:
    from service.sandbox.heartland.app import create_app as create_heartland
    from service.sandbox.magento.app import create_app as create_magento

    heartland: RunningSandbox = start_in_thread(create_heartland(seed="demo", token=HEARTLAND_TOKEN))
    magento: RunningSandbox = start_in_thread(create_magento(seed="demo", token=MAGENTO_TOKEN))
    runtime.reconfigure(**{"TILLBRIDGE_HEARTLAND_URL": f"{heartland.url}/api",
                             "TILLBRIDGE_HEARTLAND_TOKEN": HEARTLAND_TOKEN,
                             "TILLBRIDGE_MAGENTO_URL": f"{magento.url}/rest",
                             "TILLBRIDGE_MAGENTO_TOKEN": MAGENTO_TOKEN})
    flow = runtime.flow("giftcards")
    assert isinstance(flow, GiftCardsFlow)
    sync(runtime)  # the first polls set the cursors at now
    try:
        yield runtime
    finally:
        heartland.stop()
        magento.stop()


def sync(runtime: Any) -> list[Any]:
    """Poll both sides once and run what the polls recorded; the items, in run order."""
    ran = []
    for poller in runtime.flow("giftcards").pollers():
        for item_id in polling.poll(runtime.store, poller, overlap_seconds=30).item_ids:
            runtime.pipeline.run_item(item_id)
            ran.append(items.get(runtime.store, item_id))
    return ran


def test_a_magento_card_opens_in_heartland_and_echoes_change_nothing(sides: Any) -> None:
    runtime = sides
    code = new_number("MG")
    runtime.magento.create_giftcard(code, 30)
    runtime.magento.adjust_giftcard(code, -12.5, "checkout:000000900", "order 000000900")
    first = sync(runtime)
    assert [(i.state, i.direction) for i in first] == [("done", "magento→heartland")], [i.reason for i in first]
    assert heartland_balance(runtime, code) == 17.5
    # Opened with the 30 it was created with, then the checkout copied as a debit.
    history_id = magento_id(runtime, code, "checkout:000000900")
    assert heartland_keys(runtime, code) == [(-12.5, f"magento-adj:{history_id}")]
    card = runtime.heartland.find_gift_card(code)
    debit = runtime.heartland.gift_card_adjustments(int(card["id"]))[0]
    assert debit["reason_id"] == reason(runtime, "Redeemed online")

    # Our Heartland copy comes back on the next poll: an echo, nothing written.
    echo = sync(runtime)
    assert [(i.state, i.direction) for i in echo] == [("ignored", "heartland→magento")]
    assert ECHO_REASON in echo[0].reason
    assert magento_balance(runtime, code) == 17.5 and len(heartland_keys(runtime, code)) == 1
    # The overlap window re-reads the same changes: nothing new to run.
    assert sync(runtime) == []

    # A top-up at the POS reaches Magento once, however often the copy is retried.
    runtime.heartland.adjust_gift_card(int(card["id"]), 20, reason(runtime, "Issued"))
    ran = sync(runtime)  # the Heartland poll copies it; the Magento poll right after reads the copy back
    assert [(i.state, i.direction) for i in ran] == [("done", "heartland→magento"), ("ignored", "magento→heartland")]
    assert ECHO_REASON in ran[1].reason
    topup = runtime.heartland.gift_card_adjustments(int(card["id"]))[-1]
    runtime.magento.adjust_giftcard(code, 20, f"heartland-adj:{topup['id']}")  # a retried copy
    assert magento_balance(runtime, code) == 37.5 and heartland_balance(runtime, code) == 37.5


def test_drift_goes_to_review_and_a_local_correction_settles_it(sides: Any) -> None:
    runtime = sides
    number = new_number("TBGC")
    card = runtime.heartland.create_gift_card({"number": number, "balance": 20})
    runtime.magento.create_giftcard(number, 25)
    ran = sync(runtime)
    assert {i.state for i in ran} == {"review"}
    assert "drift" in ran[0].reason and "Heartland 20.00, Magento 25.00" in ran[0].reason
    assert heartland_balance(runtime, number) == 20.0 and magento_balance(runtime, number) == 25.0

    # Corrected in Heartland with a local reason: not copied, the balances now agree.
    runtime.heartland.adjust_gift_card(int(card["id"]), 5, reason(runtime, "Correction"))
    ran = sync(runtime)
    assert [i.state for i in ran] == ["ignored"] and "already in step at 25.00" in ran[0].reason
    assert magento_balance(runtime, number) == 25.0
    # From now on changes flow again.
    runtime.magento.adjust_giftcard(number, -7, "checkout:000000901")
    assert [i.state for i in sync(runtime)] == ["done"]
    assert heartland_balance(runtime, number) == 18.0


def test_a_copy_that_would_overdraw_the_other_side_goes_to_review(sides: Any) -> None:
    runtime = sides
    number = new_number("TBGC")
    card = runtime.heartland.create_gift_card({"number": number, "balance": 0})
    runtime.heartland.adjust_gift_card(int(card["id"]), 20, reason(runtime, "Issued"))
    sync(runtime)
    sync(runtime)  # the echo
    assert magento_balance(runtime, number) == 20.0
    # Spent on both sides at once, more than the card holds.
    runtime.heartland.adjust_gift_card(int(card["id"]), -15, reason(runtime, "Redeemed online"))
    runtime.magento.adjust_giftcard(number, -10, "checkout:000000902")
    ran = sync(runtime)
    assert ran[0].state == "review"
    assert "Magento refused -15.00 from Heartland" in ran[0].reason
    assert "Heartland refused -10.00 from Magento" in ran[0].reason
    assert heartland_balance(runtime, number) == 5.0 and magento_balance(runtime, number) == 10.0


def test_rules_say_which_cards_sync_and_which_reasons_to_use(sides: Any, tmp_path: Path) -> None:
    runtime = sides
    import shutil

    from service.settings import repo_path

    rules_dir = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), rules_dir)
    (rules_dir / "giftcards.yaml").write_text(
        "number_prefixes: [tbgc]\ncreate_in_magento: true\ncreate_in_heartland: false\n"
        "heartland_reasons: {credit: Promotion, debit: Redeemed online}\nlocal_reasons: [Correction]\n")
    runtime.reconfigure(RULES_DIR=str(rules_dir))
    runtime.rules.directory = rules_dir
    other = new_number("XX")
    runtime.magento.create_giftcard(other, 10)
    web_only = new_number("TBGC")
    runtime.magento.create_giftcard(web_only, 10)
    ran = {i.label: i for i in sync(runtime)}
    assert "is not synced" in ran[f"gift card …{other[-4:]} (Magento poll)"].reason
    assert "create_in_heartland is false" in ran[f"gift card …{web_only[-4:]} (Magento poll)"].reason
    assert runtime.heartland.find_gift_card(web_only) is None


def test_rules_name_real_heartland_reasons() -> None:
    rules = resolve_rules({"heartland_reasons": {"credit": "issued", "debit": 2}, "local_reasons": ["Correction"]},
                          REASONS)
    assert (rules.credit_reason, rules.debit_reason, rules.local_reasons) == (1, 2, frozenset({4}))
    assert rules.synced("anything")
    with pytest.raises(DataError, match="'Gift' is not a Heartland gift-card adjustment reason"):
        resolve_rules({"heartland_reasons": {"credit": "Gift", "debit": 2}}, REASONS)
    with pytest.raises(DataError, match="also in local_reasons"):
        resolve_rules({"heartland_reasons": {"credit": 4, "debit": 2}, "local_reasons": [4]}, REASONS)


def test_a_copy_that_failed_is_retried_after_the_card_was_opened(sides: Any) -> None:
    """A new Heartland card: opened in Magento, then its issue copied. The copy fails once (503);
    the retry resumes after the opening (the account is created once) and copies the issue once."""
    import requests

    runtime = sides
    magento_url = str(runtime.settings.TILLBRIDGE_MAGENTO_URL).removesuffix("/rest")
    number = new_number("TBGC")
    card = runtime.heartland.create_gift_card({"number": number, "balance": 0})
    issue = runtime.heartland.adjust_gift_card(int(card["id"]), 20, reason(runtime, "Issued"))
    adjust_path = f"/rest/default/V1/tillbridge/giftcards/{number}/adjustments"
    requests.post(f"{magento_url}/__sandbox/faults", timeout=5, json={
        "fail_next": {"method": "POST", "path": adjust_path, "count": 1, "status": 503}}).raise_for_status()
    heartland_poller = next(p for p in runtime.flow("giftcards").pollers() if p.resource == HEARTLAND_POLL)
    [item_id] = polling.poll(runtime.store, heartland_poller, overlap_seconds=30).item_ids

    assert runtime.pipeline.run_item(item_id) == "received"  # the copy failed: retried with backoff
    failed = items.get(runtime.store, item_id)
    # Kept for the retry: the opening, and the link step, which had nothing to do after it.
    assert failed is not None and set(failed.progress or {}) == {"open"}
    assert number not in str(failed.progress)  # what a retry keeps holds no card number
    deadline = time.time() + 30
    while (state := runtime.pipeline.run_item(item_id)) == "skipped" and time.time() < deadline:
        time.sleep(0.2)  # not due yet
    item = items.get(runtime.store, item_id)
    assert item is not None
    assert (state, item.attempts) == ("done", 2), (state, item.reason)
    assert "opened in Magento with 0.00; 1 adjustment(s) copied, balance 20.00" in item.reason
    second = [s for s in items.steps(runtime.store, item_id) if s.attempt == 2]
    assert {s.step for s in second if (s.detail or {}).get("resumed")} == {"open"}
    assert [s.step for s in second if s.step in ("read", "mirror", "confirm", "check")] == \
        ["read", "mirror", "confirm", "check"]

    log = requests.get(f"{magento_url}/__sandbox/requests", timeout=10,
                       params={"path": "/rest/default/V1/tillbridge/giftcards"}).json()["requests"]
    creates = [r["status"] for r in log if r["method"] == "POST" and r["path"] == "/rest/default/V1/tillbridge/giftcards"]
    copies = [r["status"] for r in log if r["method"] == "POST" and r["path"] == adjust_path]
    assert len(creates) == 1 and copies[0] == 503 and len(copies) == 2 and 200 <= copies[1] < 300, (creates, copies)
    assert sorted(magento_changes(runtime, number)) == [("created", 0.0, ""),
                                                         ("updated", 20.0, f"heartland-adj:{issue['id']}")]
    assert magento_balance(runtime, number) == 20.0 and heartland_balance(runtime, number) == 20.0
