"""Bindings: a record's id in an external system, unique per (entity, system, external id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from service.kernel.cards import mask_value
from service.store.db import Store, conflict_insert
from service.store.tables import Binding

# Built once: every order asks for its customer's binding, and building the statement cost more
# than the indexed read.
_FIND = select(Binding).where(Binding.entity == bindparam("entity"), Binding.key == bindparam("key"),
                              Binding.system == bindparam("system"))
# The same read for a write: the row as the database has it now, over any copy the session holds.
_FIND_FRESH = _FIND.execution_options(populate_existing=True)


def find(store: Store, entity: str, key: str, system: str, *, session: Session | None = None) -> Binding | None:
    """The binding of ``key``, read in the caller's ``session`` if given, else without a transaction
    around the one statement (``Store.lookups``)."""
    params = {"entity": entity, "key": key, "system": system}
    if session is not None:
        return session.scalars(_FIND, params).first()
    with store.lookups() as s:
        return s.scalars(_FIND, params).first()


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
    IntegrityError when the external id is bound to another key.

    ``data`` keeps what a flow last wrote: a card number in it is masked (a record's fields may hold one)."""
    with store.session() as s:
        return bind_within(s, entity=entity, key=key, system=system, external_id=external_id,
                           external_ref=external_ref, source_version=source_version, data=data)


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

    A new key is inserted only if no other run inserted it since our read (``ON CONFLICT DO
    NOTHING`` on the key alone); if one did, its binding is read and updated. So a lost race costs
    no savepoint, and an external id bound to another key still raises IntegrityError (which,
    like any refused write, fails the caller's transaction)."""
    data = mask_value(data) if data is not None else None
    params = {"entity": entity, "key": key, "system": system}
    binding = s.scalars(_FIND_FRESH, params).first()
    if binding is None:
        dialect_insert = conflict_insert(s.get_bind().dialect)
        inserted = s.scalars(
            dialect_insert(Binding).values(entity=entity, key=key, system=system, external_id=external_id,
                                           external_ref=external_ref, source_version=source_version, data=data or {})
            .on_conflict_do_nothing(index_elements=["entity", "key", "system"])
            .returning(Binding)
        ).first()
        if inserted is not None:
            return inserted
        # Another run bound this key between our read and our insert: its binding is the one to update.
        binding = s.scalars(_FIND_FRESH, params).one()
    binding.external_id = external_id
    binding.external_ref = external_ref or binding.external_ref
    binding.source_version = source_version or binding.source_version
    if data is not None:
        # Several flows keep their own keys on one binding (the orders flow its address ids,
        # the customers flow what it last wrote): each write merges, none wipes the others.
        binding.data = {**(binding.data or {}), **data}
    s.flush()
    return binding


def count(store: Store, entity: str, system: str) -> int:
    from sqlalchemy import func

    with store.session() as s:
        return int(
            s.scalar(select(func.count()).select_from(Binding).where(Binding.entity == entity, Binding.system == system))
            or 0
        )
