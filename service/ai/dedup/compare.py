"""Pairwise comparison of two profiles: the feature vector the classifier reads, and its words.

Every feature is a similarity in [0, 1], or NaN when either side does not know the field: a missing
email is no evidence either way, which the classifier (a gradient-boosted tree model) handles
natively.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from service.ai.dedup.normalise import Profile

#: Feature names, in vector order. The trained artifact stores this list; loading checks it.
FEATURES: tuple[str, ...] = (
    "first_jw",
    "first_equiv",
    "last_jw",
    "swapped",
    "name_tokens",
    "middle",
    "email_equal",
    "email_local",
    "phone",
    "street",
    "house",
    "postcode",
    "city",
    "dob",
)

#: Which features belong to which field, for explaining a decision in words.
GROUPS: dict[str, tuple[int, ...]] = {
    "name": (0, 1, 2, 3, 4, 5),
    "email": (6, 7),
    "phone": (8,),
    "address": (9, 10, 11, 12),
    "date of birth": (13,),
}

NAN = math.nan
_jw = JaroWinkler.normalized_similarity


def _first_equiv(a: Profile, b: Profile) -> float:
    if not a.first or not b.first:
        return NAN
    if a.first_roots and b.first_roots and not set(a.first_roots.split("|")).isdisjoint(b.first_roots.split("|")):
        return 1.0
    short, long = sorted((a.first, b.first), key=len)
    if len(short) == 1 and long.startswith(short):
        return 0.6  # an initial that fits
    return 0.0


def _middle(a: Profile, b: Profile) -> float:
    if not a.middle or not b.middle:
        return NAN
    if a.middle == b.middle:
        return 1.0
    if a.middle[0] == b.middle[0] and (len(a.middle) == 1 or len(b.middle) == 1):
        return 0.7
    return 0.0


def _phone(a: str, b: str) -> float:
    if not a or not b:
        return NAN
    if a == b:
        return 1.0
    if a[-7:] == b[-7:]:
        return 0.6  # same line, different area code written
    return 0.0


def _postcode(a: str, b: str) -> float:
    if not a or not b:
        return NAN
    if a == b:
        return 1.0
    if a[:3] == b[:3]:
        return 0.5
    return 0.0


def _dob(a: str, b: str) -> float:
    if not a or not b:
        return NAN
    if a == b:
        return 1.0
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    if ya == yb and ma == db and da == mb:
        return 0.8  # day and month swapped: a day-first form read month-first
    same = (ya == yb) + (ma == mb) + (da == db)
    if same == 2:
        return 0.5  # one part keyed wrongly
    return 0.0


def features(a: Profile, b: Profile) -> list[float]:
    first_jw = _jw(a.first, b.first) if a.first and b.first else NAN
    last_jw = _jw(a.last, b.last) if a.last and b.last else NAN
    if a.first and a.last and b.first and b.last:
        swapped = min(_jw(a.first, b.last), _jw(a.last, b.first))
        name_tokens = fuzz.token_set_ratio(f"{a.first} {a.middle} {a.last}", f"{b.first} {b.middle} {b.last}") / 100.0
    else:
        swapped = NAN
        name_tokens = NAN
    if a.email and b.email:
        email_equal = 1.0 if a.email == b.email else 0.0
        email_local = _jw(a.email.split("@", 1)[0], b.email.split("@", 1)[0])
    else:
        email_equal = email_local = NAN
    street = fuzz.token_sort_ratio(a.street, b.street) / 100.0 if a.street and b.street else NAN
    house = (1.0 if a.house == b.house else 0.0) if a.house and b.house else NAN
    city = _jw(a.city, b.city) if a.city and b.city else NAN
    return [
        first_jw,
        _first_equiv(a, b),
        last_jw,
        swapped,
        name_tokens,
        _middle(a, b),
        email_equal,
        email_local,
        _phone(a.phone, b.phone),
        street,
        house,
        _postcode(a.postcode, b.postcode),
        city,
        _dob(a.dob, b.dob),
    ]


def feature_matrix(pairs: Sequence[tuple[Profile, Profile]]) -> np.ndarray:
    if not pairs:
        return np.empty((0, len(FEATURES)), dtype=np.float64)
    return np.array([features(a, b) for a, b in pairs], dtype=np.float64)


def describe(group: str, a: Profile, b: Profile, vector: Sequence[float]) -> str:
    """One field group's agreement in words, e.g. "first name Jon is a nickname of Jonathan"."""
    if group == "name":
        return _describe_name(a, b, vector)
    if group == "email":
        if math.isnan(vector[6]):
            return "email missing on one side"
        if vector[6] == 1.0:
            return "same email"
        return f"different email (local parts {vector[7]:.0%} alike)"
    if group == "phone":
        value = vector[8]
        if math.isnan(value):
            return "phone missing on one side"
        return {1.0: "same phone", 0.6: "phone differs only in area code"}.get(value, "different phone")
    if group == "address":
        street, postcode = vector[9], vector[11]
        if math.isnan(street) and math.isnan(postcode):
            return "address missing on one side"
        if street >= 0.9 and postcode == 1.0:
            return "same address"
        if postcode == 1.0:
            return f"same postcode, street {0.0 if math.isnan(street) else street:.0%} alike"
        return "different address"
    value = vector[13]
    if math.isnan(value):
        return "date of birth missing on one side"
    return {
        1.0: "same date of birth",
        0.8: "date of birth with day and month swapped",
        0.5: "date of birth differs in one part",
    }.get(value, "different date of birth")


def _describe_name(a: Profile, b: Profile, vector: Sequence[float]) -> str:
    first_jw, first_equiv, last_jw, swapped = vector[0], vector[1], vector[2], vector[3]
    if not math.isnan(swapped) and swapped >= 0.95 and (math.isnan(last_jw) or last_jw < 0.9):
        return "first and last names swapped"
    parts: list[str] = []
    if math.isnan(first_jw):
        parts.append("first name missing on one side")
    elif a.first == b.first:
        parts.append("same first name")
    elif first_equiv == 1.0:
        parts.append(f"first name {a.first.title()} / {b.first.title()} is a nickname")
    else:
        parts.append(f"first name {a.first.title()} / {b.first.title()} {first_jw:.0%} alike")
    if math.isnan(last_jw):
        parts.append("last name missing on one side")
    elif a.last == b.last:
        parts.append("same last name")
    else:
        parts.append(f"last name {a.last.title()} / {b.last.title()} {last_jw:.0%} alike")
    return ", ".join(parts)
