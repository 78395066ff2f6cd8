"""Versions of mapping templates kept in the store, and integrators' decisions on suggested pairs.

A template (``orders.magento_to_canonical``) has numbered versions; at most one is active, and the
flows use it instead of the file in rules/mappings/. With no active version the file is used.
Versions are never changed once saved: editing saves a new one, rolling back activates an old one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from service.store.db import Store
from service.store.tables import MappingDecision, MappingVersion, utcnow


class VersionError(Exception):
    """The version action cannot be done; the message says what to do instead."""


@dataclass(frozen=True)
class Version:
    template: str
    version: int
    spec: dict[str, Any]
    note: str
    created_by: str
    created_at: datetime
    active: bool
    activated_at: datetime | None
    activated_by: str

    @property
    def label(self) -> str:
        """How a sync item records it: ``<template>@<version>``."""
        return f"{self.template}@{self.version}"


def _version(row: MappingVersion) -> Version:
    return Version(template=row.template, version=row.version, spec=copy.deepcopy(row.spec), note=row.note,
                   created_by=row.created_by, created_at=row.created_at, active=row.active,
                   activated_at=row.activated_at, activated_by=row.activated_by)


def _canonical(spec: dict[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k != "version"}
    return json.dumps(body, sort_keys=True, default=str)


def save(store: Store, template: str, spec: dict[str, Any], *, created_by: str, note: str = "",
         floor: int = 0) -> Version:
    """Save ``spec`` as the next version of ``template`` (inactive); its ``version`` key is set to the number.

    Numbers start above ``floor`` (the version of the file in rules/mappings/), so a number names
    one spec whether it came from the file or from the store.
    """
    if not isinstance(spec.get("fields"), dict) or not spec["fields"]:
        raise VersionError(f"template {template} has no fields: map at least one target field before saving")
    with store.session() as s:
        latest = s.scalar(select(func.max(MappingVersion.version)).where(MappingVersion.template == template))
        number = max(int(latest or 0), int(floor)) + 1
        rest = {k: v for k, v in copy.deepcopy(spec).items() if k not in ("name", "version")}
        body = {"name": template, "version": number, **rest}
        row = MappingVersion(template=template, version=number, spec=body, note=note.strip(),
                             created_by=created_by)
        s.add(row)
        s.flush()
        return _version(row)


def save_if_changed(store: Store, template: str, spec: dict[str, Any], *, created_by: str, note: str = "",
                    floor: int = 0) -> tuple[Version, bool]:
    """Save ``spec`` unless the latest version already says the same; returns (version, saved)."""
    latest = latest_version(store, template)
    if latest is not None and _canonical(latest.spec) == _canonical({**spec, "name": template}):
        return latest, False
    return save(store, template, spec, created_by=created_by, note=note, floor=floor), True


def get(store: Store, template: str, version: int) -> Version:
    with store.session() as s:
        row = s.scalar(select(MappingVersion).where(MappingVersion.template == template,
                                                    MappingVersion.version == version))
        if row is None:
            raise VersionError(f"template {template} has no version {version}: see the version list")
        return _version(row)


def versions(store: Store, template: str) -> list[Version]:
    """Every version of ``template``, newest first."""
    with store.session() as s:
        rows = s.scalars(select(MappingVersion).where(MappingVersion.template == template)
                         .order_by(MappingVersion.version.desc()))
        return [_version(r) for r in rows]


def latest_version(store: Store, template: str) -> Version | None:
    with store.session() as s:
        row = s.scalar(select(MappingVersion).where(MappingVersion.template == template)
                       .order_by(MappingVersion.version.desc()).limit(1))
        return _version(row) if row is not None else None


def active(store: Store, template: str) -> Version | None:
    """The version flows use, or None when the file in rules/mappings/ is in force."""
    with store.session() as s:
        row = s.scalar(select(MappingVersion).where(MappingVersion.template == template,
                                                    MappingVersion.active.is_(True)).limit(1))
        return _version(row) if row is not None else None


def active_spec(store: Store, template: str) -> dict[str, Any] | None:
    """Only the spec of the active version (what a flow needs per item), or None."""
    with store.session() as s:
        spec = s.scalar(select(MappingVersion.spec).where(MappingVersion.template == template,
                                                          MappingVersion.active.is_(True)).limit(1))
        return copy.deepcopy(spec) if spec is not None else None


def activate(store: Store, template: str, version: int, *, by: str) -> Version:
    """Make ``version`` the one flows use from their next item on."""
    with store.session() as s:
        row = s.scalar(select(MappingVersion).where(MappingVersion.template == template,
                                                    MappingVersion.version == version).with_for_update())
        if row is None:
            raise VersionError(f"template {template} has no version {version}: see the version list")
        s.execute(update(MappingVersion).where(MappingVersion.template == template, MappingVersion.id != row.id,
                                               MappingVersion.active.is_(True)).values(active=False))
        row.active = True
        row.activated_at = utcnow()
        row.activated_by = by
        s.flush()
        return _version(row)


def rollback(store: Store, template: str, *, by: str) -> Version:
    """Activate the version that was active before the current one."""
    current = active(store, template)
    if current is None:
        raise VersionError(f"template {template} has no active version, so there is nothing to roll back "
                           "from: activate a version first")
    with store.session() as s:
        previous = s.scalar(select(MappingVersion).where(MappingVersion.template == template,
                                                         MappingVersion.version != current.version,
                                                         MappingVersion.activated_at.is_not(None))
                            .order_by(MappingVersion.activated_at.desc(), MappingVersion.version.desc()).limit(1))
        if previous is None:
            raise VersionError(f"template {template} v{current.version} is the only version ever activated: "
                               "activate another version, or deactivate to use the file in rules/mappings/")
        number = previous.version
    return activate(store, template, number, by=by)


def deactivate(store: Store, template: str) -> None:
    """Use the file in rules/mappings/ again."""
    with store.session() as s:
        s.execute(update(MappingVersion).where(MappingVersion.template == template,
                                               MappingVersion.active.is_(True)).values(active=False))


def templates(store: Store) -> list[str]:
    """Names of the templates that have versions in the store."""
    with store.session() as s:
        return sorted(s.scalars(select(MappingVersion.template).distinct()))


# --- decisions on suggested pairs -----------------------------------------------------------------


def add_decision(store: Store, record: dict[str, Any], *, decided_by: str = "") -> None:
    """Keep one accept/reject (``Feedback.to_json()`` of the suggestion engine)."""
    with store.session() as s:
        s.add(MappingDecision(source_field=str(record["source"]["name"])[:300],
                              target_field=str(record["target"]["name"])[:300],
                              accepted=bool(record["accepted"]), record=record, decided_by=decided_by))


def decision_records(store: Store) -> list[dict[str, Any]]:
    """Every decision, oldest first (so the latest on a pair wins when read in order)."""
    with store.session() as s:
        return [dict(r) for r in s.scalars(select(MappingDecision.record).order_by(MappingDecision.id))]
