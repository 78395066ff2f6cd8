"""Blocking keys: which known customers an incoming one is compared with at all.

Comparing every pair is impossible at a million customers, so each profile gets a handful of keys
and only customers sharing a key (or sitting next to it in name order) become candidates. Each key
is chosen to survive one kind of difference between two records of the same person:

- ``e:`` normalised email and ``p:`` E.164 phone: names spelled anyhow, moved house;
- ``lp:`` last-name sound + postcode: a new email or phone, a typo in the first name;
- ``fl:`` first-name (each formal name it may stand for) and last-name sounds, order-free:
  nicknames, swapped first/last names, moved house;
- ``d:`` date of birth (day and month order-free) + an initial: a changed surname;
- ``a:`` house number + postcode: a changed surname at the same address;
- ``db:`` the full date of birth alone: typos in both name fields and a new address;
- ``fp:`` first-name sound + postcode: a typo or a change in the surname, no email or phone;
- ``hf:`` / ``hl:`` house number + first- or last-name sound: a mistyped postcode or a move in town;
- ``hs:`` house number + the street name's first four letters: both names and the postcode mistyped;
- the sorted neighbourhood on ``last first`` catches spelling slips the sound codes miss.

Households share the ``lp:`` and ``a:`` keys by design; telling them apart is the classifier's job.
"""

from __future__ import annotations

from functools import lru_cache

import jellyfish

from service.ai.dedup.normalise import Profile


@lru_cache(maxsize=200_000)
def sound(word: str) -> str:
    """Metaphone of a name ("smith", "smyth" -> "SM0"); the name itself when metaphone yields nothing."""
    return jellyfish.metaphone(word) or word


def block_keys(profile: Profile) -> list[str]:
    keys: list[str] = []
    if profile.email:
        keys.append("e:" + profile.email)
    if profile.phone:
        keys.append("p:" + profile.phone)
    roots = profile.first_roots.split("|") if profile.first_roots else []
    last_sound = sound(profile.last) if profile.last else ""
    if last_sound and profile.postcode:
        keys.append(f"lp:{last_sound}:{profile.postcode}")
    if last_sound:
        for root in roots:
            pair = sorted((sound(root), last_sound))
            keys.append(f"fl:{pair[0]}:{pair[1]}")
    if profile.dob:
        year, month, day = profile.dob.split("-")
        day_month = "".join(sorted((month, day)))
        initials = {root[0] for root in roots}
        if profile.last:
            initials.add(profile.last[0])
        keys.extend(f"d:{year}{day_month}:{initial}" for initial in sorted(initials))
    if profile.house and profile.postcode:
        keys.append(f"a:{profile.house}:{profile.postcode}")
    if profile.dob:
        keys.append("db:" + profile.dob)
    if profile.postcode:
        keys.extend(f"fp:{sound(root)}:{profile.postcode}" for root in roots)
    if profile.house:
        keys.extend(f"hf:{profile.house}:{sound(root)}" for root in roots)
        if last_sound:
            keys.append(f"hl:{profile.house}:{last_sound}")
        street_name = profile.street[len(profile.house):].strip()
        if len(street_name) >= 4:
            keys.append(f"hs:{profile.house}:{street_name[:4]}")
    return keys


def name_order_key(profile: Profile) -> str:
    """Where a profile sits in the sorted neighbourhood: last name, then first name."""
    if not profile.last and not profile.first:
        return ""
    return f"{profile.last} {profile.first}"
