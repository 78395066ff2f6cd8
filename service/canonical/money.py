"""Money as integer minor units of its currency: ``{"amount": 1999, "currency": "USD"}``.

The ISO 4217 exponent decides the minor unit (JPY has none, KWD three); amounts are rounded
half-even, as accountants round, and never held as floats.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

ZERO_DECIMAL = {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                "VUV", "XAF", "XOF", "XPF"}
THREE_DECIMAL = {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


def exponent(currency: str) -> int:
    code = (currency or "").upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def minor_units(amount: Any, currency: str) -> int:
    """A decimal amount as integer minor units (half-even, as accountants round)."""
    try:
        value = Decimal(str(amount if amount not in (None, "") else 0))
    except InvalidOperation:
        return 0
    return int((value * (10 ** exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def major_units(amount: int, currency: str) -> Decimal:
    return Decimal(amount) / (10 ** exponent(currency))


def money(amount: Any, currency: str) -> dict[str, Any]:
    code = (currency or "USD").upper()
    return {"amount": minor_units(amount, code), "currency": code}
