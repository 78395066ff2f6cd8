"""Card numbers: finding them (Luhn-valid runs of 13–19 digits) and masking them.

Tillbridge never stores or logs a card number. Every door through which a record enters storage
calls ``screen``: the ingest endpoints refuse a record that holds one (422), dead-letter edits are
refused, and records Tillbridge pulls itself (polls, backfill, drift repairs) are stored with the
number masked and the item marked. A number counts wherever it sits: inside a string, spread over
spaces or dashes, or held as a JSON number. This module imports nothing of Tillbridge, so every
layer may use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A run that follows "<digit>." is the fraction of a decimal number (1234.5670000000001), not a
# card number: masking it would change a measured value.
CARD_RUN = re.compile(r"(?<!\d)(?<!\d\.)(\d[ -]?){12,18}\d(?!\d)")
MIN_DIGITS, MAX_DIGITS = 13, 19
# A card number's run, with its spaces and dashes taken out, is 13 digits in a row or more: text
# without such a row after that holds none, which one fast test says (most text has none). It
# runs on the text's UTF-8 bytes, several times faster than a pattern (each position of which is a
# step of the regular expression engine): every ASCII digit written as 0, the separators dropped,
# and every byte of a character beyond ASCII written as 0 as well, so a digit of another script
# (which \d matches) still counts; other such characters only make the test say "maybe" more
# often, and then CARD_RUN decides.
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789" + bytes(range(128, 256)), b"0" * (10 + 128))
_ZERO_ROW = b"0" * MIN_DIGITS


def _may_hold_run(text: str) -> bool:
    return (len(text) >= MIN_DIGITS
            and _ZERO_ROW in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO, b" -"))


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_digits(run: str) -> str | None:
    digits = re.sub(r"[ -]", "", run)
    return digits if MIN_DIGITS <= len(digits) <= MAX_DIGITS and luhn_valid(digits) else None


def find_card_numbers(text: str) -> list[str]:
    """Luhn-valid runs of 13–19 digits (spaces or dashes allowed between digits)."""
    if not _may_hold_run(text):
        return []
    return [d for d in (_card_digits(m.group(0)) for m in CARD_RUN.finditer(text)) if d]


def mask_card_numbers(text: str) -> str:
    """The text with each card number kept to its last four digits: ``************1111``."""
    if not _may_hold_run(text):
        return text

    def _mask(match: re.Match[str]) -> str:
        digits = _card_digits(match.group(0))
        return "*" * (len(digits) - 4) + digits[-4:] if digits else match.group(0)

    return CARD_RUN.sub(_mask, text)


def _number_text(value: Any) -> str | None:
    """The digits a JSON number shows, for ints and integral floats (``4111111111111111.0``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def mask_value(value: Any) -> Any:
    """A copy of a JSON-like value with every card number masked; a number held as a JSON number
    becomes its masked text (``"************1111"``), other values are returned unchanged."""
    if isinstance(value, Mapping):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v) for v in value]
    if isinstance(value, str):
        return mask_card_numbers(value)
    text = _number_text(value)
    if text is not None and find_card_numbers(text):
        return mask_card_numbers(text)
    return value


def might_hold_card_numbers(value: Any) -> bool:
    """False when ``value`` surely holds no card number: one pass of the pattern over its compact
    JSON text instead of one per value (what a record usually costs). Every string, key and
    integer shows its characters unchanged in that text (JSON escapes only quotes, backslashes
    and control characters, none of which a card number's run holds), and tokens are separated by
    punctuation a run cannot span; integral floats from 1e16 up are written with an exponent, so
    text with one, and anything JSON cannot write, says "maybe" and is walked value by value."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return True
    return might_hold_card_numbers_text(text)


def might_hold_card_numbers_text(text: str) -> bool:
    """``might_hold_card_numbers`` for a value's compact JSON text already made."""
    return "e+" in text or "E+" in text or bool(find_card_numbers(text))


# For a JSON body's bytes: what _DIGITS_AS_ZERO does, and every exponent written "e", so a digit
# followed by an exponent is b"0e"; a \\u escape counts as a digit (it can write one).
_BODY_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789E" + bytes(range(128, 256)), b"0" * 10 + b"e" + b"0" * 128)
_ESCAPE = re.compile(rb"\\u[0-9a-fA-F]{4}")


def json_body_may_hold_card_numbers(body: bytes) -> bool:
    """False when the JSON document ``body`` parses to surely holds no card number anywhere (a
    string, a key, a number), from the body's bytes alone: what most bodies cost instead of
    ``card_number_paths`` on the document plus ``find_card_numbers`` on the text. Its bytes are
    UTF-8 (a body without a NUL byte cannot be JSON in UTF-16 or UTF-32), and, with each \\u
    escape counted as a digit, they hold no run of 13 digits however separated (as
    ``_may_hold_run`` counts them) and no exponent: so every number shows its integral digits in
    the text, at most 12 in a row (a float rounded to 13 integral digits is 10**12, no card
    number), and no string or key holds 13 characters that could be digits in a row."""
    if b"\x00" in body:
        return True
    if b"\\u" in body:
        body = _ESCAPE.sub(b"0", body)
    shown = body.translate(_BODY_DIGITS_AS_ZERO)
    return b"0e" in shown or _ZERO_ROW in shown.translate(None, b" -")


def card_number_paths(value: Any, path: str = "$") -> list[str]:
    """JSON paths of the values (and keys) that hold a card number; never the digits themselves."""
    if path == "$" and isinstance(value, Mapping | list | tuple) and not might_hold_card_numbers(value):
        return []
    return _card_number_paths(value, path)


def _card_number_paths(value: Any, path: str) -> list[str]:
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            child = f"{path}.{k}"
            if find_card_numbers(str(k)):
                found.append(f"{child} (key)")
            found.extend(_card_number_paths(v, child))
        return found
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _card_number_paths(v, f"{path}[{i}]")]
    text = value if isinstance(value, str) else _number_text(value)
    return [path] if text is not None and find_card_numbers(text) else []


@dataclass(frozen=True)
class Screened:
    """A value as it may be stored: ``value`` has every card number masked; ``paths`` says where
    numbers were (empty when there were none)."""

    value: Any
    paths: list[str] = field(default_factory=list)

    @property
    def had_card_numbers(self) -> bool:
        return bool(self.paths)

    def explain(self, what: str) -> str:
        where = ", ".join(self.paths[:10]) + (f" and {len(self.paths) - 10} more" if len(self.paths) > 10 else "")
        return (f"{what} held a card number at {where}; Tillbridge stores only its last 4 digits. "
                "Remove full card numbers at the source (keep the card type and last 4 digits)")


def screen(value: Any) -> Screened:
    """Where ``value`` holds card numbers, and the value with them masked. Keys that look like a
    card number are masked too, so nothing of one reaches storage."""
    paths = card_number_paths(value)
    if not paths:
        return Screened(value)
    return Screened(_mask_keys(mask_value(value)), paths)


def _mask_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {mask_card_numbers(str(k)) if isinstance(k, str) else k: _mask_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_keys(v) for v in value]
    return value


class CardNumberRefused(ValueError):
    """A record offered for storage holds a card number; ``paths`` says where (never the digits)."""

    def __init__(self, what: str, paths: list[str]) -> None:
        self.paths = paths
        where = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
        super().__init__(f"{what} contains a card number at {where}; Tillbridge never accepts or stores card "
                         "numbers. Keep only the card type and last 4 digits")


def refuse_card_numbers(value: Any, what: str) -> None:
    """Raise CardNumberRefused when ``value`` holds a card number (for doors that refuse)."""
    paths = card_number_paths(value)
    if paths:
        raise CardNumberRefused(what, paths)
