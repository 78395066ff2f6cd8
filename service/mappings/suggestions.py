"""Field-mapping suggestions on the mapping page: the source and target fields of a template and its
samples, the suggestion engine's ranked candidates (service/ai/mapping/), and the decisions people
make, kept as labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from service.store import mappings as versions_store
from service.store.db import Store

if TYPE_CHECKING:
    from service.ai.mapping.schema import Field
    from service.ai.mapping.suggester import Feedback
from service.mappings.samples import Samples

SUGGESTION_TOP = 3


def source_fields(samples: Samples, rows: Sequence[Mapping[str, Any]]) -> list[Field]:
    """The source side: every path in the sample records and their context, plus paths the template already uses."""
    from service.ai.mapping.schema import (
        Field,
        fields_from_heartland,
        fields_from_magento,
        fields_from_records,
    )

    found: list[Field] = []
    if samples.records:
        read = {"magento": fields_from_magento, "heartland": fields_from_heartland}.get(samples.system,
                                                                                          fields_from_records)
        found.extend(read(samples.records))
    contexts = [c for c in samples.contexts if c]
    if contexts:
        found.extend(Field("$." + f.name, f.type, f.description, f.samples) for f in fields_from_records(contexts))
    names = {f.name for f in found}
    for row in rows:
        for name in [row.get("source"), *(row.get("sources") or [])]:
            if name and name not in names:
                names.add(str(name))
                found.append(Field(str(name), None, "used by the template"))
    return found


def target_fields(template: str, rows: Sequence[Mapping[str, Any]], extra: Sequence[str] = (),
                  payloads: Sequence[Mapping[str, Any]] = ()) -> list[Field]:
    """The target side: the template's fields and any the integrator added, with values from the preview."""
    from service.ai.mapping.schema import Field, fields_from_records

    samples = {f.name: f for f in fields_from_records([p for p in payloads if p])} if payloads else {}
    out: list[Field] = []
    seen: set[str] = set()
    for name in [str(r["target"]) for r in rows if r.get("kind") != "each"] + list(extra):
        if name in seen:
            continue
        seen.add(name)
        found = samples.get(name)
        out.append(Field(name, found.type if found else None, "", found.samples if found else ()))
    return out


class StoreFeedback:
    """The suggestion engine's FeedbackStore, kept in the store's mapping_decisions table."""

    def __init__(self, store: Store, decided_by: str = "") -> None:
        self.store = store
        self.decided_by = decided_by

    def add(self, feedback: Feedback) -> None:
        versions_store.add_decision(self.store, feedback.to_json(), decided_by=self.decided_by)

    def all(self) -> list[Feedback]:
        from service.ai.mapping.suggester import Feedback

        return [Feedback.from_json(r) for r in versions_store.decision_records(self.store)]

    def decisions(self) -> dict[tuple[str, str], bool]:
        out: dict[tuple[str, str], bool] = {}
        for r in versions_store.decision_records(self.store):
            out[(str(r["source"]["name"]), str(r["target"]["name"]))] = bool(r["accepted"])
        return out


def usable_source(source: str, target: str, blocks: Mapping[str, str]) -> str | None:
    """``source`` as ``target`` can take it, or None: a repeated block's field comes from a field of its
    list (or the context); any other field takes the first element of a list (``a[].b`` → ``a[0].b``)."""
    group, _, child = target.partition("[].")
    if child:
        each = blocks.get(group)
        if each is None:
            return None
        if source.startswith(f"{each}[].") or (source.startswith("$.") and "[]" not in source):
            return source
        return None
    return source.replace("[]", "[0]")


def suggestions_by_target(store: Store, sources: Sequence[Field], targets: Sequence[Field],
                          rows: Sequence[Mapping[str, Any]] = (), top: int = SUGGESTION_TOP
                          ) -> dict[str, list[dict[str, Any]]]:
    """For each target field, the source fields it most likely comes from, best first, with confidence.

    The best one is the engine's one-to-one proposal when it has one; integrators' earlier decisions
    apply. Only sources the target can take are offered (see ``usable_source``).
    """
    from service.ai.mapping.suggester import suggest

    if not sources or not targets:
        return {}
    blocks = {str(r["target"]): str(r.get("each")) for r in rows if r.get("kind") == "each"}
    result = suggest(list(sources), list(targets), top=1, decisions=StoreFeedback(store))
    proposed = {c.target: (s, c.score) for s, c in result.assignment.items() if c is not None}
    out: dict[str, list[dict[str, Any]]] = {}
    for j, target in enumerate(result.targets):
        column = result.scores[:, j]
        ranked = [(result.sources[i], float(column[i])) for i in
                  sorted(range(len(column)), key=lambda i: -float(column[i])) if float(column[i]) >= 0.05]
        if target in proposed:
            ranked.insert(0, proposed[target])
        options: list[dict[str, Any]] = []
        for n, (source, score) in enumerate(ranked):
            usable = usable_source(source, target, blocks)
            if usable is None or any(o["source"] == usable for o in options):
                continue
            option: dict[str, Any] = {"source": usable, "score": round(score, 4)}
            if n == 0 and target in proposed:
                option["proposed"] = True
            options.append(option)
            if len(options) == top:
                break
        out[target] = options
    return out


def record_decision(store: Store, source: Field, target: Field, accepted: bool, *, by: str) -> None:
    """Feed an integrator's accept/reject to the suggestion engine (kept in the store)."""
    from service.ai.mapping.suggester import record_feedback

    record_feedback(source, target, accepted, store=StoreFeedback(store, by))
