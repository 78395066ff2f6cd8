"""Ids and codes that arrive as text are read as ASCII digits only."""

from __future__ import annotations

import pytest

from service.kernel.numbers import whole_number


@pytest.mark.parametrize(("text", "expected"), [
    ("12", 12), ("007", 7), ("0", 0),
    ("²", None),          # "²".isdigit() is True, int("²") raises
    ("١٢", None),         # Arabic-Indic digits: int() would read 12
    ("", None), ("-1", None), ("1.5", None), (" 1", None), ("12a", None),
    ("9" * 19, None),     # longer than an id can be
    (12, None), (None, None),
])
def test_whole_number(text: object, expected: int | None) -> None:
    assert whole_number(text) == expected

