"""Deduplicating whole files: one file against itself, or one file linked to another.

For a merchant's first clean-up of years of POS and web customers, for evaluation, and for
producing training pairs. Candidate pairs come from the same blocking keys as single-record
resolution, grouped with numpy instead of looked up one record at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.ai.dedup.blocking import block_keys, name_order_key
from service.ai.dedup.compare import features
from service.ai.dedup.index import BlockingSettings
from service.ai.dedup.model import MatchModel
from service.ai.dedup.normalise import FIELDS, Profile, Vocabulary, normalise
from service.ai.dedup.resolver import DedupRules, Thresholds


class ColumnsError(ValueError):
    """The ``--columns`` mapping or a CSV header does not fit; the message says what to change."""


def parse_columns(spec: str) -> dict[str, str]:
    """``first_name=First,email=E-mail`` -> {"first_name": "First", "email": "E-mail"}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        field, sep, column = part.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not column:
            raise ColumnsError(f"--columns entry {part!r} must look like field=COLUMN, e.g. email=Email")
        if field not in FIELDS:
            raise ColumnsError(f"--columns: unknown field {field!r}; fields are {', '.join(FIELDS)}")
        mapping[field] = column
    if not mapping:
        raise ColumnsError("--columns names no field: give at least one, e.g. first_name=First,last_name=Last")
    return mapping


def read_customers(path: str | Path, columns: Mapping[str, str], id_column: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Ids and canonical-field records from a CSV, reading only the mapped columns.

    Without ``id_column`` a record's id is its row number (1 = first row after the header).
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in (*columns.values(), *([id_column] if id_column else [])) if c not in header]
        if missing:
            raise ColumnsError(f"{path}: no column {', '.join(map(repr, missing))}; the header has {', '.join(header)}")
        ids: list[str] = []
        records: list[dict[str, str]] = []
        for n, row in enumerate(reader, start=1):
            ids.append((row[id_column] or "").strip() if id_column else str(n))
            records.append({field: (row[col] or "") for field, col in columns.items()})
    return ids, records


def candidate_pairs(profiles: Sequence[Profile], settings: BlockingSettings, left_count: int | None = None) -> np.ndarray:
    """Index pairs (i, j), i < j, that share a blocking key or are name-order neighbours.

    With ``left_count`` the first ``left_count`` profiles are one file and the rest another, and
    only pairs across the two are returned (linking instead of deduplicating).
    """
    n = len(profiles)
    hashes: list[int] = []
    owners: list[int] = []
    names: list[tuple[str, int]] = []
    for i, profile in enumerate(profiles):
        keys = block_keys(profile)
        hashes.extend(hash(k) for k in keys)
        owners.extend([i] * len(keys))
        name = name_order_key(profile)
        if name:
            names.append((name, i))
    chunks: list[np.ndarray] = []
    if hashes:
        h = np.array(hashes, dtype=np.int64)
        o = np.array(owners, dtype=np.int64)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        sizes = np.diff(np.r_[starts, len(h)])
        # All blocks of one size at once: a (blocks, size) matrix of members, then its pairs.
        for size in np.unique(sizes[(sizes > 1) & (sizes <= settings.max_block)]).tolist():
            members = o[starts[sizes == size][:, None] + np.arange(size)]
            a, b = np.triu_indices(size, k=1)
            chunks.append(np.stack([members[:, a].ravel(), members[:, b].ravel()], axis=1))
    if names and settings.neighbourhood:
        names.sort()
        ordered = np.array([i for _, i in names], dtype=np.int64)
        for k in range(1, settings.neighbourhood + 1):
            chunks.append(np.stack([ordered[:-k], ordered[k:]], axis=1))
    if not chunks:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(chunks)
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if left_count is not None:
        pairs = pairs[(pairs[:, 0] < left_count) & (pairs[:, 1] >= left_count)]
    codes = np.unique(pairs[:, 0] * n + pairs[:, 1])
    return np.stack([codes // n, codes % n], axis=1)


def pair_features(profiles: Sequence[Profile], pairs: np.ndarray) -> np.ndarray:
    matrix = np.empty((len(pairs), 14), dtype=np.float64)
    for row, (i, j) in enumerate(pairs.tolist()):
        matrix[row] = features(profiles[i], profiles[j])
    return matrix


@dataclass
class ScoredPair:
    left_id: str
    right_id: str
    score: float
    decision: str


def score_pairs(
    profiles: Sequence[Profile], pairs: np.ndarray, model: MatchModel, chunk: int = 50_000
) -> np.ndarray:
    scores = np.empty(len(pairs), dtype=np.float64)
    for start in range(0, len(pairs), chunk):
        part = pairs[start : start + chunk]
        scores[start : start + len(part)] = model.probabilities(pair_features(profiles, part))
    return scores


def dedupe(
    left: Sequence[Mapping[str, str]],
    left_ids: Sequence[str],
    rules: DedupRules,
    model: MatchModel,
    right: Sequence[Mapping[str, str]] | None = None,
    right_ids: Sequence[str] | None = None,
) -> Iterator[ScoredPair]:
    """Pairs scored at or above the review threshold, best first."""
    vocab: Vocabulary = rules.vocabulary
    profiles = [normalise(r, vocab) for r in left]
    ids = list(left_ids)
    left_count = None
    if right is not None:
        left_count = len(profiles)
        profiles.extend(normalise(r, vocab) for r in right)
        ids.extend(right_ids or [])
    pairs = candidate_pairs(profiles, rules.blocking, left_count)
    scores = score_pairs(profiles, pairs, model)
    thresholds: Thresholds = rules.thresholds
    keep = np.flatnonzero(scores >= thresholds.review)
    for k in keep[np.argsort(-scores[keep], kind="stable")]:
        i, j = int(pairs[k, 0]), int(pairs[k, 1])
        score = float(scores[k])
        yield ScoredPair(ids[i], ids[j], round(score, 4), thresholds.decide(score))


def write_pairs(path: str | Path, pairs: Iterator[ScoredPair]) -> int:
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["left_id", "right_id", "score", "decision"])
        for pair in pairs:
            writer.writerow([pair.left_id, pair.right_id, f"{pair.score:.4f}", pair.decision])
            count += 1
    return count
