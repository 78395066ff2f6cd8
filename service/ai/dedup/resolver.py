"""Duplicate-customer resolution: is an incoming customer one Tillbridge already knows?

The customers flow calls :meth:`Resolver.resolve` for each record that passes and acts on the
:class:`Decision`: ``match`` links to the existing customer (a binding, no new record in the target),
``review`` sends the pair to a person, ``create`` makes a new customer. :meth:`Resolver.add` indexes
every customer that synced, so the next record is compared with it. :func:`merge` combines two
records of one customer by the survivorship rules in rules/dedup.yaml.

Usage::

    rules = load_rules(Rules("rules"))
    resolver = Resolver(RedisIndex(redis_client, rules.blocking), rules=rules)  # shared by all workers
    decision = resolver.resolve(customer)                # mapping, dataclass or canonical record
    trace.record("dedup", decision.as_trace())
    resolver.add("magento:42", customer)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from service.ai.dedup.compare import features, features_against
from service.ai.dedup.index import BlockingSettings, CustomerIndex, MemoryIndex
from service.ai.dedup.model import MatchModel, ModelError
from service.ai.dedup.normalise import (
    FIELDS,
    ID_FIELDS,
    Profile,
    Vocabulary,
    customer_fields,
    normalise,
    vocabulary_from_rules,
)
from service.rules.loader import RuleError, Rules
from service.settings import repo_path

log = logging.getLogger(__name__)

DecisionKind = Literal["match", "review", "create"]


@dataclass(frozen=True)
class Thresholds:
    match: float = 0.93
    review: float = 0.45

    def decide(self, score: float) -> DecisionKind:
        if score >= self.match:
            return "match"
        if score >= self.review:
            return "review"
        return "create"


@dataclass
class Candidate:
    customer_id: str
    score: float


@dataclass
class Decision:
    kind: DecisionKind
    candidate_id: str | None
    score: float
    drivers: list[str]
    candidates: list[Candidate] = field(default_factory=list)

    def as_trace(self) -> dict[str, Any]:
        """The decision as the trace stores it: kind, best candidate, score and why. (What
        ``dataclasses.asdict`` gives, built directly: its recursive copy was a tenth of a resolution.)"""
        return {"kind": self.kind, "candidate_id": self.candidate_id, "score": self.score,
                "drivers": list(self.drivers),
                "candidates": [{"customer_id": c.customer_id, "score": c.score} for c in self.candidates]}


@dataclass(frozen=True)
class DedupRules:
    thresholds: Thresholds
    blocking: BlockingSettings
    vocabulary: Vocabulary
    merge_policy: Mapping[str, Any]


def load_rules(rules: Rules | None = None) -> DedupRules:
    """rules/dedup.yaml and rules/nicknames.yaml, checked."""
    rules = rules or Rules("rules")
    data = rules.load("dedup.yaml") or {}
    nicknames = rules.load("nicknames.yaml") or {}
    try:
        thresholds = Thresholds(**{k: float(v) for k, v in (data.get("thresholds") or {}).items()})
        blocking = BlockingSettings(**{k: int(v) for k, v in (data.get("blocking") or {}).items()})
    except (TypeError, ValueError) as exc:
        raise RuleError(
            f"rules/dedup.yaml: thresholds take match and review (0..1), blocking takes max_block, "
            f"neighbourhood and max_candidates (integers): {exc}"
        ) from None
    if not 0.0 <= thresholds.review <= thresholds.match <= 1.0:
        raise RuleError("rules/dedup.yaml: thresholds must satisfy 0 <= review <= match <= 1")
    return DedupRules(
        thresholds=thresholds,
        blocking=blocking,
        vocabulary=vocabulary_from_rules(data, nicknames),
        merge_policy=data.get("merge") or {},
    )


class Resolver:
    """Finds the known customer an incoming one duplicates, if any, and says why.

    Without an explicit ``model`` it uses the promoted dedup model of ``models_dir`` and picks up a
    newly promoted (or rolled back) version within ``reload_seconds``.
    """

    def __init__(
        self,
        index: CustomerIndex | None = None,
        model: MatchModel | None = None,
        rules: DedupRules | None = None,
        models_dir: str = "models",
        reload_seconds: float = 30.0,
    ) -> None:
        self.rules = rules or load_rules()
        self.index = index if index is not None else MemoryIndex(self.rules.blocking)
        self._models_dir = None if model is not None else models_dir
        self._reload_seconds = reload_seconds
        self._next_check = time.monotonic() + reload_seconds
        self._registry_signature = self._signature()
        self.model = model or MatchModel.load(models_dir)

    def _signature(self) -> Any:
        if self._models_dir is None:
            return None
        from service.ai.registry import Registry

        return Registry(repo_path(self._models_dir)).signature()

    def _refresh_model(self) -> None:
        if self._models_dir is None or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + self._reload_seconds
        signature = self._signature()
        if signature == self._registry_signature:
            return
        self._registry_signature = signature
        try:
            model = MatchModel.load(self._models_dir)
        except (ModelError, OSError, ValueError, KeyError) as exc:
            log.warning("keeping dedup model %s: the promoted model could not be loaded (%s)", self.model.version, exc)
            return
        if model.version != self.model.version:
            log.info("dedup model %s promoted; resolving with it", model.version)
            self.model = model

    def profile(self, customer: Any) -> Profile:
        return normalise(customer, self.rules.vocabulary)

    def add(self, customer_id: str, customer: Any) -> None:
        """Index a synced customer (again, after an update) under ``customer_id``."""
        self.index.add(customer_id, self.profile(customer))

    def add_many(self, customers: Iterable[tuple[str, Any]]) -> None:
        self.index.add_many((cid, self.profile(c)) for cid, c in customers)

    def remove(self, customer_id: str) -> None:
        self.index.remove(customer_id)

    def resolve(self, customer: Any, exclude: Collection[str] = (), top: int = 5) -> Decision:
        """Decide whether ``customer`` is a known customer (``exclude``: ids that are this very record)."""
        self._refresh_model()
        profile = self.profile(customer)
        found = self.index.candidate_columns(profile).without(exclude)
        if not found.ids:
            return Decision("create", None, 0.0, ["no known customer shares an email, phone, name or address key"])
        matrix = features_against(profile, found.columns)
        scores = self.model.probabilities(matrix)
        order = np.argsort(-scores, kind="stable")
        best = int(order[0])
        score = float(scores[best])
        kind = self.rules.thresholds.decide(score)
        drivers = self.model.drivers(profile, found.profile(best), matrix[best].tolist(), score)
        candidates = [Candidate(found.ids[i], round(float(scores[i]), 4)) for i in order[:top]]
        return Decision(kind, found.ids[best], round(score, 4), drivers, candidates)

    def compare(self, a: Any, b: Any) -> tuple[float, list[str]]:
        """Score two customers against each other, with the drivers (for the review page)."""
        self._refresh_model()
        pa, pb = self.profile(a), self.profile(b)
        vector = features(pa, pb)
        score = float(self.model.probabilities(np.array([vector], dtype=np.float64))[0])
        return round(score, 4), self.model.drivers(pa, pb, vector, score)


def merge(a: Any, b: Any, policy: Mapping[str, Any] | None = None) -> dict[str, str]:
    """One record from two records of the same customer; ``a`` is the surviving record.

    ``policy`` is the ``merge`` section of rules/dedup.yaml (loaded when not given). Each record may
    carry ``source`` ("magento" or "heartland") and ``updated_at`` (ISO text) for the strategies
    that need them. Ties go to ``a``, except for ``most_recent``, where the merged-in ``b`` is
    taken as the newer record.
    """
    if policy is None:
        policy = load_rules().merge_policy
    fa, fb = customer_fields(a), customer_fields(b)
    meta_a, meta_b = _meta(a), _meta(b)
    merged = {name: fa[name] or fb[name] for name in FIELDS}
    for name, strategy in (policy.get("fields") or {}).items():
        if name not in FIELDS:
            raise RuleError(f"rules/dedup.yaml merge.fields: unknown field {name!r}; fields are {', '.join(FIELDS)}")
        pick = _choose(strategy, [fa[name]], [fb[name]], meta_a, meta_b, name)
        merged[name] = fa[name] if pick == "a" else fb[name]
    for group_name, group in (policy.get("groups") or {}).items():
        names = list(group.get("fields") or ())
        unknown = [n for n in names if n not in FIELDS]
        if unknown:
            raise RuleError(f"rules/dedup.yaml merge.groups.{group_name}: unknown fields {unknown}")
        pick = _choose(group.get("strategy", "first_non_empty"), [fa[n] for n in names], [fb[n] for n in names],
                       meta_a, meta_b, group_name)
        source = fa if pick == "a" else fb
        for n in names:
            merged[n] = source[n]
    for name in policy.get("ids") or ID_FIELDS:
        merged[name] = fa.get(name) or fb.get(name) or ""
    return merged


_STRATEGIES = ("most_recent", "longest", "first_non_empty")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(text: str) -> datetime:
    """An ``updated_at`` as an aware UTC datetime; Heartland and Magento write ISO 8601 differently
    ("2026-03-01T09:00:00.123Z", "2026-03-01 09:00:00"), so text order is not time order. Naive
    times are UTC (Magento stores UTC); an unreadable or missing one counts as oldest."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        return _EPOCH
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _meta(record: Any) -> dict[str, str]:
    get = record.get if isinstance(record, Mapping) else lambda k: getattr(record, k, None)
    return {"source": str(get("source") or "").lower(), "updated_at": str(get("updated_at") or "")}


def _choose(strategy: Any, va: list[str], vb: list[str], ma: dict[str, str], mb: dict[str, str], what: str) -> str:
    """Which record ("a" or "b") a field or group survives from; an empty side never wins."""
    known = isinstance(strategy, Mapping) and "prefer" in strategy or strategy in _STRATEGIES
    if not known:
        raise RuleError(
            f"rules/dedup.yaml merge: {what} has unknown strategy {strategy!r}; use prefer: [systems], "
            "most_recent, longest or first_non_empty"
        )
    a_has, b_has = any(va), any(vb)
    if not b_has:
        return "a"
    if not a_has:
        return "b"
    if isinstance(strategy, Mapping) and "prefer" in strategy:
        order = [str(s).lower() for s in strategy["prefer"]]
        rank_a = order.index(ma["source"]) if ma["source"] in order else len(order)
        rank_b = order.index(mb["source"]) if mb["source"] in order else len(order)
        return "b" if rank_b < rank_a else "a"
    if strategy == "most_recent":
        # On a tie the merged-in record wins: it reached Tillbridge after the survivor was stored.
        return "b" if _timestamp(mb["updated_at"]) >= _timestamp(ma["updated_at"]) else "a"
    if strategy == "longest":
        return "b" if sum(map(len, vb)) > sum(map(len, va)) else "a"
    return "a"  # first_non_empty
