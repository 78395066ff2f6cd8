"""Comparing one profile with many gives, value for value, what comparing it with each one gives."""

from __future__ import annotations

import numpy as np
import pytest

from service.ai.dedup.compare import FEATURES, features, features_against
from service.ai.dedup.normalise import Profile, ProfileColumns, Vocabulary, normalise
from service.ai.dedup.resolver import load_rules
from training.dedup_data import generate


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_rules().vocabulary


def one_by_one(a: Profile, others: list[Profile]) -> np.ndarray:
    return np.array([features(a, b) for b in others], dtype=np.float64).reshape(len(others), len(FEATURES))


def test_generated_customers_compare_alike_one_by_one_and_at_once(vocab: Vocabulary) -> None:
    # Duplicates with typos, nicknames, swapped names, missing fields and households.
    dataset = generate(1500, seed=21)
    profiles = [normalise(record, vocab) for _, record in dataset.records()]
    rng = np.random.default_rng(4)
    for anchor in rng.choice(len(profiles), size=40, replace=False):
        others = [profiles[i] for i in rng.choice(len(profiles), size=150, replace=False)]
        others += [p for p, e in zip(profiles, dataset.entity, strict=True) if e == dataset.entity[anchor]]
        a = profiles[int(anchor)]
        assert np.array_equal(features_against(a, ProfileColumns.of(others)), one_by_one(a, others), equal_nan=True)


def test_sparse_and_odd_records_compare_alike(vocab: Vocabulary) -> None:
    records = [
        {}, {"first_name": "J"}, {"first_name": "Jon", "last_name": "Smith"},
        {"first_name": "Jonathan", "middle_name": "Q", "last_name": "Smith", "email": "jon@example.com"},
        {"first_name": "Smith", "last_name": "Jon", "middle_name": "Quentin", "phone": "206 555 0142"},
        {"email": "@example.com", "street": "12 Oak St", "postcode": "98101", "city": "Seattle", "dob": "1979-04-11"},
        {"street": "Oak St", "postcode": "98102", "dob": "1979-11-04"},
        {"first_name": "Jon", "last_name": "Smith", "phone": "+44 20 7946 0018", "street": "12 Oak Street",
         "city": "Seatle", "postcode": "98101-2204", "dob": "1979-04-12"},
    ]
    profiles = [normalise(r, vocab) for r in records]
    for a in profiles:
        assert np.array_equal(features_against(a, ProfileColumns.of(profiles)), one_by_one(a, profiles), equal_nan=True)
    assert features_against(profiles[2], ProfileColumns.of([])).shape == (0, len(FEATURES))
