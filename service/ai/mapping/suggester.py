"""Field-mapping suggestions: which target field each source field most likely maps to, and how sure we are.

Use::

    from service.ai.mapping.suggester import suggest
    from service.ai.mapping.schema import load_schema_file, fields_from_magento, fields_from_heartland

    result = suggest(fields_from_magento(orders), fields_from_heartland(sales_orders), top=3)
    result.to_json()

Evidence per candidate pair (service/ai/mapping/features.py): name similarity on normalised names
(rules/synonyms.yaml), description similarity, type compatibility and value evidence. The learned
combiner (service/ai/mapping/model.py, trained by training/mapping.py) turns it into a calibrated
confidence. The proposed mapping is one-to-one (Hungarian assignment over the confident pairs).

Output of ``Suggestions.to_json()`` (the CLI and ``POST /v1/mappings/suggest`` return the same)::

    {
      "<source field>": [{"target": "<target field>", "score": 0.93}, …],   # best first, up to `top`
      …,                                                                    # one entry per source field
      "_assignment": {"<source field>": {"target": "<target field>", "score": 0.93} | null, …}
    }

Each list holds the ``top`` best targets (all of them when the target schema is smaller), ranked, with
calibrated confidences however low (``min_score``, default 0, drops weaker ones if asked). The
ranking never decides "no match": ``_assignment`` is the proposed one-to-one mapping, made at
``_threshold`` (default the combiner's): every source field appears, and ``null`` is "no match" — no
target was confident enough, or the confident one went to a source field that fits it better.

Integrators' decisions: ``record_feedback(source_field, target_field, accepted)`` stores each accept or
reject (``FeedbackStore``; ``JsonlFeedbackStore`` is the file-backed one). Passing the store to
``suggest(decisions=store)`` applies remembered decisions (an accepted pair scores 1, a rejected one 0);
``training.mapping.train(feedback=store.all())`` refits the combiner on the seed set plus every
decision, so they generalise (`tillbridge mappings retrain`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from scipy.optimize import linear_sum_assignment

from service.ai.mapping.features import FEATURES, feature_matrix, pair_features, prepare
from service.ai.mapping.model import Combiner, load_combiner
from service.ai.mapping.names import Vocabulary
from service.ai.mapping.schema import Field, SchemaError, fields_from_dicts

DEFAULT_TOP = 3
# A person asking for K candidates wants the K best, ranked, with their honest (calibrated) scores,
# however low: "no match" is the assignment's call, made at its threshold, not the ranking's.
MIN_SCORE = 0.0
ASSIGNMENT_KEY = "_assignment"
THRESHOLD_KEY = "_threshold"


@dataclass(frozen=True)
class Candidate:
    target: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "score": round(self.score, 4)}


@dataclass
class Suggestions:
    sources: list[str]
    targets: list[str]
    scores: np.ndarray  # (len(sources), len(targets)) confidences
    top: dict[str, list[Candidate]]
    assignment: dict[str, Candidate | None]
    threshold: float

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {s: [c.to_json() for c in self.top[s]] for s in self.sources}
        out[ASSIGNMENT_KEY] = {s: (c.to_json() if c else None) for s, c in self.assignment.items()}
        out[THRESHOLD_KEY] = round(self.threshold, 4)
        return out

    def assignment_json(self) -> dict[str, Any]:
        """The one-to-one mapping alone, with the threshold it was made at."""
        return {"threshold": round(self.threshold, 4),
                "assignment": {s: (c.to_json() if c else None) for s, c in self.assignment.items()}}

    def score(self, source: str, target: str) -> float:
        return float(self.scores[self.sources.index(source), self.targets.index(target)])


def suggest(
    source: Sequence[Field],
    target: Sequence[Field],
    *,
    top: int = DEFAULT_TOP,
    threshold: float | None = None,
    min_score: float = MIN_SCORE,
    combiner: Combiner | None = None,
    decisions: FeedbackStore | None = None,
    vocabulary: Vocabulary | None = None,
) -> Suggestions:
    """Suggested targets for every source field, and the proposed one-to-one mapping."""
    if top < 1:
        raise ValueError("top must be at least 1")
    model = combiner or load_combiner()
    cut = model.threshold if threshold is None else threshold
    scores = score_matrix(source, target, model, vocabulary)
    sources = [f.name for f in source]
    targets = [f.name for f in target]
    if decisions is not None:
        _apply_decisions(scores, sources, targets, decisions.decisions())
    return Suggestions(sources, targets, scores, _top(scores, sources, targets, top, min_score),
                       assign(scores, sources, targets, cut), cut)


def score_matrix(source: Sequence[Field], target: Sequence[Field], combiner: Combiner | None = None,
                 vocabulary: Vocabulary | None = None) -> np.ndarray:
    """Calibrated confidence for every (source, target) pair."""
    model = combiner or load_combiner()
    evidence = feature_matrix(prepare(source, vocabulary), prepare(target, vocabulary))
    return model.score(evidence)


def _top(scores: np.ndarray, sources: list[str], targets: list[str], k: int,
         min_score: float) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {}
    k = min(k, len(targets))
    for i, name in enumerate(sources):
        row = scores[i]
        if k == 0:
            out[name] = []
            continue
        picked = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
        # Stable order: equal scores keep the target schema's order.
        best = sorted(picked.tolist(), key=lambda j: (-row[j], j))
        out[name] = [Candidate(targets[j], float(row[j])) for j in best if row[j] >= min_score]
    return out


def assign(scores: np.ndarray, sources: list[str], targets: list[str],
           threshold: float) -> dict[str, Candidate | None]:
    """The one-to-one mapping with the highest total confidence among pairs at or above ``threshold``."""
    assignment: dict[str, Candidate | None] = dict.fromkeys(sources)
    if not sources or not targets:
        return assignment
    # Pairs below the threshold take no part, so they cannot pull a good pair apart.
    confident = np.where(scores >= threshold, scores, 0.0)
    rows, cols = linear_sum_assignment(confident, maximize=True)
    for i, j in zip(rows, cols, strict=True):
        if confident[i, j] > 0:
            assignment[sources[i]] = Candidate(targets[j], float(scores[i, j]))
    return assignment


# --- Integrators' decisions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """One accept or reject. No sample values are kept (they may be personal data); ``evidence`` holds
    the pair's features as computed with the samples at decision time, so retraining can use them."""

    source: Field
    target: Field
    accepted: bool
    at: str
    evidence: tuple[float, ...] = field(default=())
    features: tuple[str, ...] = field(default=FEATURES)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": _without_samples(self.source).to_dict(),
            "target": _without_samples(self.target).to_dict(),
            "accepted": self.accepted,
            "at": self.at,
            "evidence": list(self.evidence),
            "features": list(self.features),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Feedback:
        source, target = fields_from_dicts([data["source"], data["target"]], what="feedback")
        return cls(source, target, bool(data["accepted"]), str(data["at"]),
                   tuple(float(x) for x in data.get("evidence") or ()),
                   tuple(data.get("features") or FEATURES))

    def feature_vector(self, vocabulary: Vocabulary | None = None) -> np.ndarray:
        """The evidence recorded with the decision, or (after the features changed) recomputed from names."""
        if self.evidence and self.features == FEATURES:
            return np.asarray(self.evidence, dtype=float)
        return pair_features(self.source, self.target, vocabulary)


class FeedbackStore(Protocol):
    """Where decisions live. The file store below; the service can back it with a table."""

    def add(self, feedback: Feedback) -> None: ...

    def all(self) -> list[Feedback]: ...

    def decisions(self) -> dict[tuple[str, str], bool]: ...


class JsonlFeedbackStore:
    """Decisions as JSON lines in one file; the latest decision on a pair wins."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def add(self, feedback: Feedback) -> None:
        line = json.dumps(feedback.to_json(), sort_keys=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def all(self) -> list[Feedback]:
        if not self.path.exists():
            return []
        out = []
        with self.path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    out.append(Feedback.from_json(json.loads(line)))
                except (ValueError, KeyError, SchemaError) as exc:
                    raise SchemaError(f"{self.path} line {n} is not a feedback record ({exc}); "
                                      "fix or remove that line") from None
        return out

    def decisions(self) -> dict[tuple[str, str], bool]:
        return latest_decisions(self.all())


def latest_decisions(records: Iterable[Feedback]) -> dict[tuple[str, str], bool]:
    out: dict[tuple[str, str], bool] = {}
    for r in records:
        out[(r.source.name, r.target.name)] = r.accepted
    return out


def record_feedback(source_field: Field | Mapping[str, Any], target_field: Field | Mapping[str, Any],
                    accepted: bool, *, store: FeedbackStore,
                    context: tuple[Sequence[Field], Sequence[Field]] | None = None) -> Feedback:
    """Store an integrator's accept (True) or reject (False) of ``source_field`` → ``target_field``.

    Pass ``context=(source_schema, target_schema)``, the schemas the suggestion came from, so the
    recorded evidence includes how the pair stood against its rivals.
    """
    source = _as_field(source_field, "source_field")
    target = _as_field(target_field, "target_field")
    evidence = pair_features(source, target, context=context)
    feedback = Feedback(source, target, bool(accepted), datetime.now(UTC).isoformat(timespec="seconds"),
                        tuple(float(x) for x in evidence), FEATURES)
    store.add(feedback)
    return feedback


def _apply_decisions(scores: np.ndarray, sources: list[str], targets: list[str],
                     decisions: Mapping[tuple[str, str], bool]) -> None:
    if not decisions:
        return
    s_index = {n: i for i, n in enumerate(sources)}
    t_index = {n: j for j, n in enumerate(targets)}
    for (s, t), accepted in decisions.items():
        if s in s_index and t in t_index:
            scores[s_index[s], t_index[t]] = 1.0 if accepted else 0.0


def _as_field(value: Field | Mapping[str, Any], what: str) -> Field:
    if isinstance(value, Field):
        return value
    return fields_from_dicts([value], what=what)[0]


def _without_samples(f: Field) -> Field:
    return Field(f.name, f.type, f.description)
