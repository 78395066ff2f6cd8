"""What a field's sample values look like: shared patterns, the values themselves and their spread."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    "phone": re.compile(r"^\+?[\d\s().-]{7,20}$"),
    "money": re.compile(r"^-?\d{1,9}\.\d{1,4}$"),
    "integer": re.compile(r"^-?\d{1,18}$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
                       r"|^\d{1,2}/\d{1,2}/\d{2,4}( \d{1,2}:\d{2}.*)?$"),
    "postcode": re.compile(r"^(\d{5}(-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4})$"),
    "sku": re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9]+([-_./][A-Za-z0-9]+)+$|^[A-Z]{2,}\d{2,}$"),
    "code2": re.compile(r"^[A-Z]{2}$"),
    "code3": re.compile(r"^[A-Z]{3}$"),
    "boolean": re.compile(r"^(true|false|yes|no|y|n|0|1)$", re.IGNORECASE),
    "url": re.compile(r"^(https?://|/)\S+$"),
    "uuid": re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I),
    "word": re.compile(r"^[A-Za-z][A-Za-z'-]*$"),
    "words": re.compile(r"^[A-Za-z0-9'&.,-]+( [A-Za-z0-9'&.,#-]+){1,5}$"),
    "text": re.compile(r"^.{40,}$", re.DOTALL),
    "html": re.compile(r"<[a-zA-Z/][^>]*>"),
}
PATTERN_NAMES = tuple(PATTERNS)


@dataclass(frozen=True)
class ValueProfile:
    patterns: np.ndarray  # fraction of samples matching each pattern, in PATTERN_NAMES order
    values: frozenset[str]
    mean_length: float
    numeric_share: float
    log_median: float  # log10(1 + |median|) of the numeric samples

    @property
    def present(self) -> bool:
        return bool(self.values)


def profile(samples: Sequence[str]) -> ValueProfile:
    texts = [s.strip() for s in samples if s is not None and s.strip() != ""]
    if not texts:
        return ValueProfile(np.zeros(len(PATTERNS)), frozenset(), 0.0, 0.0, 0.0)
    counts = np.array([sum(1 for t in texts if _matches(name, pattern, t)) for name, pattern in PATTERNS.items()],
                      dtype=float)
    numbers = []
    for t in texts:
        try:
            numbers.append(abs(float(t)))
        except ValueError:
            continue
    log_median = math.log10(1.0 + float(np.median(numbers))) if numbers else 0.0
    return ValueProfile(
        patterns=counts / len(texts),
        values=frozenset(t.lower() for t in texts),
        mean_length=float(np.mean([len(t) for t in texts])),
        numeric_share=len(numbers) / len(texts),
        log_median=log_median,
    )


def pattern_similarity(a: Sequence[ValueProfile], b: Sequence[ValueProfile]) -> np.ndarray:
    """Cosine of the pattern vectors, 0 where either side has no samples."""
    pa = _unit_rows(np.array([p.patterns for p in a]).reshape(len(a), len(PATTERNS)))
    pb = _unit_rows(np.array([p.patterns for p in b]).reshape(len(b), len(PATTERNS)))
    return pa @ pb.T


def value_overlap(a: Sequence[ValueProfile], b: Sequence[ValueProfile]) -> np.ndarray:
    """Jaccard similarity of the sample value sets (case-insensitive)."""
    index: dict[str, int] = {}
    cells_a = _cells(a, index)
    cells_b = _cells(b, index)
    ma = _incidence(cells_a, len(a), len(index))
    mb = _incidence(cells_b, len(b), len(index))
    inter = (ma @ mb.T).toarray()
    size_a = np.asarray(ma.sum(axis=1)).reshape(-1, 1)
    size_b = np.asarray(mb.sum(axis=1)).reshape(1, -1)
    union = size_a + size_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def distribution_similarity(a: Sequence[ValueProfile], b: Sequence[ValueProfile]) -> np.ndarray:
    """How alike the spreads are: numeric magnitude when both are numbers, text length otherwise."""
    la = np.array([p.mean_length for p in a]).reshape(-1, 1)
    lb = np.array([p.mean_length for p in b]).reshape(1, -1)
    na = np.array([p.numeric_share for p in a]).reshape(-1, 1)
    nb = np.array([p.numeric_share for p in b]).reshape(1, -1)
    ma = np.array([p.log_median for p in a]).reshape(-1, 1)
    mb = np.array([p.log_median for p in b]).reshape(1, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        length = np.where(np.maximum(la, lb) > 0, 1.0 - np.abs(la - lb) / np.maximum(np.maximum(la, lb), 1e-9),
                          0.0)
    magnitude = np.exp(-np.abs(ma - mb))
    both_numeric = (na > 0.8) & (nb > 0.8)
    return np.where(both_numeric, magnitude, length)


def _unit_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


def _matches(name: str, pattern: re.Pattern[str], text: str) -> bool:
    # Markup can sit anywhere in a value; the other patterns describe the whole value.
    return bool(pattern.search(text) if name == "html" else pattern.match(text))


def _cells(profiles: Sequence[ValueProfile], index: dict[str, int]) -> tuple[list[int], list[int]]:
    rows: list[int] = []
    cols: list[int] = []
    for i, p in enumerate(profiles):
        for v in p.values:
            rows.append(i)
            cols.append(index.setdefault(v, len(index)))
    return rows, cols


def _incidence(cells: tuple[list[int], list[int]], n_rows: int, n_cols: int) -> sparse.csr_matrix:
    rows, cols = cells
    data = np.ones(len(rows), dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n_rows, max(n_cols, 1)))
