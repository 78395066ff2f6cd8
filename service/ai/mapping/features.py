"""Evidence for every (source field, target field) pair, computed for whole schemas at once.

Each feature is a number in [0, 1]; ``FEATURES`` names the columns of the matrices returned by
``feature_matrix``. Per-field work (name forms, value profiles) is done once per field, pairwise work
with ``rapidfuzz.process.cdist`` and matrix products, so 200 × 800 fields take well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from service.ai.mapping.names import NameForms, Vocabulary, default_vocabulary
from service.ai.mapping.schema import Field
from service.ai.mapping.values import (
    ValueProfile,
    distribution_similarity,
    pattern_similarity,
    profile,
    value_overlap,
)

FEATURES = (
    "name_tokens",  # token-set similarity of the canonical path words
    "name_order",  # token-sort similarity of the canonical path words
    "leaf_tokens",  # token-sort similarity of the last segment's words
    "leaf_exact",  # the last segments have the same canonical words
    "name_trigrams",  # cosine of character 3-grams of the raw (unexpanded) names
    "parent_tokens",  # similarity of the enclosing paths (billing vs shipping address)
    "desc_tokens",  # similarity of the descriptions, 0 unless both have one
    "has_desc",
    "name_in_desc",  # one field's name words found in the other's description
    "type_compat",
    "has_types",
    "pattern_sim",  # shared value patterns (email, phone, money, date, postcode, SKU, codes…)
    "value_overlap",  # Jaccard of the sample values
    "dist_sim",  # alike magnitude (numbers) or length (text)
    "has_values",
    "both_ids",  # both fields are identifiers: each system assigns its own, so equal names mislead
    "text_tfidf",  # TF-IDF cosine of name and description words together: rare shared words count most
    "abbreviation",  # one name abbreviates the other's name or description (ym: years married, Karn: Karnofsky)
    "cardinality",  # alike numbers of distinct sample values (a 2-level code vs a 2-level factor)
    "row_margin",  # how far this pair's base similarity is ahead of the source's next-best target
    "col_margin",  # … and of the target's next-best source
    "mutual_best",  # the source's best target and the target's best source at once
)
# The base similarity the competition features compare: names, plus shared values when there are some.
_BASE = ("name_tokens", "name_order", "leaf_tokens", "name_trigrams", "value_overlap")

_TYPE_INDEX = {t: i for i, t in enumerate(("string", "integer", "number", "boolean", "datetime", "date",
                                             "object", "array"))}
_UNKNOWN = len(_TYPE_INDEX)
_ID_WORDS = frozenset({"id", "uuid", "guid", "key"})


def _type_table() -> np.ndarray:
    n = len(_TYPE_INDEX) + 1
    table = np.zeros((n, n))
    scalars = ("string", "integer", "number", "boolean", "datetime", "date")
    for a, i in _TYPE_INDEX.items():
        for b, j in _TYPE_INDEX.items():
            if a == b:
                value = 1.0
            elif {a, b} == {"integer", "number"}:
                value = 0.8
            elif {a, b} == {"date", "datetime"}:
                value = 0.9
            elif "string" in (a, b) and a in scalars and b in scalars:
                # Text exports carry numbers, dates and flags as strings.
                value = 0.5
            elif {a, b} in ({"boolean", "integer"}, {"object", "array"}):
                value = 0.3
            else:
                value = 0.0
            table[i, j] = value
    table[_UNKNOWN, :] = 0.5
    table[:, _UNKNOWN] = 0.5
    return table


_TYPE_TABLE = _type_table()


def type_similarity(a: Sequence[str | None], b: Sequence[str | None]) -> np.ndarray:
    """Compatibility of every pair of declared types (0.5 where a type is unknown)."""
    ia = np.array([_TYPE_INDEX.get(t or "", _UNKNOWN) for t in a], dtype=int)
    ib = np.array([_TYPE_INDEX.get(t or "", _UNKNOWN) for t in b], dtype=int)
    return _TYPE_TABLE[np.ix_(ia, ib)]


@dataclass(frozen=True)
class PreparedField:
    """One field's per-field evidence, computed once and compared with every field on the other side."""

    field: Field
    names: NameForms
    description: str
    type_index: int
    values: ValueProfile


def prepare(fields: Sequence[Field], vocabulary: Vocabulary | None = None) -> list[PreparedField]:
    vocab = vocabulary or default_vocabulary()
    out = []
    for f in fields:
        desc = " ".join(vocab.words(f.description)) if f.description else ""
        out.append(PreparedField(f, vocab.forms(f.name), desc, _TYPE_INDEX.get(f.type or "", _UNKNOWN),
                                 profile(f.samples)))
    return out


def feature_matrix(source: Sequence[PreparedField], target: Sequence[PreparedField]) -> np.ndarray:
    """Evidence of shape (len(source), len(target), len(FEATURES))."""
    s, t = len(source), len(target)
    out = np.zeros((s, t, len(FEATURES)), dtype=np.float64)
    if not s or not t:
        return out
    full_s = [p.names.full for p in source]
    full_t = [p.names.full for p in target]
    leaf_s = [p.names.leaf for p in source]
    leaf_t = [p.names.leaf for p in target]
    col = FEATURES.index
    out[:, :, col("name_tokens")] = _cdist(full_s, full_t, fuzz.token_set_ratio)
    out[:, :, col("name_order")] = _cdist(full_s, full_t, fuzz.token_sort_ratio)
    out[:, :, col("leaf_tokens")] = _cdist(leaf_s, leaf_t, fuzz.token_sort_ratio)
    out[:, :, col("leaf_exact")] = np.equal.outer(np.array(leaf_s, dtype=object), np.array(leaf_t, dtype=object))
    out[:, :, col("name_trigrams")] = _trigram_cosine([p.names.raw for p in source],
                                                      [p.names.raw for p in target])
    # Set similarity: a deeper path that contains the other one's words (Magento's
    # extension_attributes.shipping_assignments[].shipping.address vs shipping_address) still agrees.
    out[:, :, col("parent_tokens")] = _cdist([p.names.parent for p in source], [p.names.parent for p in target],
                                             fuzz.token_set_ratio)

    desc_s = [p.description for p in source]
    desc_t = [p.description for p in target]
    has_desc = np.outer([bool(d) for d in desc_s], [bool(d) for d in desc_t])
    out[:, :, col("has_desc")] = has_desc
    if has_desc.any():
        out[:, :, col("desc_tokens")] = np.where(has_desc, _cdist(desc_s, desc_t, fuzz.token_sort_ratio), 0.0)
    name_in_desc = np.zeros((s, t))
    if any(desc_t):
        name_in_desc = np.maximum(name_in_desc, _cdist(full_s, desc_t, fuzz.token_set_ratio)
                                  * np.array([bool(d) for d in desc_t])[None, :])
    if any(desc_s):
        name_in_desc = np.maximum(name_in_desc, _cdist(desc_s, full_t, fuzz.token_set_ratio)
                                  * np.array([bool(d) for d in desc_s])[:, None])
    out[:, :, col("name_in_desc")] = name_in_desc

    ts = np.array([p.type_index for p in source])
    tt = np.array([p.type_index for p in target])
    out[:, :, col("type_compat")] = _TYPE_TABLE[np.ix_(ts, tt)]
    out[:, :, col("has_types")] = np.outer(ts != _UNKNOWN, tt != _UNKNOWN)

    vs = [p.values for p in source]
    vt = [p.values for p in target]
    has_values = np.outer([v.present for v in vs], [v.present for v in vt])
    out[:, :, col("has_values")] = has_values
    if has_values.any():
        out[:, :, col("pattern_sim")] = pattern_similarity(vs, vt) * has_values
        out[:, :, col("value_overlap")] = value_overlap(vs, vt) * has_values
        out[:, :, col("dist_sim")] = distribution_similarity(vs, vt) * has_values
    out[:, :, col("both_ids")] = np.outer([_is_identifier(p.names) for p in source],
                                          [_is_identifier(p.names) for p in target])
    out[:, :, col("text_tfidf")] = _text_tfidf([p.names.full for p in source],
                                               [p.names.full for p in target])
    out[:, :, col("abbreviation")] = _abbreviations(source, target)
    if has_values.any():
        out[:, :, col("cardinality")] = _cardinality(vs, vt) * has_values
    _competition(out)
    return out


def _text_tfidf(a: list[str], b: list[str]) -> np.ndarray:
    """Cosine of TF-IDF vectors, the IDF taken over both schemas: a word most fields share weighs little."""
    texts = a + b
    if not any(t.strip() for t in texts):
        return np.zeros((len(a), len(b)))
    vectorizer = TfidfVectorizer(sublinear_tf=True, token_pattern=r"[a-z0-9]+")
    try:
        m = normalize(vectorizer.fit_transform(texts))
    except ValueError:  # no word at all
        return np.zeros((len(a), len(b)))
    return np.asarray((m[: len(a)] @ m[len(a):].T).toarray())


def _abbreviations(source: Sequence[PreparedField], target: Sequence[PreparedField]) -> np.ndarray:
    """1 where a short name is a run of prefixes of the other field's name words, or of its description's
    first words (``hinc``: household income, ``ym``: years married); 0.5 for an in-order subsequence."""
    out = np.zeros((len(source), len(target)))
    _one_way(out, [_short_key(p) for p in source], [_long_words(p) for p in target])
    _one_way(out.T, [_short_key(p) for p in target], [_long_words(p) for p in source])
    return out


def _one_way(out: np.ndarray, keys: list[str], words: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> None:
    # Only fields with a word that starts with the key's first letter can match: index them by letter.
    by_letter: dict[str, list[int]] = {}
    for j, (name, description) in enumerate(words):
        for letter in {w[0] for w in (*name, *description)}:
            by_letter.setdefault(letter, []).append(j)
    for i, key in enumerate(keys):
        if key:
            for j in by_letter.get(key[0], ()):
                score = _abbreviates(key, words[j])
                if score > out[i, j]:
                    out[i, j] = score


_MAX_ABBREVIATION = 8


def _short_key(p: PreparedField) -> str:
    """The leaf's letters when it is short enough to be an abbreviation, else ''."""
    letters = "".join(ch for ch in p.names.raw.split(" ")[-1] if ch.isalpha()) if p.names.raw else ""
    whole = "".join(ch for ch in p.names.raw if ch.isalpha())
    key = whole if len(whole) <= _MAX_ABBREVIATION else letters
    return key if 2 <= len(key) <= _MAX_ABBREVIATION else ""


def _long_words(p: PreparedField) -> tuple[tuple[str, ...], tuple[str, ...]]:
    name = tuple(w for w in p.names.raw.split() if w.isalpha())
    description = tuple(w for w in p.description.split() if w.isalpha())[:12]
    return name, description


@lru_cache(maxsize=65536)
def _abbreviates(key: str, words: tuple[tuple[str, ...], tuple[str, ...]]) -> float:
    name, description = words
    best = 0.0
    for seq in (name, description):
        if not seq or "".join(seq) == key:
            continue
        if any(seq[start][0] == key[0] and _prefix_run(key, seq[start:]) for start in range(len(seq))):
            return 1.0
    joined = "".join(name)
    # A looser form on the name alone: the key's letters in order (``qty`` in ``quantity``).
    if joined and joined != key and key[0] == joined[0] and _subsequence(key, joined):
        best = 0.5
    return best


def _prefix_run(key: str, words: tuple[str, ...]) -> bool:
    """Is key the initials of consecutive words (``ym``, up to three letters), or a strict prefix of the
    first word followed by prefixes of at least two letters of the next ones (``hinc``: household
    income, ``Karn``: Karnofsky)? The same word is not an abbreviation (name_in_desc sees that)."""
    if words[0] == key:
        return False
    if len(key) <= min(3, len(words)) and all(w[0] == ch for w, ch in zip(words, key, strict=False)):
        return True
    return _pieces(key, words, 0, 0)


def _pieces(key: str, words: tuple[str, ...], k: int, w: int) -> bool:
    if k == len(key):
        return w > 0
    if w == len(words):
        return False
    word = words[w]
    shortest = 1 if w == 0 else 2
    for cut in range(min(len(word), len(key) - k), shortest - 1, -1):
        if word[:cut] == key[k:k + cut] and _pieces(key, words, k + cut, w + 1):
            return True
    return False


def _subsequence(key: str, text: str) -> bool:
    it = iter(text)
    return all(ch in it for ch in key)


def _cardinality(a: Sequence[ValueProfile], b: Sequence[ValueProfile]) -> np.ndarray:
    ca = np.array([len(p.values) for p in a], dtype=float).reshape(-1, 1)
    cb = np.array([len(p.values) for p in b], dtype=float).reshape(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.maximum(ca, cb) > 0, np.minimum(ca, cb) / np.maximum(np.maximum(ca, cb), 1.0), 0.0)


def _is_identifier(names: NameForms) -> bool:
    words = names.leaf.split()
    return bool(words) and words[-1] in _ID_WORDS


def _competition(out: np.ndarray) -> None:
    """Margins against the other candidates: a pair that clearly beats its rivals on both sides is
    likelier right than an equally similar pair among many look-alikes (Magento's base_* twins)."""
    base = out[:, :, [FEATURES.index(f) for f in _BASE]].mean(axis=2)
    out[:, :, FEATURES.index("row_margin")] = base - _best_other(base)
    out[:, :, FEATURES.index("col_margin")] = base - _best_other(base.T).T
    row_best = base >= base.max(axis=1, keepdims=True)
    col_best = base >= base.max(axis=0, keepdims=True)
    out[:, :, FEATURES.index("mutual_best")] = row_best & col_best


def _best_other(m: np.ndarray) -> np.ndarray:
    """For each cell, the largest value among the other cells of its row (0 when it is alone)."""
    if m.shape[1] < 2:
        return np.zeros_like(m)
    top2 = -np.partition(-m, 1, axis=1)[:, :2]
    first, second = top2[:, :1], top2[:, 1:2]
    return np.where(m >= first, second, first)


def pair_features(source: Field, target: Field, vocabulary: Vocabulary | None = None,
                  context: tuple[Sequence[Field], Sequence[Field]] | None = None) -> np.ndarray:
    """Evidence for one pair (used to learn from an integrator's accept or reject).

    ``context`` is the two schemas the pair was chosen from; without it the pair competes with no one.
    """
    if context is None:
        return feature_matrix(prepare([source], vocabulary), prepare([target], vocabulary))[0, 0]
    sources, targets = list(context[0]), list(context[1])
    if source not in sources:
        sources.append(source)
    if target not in targets:
        targets.append(target)
    cube = feature_matrix(prepare(sources, vocabulary), prepare(targets, vocabulary))
    return cube[sources.index(source), targets.index(target)]


def _cdist(a: list[str], b: list[str], scorer: Any) -> np.ndarray:
    # Leaves, parents and descriptions repeat a lot (city, postcode, "billing address" …): compare each
    # distinct string once. One worker: the service shares its cores with the sync workers.
    ua, ia = np.unique(np.array(a, dtype=object), return_inverse=True)
    ub, ib = np.unique(np.array(b, dtype=object), return_inverse=True)
    scores = process.cdist(ua.tolist(), ub.tolist(), scorer=scorer, processor=None, workers=1, dtype=np.float32)
    return scores[np.ix_(ia.ravel(), ib.ravel())] / 100.0


def _trigram_cosine(a: list[str], b: list[str]) -> np.ndarray:
    texts = [f" {x} " for x in a + b]
    if not any(x.strip() for x in texts):
        return np.zeros((len(a), len(b)))
    vectorizer = CountVectorizer(analyzer="char", ngram_range=(3, 3), binary=True, lowercase=False)
    try:
        m = normalize(vectorizer.fit_transform(texts).astype(np.float64))
    except ValueError:  # no 3-gram at all (every name shorter than three characters)
        return np.zeros((len(a), len(b)))
    return np.asarray((m[: len(a)] @ m[len(a):].T).toarray())
