"""Failure triage in the service: every open dead letter and every item waiting in review gets a
cause and a proposed fix (service/ai/triage/), per group of the same failure; a person applies the
fix in one click where it is safe, or rejects it, and both become labels the proposals learn from.

Groups are those of service/operations/deadletter_groups.py (flow, failure class, normalised message); items in
review are grouped by the same signature. What people did without triage counts too: a dead
letter retried as-is, retried with an edited payload, retried after a mapping version was
activated, or resolved with a note, and an item retried or resolved from review.

One-click actions check first and say what is missing:
  retry                   the group goes back to the queue as it is
  retry_after_sku_exists  only once every SKU the group names exists in the system that lacked it
  apply_mapping_change    maps the group's SKU to an existing Heartland item in a new, activated
                          version of orders.magento_to_canonical (the mapping page's versions), then
                          retries the group
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from service.ai.triage import (
    Example,
    Failure,
    Proposal,
    Rulebook,
    TriageModel,
    feature_text,
    observed_example,
    propose,
)
from service.engine import deadletters
from service.kernel.errors import SyncError
from service.operations import deadletter_groups
from service.store import items
from service.store import mappings as versions_store
from service.store.db import Store
from service.store.tables import DeadLetter, MappingVersion, SyncItem, TraceStep
from service.store.triage_tables import TriageLabel

if TYPE_CHECKING:
    from service.flows.context import Context
    from service.rules.loader import Rules

RULES_FILE = "triage.yaml"
KINDS = ("dead_letter", "review")
WEIGHTS = {"accepted": 1.0, "corrected": 1.0, "done": 1.0, "rejected": -1.0}
SKU_MAP_TEMPLATE = "orders.magento_to_canonical"
REVIEW_LIMIT = 10_000


class TriageError(Exception):
    """The action cannot be done (yet); the message says what is missing."""


# -- reading failures --------------------------------------------------------------------------------


def rulebook(rules: Rules) -> Rulebook:
    spec = rules.load(RULES_FILE)
    cached = _RULEBOOKS.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _RULEBOOKS[id(spec)] = (spec, Rulebook.from_spec(spec, f"rules/{RULES_FILE}"))
    return cached[1]


_RULEBOOKS: dict[int, tuple[Any, Rulebook]] = {}


def letter_failure(letter: DeadLetter, detail: dict[str, Any] | None) -> Failure:
    """A dead letter as triage reads it; ``detail`` is its item's dead-letter trace step detail."""
    detail = detail or {}
    return Failure(flow=letter.flow, failure_class=letter.failure_class, message=letter.error,
                   status=_int(detail.get("status")), body=detail.get("details"),
                   fields=letter.payload or {}, kind="dead_letter")


def review_failure(item: SyncItem) -> Failure:
    result = item.result or {}
    return Failure(flow=item.flow, failure_class=item.failure_class or "not_found", message=item.reason or "",
                   status=_int(result.get("status")), body=result.get("details"), fields=item.payload or {},
                   kind="review")


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _dead_letter_details(store: Store, item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The detail of each item's last dead-letter step (status, answer, hint), by item id."""
    wanted = list(set(item_ids))
    found: dict[int, dict[str, Any]] = {}
    with store.session() as s:
        for start in range(0, len(wanted), 500):
            rows = s.execute(select(TraceStep.item_id, TraceStep.detail)
                             .where(TraceStep.item_id.in_(wanted[start:start + 500]), TraceStep.step == "dead-letter")
                             .order_by(TraceStep.id))
            for item_id, detail in rows:
                found[item_id] = detail or {}
    return found


# -- learning ----------------------------------------------------------------------------------------


def examples(store: Store, book: Rulebook, *, before: datetime | None = None) -> list[Example]:
    """Every label, and what people did to resolved dead letters and review items without a label."""
    out: list[Example] = []
    labelled: set[tuple[str, int]] = set()
    with store.session() as s:
        q = select(TriageLabel).order_by(TriageLabel.id)
        if before is not None:
            q = q.where(TriageLabel.created_at < before)
        for label in s.scalars(q):
            labelled.add((label.kind, label.source_id))
            out.append(Example(label.features, label.cause, label.action, WEIGHTS.get(label.verdict, 0.0)))
        letters = list(s.scalars(select(DeadLetter).where(DeadLetter.resolved_at.is_not(None))
                                 .order_by(DeadLetter.id.desc()).limit(5000)))
        retried_edited = set(s.scalars(select(TraceStep.item_id).where(
            TraceStep.step == "retry", TraceStep.message.like("%with an edited payload%"))))
        activations = [(t, at) for t, at in s.execute(select(MappingVersion.template, MappingVersion.activated_at)
                                                      .where(MappingVersion.activated_at.is_not(None)))]
    details = _dead_letter_details(store, [d.item_id for d in letters])
    for letter in letters:
        if ("dead_letter", letter.id) in labelled:
            continue
        failure = letter_failure(letter, details.get(letter.item_id))
        if letter.resolution == "resolved":
            did = "resolve"
        elif letter.item_id in retried_edited:
            did = "edit_payload"
        elif any(t.startswith(f"{letter.flow}.") and at is not None and letter.created_at <= at <= letter.resolved_at
                 for t, at in activations if letter.resolved_at is not None and letter.created_at is not None):
            did = "apply_mapping_change"
        else:
            did = "retry"
        out.append(observed_example(book, failure, did))
    return out


_MODELS: dict[tuple[Any, ...], TriageModel] = {}


def model(store: Store, book: Rulebook) -> TriageModel:
    """The neighbour model over the current labels, refit when labels or resolutions change."""
    with store.session() as s:
        key = (id(book), s.scalar(select(func.max(TriageLabel.id))), s.scalar(select(func.count(TriageLabel.id))),
               s.scalar(select(func.count(DeadLetter.id)).where(DeadLetter.resolved_at.is_not(None))),
               str(store.engine.url))
    found = _MODELS.get(key)
    if found is None:
        _MODELS.clear()
        found = _MODELS[key] = TriageModel(examples(store, book), min_similarity=book.min_similarity,
                                           neighbours=book.neighbours)
    return found


# -- groups -----------------------------------------------------------------------------------------


@dataclass
class Member:
    source_id: int  # the dead letter id, or the review item's id
    item_id: int
    label: str
    failure: Failure


@dataclass
class TriageGroup:
    kind: str  # dead_letter | review
    signature: str
    flow: str
    failure_class: str
    pattern: str
    members: list[Member] = field(default_factory=list)
    proposal: Proposal | None = None
    mapping_target: str = ""  # where apply_mapping_change writes, when it can

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def skus(self) -> list[str]:
        return list(dict.fromkeys(sku for m in self.members for sku in m.failure.skus()))

    @property
    def can_apply(self) -> bool:
        p = self.proposal
        if p is None or not p.one_click:
            return False
        if p.action == "apply_mapping_change":
            return bool(self.mapping_target)
        return True


def groups(runtime: Context, *, kind: str | None = None, flow: str | None = None) -> list[TriageGroup]:
    """Open dead letters and review items by signature, each with its proposal; the largest first."""
    store = runtime.store
    book = rulebook(runtime.rules)
    learned = model(store, book)
    found: list[TriageGroup] = []
    if kind in (None, "dead_letter"):
        found += _letter_groups(store, flow)
    if kind in (None, "review"):
        found += _review_groups(store, flow)
    for group in found:
        group.proposal = propose(group.members[0].failure, book, learned)
        group.mapping_target = _mapping_target(group)
    return sorted(found, key=lambda g: (-g.count, g.kind, g.flow, g.pattern))


def _letter_groups(store: Store, flow: str | None) -> list[TriageGroup]:
    opened = deadletter_groups.open_groups(store, flow)
    ids = [i for g in opened for i in g.letter_ids]
    letters: dict[int, DeadLetter] = {}
    with store.session() as s:
        for start in range(0, len(ids), 500):
            letters.update({d.id: d for d in s.scalars(select(DeadLetter).where(DeadLetter.id.in_(ids[start:start + 500])))})
    details = _dead_letter_details(store, [d.item_id for d in letters.values()])
    out = []
    for g in opened:
        group = TriageGroup("dead_letter", g.signature, g.flow, g.failure_class, g.pattern)
        for letter_id, label in zip(g.letter_ids, g.labels, strict=True):
            letter = letters[letter_id]
            group.members.append(Member(letter.id, letter.item_id, label,
                                        letter_failure(letter, details.get(letter.item_id))))
        out.append(group)
    return out


def _review_groups(store: Store, flow: str | None) -> list[TriageGroup]:
    found: dict[str, TriageGroup] = {}
    with store.session() as s:
        q = (select(SyncItem).where(SyncItem.state == "review", SyncItem.failure_class != "")
             .order_by(SyncItem.id.desc()).limit(REVIEW_LIMIT))
        if flow:
            q = q.where(SyncItem.flow == flow)
        rows = list(s.scalars(q))
    for item in rows:
        if (item.result or {}).get("review_id"):
            continue  # held by the fraud check: its own review page decides it
        key = deadletter_groups.signature(item.flow, item.failure_class, item.reason or "")
        group = found.get(key)
        if group is None:
            group = found[key] = TriageGroup("review", key, item.flow, item.failure_class,
                                             deadletter_groups.normalise(item.reason or ""))
        group.members.append(Member(item.id, item.id, item.label or f"item {item.id}", review_failure(item)))
    return list(found.values())


def _mapping_target(group: TriageGroup) -> str:
    """The template a one-click SKU mapping writes to: only for the orders flow's unknown SKUs, one SKU a group."""
    if group.proposal is None or group.proposal.cause != "unknown_sku" or group.flow != "orders":
        return ""
    return SKU_MAP_TEMPLATE if len(group.skus) == 1 else ""


def find(runtime: Context, kind: str, signature: str) -> TriageGroup:
    if kind not in KINDS:
        raise TriageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    group = next((g for g in groups(runtime, kind=kind) if g.signature == signature), None)
    if group is None:
        raise TriageError("no open failures have that signature any more: they were retried or resolved meanwhile")
    return group


def proposal_for_letter(runtime: Context, letter: DeadLetter) -> Proposal:
    detail = _dead_letter_details(runtime.store, [letter.item_id]).get(letter.item_id)
    book = rulebook(runtime.rules)
    return propose(letter_failure(letter, detail), book, model(runtime.store, book))


def proposal_for_item(runtime: Context, item: SyncItem) -> Proposal | None:
    """The proposal for an item waiting in review with a failure class (not a fraud hold), else None."""
    if item.state != "review" or not item.failure_class or (item.result or {}).get("review_id"):
        return None
    book = rulebook(runtime.rules)
    return propose(review_failure(item), book, model(runtime.store, book))


# -- acting -----------------------------------------------------------------------------------------


@dataclass
class Applied:
    action: str
    item_ids: list[int]
    message: str


def apply(runtime: Context, kind: str, signature: str, *, actor: str, target_sku: str = "") -> Applied:
    """Apply the group's proposal after its check; returns the item ids to enqueue. Labels it accepted."""
    group = find(runtime, kind, signature)
    proposal = group.proposal
    assert proposal is not None
    if not group.can_apply:
        raise TriageError(f"“{proposal.action_label}” is not done by Tillbridge for this group: {proposal.fix}")
    if proposal.action == "retry_after_sku_exists":
        _check_skus_exist(runtime, group)
        message = f"every SKU exists now ({', '.join(group.skus)}): retried {group.count} failure(s)"
    elif proposal.action == "apply_mapping_change":
        version = _map_sku(runtime, group, target_sku.strip(), actor=actor)
        message = (f"mapped SKU {group.skus[0]} to Heartland item {target_sku.strip()} in {group.mapping_target} "
                   f"v{version} (active): retried {group.count} failure(s)")
    else:
        message = f"retried {group.count} failure(s) as-is"
    ids = _retry(runtime.store, group, actor=actor)
    _label(runtime.store, group, proposal, action=proposal.action, verdict="accepted", actor=actor, note=message)
    return Applied(proposal.action, ids, message)


def reject(runtime: Context, kind: str, signature: str, *, actor: str, better: str = "", note: str = "") -> Proposal:
    """Record that the proposal is wrong for this group (and what would be right, when given);
    returns the group's new proposal."""
    group = find(runtime, kind, signature)
    proposal = group.proposal
    assert proposal is not None
    book = rulebook(runtime.rules)
    if better and better not in book.actions:
        raise TriageError(f"{better!r} is not an action: use one of {', '.join(book.actions)}")
    if better == proposal.action:
        raise TriageError("the better action is the one proposed: accept it instead of rejecting it")
    _label(runtime.store, group, proposal, action=proposal.action, verdict="rejected", actor=actor, note=note)
    if better:
        _label(runtime.store, group, proposal, action=better, verdict="corrected", actor=actor, note=note)
    renewed = find(runtime, kind, signature).proposal
    assert renewed is not None
    return renewed


def _label(store: Store, group: TriageGroup, proposal: Proposal, *, action: str, verdict: str, actor: str,
           note: str) -> None:
    with store.session() as s:
        for member in group.members:
            s.add(TriageLabel(kind=group.kind, source_id=member.source_id, flow=group.flow,
                              failure_class=group.failure_class, signature=group.signature,
                              features=feature_text(member.failure), cause=proposal.cause, action=action,
                              verdict=verdict, proposed_action=proposal.action, actor=actor, note=note[:1000]))


def _retry(store: Store, group: TriageGroup, *, actor: str) -> list[int]:
    if group.kind == "dead_letter":
        return [deadletters.retry(store, m.source_id, actor=actor) for m in group.members]
    for member in group.members:
        items.retry_review(store, member.item_id, actor=actor, note="triage: the proposed fix was applied")
    return [m.item_id for m in group.members]


def _check_skus_exist(runtime: Context, group: TriageGroup) -> None:
    skus = group.skus
    if not skus:
        raise TriageError("the failures name no SKU to check: retry them as-is instead")
    try:
        if group.proposal is not None and group.proposal.cause == "magento_product_missing":
            missing = [sku for sku in skus if not _magento_has(runtime, sku)]
            where, how = "Magento", "let the products flow create it (or create it in Magento)"
        else:
            known = runtime.heartland.find_items_by_public_ids(skus)
            missing = [sku for sku in skus if sku not in known]
            where, how = "Heartland", "create the item in Heartland (Item # = SKU) or map the SKU"
    except SyncError as exc:
        raise TriageError(f"could not check the SKUs: {exc}") from None
    if missing:
        raise TriageError(f"SKU {', '.join(missing)} is still not in {where}: {how} first, then apply this again")


def _magento_has(runtime: Context, sku: str) -> bool:
    try:
        runtime.magento.product(sku)
    except SyncError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _map_sku(runtime: Context, group: TriageGroup, target: str, *, actor: str) -> int:
    from service.flows.templates import current_spec, file_version

    sku = group.skus[0]
    if not target:
        raise TriageError(f"say which Heartland item (Item #) SKU {sku} stands for")
    if target == sku:
        raise TriageError(f"SKU {sku} cannot be mapped to itself: create the item in Heartland instead")
    try:
        exists = target in runtime.heartland.find_items_by_public_ids([target])
    except SyncError as exc:
        raise TriageError(f"could not check Heartland item {target}: {exc}") from None
    if not exists:
        raise TriageError(f"Heartland has no item with Item # {target}: give an existing one")
    template = group.mapping_target
    spec, _where = current_spec(runtime, template)
    spec = copy.deepcopy(spec)
    lines = (spec.get("fields") or {}).get("lines")
    if not isinstance(lines, dict) or not isinstance(lines.get("fields"), dict) or "sku" not in lines["fields"]:
        raise TriageError(f"{template} has no lines.fields.sku to map: map the SKU on the mappings page")
    rule = lines["fields"]["sku"]
    rule = dict(rule) if isinstance(rule, dict) else {"path": str(rule)}
    rule["map"] = {**dict(rule.get("map") or {}), sku: target}
    lines["fields"]["sku"] = rule
    version = versions_store.save(runtime.store, template, spec, created_by=actor,
                                  note=f"triage: SKU {sku} is Heartland item {target}",
                                  floor=file_version(runtime.rules, template))
    versions_store.activate(runtime.store, template, version.version, by=actor)
    return version.version


# -- figures for the pages ------------------------------------------------------------------------


def label_counts(store: Store) -> dict[str, int]:
    with store.session() as s:
        return {verdict: n for verdict, n in s.execute(select(TriageLabel.verdict, func.count(TriageLabel.id))
                                                       .group_by(TriageLabel.verdict))}


def by_signature(found: Sequence[TriageGroup]) -> dict[str, TriageGroup]:
    out: dict[str, TriageGroup] = {}
    for group in found:
        out.setdefault(group.signature, group)
    return out


def actions_by_observed(book: Rulebook) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for name, action in book.actions.items():
        out[action.observed_as].append(name)
    return dict(out)
