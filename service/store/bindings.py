"""Bindings: a record's id in an external system, unique per (entity, system, external id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.kernel.cards import mask_value
from service.store.db import Store
from service.store.tables import Binding


def find(store: Store, entity: str, key: str, system: str, *, session: Session | None = None) -> Binding | None:
    with store.session_or(session) as s:
        return s.scalars(
            select(Binding).where(Binding.entity == entity, Binding.key == key, Binding.system == system)
        ).first()


def find_external(store: Store, entity: str, system: str, external_id: str) -> Binding | None:
    with store.session() as s:
        return s.scalars(
            select(Binding).where(
                Binding.entity == entity, Binding.system == system, Binding.external_id == external_id
            )
        ).first()


def bind(
    store: Store,
    *,
    entity: str,
    key: str,
    system: str,
    external_id: str,
    external_ref: str = "",
    source_version: str = "",
    data: dict[str, Any] | None = None,
) -> Binding:
    """Record the binding, or update the one that exists for this key (``data`` merged in); idempotent.

    ``data`` keeps what a flow last wrote: a card number in it is masked (a record's fields may hold one)."""
    data = mask_value(data) if data is not None else None
    with store.session() as s:
        binding = _upsert(s, entity, key, system, external_id, external_ref, source_version, data)
        if binding is not None:
            return binding
    # Another run bound this key between our read and our insert: its binding is the one to update.
    with store.session() as s:
        binding = _upsert(s, entity, key, system, external_id, external_ref, source_version, data, again=True)
        assert binding is not None  # a second refusal raises: the external id is bound to another key
        return binding


def bind_within(
    s: Session,
    *,
    entity: str,
    key: str,
    system: str,
    external_id: str,
    external_ref: str = "",
    source_version: str = "",
    data: dict[str, Any] | None = None,
) -> Binding:
    """``bind`` inside the caller's transaction (a run's end records its bindings with its outcome).
    Each try is a savepoint: a lost insert race undoes the try, not the caller's other writes."""
    data = mask_value(data) if data is not None else None
    args = (entity, key, system, external_id, external_ref, source_version, data)
    try:
        with s.begin_nested():
            binding = _upsert(s, *args, again=True)
    except IntegrityError:
        # Another run bound this key between our read and our insert: its binding is the one to update.
        with s.begin_nested():
            binding = _upsert(s, *args, again=True)
    assert binding is not None  # with ``again`` a refusal raises
    return binding


def _upsert(s: Session, entity: str, key: str, system: str, external_id: str, external_ref: str,
            source_version: str, data: dict[str, Any] | None, *, again: bool = False) -> Binding | None:
    """One transaction's read-then-write of a binding; None when a concurrent insert may have won the
    race (the session is rolled back: the caller tries ``again``, which raises instead)."""
    binding = s.scalars(
        select(Binding).where(Binding.entity == entity, Binding.key == key, Binding.system == system)
    ).first()
    if binding is not None:
        binding.external_id = external_id
        binding.external_ref = external_ref or binding.external_ref
        binding.source_version = source_version or binding.source_version
        if data is not None:
            # Several flows keep their own keys on one binding (the orders flow its address ids,
            # the customers flow what it last wrote): each write merges, none wipes the others.
            binding.data = {**(binding.data or {}), **data}
        s.flush()
        return binding
    binding = Binding(entity=entity, key=key, system=system, external_id=external_id, external_ref=external_ref,
                      source_version=source_version, data=data or {})
    s.add(binding)
    try:
        s.flush()
    except IntegrityError:
        if again:
            raise
        s.rollback()
        return None
    return binding


def count(store: Store, entity: str, system: str) -> int:
    from sqlalchemy import func

    with store.session() as s:
        return int(
            s.scalar(select(func.count()).select_from(Binding).where(Binding.entity == entity, Binding.system == system))
            or 0
        )
