"""The data-quality guard inside the flows: the ``quality`` step's check of one record against the
store's history and rules/quality.yaml (service/ai/quality/ does the statistics), what it does with
the verdict, and the history a successful write leaves.

    guard = QualityGuard(runtime, flow="products")
    checked = guard.check(run, entity_key=key, sku=sku, category=cat, before=..., after=..., active=True)
    if checked.outcome: return checked.outcome      # held for review, or a rejected value ignored
    ... write checked.values ...
    guard.record(checked)                           # after the write: one upsert

A hold leaves the item in review with the reason and the before/after values, listed on
/reviews/quality; a person releases it (the item runs again and this value passes, once) or
rejects it (the item is ignored, the source keeps its value, and the same value is not held again
but ignored). Warnings and fixes are written on and counted by the data_quality alert.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from service.ai.quality import (
    Finding,
    QualityPolicy,
    QualityRuleError,
    Spread,
    appended,
    category_spreads,
    check_changes,
    check_order_lines,
    check_swing,
    check_values,
    load_policy,
    log_change,
    tuned_threshold,
    verdict,
)
from service.engine.outcome import Outcome
from service.kernel.errors import FatalError
from service.store import quality
from service.store.quality import FieldHistory
from service.store.tables import utcnow

if TYPE_CHECKING:
    from service.engine.steps import Run
    from service.flows.context import Context

RULES_FILE = "quality.yaml"
LABELS_SECONDS = 60.0  # how long a process keeps the tuned thresholds before reading the labels again
SWING_SECONDS = 2.0  # how long a process keeps a window's count of changed records


@dataclass
class Checked:
    """A record's check: the outcome that ends the run (a hold, a rejected value) or None, the
    values to write (after fixes), and what :meth:`QualityGuard.record` keeps after the write."""

    outcome: Outcome | None
    values: dict[str, float]
    findings: list[Finding] = field(default_factory=list)
    entity_key: str = ""
    sku: str = ""
    category: str = ""
    known: dict[str, FieldHistory] = field(default_factory=dict)


def _same(a: Any, b: Any) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    except (TypeError, ValueError):
        return bool(a == b)


class QualityGuard:
    """One flow's quality checks; caches (categories, tuned thresholds, the swing count) per process."""

    def __init__(self, runtime: Context, flow: str, key_prefix: str) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.flow = flow
        self.key_prefix = key_prefix
        self._lock = threading.Lock()
        self._policy: tuple[Any, QualityPolicy] | None = None
        self._categories: tuple[float, dict[tuple[str, str], Spread]] | None = None
        self._thresholds: tuple[float, int, dict[str, float]] | None = None
        self._swing: dict[str, tuple[float, int, int]] = {}

    # -- what the checks read ---------------------------------------------------------------------------
    def policy(self) -> QualityPolicy:
        raw = self.runtime.rules.load(RULES_FILE)
        with self._lock:
            if self._policy is not None and self._policy[0] is raw:
                return self._policy[1]
        try:
            policy = load_policy(raw)
        except QualityRuleError as exc:
            raise FatalError(str(exc), hint="fix rules/quality.yaml; its comments say what each entry takes") from None
        with self._lock:
            self._policy = (raw, policy)
        return policy

    def categories(self, policy: QualityPolicy) -> dict[tuple[str, str], Spread]:
        """Every category's usual changes per field, recomputed every category_refresh_seconds."""
        now = time.monotonic()
        with self._lock:
            cached = self._categories
            if cached is not None and now - cached[0] < policy.category_refresh_seconds:
                return cached[1]
        spreads = category_spreads(quality.category_rows(self.store))
        with self._lock:
            self._categories = (now, spreads)
        return spreads

    def thresholds(self, policy: QualityPolicy) -> dict[str, float]:
        """Per field, the threshold people's decisions tuned (rules/quality.yaml tuning)."""
        now = time.monotonic()
        with self._lock:
            cached = self._thresholds
            if cached is not None and cached[1] == id(policy) and now - cached[0] < LABELS_SECONDS:
                return cached[2]
        labels = quality.labels(self.store)
        tuned = {name: tuned_threshold(rule.threshold, *labels.get(name, ([], [])), policy.tuning)
                 for name, rule in policy.changes.items()}
        with self._lock:
            self._thresholds = (now, id(policy), tuned)
        return tuned

    def forget(self) -> None:
        """Drop what this process keeps (after a decision, or in a test that rewrote the history)."""
        with self._lock:
            self._categories, self._thresholds, self._swing = None, None, {}

    def swing_counts(self, policy: QualityPolicy, name: str) -> tuple[int, int]:
        """(records changed within the swing window, records with history) of this flow."""
        now = time.monotonic()
        with self._lock:
            cached = self._swing.get(name)
            if cached is not None and now - cached[0] < SWING_SECONDS:
                return cached[1], cached[2]
        since = utcnow() - timedelta(minutes=policy.swing.window_minutes)
        changed = quality.changed_within(self.store, flow=self.flow, field=name, since=since)
        catalogue = quality.catalogue_size(self.store, name, self.key_prefix)
        with self._lock:
            self._swing[name] = (now, changed, catalogue)
        return changed, catalogue

    # -- the check -------------------------------------------------------------------------------------
    def findings(self, policy: QualityPolicy, *, before: dict[str, float], after: dict[str, float],
                 known: dict[str, FieldHistory], category: str, active: bool | None) -> list[Finding]:
        found = check_values(policy, after, active=bool(active) if active is not None else False)
        if any(name in before and name in after for name in policy.changes):
            spreads = self.categories(policy)
            found += check_changes(policy, before, after, {k: h.changes for k, h in known.items()},
                                   {name: spreads[(category, name)] for name in policy.changes
                                    if (category, name) in spreads},
                                   self.thresholds(policy), category=category)
        for name in policy.swing.fields:
            if name in before and name in after:
                change = log_change(name, before[name], after[name])
                if change is not None and abs(change) > policy.swing.min_change:
                    changed, catalogue = self.swing_counts(policy, name)
                    hit = check_swing(policy.swing, name, before[name], after[name], changed, catalogue,
                                      policy.swing.window_minutes)
                    if hit is not None:
                        found.append(hit)
        return found

    def check(self, run: Run, *, entity_key: str, sku: str, category: str, after: dict[str, float],
              before: dict[str, float] | None = None, active: bool | None = None) -> Checked:
        """Check one record before its write. ``before`` gives values to compare with where the
        history has none yet (what the flow last wrote, kept on its binding)."""
        policy = self.policy()
        known = quality.history(self.store, entity_key)
        was = {**(before or {}), **{name: h.value for name, h in known.items()}}
        found = self.findings(policy, before=was, after=after, known=known, category=category, active=active)
        checked = Checked(None, dict(after), [], entity_key, sku, category, known)
        if not found:
            run.say(f"{sku}: usual values" + (f" ({len(known)} field(s) with history)" if known else
                                             " (no history yet)"))
            return checked
        earlier = quality.for_item(self.store, run.item.id)
        passed, fresh, kept = [], [], []
        for finding in found:
            match = next((e for e in earlier if e.field == finding.field and e.check == finding.check
                          and _same(e.after, finding.after)), None)
            if match is not None and match.state == "released":
                passed.append(f"{finding.field} released by {match.decided_by}")
                continue
            if match is None and finding.action == "hold":
                refused = quality.rejected(self.store, entity_key, finding.field, finding.after)
                if refused is not None:
                    return Checked(Outcome.ignored(
                        f"{sku}: {finding.field} {finding.after} was rejected by {refused.decided_by} in the "
                        f"data-quality review (hold {refused.id}); not written, the source keeps its value",
                        sku=sku, field=finding.field), dict(after), found, entity_key, sku, category, known)
            kept.append(finding)
            if match is None:
                fresh.append(finding)
        self._add(run, fresh, policy, sku)
        checked.findings = kept
        action = verdict(kept)
        holds = [f for f in kept if f.action == "hold"]
        if action == "hold":
            ids = [e.id for e in quality.for_item(self.store, run.item.id) if e.state == "open"]
            reason = "held by the data-quality check: " + "; ".join(f.reason for f in holds)
            run.say(reason)
            run.entry["status"] = "review"
            run.entry["detail"] = {"findings": [f.as_dict() for f in kept]}
            checked.outcome = Outcome.review(reason, sku=sku, quality_holds=ids)
            return checked
        for finding in kept:
            if finding.action == "fix" and finding.fixed is not None:
                checked.values[finding.field] = float(finding.fixed)
        notes = [f.reason for f in kept] + passed
        run.say(f"{sku}: " + "; ".join(notes))
        run.entry["status"] = "warning" if kept else "ok"
        run.entry["detail"] = {"findings": [f.as_dict() for f in kept], "released": passed}
        return checked

    def _add(self, run: Run, fresh: list[Finding], policy: QualityPolicy, sku: str) -> None:
        if not fresh:
            return
        group = ""
        if any(f.check == "swing" and f.action == "hold" for f in fresh):
            name = next(f.field for f in fresh if f.check == "swing")
            since = utcnow() - timedelta(minutes=policy.swing.window_minutes)
            group = quality.open_group(self.store, flow=self.flow, field=name, check="swing", since=since) or \
                f"{self.flow} {name} bulk change {utcnow():%Y-%m-%d %H:%M:%S}"
        quality.add(self.store, [{
            **{k: v for k, v in f.as_dict().items() if k not in ("check",)}, "check": f.check,
            "item_id": run.item.id, "flow": self.flow, "entity_key": run.item.entity_key, "sku": sku,
            "label": run.item.label or sku, "state": "open" if f.action == "hold" else "noted",
            "group_key": group if f.action == "hold" and (f.check == "swing" or group) else ""}
            for f in fresh])

    def record(self, checked: Checked, written: dict[str, float] | None = None) -> None:
        """After a successful write: each checked field's value and change join the history."""
        values = checked.values if written is None else written
        rows = {}
        for name, value in values.items():
            was = checked.known.get(name)
            change = log_change(name, was.value, value) if was is not None else None
            rows[name] = (value, appended(was.changes if was else (), change))
        quality.record_writes(self.store, entity_key=checked.entity_key, sku=checked.sku, category=checked.category,
                              rows=rows, known=checked.known)

    # -- orders ------------------------------------------------------------------------------------------
    def check_order(self, run: Run, lines: list[dict[str, Any]], grand_total: float, label: str) -> Outcome | None:
        """Order quantities and amounts that cannot be right (rules/quality.yaml orders)."""
        policy = self.policy()
        found = check_order_lines(policy, lines, grand_total)
        if not found:
            run.say(f"{len(lines)} line(s), quantities and amounts as expected")
            return None
        earlier = quality.for_item(self.store, run.item.id)
        kept, fresh = [], []
        for finding in found:
            match = next((e for e in earlier if e.field == finding.field and e.reason == finding.reason), None)
            if match is not None and match.state == "released":
                continue
            kept.append(finding)
            if match is None:
                fresh.append(finding)
        self._add(run, fresh, policy, label)
        run.entry["detail"] = {"findings": [f.as_dict() for f in kept]}
        if verdict(kept) == "hold":
            reason = "held by the data-quality check: " + "; ".join(f.reason for f in kept if f.action == "hold")
            run.say(reason)
            run.entry["status"] = "review"
            ids = [e.id for e in quality.for_item(self.store, run.item.id) if e.state == "open"]
            return Outcome.review(reason, quality_holds=ids)
        run.say("; ".join(f.reason for f in kept) or "released by a person")
        return None


# -- people's decisions ------------------------------------------------------------------------------------
DECISIONS = {"release": "released", "reject": "rejected"}


@dataclass(frozen=True)
class Decision:
    item_id: int
    message: str


def decide(runtime: Context, item_id: int, decision: str, *, actor: str, note: str = "") -> Decision:
    """Release (the item runs again; the held values pass, once) or reject (the item is ignored with
    the reason; the source keeps its value) one held record. Raises QualityDecisionError."""
    holds = quality.decide(runtime.store, item_id, decision, actor=actor, note=note)
    label = next((h.label or h.sku for h in holds), f"item {item_id}")
    if decision == "release":
        runtime.enqueue([item_id])
        return Decision(item_id, f"{label} released: it is written now, with the held values.")
    return Decision(item_id, f"{label} rejected: not written; the source keeps its value.")


def decide_group(runtime: Context, group: str, decision: str, *, actor: str, note: str = "") -> list[Decision]:
    """The same decision for every record a bulk change held in ``group``."""
    return [decide(runtime, item_id, decision, actor=actor, note=note) for item_id in quality.group_items(runtime.store, group)]
