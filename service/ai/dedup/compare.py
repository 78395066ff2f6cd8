"""Pairwise comparison of two profiles: the feature vector the classifier reads, and its words.

Every feature is a similarity in [0, 1], or NaN when either side does not know the field: a missing
email is no evidence either way, which the classifier (a gradient-boosted tree model) handles
natively.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from service.ai.dedup.normalise import Profile, ProfileColumns

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
T = TypeVar("T")
_jw = JaroWinkler.normalized_similarity


def _first_equiv(a: Profile, b: Profile) -> float:
    return _first_equiv_to(a.first, set(a.first_roots.split("|")) if a.first_roots else set(), b.first, b.first_roots)


def _first_equiv_to(first: str, roots: set[str], other: str, other_roots: str) -> float:
    """1 when two first names may stand for one formal name, 0.6 for an initial that fits."""
    if not first or not other:
        return NAN
    if roots and other_roots and not roots.isdisjoint(other_roots.split("|")):
        return 1.0
    short, long = sorted((first, other), key=len)
    if len(short) == 1 and long.startswith(short):
        return 0.6  # an initial that fits
    return 0.0


def _middle(a: Profile, b: Profile) -> float:
    return _middle_to(a.middle, b.middle)


def _middle_to(mine: str, other: str) -> float:
    if not mine or not other:
        return NAN
    if mine == other:
        return 1.0
    if mine[0] == other[0] and (len(mine) == 1 or len(other) == 1):
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


def features_against(a: Profile, b: ProfileColumns) -> np.ndarray:
    """``features(a, other)`` for every profile of ``b``, as the rows of one matrix, value for value.

    A resolution compares one profile with up to a few hundred candidates, which share first names,
    surnames, cities and postcodes: each distinct value is compared once, and the token ratios of all
    candidates are one rapidfuzz call. (Its batched Jaro-Winkler can differ in the last bit, so those
    stay one call per distinct value.) The candidates come field by field, as they are compared.
    """
    n = len(b.first)
    out = np.full((n, len(FEATURES)), NAN)
    if not n:
        return out
    if a.first:
        out[:, 0] = _per_value(lambda v: _jw(a.first, v) if v else NAN, b.first)
        roots = set(a.first_roots.split("|")) if a.first_roots else set()
        out[:, 1] = _per_value(lambda v: _first_equiv_to(a.first, roots, *v), list(zip(b.first, b.first_roots, strict=True)))
    if a.last:
        out[:, 2] = _per_value(lambda v: _jw(a.last, v) if v else NAN, b.last)
    if a.first and a.last:
        # Both names known on the other side too: exactly where both similarities above are numbers.
        named = ~(np.isnan(out[:, 0]) | np.isnan(out[:, 2]))
        swapped = np.minimum(_per_value(lambda v: _jw(a.first, v), b.last), _per_value(lambda v: _jw(a.last, v), b.first))
        out[:, 3] = np.where(named, swapped, NAN)
        full_names = [f"{f} {m} {last}" for f, m, last in zip(b.first, b.middle, b.last, strict=True)]
        # Candidates found through a name key share their full name: one ratio per distinct name.
        distinct = list(dict.fromkeys(full_names))
        ratios = dict(zip(distinct, _ratios(fuzz.token_set_ratio, f"{a.first} {a.middle} {a.last}", distinct).tolist(),
                          strict=True))
        out[:, 4] = np.where(named, [ratios[name] for name in full_names], NAN)
    if a.middle:
        out[:, 5] = _per_value(lambda v: _middle_to(a.middle, v), b.middle)
    # The equality-like features inline (as _phone and _postcode say): a call per candidate was
    # most of their time.
    if a.email:
        email, local = a.email, a.email.partition("@")[0]
        out[:, 6] = [(1.0 if v == email else 0.0) if v else NAN for v in b.email]
        out[:, 7] = [_jw(local, v.partition("@")[0]) if v else NAN for v in b.email]  # (nearly all distinct)
    if a.phone:
        phone, line = a.phone, a.phone[-7:]
        out[:, 8] = [(1.0 if v == phone else 0.6 if v[-7:] == line else 0.0) if v else NAN for v in b.phone]
    if a.street:
        out[:, 9] = np.where([bool(v) for v in b.street], _ratios(fuzz.token_sort_ratio, a.street, b.street), NAN)
    if a.house:
        house = a.house
        out[:, 10] = [(1.0 if v == house else 0.0) if v else NAN for v in b.house]
    if a.postcode:
        postcode, area = a.postcode, a.postcode[:3]
        out[:, 11] = [(1.0 if v == postcode else 0.5 if v[:3] == area else 0.0) if v else NAN for v in b.postcode]
    if a.city:
        out[:, 12] = _per_value(lambda v: _jw(a.city, v) if v else NAN, b.city)
    if a.dob:
        out[:, 13] = _per_value(lambda v: _dob(a.dob, v), b.dob)
    return out


def _per_value(score: Callable[[T], float], values: Sequence[T]) -> list[float]:
    """``score`` of each value, computed once per distinct value."""
    seen = {value: score(value) for value in set(values)}
    return [seen[value] for value in values]


def _ratios(scorer: Callable[..., float], mine: str, theirs: Sequence[str]) -> np.ndarray:
    """A rapidfuzz 0..100 ratio of ``mine`` against each of ``theirs``, as 0..1."""
    return process.cdist([mine], theirs, scorer=scorer, dtype=np.float64, workers=1)[0] / 100.0


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
