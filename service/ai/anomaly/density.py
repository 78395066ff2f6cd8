"""Per-feature histogram density (HBOS): how rare each of a row's values is, feature by feature.

An Isolation Forest isolates rows by random cuts across all features at once; in wide data most of
its cuts fall on features where the row is ordinary, and a row that is odd on many features a
little each (a handwritten 0 among other digits, an order whose every value is slightly off) stays
hidden. A histogram per feature scores exactly that: the sum over features of -log(the share of
training rows in the value's bin). The two views fail in different places, so the model adds both,
each standardised on the training rows (service/ai/anomaly/scorer.py).

Equal-width bins (10, the usual default for HBOS), one pseudo-count per bin so an empty bin is rare
but not infinitely so; a value outside the training range counts as an empty bin. Scoring one row is
one ``searchsorted`` per feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
DEFAULT_BINS = 10
BATCH_ROWS = 1024


@dataclass
class HistogramDensity:
    """Bin edges and -log bin shares of every feature, fitted on training rows."""

    edges: FloatArray  # (features, bins + 1)
    surprise: FloatArray  # (features, bins): -log share of training rows in each bin
    outside: FloatArray  # (features,): -log share given to a value in no bin

    @classmethod
    def fit(cls, X: FloatArray, bins: int = DEFAULT_BINS) -> HistogramDensity:
        if bins < 1:
            raise ValueError(f"a histogram needs at least one bin, got {bins}")
        n, width = X.shape
        edges = np.empty((width, bins + 1))
        surprise = np.empty((width, bins))
        for j in range(width):
            low, high = float(X[:, j].min()), float(X[:, j].max())
            if high <= low:  # a constant column: every training row in one bin
                high = low + 1e-9
            counts, edges[j] = np.histogram(X[:, j], bins=bins, range=(low, high))
            surprise[j] = -np.log((counts + 1.0) / (n + bins))
        outside = np.full(width, -np.log(1.0 / (n + bins)))
        return cls(edges, surprise, outside)

    @property
    def n_features(self) -> int:
        return int(self.edges.shape[0])

    def contributions(self, X: FloatArray) -> FloatArray:
        """-log share of each value's bin: shape (rows, features); higher = rarer."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        out = np.empty(X.shape)
        features = np.arange(self.n_features)
        inner = self.edges[:, 1:-1]
        for start in range(0, X.shape[0], BATCH_ROWS):  # all features at once, in bounded memory
            rows = X[start:start + BATCH_ROWS]
            index = (rows[:, :, None] >= inner[None, :, :]).sum(axis=2)
            inside = (rows >= self.edges[:, 0]) & (rows <= self.edges[:, -1])
            out[start:start + BATCH_ROWS] = np.where(inside, self.surprise[features, index], self.outside)
        return out

    def score_batch(self, X: FloatArray) -> FloatArray:
        return self.contributions(X).sum(axis=1)

    def score(self, x: FloatArray) -> float:
        return float(self.score_batch(np.asarray(x, dtype=np.float64).reshape(1, -1))[0])

    def to_dict(self) -> dict[str, Any]:
        return {"edges": self.edges, "surprise": self.surprise, "outside": self.outside}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistogramDensity:
        return cls(np.asarray(data["edges"], dtype=np.float64), np.asarray(data["surprise"], dtype=np.float64),
                   np.asarray(data["outside"], dtype=np.float64))
