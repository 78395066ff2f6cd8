"""Normalisation, blocking keys and pair features of duplicate-customer resolution."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from service.ai.dedup.blocking import block_keys
from service.ai.dedup.compare import FEATURES, features
from service.ai.dedup.normalise import Vocabulary, normalise, normalise_dob, normalise_email, normalise_phone
from service.ai.dedup.resolver import load_rules


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_rules().vocabulary


def test_nicknames_from_rules_resolve_to_formal_names(vocab: Vocabulary) -> None:
    jon = normalise({"first_name": "Jon", "last_name": "Smith"}, vocab)
    jonathan = normalise({"first_name": "JONATHAN", "last_name": "smith"}, vocab)
    bob = normalise({"first_name": "Bob"}, vocab)
    assert "jonathan" in jon.first_roots.split("|")
    assert jonathan.first_roots == "jonathan"
    assert bob.first_roots == "robert"
    assert features(jon, jonathan)[FEATURES.index("first_equiv")] == 1.0


def test_names_lose_titles_suffixes_accents_and_punctuation(vocab: Vocabulary) -> None:
    p = normalise({"first_name": "Mr. José", "middle_name": "", "last_name": "O'Brien-Núñez Jr."}, vocab)
    assert (p.first, p.last) == ("jose", "obrien nunez")
    two_given = normalise({"first_name": "Mary Ann", "last_name": "Lee"}, vocab)
    assert (two_given.first, two_given.middle) == ("mary", "ann")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John.Smith+till@GMAIL.com", "johnsmith@gmail.com"),
        ("j.o.h.n.smith@googlemail.com", "johnsmith@gmail.com"),
        ("john.smith+news@yahoo.com", "john.smith@yahoo.com"),
        ("not-an-email", ""),
    ],
)
def test_emails_normalise_gmail_dots_and_plus_tags(vocab: Vocabulary, raw: str, expected: str) -> None:
    assert normalise_email(raw, vocab) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(206) 555-0142", "US", "+12065550142"),
        ("1-206-555-0142", "US", "+12065550142"),
        ("+1 206.555.0142", "US", "+12065550142"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("12", "US", ""),
    ],
)
def test_phones_become_e164(raw: str, country: str, expected: str) -> None:
    assert normalise_phone(raw, country) == expected


def test_streets_and_postcodes_are_standardised(vocab: Vocabulary) -> None:
    a = normalise({"street": "12 North Main Street, Apartment 4", "postcode": "98101-1234", "country": "US"}, vocab)
    b = normalise({"street": "12 N. Main St Apt 4", "postcode": "98101"}, vocab)
    assert a.street == b.street == "12 n main st apt 4"
    assert a.house == "12"
    assert a.postcode == b.postcode == "98101"
    uk = normalise({"postcode": "sw1a 1aa", "country": "GB"}, vocab)
    assert uk.postcode == "SW1A1AA"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1984-03-07", "1984-03-07"), ("03/07/1984", "1984-03-07"), ("25/12/1990", "1990-12-25"), ("7/3/84", "1984-07-03"), ("", ""), ("31/31/2000", "")],
)
def test_dates_of_birth(raw: str, expected: str) -> None:
    assert normalise_dob(raw) == expected


def test_swapped_day_month_and_swapped_names_are_seen(vocab: Vocabulary) -> None:
    a = normalise({"first_name": "Maria", "last_name": "Garcia", "dob": "1984-03-07"}, vocab)
    b = normalise({"first_name": "Garcia", "last_name": "Maria", "dob": "1984-07-03"}, vocab)
    vector = features(a, b)
    assert vector[FEATURES.index("dob")] == 0.8
    assert vector[FEATURES.index("swapped")] == 1.0
    assert vector[FEATURES.index("swapped")] > vector[FEATURES.index("last_jw")]


def test_missing_fields_are_missing_not_disagreeing(vocab: Vocabulary) -> None:
    a = normalise({"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}, vocab)
    b = normalise({"first_name": "Ann", "last_name": "Lee", "phone": "2065550142"}, vocab)
    vector = dict(zip(FEATURES, features(a, b), strict=True))
    assert math.isnan(vector["email_equal"]) and math.isnan(vector["phone"]) and math.isnan(vector["dob"])
    assert vector["first_jw"] == vector["last_jw"] == 1.0


def test_blocking_keys_survive_nicknames_swaps_and_new_addresses(vocab: Vocabulary) -> None:
    base = normalise({"first_name": "Robert", "last_name": "Smith", "postcode": "98101", "street": "12 Oak St",
                      "dob": "1980-05-04"}, vocab)
    nickname_moved = normalise({"first_name": "Bob", "last_name": "Smyth", "postcode": "10001"}, vocab)
    swapped = normalise({"first_name": "Smith", "last_name": "Robert"}, vocab)
    married = normalise({"first_name": "Robert", "last_name": "Jones", "dob": "1980-04-05"}, vocab)
    keys = set(block_keys(base))
    assert keys & set(block_keys(nickname_moved))
    assert keys & set(block_keys(swapped))
    assert keys & set(block_keys(married))


@dataclass
class _Address:
    street: list[str]
    city: str
    postcode: str
    country: str = "US"


@dataclass
class _Customer:
    first_name: str
    last_name: str
    email: str = ""
    addresses: list[_Address] = field(default_factory=list)


def test_dataclass_customers_with_nested_addresses_are_read(vocab: Vocabulary) -> None:
    customer = _Customer("Ann", "Lee", "ann@example.com", [_Address(["5 Elm Avenue", "Unit 2"], "Seattle", "98101")])
    p = normalise(customer, vocab)
    assert (p.street, p.city, p.postcode, p.email) == ("5 elm ave unit 2", "seattle", "98101", "ann@example.com")
