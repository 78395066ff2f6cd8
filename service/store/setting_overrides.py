"""Settings changed on the settings page: which ones may be, their values, and the audit trail.

Only settings that are not secrets and that the processes read when they use them (not once at
start) are editable; each is checked against its type and range before it is stored. Every
process applies the overrides over its environment's settings (Runtime.apply_setting_overrides)
and again when the settings stamp in Redis moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from service.settings import SettingsError, coerce
from service.store.db import Store
from service.store.tables import SettingChange, SettingOverride, utcnow


@dataclass(frozen=True)
class Editable:
    name: str
    help: str
    minimum: float | None = 0.0


EDITABLE: tuple[Editable, ...] = (
    Editable("POLL_INTERVAL_SECONDS", "how often the scheduler polls each source; 0 turns polling off"),
    Editable("POLL_OVERLAP_SECONDS", "how far behind its cursor each poll re-reads"),
    Editable("DRIFT_INTERVAL_SECONDS", "how often stock and order statuses are compared on both sides; 0: never"),
    Editable("STUCK_AFTER_SECONDS", "an item received but not run for this long is sent to the queue again", 1.0),
    Editable("RETENTION_DAYS", "finished items are purged this many days after they finished; 0 keeps all"),
    Editable("ALERT_INTERVAL_SECONDS", "how often the alert rules are checked; 0: never"),
    Editable("TIMESERIES_MINUTE_HOURS", "how long the charts' per-minute figures are kept", 1.0),
    Editable("ALERT_EMAIL_TO", "alert e-mail recipients, comma-separated", None),
    Editable("ALERT_EMAIL_FROM", "the sender of alert e-mails", None),
    Editable("ALERT_SMTP_HOST", "the SMTP server for alert e-mails", None),
    Editable("ALERT_SMTP_PORT", "its port", 1.0),
)
BY_NAME = {e.name: e for e in EDITABLE}


class SettingError(SettingsError):
    """The settings page refuses the value (it does not fit, is below the setting's minimum, or the
    setting cannot change while running); the message says what would do."""


def checked(name: str, raw: str) -> Any:
    spec = BY_NAME.get(name)
    if spec is None:
        raise SettingError(f"{name} cannot be changed here: set it in the environment and restart")
    try:
        value = coerce(name, raw.strip())
    except ValueError as exc:
        raise SettingError(str(exc)) from None
    if spec.minimum is not None and isinstance(value, int | float) and value < spec.minimum:
        raise SettingError(f"{name} must be at least {spec.minimum:g}")
    return value


def overrides(store: Store) -> dict[str, str]:
    with store.session() as s:
        return {o.name: o.value for o in s.scalars(select(SettingOverride))}


def change(store: Store, name: str, raw: str, environment_value: Any, *, actor: str) -> Any:
    """Store ``raw`` for ``name`` (checked); returns the typed value."""
    value = checked(name, raw)
    with store.session() as s:
        row = s.get(SettingOverride, name)
        old = row.value if row else str(environment_value)
        if row is None:
            s.add(SettingOverride(name=name, value=str(value), updated_by=actor))
        else:
            row.value, row.updated_by, row.updated_at = str(value), actor, utcnow()
        s.add(SettingChange(name=name, old_value=old, new_value=str(value), changed_by=actor))
    return value


def reset(store: Store, name: str, *, actor: str, environment_value: Any) -> bool:
    with store.session() as s:
        row = s.get(SettingOverride, name)
        if row is None:
            return False
        s.add(SettingChange(name=name, old_value=row.value, new_value=f"(environment: {environment_value})",
                            changed_by=actor))
        s.delete(row)
        return True


def history(store: Store, limit: int = 50) -> list[SettingChange]:
    with store.session() as s:
        return list(s.scalars(select(SettingChange).order_by(SettingChange.id.desc()).limit(limit)))
