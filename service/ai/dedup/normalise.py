"""Customer records in one comparable form: names, nicknames, emails, E.164 phones, streets, postcodes.

Every customer, whichever system it came from, becomes a :class:`Profile` before it is indexed or
compared. A profile is a tuple of plain strings so a million of them pack small (see ``pack``).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import phonenumbers

from service.canonical.customer import MATCH_FIELDS

#: The canonical customer fields duplicate resolution reads (service/canonical/customer.py).
FIELDS = MATCH_FIELDS
ID_FIELDS: tuple[str, ...] = ("magento_id", "heartland_id")

#: What ``pack`` joins a profile's fields with (no field holds it).
PACK_SEPARATOR = _SEP = "\x1f"
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "rev"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})
_NON_NAME = re.compile(r"[^a-z' -]+")
_NON_ALNUM = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\D+")
_DATE_PARTS = re.compile(r"\d+")


class Profile(NamedTuple):
    """One customer, normalised. Empty strings mean "not known"; comparisons treat them as missing."""

    first: str
    middle: str
    last: str
    first_roots: str  # formal names the first name may stand for, "|"-joined ("jon" -> "john|jonathan")
    email: str
    phone: str  # E.164
    street: str  # standardised words: "12 north main street" -> "12 n main st"
    house: str  # the house number of the first street line
    city: str
    region: str
    postcode: str
    country: str
    dob: str  # YYYY-MM-DD


class ProfileColumns(NamedTuple):
    """Many profiles field by field, in :class:`Profile`'s field order: ``first[i]`` is profile
    i's first name. A resolution reads its candidates so, one field at a time."""

    first: Sequence[str]
    middle: Sequence[str]
    last: Sequence[str]
    first_roots: Sequence[str]
    email: Sequence[str]
    phone: Sequence[str]
    street: Sequence[str]
    house: Sequence[str]
    city: Sequence[str]
    region: Sequence[str]
    postcode: Sequence[str]
    country: Sequence[str]
    dob: Sequence[str]

    @classmethod
    def of(cls, profiles: Sequence[Profile]) -> ProfileColumns:
        """The columns of ``profiles`` (none: every column empty)."""
        if not profiles:
            return cls._make([()] * len(cls._fields))
        return cls._make(zip(*profiles, strict=True))


def pack(profile: Profile) -> str:
    """A profile as one string, for the index's record store (memory or a Redis hash)."""
    return _SEP.join(profile)


def unpack(packed: str) -> Profile:
    return Profile(*packed.split(_SEP))


@dataclass(frozen=True)
class Vocabulary:
    """The word lists normalisation needs, read once from rules/ (see :func:`vocabulary_from_rules`)."""

    nicknames: Mapping[str, tuple[str, ...]]  # any given name -> the formal names it may stand for
    street_words: Mapping[str, str]
    dotless_email_domains: frozenset[str] = frozenset({"gmail.com"})
    email_domain_aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    default_country: str = "US"


def nickname_table(formal_to_nicknames: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Invert rules/nicknames.yaml: every name maps to the sorted formal names it may stand for."""
    roots: dict[str, set[str]] = {}
    for formal, nicks in formal_to_nicknames.items():
        formal_key = _name_key(formal)
        roots.setdefault(formal_key, set()).add(formal_key)
        for nick in nicks or ():
            roots.setdefault(_name_key(str(nick)), set()).add(formal_key)
    return {name: tuple(sorted(formals)) for name, formals in roots.items()}


def vocabulary_from_rules(dedup_rules: Mapping[str, Any], nicknames: Mapping[str, Iterable[str]]) -> Vocabulary:
    return Vocabulary(
        nicknames=nickname_table(nicknames),
        street_words={str(k).lower(): str(v).lower() for k, v in (dedup_rules.get("street_words") or {}).items()},
        dotless_email_domains=frozenset(str(d).lower() for d in dedup_rules.get("dotless_email_domains") or ()),
        email_domain_aliases={
            str(k).lower(): str(v).lower() for k, v in (dedup_rules.get("email_domain_aliases") or {}).items()
        },
        default_country=str(dedup_rules.get("default_country") or "US").upper(),
    )


def customer_fields(customer: Any) -> dict[str, str]:
    """The canonical fields of a customer given as a mapping or an object (dataclass, canonical record).

    Street may be a string or a list of lines; an ``address``, ``billing`` or first entry of
    ``addresses`` fills the address fields the customer itself leaves empty.
    """

    def get(obj: Any, name: str) -> Any:
        if obj is None:
            return None
        if isinstance(obj, Mapping):
            return obj.get(name)
        return getattr(obj, name, None)

    out: dict[str, str] = {}
    for name in (*FIELDS, *ID_FIELDS):
        out[name] = _text(get(customer, name))
    if not out["phone"]:
        out["phone"] = _text(get(customer, "telephone"))
    if not out["dob"]:
        out["dob"] = _text(get(customer, "date_of_birth"))
    address = get(customer, "address") or get(customer, "billing")
    if address is None:
        addresses = get(customer, "addresses")
        if addresses:
            address = addresses[0]
    if address is not None:
        for name in ("street", "city", "region", "postcode", "country", "phone"):
            if not out[name]:
                out[name] = _text(get(address, name))
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v).strip() for v in value if v is not None and str(v).strip())
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _ascii_lower(text: str) -> str:
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()


@lru_cache(maxsize=65536)
def _name_key(text: str) -> str:
    """A name as comparable text: ascii, lower case, no titles or suffixes, single spaces."""
    cleaned = _NON_NAME.sub(" ", _ascii_lower(text).replace(".", " ")).replace("'", "")
    words = [w for w in _SPACES.split(cleaned.replace("-", " ")) if w and w not in _TITLES and w not in _SUFFIXES]
    return " ".join(words)


def first_roots(first: str, vocab: Vocabulary) -> tuple[str, ...]:
    """The formal names a (normalised) first name stands for; the name itself when it is not listed."""
    token = first.split(" ", 1)[0] if first else ""
    if not token:
        return ()
    return vocab.nicknames.get(token, (token,))


def normalise_email(raw: str, vocab: Vocabulary) -> str:
    email = raw.strip().lower()
    if "@" not in email:
        return ""
    local, _, domain = email.rpartition("@")
    domain = vocab.email_domain_aliases.get(domain, domain)
    local = local.split("+", 1)[0]
    if domain in vocab.dotless_email_domains:
        local = local.replace(".", "")
    if not local or "." not in domain:
        return ""
    return f"{local}@{domain}"


@lru_cache(maxsize=4096)
def _country_code(region: str) -> int:
    return phonenumbers.country_code_for_region(region) or 1


def normalise_phone(raw: str, country: str) -> str:
    """A phone number in E.164 ("+15551234567"), or "" when it cannot be one.

    North American numbers, most of what a Heartland store sees, take a fast path; everything else,
    and anything written with a "+", goes through ``phonenumbers``.
    """
    if not raw:
        return ""
    digits = _DIGITS.sub("", raw)
    stripped = raw.lstrip()
    if not stripped.startswith("+") and not stripped.startswith("00") and _country_code(country) == 1:
        if len(digits) == 10 and digits[0] not in "01":
            return "+1" + digits
        if len(digits) == 11 and digits[0] == "1" and digits[1] not in "01":
            return "+" + digits
    try:
        number = phonenumbers.parse(raw, country or None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_street(raw: str, vocab: Vocabulary) -> str:
    words = _NON_ALNUM.sub(" ", _ascii_lower(raw).replace("#", " ")).split()
    return " ".join(vocab.street_words.get(w, w) for w in words)


def normalise_postcode(raw: str, country: str) -> str:
    code = re.sub(r"[^0-9A-Za-z]", "", raw).upper()
    if country == "US" and len(code) in (9, 5) and code.isdigit():
        return code[:5]  # ZIP+4 and ZIP name the same place for matching
    return code


def _compact_date_parts(digits: str) -> list[str]:
    """A date written without separators: YYYYMMDD (ISO basic, as FEBRL and many exports write it),
    else DDMMYYYY / MMDDYYYY; six digits are YYMMDD when that reads as a date, else DDMMYY."""
    if len(digits) == 8:
        if digits[:2] in ("19", "20") and 1 <= int(digits[4:6]) <= 12 and 1 <= int(digits[6:]) <= 31:
            return [digits[:4], digits[4:6], digits[6:]]
        if digits[:2] in ("19", "20") and int(digits[4:6]) > 12 >= int(digits[6:]) >= 1:
            return [digits[:4], digits[6:], digits[4:6]]  # YYYYDDMM
        return [digits[:2], digits[2:4], digits[4:]]
    if 1 <= int(digits[2:4]) <= 12 and 1 <= int(digits[4:]) <= 31:
        century = "19" if int(digits[:2]) > 30 else "20"
        return [century + digits[:2], digits[2:4], digits[4:]]
    return [digits[:2], digits[2:4], digits[4:]]


def normalise_dob(raw: str) -> str:
    """A date of birth as YYYY-MM-DD from ISO, US (MM/DD/YYYY) or day-first text; "" if unreadable.

    Ambiguous slashed dates are read month first, as a US till writes them; the comparison also
    tries the swapped reading, so a day-first source still matches.
    """
    if not raw:
        return ""
    parts = _DATE_PARTS.findall(raw)
    if len(parts) == 1 and len(parts[0]) in (6, 8):
        parts = _compact_date_parts(parts[0])
    if len(parts) < 3:
        return ""
    a, b, c = (int(p) for p in parts[:3])
    if len(parts[0]) == 4:
        year, month, day = a, b, c
    else:
        year, month, day = c, a, b
        if month > 12 >= day:
            month, day = day, month
    if year < 100:
        year += 1900 if year > 30 else 2000
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return ""


def normalise(customer: Any, vocab: Vocabulary) -> Profile:
    """Normalise a customer (mapping, dataclass or :func:`customer_fields` output) into a profile."""
    raw = customer_fields(customer)
    country = (raw.get("country") or vocab.default_country).strip().upper()[:2] or vocab.default_country
    first = _name_key(raw.get("first_name") or "")
    last = _name_key(raw.get("last_name") or "")
    middle = _name_key(raw.get("middle_name") or "")
    if " " in first and not middle:
        first, _, middle = first.partition(" ")
    street = normalise_street(raw.get("street") or "", vocab)
    house = street.split(" ", 1)[0] if street and street[0].isdigit() else ""
    return Profile(
        first=first,
        middle=middle,
        last=last,
        first_roots="|".join(first_roots(first, vocab)),
        email=normalise_email(raw.get("email") or "", vocab),
        phone=normalise_phone(raw.get("phone") or "", country),
        street=street,
        house=house,
        city=_name_key(raw.get("city") or ""),
        region=_ascii_lower(raw.get("region") or "").strip(),
        postcode=normalise_postcode(raw.get("postcode") or "", country),
        country=country,
        dob=normalise_dob(raw.get("dob") or ""),
    )
