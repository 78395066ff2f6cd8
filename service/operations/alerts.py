"""Alerts: the rules of rules/alerts.yaml measured by the scheduler, and their notices.

Every ALERT_INTERVAL_SECONDS (one scheduler at a time, through a Redis lock) each rule measures
its subjects (a destination, a flow, a polled resource…) and compares each value with its
threshold. A subject over it fires an alert (after ``for_seconds`` when the rule has one); an alert
whose condition has cleared resolves. Both are rows in ``alerts`` with their history in
``alert_events``, so the /alerts page and every web process see the same thing.

Notices go out after the state is committed: each alert carries the channels still owed a notice
of its current state, all alerts owed to one channel go as one message (grouping), a channel that
fails is tried again at the next evaluation (up to ALERT_NOTIFY_ATTEMPTS), and an alert a silence
matches is recorded as silenced instead. A firing alert is repeated every ``repeat_minutes``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.connectors import alert_channels
from service.connectors.alert_channels import Channel, ChannelError, Notice
from service.flows.context import Context
from service.rules.loader import RuleError
from service.store.tables import Alert, AlertEvent, AlertSilence, DeadLetter, SyncItem

log = logging.getLogger(__name__)

RULES_FILE = "alerts.yaml"
LOCK_KEY = "tb:alerts:lock"
SEVERITIES = ("critical", "warning", "info")
DESTINATIONS = ("heartland", "magento")
OPEN_STATES = ("pending", "firing")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    severity: str
    summary: str
    above: float | None = None
    below: float | None = None
    for_seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def crosses(self, value: float) -> bool:
        if self.above is None and self.below is None:
            return True  # the measure only reports subjects in trouble (breaker_open)
        return (self.above is not None and value > self.above) or (self.below is not None and value < self.below)

    def threshold(self) -> str:
        if self.above is not None:
            return f"> {self.above:g}"
        if self.below is not None:
            return f"< {self.below:g}"
        return "any"

    def describe(self, subject: str, value: float) -> str:
        try:
            return self.summary.format(subject=subject or "all", value=value)
        except (KeyError, ValueError, IndexError):
            return f"{self.name}: {subject or 'all'} at {value:g}"


@dataclass(frozen=True)
class Config:
    rules: list[Rule]
    declared_channels: list[dict[str, Any]]
    repeat_minutes: float


@dataclass(frozen=True)
class Signal:
    subject: str
    value: float


@dataclass
class Evaluation:
    fired: list[str] = field(default_factory=list)  # fingerprints
    resolved: list[str] = field(default_factory=list)
    notified: dict[str, int] = field(default_factory=dict)  # channel → alerts in its message
    failed: dict[str, str] = field(default_factory=dict)  # channel → why


Measure = Callable[[Context, Rule, datetime], list[Signal]]
MEASURES: dict[str, Measure] = {}


def measure(kind: str) -> Callable[[Measure], Measure]:
    def register(fn: Measure) -> Measure:
        MEASURES[kind] = fn
        return fn

    return register


# -- loading -----------------------------------------------------------------------------------------
def load_config(runtime: Context) -> Config:
    """rules/alerts.yaml, checked: a mistake names the rule and what to fix."""
    raw = runtime.rules.load(RULES_FILE) or {}
    where = runtime.rules.path(RULES_FILE)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw.get("rules") or []):
        name = str(entry.get("name") or "")
        kind = str(entry.get("kind") or "")
        if not name or name in seen:
            raise RuleError(f"{where}: rule {index + 1} needs a unique name")
        if kind not in MEASURES:
            raise RuleError(f"{where}: rule {name!r} has kind {kind!r}; use one of {', '.join(sorted(MEASURES))}")
        severity = str(entry.get("severity") or "warning")
        if severity not in SEVERITIES:
            raise RuleError(f"{where}: rule {name!r} has severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        seen.add(name)
        known = {"name", "kind", "severity", "summary", "above", "below", "for_seconds"}
        rules.append(Rule(name=name, kind=kind, severity=severity, summary=str(entry.get("summary") or name),
                          above=_number(entry.get("above")), below=_number(entry.get("below")),
                          for_seconds=float(entry.get("for_seconds") or 0),
                          params={k: v for k, v in entry.items() if k not in known}))
    channels = [dict(c) for c in raw.get("channels") or []]
    for declared in channels:
        if declared.get("type") not in alert_channels.TYPES:
            raise RuleError(f"{where}: channel {declared.get('name')!r} has type {declared.get('type')!r}; "
                            f"use one of {', '.join(alert_channels.TYPES)}")
    return Config(rules=rules, declared_channels=channels, repeat_minutes=float(raw.get("repeat_minutes") or 0))


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def channels(runtime: Context, config: Config) -> tuple[list[Channel], dict[str, str]]:
    """The channels that can send, and the others with what to set for each."""
    ready: list[Channel] = []
    missing: dict[str, str] = {}
    for declared in config.declared_channels:
        built = alert_channels.build(declared, runtime.settings)
        if isinstance(built, str):
            missing[str(declared.get("name") or declared.get("type"))] = built
        else:
            ready.append(built)
    return ready, missing


# -- measures --------------------------------------------------------------------------------------
@measure("breaker_open")
def _breakers(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    threshold = runtime.settings.BREAKER_FAILURE_THRESHOLD
    found = []
    for destination in DESTINATIONS:
        state = runtime.breaker(destination).state()
        # Between an open period and its probe the breaker reads closed; the failures stay counted
        # until a call succeeds, so the alert holds through the whole outage instead of flapping.
        if state["state"] == "open" or int(state["failures"]) >= threshold:
            found.append(Signal(destination, float(state["failures"])))
    return found


@measure("dead_letters")
def _dead_letters(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    with runtime.store.session() as s:
        n = s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.resolved_at.is_(None)))
    return [Signal("", float(n or 0))]


@measure("dead_letters_new")
def _dead_letters_new(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    since = now - timedelta(minutes=float(rule.params.get("window_minutes", 15)))
    with runtime.store.session() as s:
        n = s.scalar(select(func.count()).select_from(DeadLetter).where(DeadLetter.created_at >= since))
    return [Signal("", float(n or 0))]


@measure("reconciliation_exceptions")
def _reconciliation_exceptions(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    """Open reconciliation exceptions (service/reconciliation), per category: money that does not
    match between the till and the web shop until a person resolves it."""
    from service.store.api_tables import ReconciliationResult

    with runtime.store.session() as s:
        rows = s.execute(select(ReconciliationResult.category, func.count())
                         .where(ReconciliationResult.state == "open")
                         .group_by(ReconciliationResult.category))
        return [Signal(str(category), float(n)) for category, n in rows]


@measure("oldest_pending_seconds")
def _oldest_pending(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    with runtime.store.session() as s:
        oldest = s.scalars(select(SyncItem.created_at).where(SyncItem.state.in_(("received", "processing")))
                           .order_by(SyncItem.created_at).limit(1)).first()
    return [Signal("", (now - oldest).total_seconds() if oldest else 0.0)]


@measure("poll_lag_seconds")
def _poll_lag(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    from service.store import cursors

    if runtime.settings.POLL_INTERVAL_SECONDS <= 0:
        return []
    return [Signal(c.resource, max(0.0, (now - _aware(c.polled_at)).total_seconds()))
            for c in cursors.all_cursors(runtime.store)]


@measure("workers")
def _workers(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    from rq import Worker

    stale = timedelta(seconds=float(rule.params.get("stale_seconds", 120)))
    alive = sum(1 for w in Worker.all(connection=runtime.redis)
                if w.last_heartbeat and now - _aware(w.last_heartbeat) <= stale)
    return [Signal("", float(alive))]


@measure("drift_records")
def _drift(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    from service.flows import drift
    last = drift.last_run(runtime) or {}
    return [Signal(kind, float(n)) for kind, n in (last.get("drifted") or {}).items()]


@measure("review_backlog")
def _review_backlog(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    from service.store import customer_reviews, reviews

    with runtime.store.session() as s:
        in_review = s.scalar(select(func.count()).select_from(SyncItem).where(SyncItem.state == "review"))
    orders = reviews.counts_by_state(runtime.store)
    return [Signal("items in review", float(in_review or 0)),
            Signal("order reviews", float(orders.get("queued", 0) + orders.get("escalated", 0))),
            Signal("customer reviews", float(customer_reviews.counts(runtime.store).get("pending", 0)))]


@measure("data_quality")
def _data_quality(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    """Records written with a data-quality warning or fixed by rule within window_minutes, per flow
    and field (rules/quality.yaml); held ones wait in review and count in review_backlog."""
    from service.store import quality

    since = now - timedelta(minutes=float(rule.params.get("window_minutes", 60)))
    return [Signal(f"{flow} {field}", float(n)) for flow, field, n in quality.noted_since(runtime.store, since)]


@measure("error_rate")
def _error_rate(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    since = now - timedelta(minutes=float(rule.params.get("window_minutes", 15)))
    minimum = int(rule.params.get("min_items", 10))
    totals: dict[str, list[int]] = {}
    with runtime.store.session() as s:
        rows = s.execute(select(SyncItem.flow, SyncItem.state, func.count()).where(SyncItem.finished_at >= since)
                         .group_by(SyncItem.flow, SyncItem.state))
        for flow, state, n in rows:
            pair = totals.setdefault(flow, [0, 0])
            pair[1] += int(n)
            if state == "dead":
                pair[0] += int(n)
    return [Signal(flow, dead / total) for flow, (dead, total) in sorted(totals.items()) if total >= minimum]


@measure("auth_failures")
def _auth_failures(runtime: Context, rule: Rule, now: datetime) -> list[Signal]:
    """Items a destination refused for their credentials (401/403) within window_minutes, per flow."""
    since = now - timedelta(minutes=float(rule.params.get("window_minutes", 15)))
    with runtime.store.session() as s:
        rows = s.execute(select(SyncItem.flow, func.count()).where(SyncItem.failure_class == "auth",
                                                                   SyncItem.updated_at >= since)
                         .group_by(SyncItem.flow))
        return [Signal(flow, float(n)) for flow, n in rows]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- evaluation ------------------------------------------------------------------------------------
def run_due(runtime: Context) -> Evaluation | None:
    """The scheduler's alert duty: evaluate once ALERT_INTERVAL_SECONDS have passed, one scheduler at a time."""
    interval = runtime.settings.ALERT_INTERVAL_SECONDS
    if interval <= 0 or not runtime.redis.set(LOCK_KEY, "1", nx=True, ex=max(1, int(interval))):
        return None
    return evaluate(runtime)


def evaluate(runtime: Context, now: datetime | None = None) -> Evaluation:
    now = now or datetime.now(UTC)
    config = load_config(runtime)
    ready, _missing = channels(runtime, config)
    names = [c.name for c in ready]
    observed: dict[str, tuple[Rule, Signal]] = {}
    for rule in config.rules:
        try:
            signals = MEASURES[rule.kind](runtime, rule, now)
        except Exception:  # noqa: BLE001 - one broken measure must not silence the other rules
            log.exception("alert rule %s could not measure", rule.name)
            continue
        for signal in signals:
            if rule.crosses(signal.value):
                observed[fingerprint(rule.name, signal.subject)] = (rule, signal)
    result = Evaluation()
    with runtime.store.session() as s:
        open_alerts = {a.fingerprint: a for a in s.scalars(select(Alert).where(Alert.state.in_(OPEN_STATES)))}
        for key, (rule, signal) in observed.items():
            alert = open_alerts.get(key) or _reopen(s, key, rule, signal, now)
            alert.value = signal.value
            alert.summary = rule.describe(signal.subject, signal.value)
            alert.severity = rule.severity
            alert.last_seen_at = now
            if alert.state == "pending" and (now - _aware(alert.started_at)).total_seconds() >= rule.for_seconds:
                alert.state = "firing"
                alert.pending_channels = list(names)
                s.add(AlertEvent(alert_id=alert.id, at=now, kind="fired", message=alert.summary))
                result.fired.append(key)
        for key, alert in open_alerts.items():
            if key in observed:
                continue
            if alert.state == "pending":  # cleared before it was due: it never fired
                alert.state = "resolved"
                alert.resolved_at = now
                continue
            alert.state = "resolved"
            alert.resolved_at = now
            alert.pending_channels = list(names)
            s.add(AlertEvent(alert_id=alert.id, at=now, kind="resolved", message=f"resolved: {alert.summary}"))
            result.resolved.append(key)
        if config.repeat_minutes > 0:
            cutoff = now - timedelta(minutes=config.repeat_minutes)
            for alert in s.scalars(select(Alert).where(Alert.state == "firing", Alert.last_notified_at < cutoff)):
                if not alert.pending_channels:
                    alert.pending_channels = list(names)
        _forget_old(s, runtime, now)
    for key in result.fired:
        log.warning("alert fired: %s", key)
    _deliver(runtime, ready, now, result)
    return result


def fingerprint(rule: str, subject: str) -> str:
    return f"{rule}/{subject}" if subject else rule


def _reopen(s: Session, key: str, rule: Rule, signal: Signal, now: datetime) -> Alert:
    """The alert row of ``key`` (one per fingerprint, reused when it fires again), now pending."""
    alert = s.scalars(select(Alert).where(Alert.fingerprint == key)).first()
    if alert is None:
        alert = Alert(fingerprint=key, rule=rule.name, subject=signal.subject, pending_channels=[])
        s.add(alert)
    alert.state = "pending"
    alert.started_at = now
    alert.resolved_at = None
    alert.last_notified_at = None
    alert.pending_channels = []
    s.flush()
    return alert


def _forget_old(s: Session, runtime: Context, now: datetime) -> None:
    days = runtime.settings.RETENTION_DAYS
    if days <= 0:
        return
    cutoff = now - timedelta(days=days)
    s.execute(delete(AlertEvent).where(AlertEvent.at < cutoff))
    s.execute(delete(Alert).where(Alert.state == "resolved", Alert.resolved_at < cutoff))
    s.execute(delete(AlertSilence).where(AlertSilence.expires_at < cutoff))


def active_silences(s: Session, now: datetime) -> list[AlertSilence]:
    return list(s.scalars(select(AlertSilence).where(AlertSilence.expires_at > now, AlertSilence.ended_at.is_(None))
                          .order_by(AlertSilence.expires_at)))


def silenced_by(alert: Alert, silences: list[AlertSilence]) -> AlertSilence | None:
    for silence in silences:
        if silence.rule in ("*", alert.rule) and silence.subject in ("", alert.subject):
            return silence
    return None


def _deliver(runtime: Context, ready: list[Channel], now: datetime, result: Evaluation) -> None:
    url = f"{runtime.settings.TILLBRIDGE_PUBLIC_URL.rstrip('/')}/alerts"
    attempts = runtime.settings.ALERT_NOTIFY_ATTEMPTS
    by_name = {c.name: c for c in ready}
    with runtime.store.session() as s:
        recent = now - timedelta(days=1)
        candidates = s.scalars(select(Alert).where(Alert.state.in_(("firing", "resolved")), Alert.last_seen_at >= recent))
        owed = [a for a in candidates if a.pending_channels]
        if not owed:
            return
        silences = active_silences(s, now)
        for alert in owed:
            silence = silenced_by(alert, silences)
            stale = [name for name in alert.pending_channels if name not in by_name]
            if silence or stale:
                if silence:
                    s.add(AlertEvent(alert_id=alert.id, at=now, kind="silenced",
                                     message=f"no notice: silenced until {silence.expires_at:%Y-%m-%d %H:%M} UTC "
                                             f"by {silence.created_by} ({silence.reason})"))
                alert.pending_channels = [] if silence else [n for n in alert.pending_channels if n in by_name]
        sends = {name: [a for a in owed if name in a.pending_channels] for name in by_name}
    for name, batch in sends.items():
        if not batch:
            continue
        notice = _notice(batch, url)
        try:
            by_name[name].send(notice)
        except ChannelError as exc:
            result.failed[name] = str(exc)
            log.warning("alert notice not sent: %s", exc)
            _record_failure(runtime, batch, name, str(exc), now, attempts)
            continue
        result.notified[name] = len(batch)
        with runtime.store.session() as s:
            for alert in batch:
                row = s.get(Alert, alert.id)
                if row is None:
                    continue
                row.pending_channels = [n for n in row.pending_channels if n != name]
                row.last_notified_at = now
                s.add(AlertEvent(alert_id=row.id, at=now, kind="notified", channel=name,
                                 message=f"{row.state} notice sent"))


def _record_failure(runtime: Context, batch: list[Alert], name: str, error: str, now: datetime,
                    attempts: int) -> None:
    with runtime.store.session() as s:
        for alert in batch:
            row = s.get(Alert, alert.id)
            if row is None:
                continue
            since = row.resolved_at if row.state == "resolved" else row.started_at
            failed = s.scalar(select(func.count()).select_from(AlertEvent).where(
                AlertEvent.alert_id == row.id, AlertEvent.channel == name, AlertEvent.kind == "notify_failed",
                AlertEvent.at >= since)) or 0
            s.add(AlertEvent(alert_id=row.id, at=now, kind="notify_failed", channel=name, message=error))
            if failed + 1 >= attempts:
                row.pending_channels = [n for n in row.pending_channels if n != name]
                s.add(AlertEvent(alert_id=row.id, at=now, kind="gave_up", channel=name,
                                 message=f"{name} refused {attempts} times; no more tries for this notice"))


def _notice(batch: list[Alert], url: str) -> Notice:
    firing = sum(1 for a in batch if a.state == "firing")
    resolved = len(batch) - firing
    parts = [p for p in (f"FIRING:{firing}" if firing else "", f"RESOLVED:{resolved}" if resolved else "") if p]
    alerts = [{"id": a.id, "rule": a.rule, "subject": a.subject, "severity": a.severity, "state": a.state,
               "summary": a.summary, "value": a.value, "started_at": _aware(a.started_at).isoformat(),
               "resolved_at": _aware(a.resolved_at).isoformat() if a.resolved_at else None}
              for a in sorted(batch, key=lambda a: (a.state != "firing", a.rule, a.subject))]
    return Notice(title=f"[{', '.join(parts)}] Tillbridge alerts", alerts=alerts, url=url)


def send_test(runtime: Context) -> dict[str, str]:
    """A test notice through every configured channel: channel → "sent" or why not."""
    config = load_config(runtime)
    ready, missing = channels(runtime, config)
    outcome = {name: f"not configured: {why}" for name, why in missing.items()}
    url = f"{runtime.settings.TILLBRIDGE_PUBLIC_URL.rstrip('/')}/alerts"
    notice = Notice(title="[TEST] Tillbridge alerts", url=url, alerts=[{
        "id": 0, "rule": "test", "subject": "", "severity": "info", "state": "firing",
        "summary": "a test notice from the alerts page: this channel works", "value": 0,
        "started_at": datetime.now(UTC).isoformat(), "resolved_at": None}])
    for channel in ready:
        try:
            channel.send(notice)
            outcome[channel.name] = "sent"
        except ChannelError as exc:
            outcome[channel.name] = str(exc)
    return outcome


# -- silences (the page and the CLI) ------------------------------------------------------------------
def add_silence(runtime: Context, *, rule: str, subject: str, hours: float, reason: str, actor: str) -> AlertSilence:
    if hours <= 0 or hours > 24 * 30:
        raise ValueError("a silence lasts between a minute and 30 days: give hours in (0, 720]")
    if not reason.strip():
        raise ValueError("say why the alert is silenced (the reason is shown to everyone)")
    now = datetime.now(UTC)
    with runtime.store.session() as s:
        silence = AlertSilence(rule=rule or "*", subject=subject.strip(), reason=reason.strip(), created_by=actor,
                               created_at=now, expires_at=now + timedelta(hours=hours))
        s.add(silence)
    return silence


def end_silence(runtime: Context, silence_id: int, actor: str) -> bool:
    with runtime.store.session() as s:
        silence = s.get(AlertSilence, silence_id)
        if silence is None or silence.ended_at is not None:
            return False
        silence.ended_at = datetime.now(UTC)
        silence.reason = f"{silence.reason} (ended by {actor})"
        return True
