"""rules/triage.yaml read into causes, actions and the rules that recognise known causes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.ai.triage.failure import Failure

KINDS = ("dead_letter", "review")


class RulebookError(ValueError):
    """rules/triage.yaml cannot be used; the message says where and what to fix."""


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    observed_as: str  # retry | edit_payload | apply_mapping_change | resolve
    one_click: bool


@dataclass(frozen=True)
class Cause:
    name: str
    title: str
    fix: str
    action: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    index: int
    cause: str
    confidence: float
    flows: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    statuses: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    message: re.Pattern[str] | None = None
    body: re.Pattern[str] | None = None

    @property
    def fallback(self) -> bool:
        """A rule that knows only the failure class (or nothing): a guess, not a recognised cause."""
        return self.message is None and self.body is None

    def matches(self, failure: Failure) -> bool:
        if self.flows and failure.flow not in self.flows:
            return False
        if self.classes and failure.failure_class not in self.classes:
            return False
        if self.statuses and failure.status not in self.statuses:
            return False
        if self.kinds and failure.kind not in self.kinds:
            return False
        if self.message is not None and not self.message.search(failure.message):
            return False
        if self.body is not None:
            body = failure.body if isinstance(failure.body, str) else json.dumps(failure.body, default=str)
            if not self.body.search(body or ""):
                return False
        return True


OBSERVED = ("retry", "edit_payload", "apply_mapping_change", "resolve")


@dataclass(frozen=True)
class Rulebook:
    actions: Mapping[str, Action]
    causes: Mapping[str, Cause]
    rules: tuple[Rule, ...]
    history_weight: float = 0.5
    min_similarity: float = 0.5
    neighbours: int = 15
    kernel_width: float = 0.03

    @classmethod
    def from_spec(cls, spec: Any, where: str = "rules/triage.yaml") -> Rulebook:
        if not isinstance(spec, Mapping):
            raise RulebookError(f"{where} must be a mapping with actions, causes and rules")
        actions = {name: _action(name, body, where) for name, body in _section(spec, "actions", where).items()}
        causes = {name: _cause(name, body, actions, where) for name, body in _section(spec, "causes", where).items()}
        raw_rules = spec.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise RulebookError(f"{where}: rules must be a list of rules, the last one matching anything")
        rules = tuple(_rule(i, body, causes, where) for i, body in enumerate(raw_rules))
        if rules[-1].flows or rules[-1].classes or rules[-1].statuses or not rules[-1].fallback:
            raise RulebookError(f"{where}: the last rule must have no conditions, so every failure gets a cause")
        return cls(actions=actions, causes=causes, rules=rules,
                   history_weight=float(spec.get("history_weight", 0.5)),
                   min_similarity=float(spec.get("min_similarity", 0.5)),
                   neighbours=int(spec.get("neighbours", 15)),
                   kernel_width=float(spec.get("kernel_width", 0.03)))

    def match(self, failure: Failure) -> Rule:
        return next(rule for rule in self.rules if rule.matches(failure))

    def observed_as(self, action: str) -> str:
        found = self.actions.get(action)
        return found.observed_as if found is not None else action


def _section(spec: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    section = spec.get(name)
    if not isinstance(section, Mapping) or not section:
        raise RulebookError(f"{where}: {name} must be a mapping of names to their settings")
    return section


def _action(name: str, body: Any, where: str) -> Action:
    if not isinstance(body, Mapping):
        raise RulebookError(f"{where}: action {name} must be a mapping with label and observed_as")
    observed = str(body.get("observed_as", ""))
    if observed not in OBSERVED:
        raise RulebookError(f"{where}: action {name} has observed_as {observed!r}; use one of {', '.join(OBSERVED)}")
    return Action(name, str(body.get("label") or name), observed, bool(body.get("one_click", False)))


def _cause(name: str, body: Any, actions: Mapping[str, Action], where: str) -> Cause:
    if not isinstance(body, Mapping):
        raise RulebookError(f"{where}: cause {name} must be a mapping with title, fix and action")
    named = [str(body.get("action", "")), *[str(a) for a in body.get("alternatives") or []]]
    for action in named:
        if action not in actions:
            raise RulebookError(f"{where}: cause {name} names action {action!r}, which is not under actions:")
    return Cause(name, str(body.get("title") or name), str(body.get("fix") or ""), named[0], tuple(named[1:]))


def _rule(index: int, body: Any, causes: Mapping[str, Cause], where: str) -> Rule:
    if not isinstance(body, Mapping) or body.get("cause") not in causes:
        raise RulebookError(f"{where}: rule {index + 1} must name a cause listed under causes:")
    kinds = tuple(str(k) for k in body.get("kind") or [])
    if any(k not in KINDS for k in kinds):
        raise RulebookError(f"{where}: rule {index + 1}: kind must be among {', '.join(KINDS)}")
    try:
        message = re.compile(str(body["message"]), re.I) if body.get("message") else None
        answer = re.compile(str(body["body"]), re.I) if body.get("body") else None
    except re.error as exc:
        raise RulebookError(f"{where}: rule {index + 1} has a regular expression that does not compile: {exc}") from None
    return Rule(index=index, cause=str(body["cause"]), confidence=float(body.get("confidence", 0.5)),
                flows=tuple(str(f) for f in body.get("flow") or []),
                classes=tuple(str(c) for c in body.get("class") or []),
                statuses=tuple(int(s) for s in body.get("status") or []),
                kinds=kinds, message=message, body=answer)
