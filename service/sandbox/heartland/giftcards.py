"""Gift cards and their adjustments: a balance only moves through an adjustment with a reason."""

from __future__ import annotations

import re
from typing import Any

from service.sandbox.heartland.customfields import check_custom_values
from service.sandbox.heartland.state import Record, State
from service.sandbox.heartland.validation import Checker, custom_values

CARD_NUMBER = re.compile(r"^[A-Za-z0-9]+$")


def normalise_number(raw: Any) -> str:
    return re.sub(r"\s+", "", str(raw or ""))


def create_gift_card(state: State, body: Any) -> Record:
    check = Checker(body)
    number = normalise_number(check.string("number", required=True))
    if number and not CARD_NUMBER.match(number):
        check.add("number", "may hold only letters and digits")
    elif number and state.gift_cards.ids_where("number", number):
        check.add("number", "has already been taken")
    balance = check.number("balance", non_negative=True, default=0)
    customer = check.ref("customer_id", state.customers)
    custom = custom_values(body)
    check_custom_values(state, check, "gift_card", custom, state.gift_cards)
    check.done()
    now = state.now()
    return state.gift_cards.add({
        "number": number, "balance": round(float(balance or 0), 2), "active": check.boolean("active", True),
        "customer_id": customer["id"] if customer else None, "import_set_id": None,
        "custom": custom or {}, "created_at": now, "updated_at": now,
    })


def update_gift_card(state: State, card: Record, body: Any) -> Record:
    check = Checker(body)
    if check.has("balance"):
        check.add("balance", "changes only through a gift card adjustment (POST /api/gift_card_adjustments)")
    if check.has("number"):
        check.add("number", "cannot change")
    changes: dict[str, Any] = {}
    if check.has("customer_id"):
        customer = check.ref("customer_id", state.customers)
        changes["customer_id"] = customer["id"] if customer else None
    if check.has("active"):
        changes["active"] = check.boolean("active")
    custom = custom_values(body)
    check_custom_values(state, check, "gift_card", custom, state.gift_cards, card)
    if custom is not None:
        changes["custom"] = {**card["custom"], **custom}
    check.done()
    changes["updated_at"] = state.now()
    return state.gift_cards.update(card, changes)


def create_adjustment(state: State, body: Any) -> Record:
    check = Checker(body)
    card = None
    if body.get("gift_card_id") not in (None, ""):
        card = check.ref("gift_card_id", state.gift_cards)
    elif body.get("gift_card_number") not in (None, ""):
        card = state.gift_cards.first_where("number", normalise_number(body["gift_card_number"]))
        if card is None:
            check.add("gift_card_number", "does not match an existing gift card")
    else:
        check.add("gift_card_id", "can't be blank (or send gift_card_number)")
    amount = check.number("amount", required=True, nonzero=True)
    reason = check.ref("reason_id", state.gift_card_reasons, required=True)
    if card is not None and amount is not None and card["balance"] + amount < -0.004:
        check.add("amount", f"would take the balance of {card['balance']:.2f} below zero")
    if card is not None and not card["active"]:
        check.add("gift_card_id", "the gift card is inactive")
    custom = custom_values(body)
    check.done()
    assert card is not None and amount is not None and reason is not None
    now = state.now()
    balance = round(card["balance"] + amount, 2)
    state.gift_cards.update(card, {"balance": balance, "updated_at": now})
    return state.gift_card_adjustments.add({
        "gift_card_id": card["id"], "gift_card_number": card["number"], "amount": round(float(amount), 2),
        "balance_after": balance, "reason_id": reason["id"], "description": check.string("description"),
        "custom": custom or {}, "created_at": now,
    })
