"""Similar failures people resolved before: TF-IDF character n-grams and cosine nearest neighbours.

Each example is a failure's feature text with what was done about it: the action a person took
(or accepted) counts for it, a proposal a person rejected counts against it. The model is refit
from the examples whenever they change; a few thousand fit in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from service.ai.triage.failure import Failure, feature_text


@dataclass(frozen=True)
class Example:
    text: str  # feature_text of the failure
    cause: str
    action: str
    weight: float = 1.0  # +1 done or accepted, -1 rejected


@dataclass(frozen=True)
class Neighbour:
    example: Example
    similarity: float


class TriageModel:
    def __init__(self, examples: Sequence[Example], *, min_similarity: float = 0.5, neighbours: int = 15) -> None:
        self.examples = list(examples)
        self.min_similarity = min_similarity
        self.k = neighbours
        self.vectorizer: TfidfVectorizer | None = None
        if self.examples:
            self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                              lowercase=True, dtype=np.float32)
            self.matrix = self.vectorizer.fit_transform([e.text for e in self.examples])

    def __len__(self) -> int:
        return len(self.examples)

    def neighbours(self, failure: Failure) -> list[Neighbour]:
        """The most similar examples at or above ``min_similarity``, most similar first."""
        if self.vectorizer is None:
            return []
        vector = self.vectorizer.transform([feature_text(failure)])
        similarities = np.asarray((self.matrix @ vector.T).todense()).ravel()
        order = np.argsort(-similarities, kind="stable")[: self.k]
        return [Neighbour(self.examples[i], float(similarities[i])) for i in order
                if similarities[i] >= self.min_similarity]
