"""Redaction: what of a request or an answer may be kept in a trace or a log. Secrets are
replaced, card numbers masked (service/kernel/cards.py), and gift card numbers (bearer
credentials) kept to their last four characters."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from service.kernel.cards import mask_value, might_hold_card_numbers_text

SECRET_KEYS = re.compile(r"(authorization|token|secret|password|passwd|signature|cc_number|card_number|cvv|cvc)", re.I)


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with secrets replaced and card numbers masked (in text, and
    held as JSON numbers)."""
    if isinstance(value, Mapping):
        return {k: ("[redacted]" if SECRET_KEYS.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return mask_value(value)


def redact_json(value: Any) -> Any:
    """``redact`` for a request or answer body (JSON): a body whose text names no secret key and
    holds no card number comes back as a copy made from that text (two C passes instead of a
    walk over every value, which is what most bodies cost); any other body is walked by
    ``redact``. The copy is JSON's: tuples come back as lists, keys as strings."""
    if not isinstance(value, Mapping | list | tuple):
        return redact(value)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return redact(value)
    if SECRET_KEYS.search(text) or might_hold_card_numbers_text(text):
        return redact(value)
    return json.loads(text)


# Gift card numbers are bearer credentials: wherever a request or answer is about gift cards, its
# number/code values, URL path segment and filters are kept to the last four characters.
GIFT_CARD_PATH = re.compile(r"gift_?cards?", re.I)
GIFT_CARD_KEYS = frozenset({"number", "code", "gift_card_number", "giftcard_code", "gift_card_code"})
GIFT_CARD_SEGMENTS = frozenset({"adjustments", "history"})


def mask_tail(value: str) -> str:
    """``********1234``: the last four characters only (all of it masked when it is that short)."""
    return "*" * (len(value) - 4) + value[-4:] if len(value) > 4 else "*" * len(value)


def redact_gift_cards(value: Any) -> Any:
    if isinstance(value, Mapping) and "parameters" in value:
        # A Magento error names the looked-up value among its message parameters.
        params = value["parameters"]
        masked = ({k: mask_tail(v) if isinstance(v, str) and k != "fieldName" else v for k, v in params.items()}
                  if isinstance(params, Mapping) else
                  [mask_tail(v) if isinstance(v, str) else v for v in params] if isinstance(params, list) else params)
        value = {**value, "parameters": masked}
    if isinstance(value, Mapping):
        return {k: (mask_tail(str(v)) if str(k).lower() in GIFT_CARD_KEYS and isinstance(v, str | int) and v != ""
                    else redact_gift_cards(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_gift_cards(v) for v in value]
    return value


def redact_gift_card_url(url: str) -> str:
    """The card's number out of a gift-card URL: the path segment after the collection, and
    number/code values in the query (``_filter`` JSON included)."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for i in range(1, len(segments)):
        if GIFT_CARD_PATH.fullmatch(segments[i - 1]) and segments[i] and not segments[i].isdigit() \
                and segments[i] not in GIFT_CARD_SEGMENTS:
            segments[i] = quote(mask_tail(unquote(segments[i])), safe="*")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    # searchCriteria: a filter's value is masked when its field is the number or code.
    masked_filters = {key[:-len("[field]")] for key, value in pairs
                      if key.endswith("[field]") and value.lower() in GIFT_CARD_KEYS}
    query = []
    for key, value in pairs:
        bare = re.sub(r"\[.*$", "", key).lower()
        if bare in GIFT_CARD_KEYS or re.search(r"\[(number|code)\]", key, re.I) or (
                key.endswith("[value]") and key[:-len("[value]")] in masked_filters):
            value = mask_tail(value)
        elif bare == "_filter":
            try:
                value = json.dumps(redact_gift_cards(json.loads(value)), separators=(",", ":"))
            except ValueError:
                value = mask_tail(value)
        query.append((key, value))
    return urlunsplit(parts._replace(path="/".join(segments), query=urlencode(query, safe="[]*:,{}\"")))
