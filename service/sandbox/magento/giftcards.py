"""Gift-card accounts through ``/V1/tillbridge/giftcards…`` — our route, not Magento core.

The Tillbridge Magento module (magento-module/) adds it on top of Magento_GiftCardAccount, because
PaaS Adobe Commerce has no REST API for gift-card accounts (reference §1.5). The shape follows
Adobe's SaaS gift-card-account contract (code, balance, status, state, is_redeemable, date_expires):

* ``GET /V1/tillbridge/giftcards/{code}``: one account (404 when unknown);
* ``GET /V1/tillbridge/giftcards?searchCriteria…``: search;
* ``POST /V1/tillbridge/giftcards`` ``{"giftCard": {...}}``: create (code unique, balance ≥ 0);
* ``POST /V1/tillbridge/giftcards/{code}/adjustments`` ``{"adjustment": {"amount", "idempotency_key",
  "reason"?}}``: add a signed amount to the balance. A key seen before returns the account without
  applying again; the same key with another code or amount is refused. A balance never goes below 0.
* ``GET /V1/tillbridge/giftcard-history?code=&since=&afterId=&pageSize=``: balance changes, oldest
  first, as Magento_GiftCardAccount's history records them (action created/used/…/updated, delta,
  balance after), with the idempotency key and reason of the ones applied through the route above.

ACL resource ``Tillbridge_Connector::giftcards``. Codes are matched case-insensitively.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

from service.sandbox.magento.errors import MagentoError, no_such_entity
from service.sandbox.magento.state import WEBSITE_ID, MagentoState, now_text

STATE_AVAILABLE, STATE_USED = 0, 1
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def get_card(state: MagentoState, code: str) -> dict[str, Any]:
    card = state.giftcards.get(code.upper())
    if card is None:
        raise no_such_entity("code", code)
    return card


def create_card(state: MagentoState, raw: dict[str, Any], stamp: str | None = None) -> dict[str, Any]:
    code = str(raw.get("code") or "").strip()
    if not code:
        raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "code"})
    if code.upper() in state.giftcards:
        raise MagentoError('A gift card account with code "%1" already exists.', [code])
    balance = round(float(raw.get("balance") or 0), 2)
    if balance < 0:
        raise MagentoError("The gift card balance can't be negative.")
    stamp = stamp or now_text()
    card = {
        "id": state.counters.next("giftcard"),
        "code": code,
        "balance": balance,
        "currency_code": raw.get("currency_code") or "USD",
        "status": int(raw.get("status", 1)),
        "state": STATE_AVAILABLE if balance > 0 else STATE_USED,
        "is_redeemable": bool(raw.get("is_redeemable", True)),
        "website_id": int(raw.get("website_id") or WEBSITE_ID),
        "created_at": stamp,
        "updated_at": stamp,
    }
    if raw.get("date_expires"):
        card["date_expires"] = raw["date_expires"]
    state.giftcards[code.upper()] = card
    record_history(state, card, "created", balance, stamp)
    return card


ACTIONS = ("created", "used", "sent", "redeemed", "expired", "updated")


def record_history(state: MagentoState, card: dict[str, Any], action: str, delta: float, stamp: str,
                   key: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """One row of magento_giftcardaccount_history (joined with the module's adjustment log)."""
    assert action in ACTIONS
    entry = {"id": state.counters.next("giftcard_history"), "code": card["code"], "action": action,
             "balance_delta": round(delta, 2), "balance_amount": card["balance"], "updated_at": stamp,
             "idempotency_key": key, "reason": reason}
    state.giftcard_history.append(entry)
    return entry


def history(state: MagentoState, code: str | None = None, since: str | None = None, after_id: int = 0,
            page_size: int = 100) -> list[dict[str, Any]]:
    """Balance changes, oldest first: of one card (``code``), at or after ``since`` (Y-m-d H:i:s UTC),
    after the entry ``after_id``; at most ``page_size`` (1–1000)."""
    if not 1 <= page_size <= 1000:
        raise MagentoError('"pageSize" must be between 1 and 1000, got %1.', [page_size])
    wanted = code.strip().upper() if code else None
    if wanted is not None and wanted not in state.giftcards:
        raise no_such_entity("code", code or "")
    out = []
    for entry in state.giftcard_history:  # ids grow with the list
        if entry["id"] <= after_id or (wanted and entry["code"].upper() != wanted):
            continue
        if since and entry["updated_at"] < since:
            continue
        out.append(dict(entry))
        if len(out) == page_size:
            break
    return out


def adjust(state: MagentoState, code: str, raw: dict[str, Any]) -> dict[str, Any]:
    card = get_card(state, code)
    key = str(raw.get("idempotency_key") or "").strip()
    if not key:
        raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "idempotency_key"})
    if raw.get("amount") is None:
        raise MagentoError('"%fieldName" is required. Enter and try again.', {"fieldName": "amount"})
    amount = round(float(raw["amount"]), 2)
    seen = state.giftcard_adjustments.get(key)
    if seen is not None:
        if seen["code"] != card["code"].upper() or seen["amount"] != amount:
            raise MagentoError('The idempotency key "%1" was already used for another adjustment.', [key])
        return card
    balance = round(float(card["balance"]) + amount, 2)
    if balance < 0:
        raise MagentoError("The gift card balance is %1; it can't go below zero.", [f"{card['balance']:.2f}"])
    card["balance"] = balance
    card["state"] = STATE_AVAILABLE if balance > 0 else STATE_USED
    card["updated_at"] = now_text()
    state.giftcard_adjustments[key] = {"code": card["code"].upper(), "amount": amount,
                                       "reason": raw.get("reason", ""), "at": card["updated_at"]}
    record_history(state, card, "updated", amount, card["updated_at"], key, raw.get("reason") or None)
    return card


def seed_cards(state: MagentoState, seed: str, count: int = 40) -> None:
    rng = random.Random(zlib.crc32(f"{seed}:giftcards".encode()))
    for _ in range(count):
        code = "GC" + "".join(rng.choice(ALPHABET) for _ in range(10))
        if code in state.giftcards:
            continue
        create_card(state, {"code": code, "balance": rng.choice([10, 25, 25, 50, 50, 75, 100, 0])},
                    stamp="2026-03-01 10:00:00")
