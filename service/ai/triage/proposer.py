"""Rules and history weighed into one proposal: a cause, a fix in words, an action, a confidence.

Every action starts from the matched rule: its cause's action at the rule's confidence, each
alternative at half the one before. Each similar resolved failure then adds ``similarity × kernel ×
history_weight`` to what the person did (the kernel, exp(-(nearest - similarity) / kernel_width),
lets the nearest failures speak) (or takes it away from a rejected proposal), so a rule
holds until people disagree with it, and a fallback rule (failure class only) gives way at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from service.ai.triage.failure import Failure, feature_text
from service.ai.triage.model import Example, Neighbour, TriageModel
from service.ai.triage.rulebook import Rulebook


@dataclass(frozen=True)
class Proposal:
    cause: str
    title: str
    fix: str  # what to do, in words, with the failure's SKU, destination, template filled in
    action: str
    action_label: str
    one_click: bool
    confidence: float  # 0..1: the chosen action's share of the evidence for all actions
    source: str  # rule | history
    rule: int  # index of the matched rule in rules/triage.yaml
    similar: int = 0  # resolved failures similar to this one
    scores: dict[str, float] = field(default_factory=dict)


def propose(failure: Failure, rulebook: Rulebook, model: TriageModel | None = None) -> Proposal:
    rule = rulebook.match(failure)
    cause = rulebook.causes[rule.cause]
    prior: dict[str, float] = defaultdict(float)
    prior[cause.action] = rule.confidence
    for n, alternative in enumerate(cause.alternatives, start=1):
        prior[alternative] = max(prior[alternative], rule.confidence / 2**n)
    found: list[Neighbour] = model.neighbours(failure) if model is not None else []
    evidence: dict[str, float] = defaultdict(float)
    causes: dict[str, float] = defaultdict(float)
    nearest = max((n.similarity for n in found), default=0.0)
    for neighbour in found:
        # The nearest count most: a neighbour a little less similar than the nearest is another kind
        # of failure more often than not (the same message about another sort of SKU).
        weight = neighbour.similarity * math.exp(-(nearest - neighbour.similarity) / rulebook.kernel_width)
        evidence[neighbour.example.action] += weight * rulebook.history_weight * neighbour.example.weight
        if neighbour.example.weight > 0:
            causes[neighbour.example.cause] += weight
    scores = {a: prior.get(a, 0.0) + evidence.get(a, 0.0) for a in set(prior) | set(evidence)
              if a in rulebook.actions}
    action = max(scores, key=lambda a: (scores[a], prior.get(a, 0.0), a))
    positive = sum(max(0.0, s) for s in scores.values())
    confidence = max(0.0, scores[action]) / positive if positive > 0 else 0.0
    if rule.fallback and causes:
        # The rule only knew the failure class: the cause people's similar failures had says more.
        learned = max(causes, key=lambda c: causes[c])
        if learned in rulebook.causes:
            cause = rulebook.causes[learned]
    source = "history" if action != _best(prior) or evidence.get(action, 0.0) > prior.get(action, 0.0) else "rule"
    chosen = rulebook.actions[action]
    return Proposal(cause=cause.name, title=cause.title, fix=_fill(cause.fix, failure), action=action,
                    action_label=chosen.label, one_click=chosen.one_click, confidence=round(confidence, 3),
                    source=source, rule=rule.index, similar=sum(1 for n in found if n.example.weight > 0),
                    scores={a: round(s, 3) for a, s in sorted(scores.items(), key=lambda kv: -kv[1])})


def _best(prior: dict[str, float]) -> str:
    return max(prior, key=lambda a: (prior[a], a))


def _fill(text: str, failure: Failure) -> str:
    skus = failure.skus()
    values = {"sku": ", ".join(skus[:3]) if skus else "(see the error)", "flow": failure.flow,
              "template": failure.template(), "destination": failure.destination(),
              "status": f"HTTP {failure.status}" if failure.status else failure.failure_class}
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def observed_example(book: Rulebook, failure: Failure, did: str) -> Example:
    """What a person did (retry, edit_payload, apply_mapping_change, resolve), as the most specific
    action of the failure's cause that shows as it: a retried unknown SKU is retry_after_sku_exists."""
    cause = book.causes[book.match(failure).cause]
    action = next((a for a in (cause.action, *cause.alternatives) if book.observed_as(a) == did), did)
    return Example(feature_text(failure), cause.name, action, 1.0)
