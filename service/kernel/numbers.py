"""Reading ids and codes that arrive as text (URLs, query strings, other systems' fields)."""

from __future__ import annotations


def whole_number(text: object, max_digits: int = 18) -> int | None:
    """``text`` as a non-negative integer when it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit`` is not that test: it also accepts "²" and other Unicode digits, which ``int``
    refuses (a crash where a "not found" was meant) or reads as another number, and a long enough
    run of digits makes ``int`` refuse it too.
    """
    if isinstance(text, str) and 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None
