"""Alerts: what is firing now, silences, the channels and rules, and the history (service/operations/alerts.py).

Everyone signed in may look (an alert is how anyone learns something is wrong); operators (and
admins) silence, end silences and send a test notice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from service.flows.context import current
from service.operations import alerts
from service.rules.loader import RuleError
from service.store.tables import Alert, AlertEvent
from service.web.auth import actor, require_role, wants_json

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

HISTORY_SHOWN = 100
SILENCE_HOURS = (("1 hour", 1), ("4 hours", 4), ("1 day", 24), ("1 week", 168))



def _alert_dict(a: Alert, silenced: Any) -> dict[str, Any]:
    return {"id": a.id, "rule": a.rule, "subject": a.subject, "severity": a.severity, "state": a.state,
            "summary": a.summary, "value": a.value, "started_at": a.started_at.isoformat(),
            "resolved_at": a.resolved_at.isoformat() if a.resolved_at else None,
            "silenced_until": silenced.expires_at.isoformat() if silenced else None}


@bp.get("")
@require_role()
def index() -> Any:
    runtime = current()
    now = datetime.now(UTC)
    problem = ""
    try:
        config = alerts.load_config(runtime)
        ready, missing = alerts.channels(runtime, config)
    except RuleError as exc:
        config, ready, missing, problem = alerts.Config([], [], 0), [], {}, str(exc)
    with runtime.store.session() as s:
        open_alerts = list(s.scalars(select(Alert).where(Alert.state.in_(alerts.OPEN_STATES))
                                     .order_by(Alert.state.desc(), Alert.severity, Alert.started_at)))
        silences = alerts.active_silences(s, now)
        history = list(s.execute(select(AlertEvent, Alert).join(Alert, Alert.id == AlertEvent.alert_id)
                                 .order_by(AlertEvent.at.desc(), AlertEvent.id.desc()).limit(HISTORY_SHOWN)))
        rows = [(a, alerts.silenced_by(a, silences)) for a in open_alerts]
    if wants_json():
        return jsonify({"alerts": [_alert_dict(a, sil) for a, sil in rows],
                        "silences": [{"id": x.id, "rule": x.rule, "subject": x.subject, "reason": x.reason,
                                      "created_by": x.created_by, "expires_at": x.expires_at.isoformat()}
                                     for x in silences],
                        "channels": {**{c.name: "configured" for c in ready},
                                     **{n: f"not configured: {why}" for n, why in missing.items()}},
                        "problem": problem})
    unsigned = [c.name for c in ready if c.kind == "webhook" and not getattr(c, "secret", "")]
    return render_template("alerts.html", rows=rows, silences=silences, history=history, config=config,
                           ready=ready, missing=missing, problem=problem, unsigned=unsigned,
                           silence_hours=SILENCE_HOURS, interval=runtime.settings.ALERT_INTERVAL_SECONDS, now=now)


@bp.post("/silences")
@require_role("operator")
def silence() -> Any:
    form = (request.get_json(silent=True) or {}) if request.is_json else request.form
    try:
        created = alerts.add_silence(current(), rule=str(form.get("rule") or "*"), subject=str(form.get("subject") or ""),
                                     hours=float(form.get("hours") or 0), reason=str(form.get("reason") or ""),
                                     actor=actor())
    except ValueError as exc:
        if wants_json():
            return jsonify({"error": "bad_silence", "message": str(exc)}), 400
        flash(f"Not silenced: {exc}.", "error")
        return redirect(url_for("alerts.index"))
    what = f"{created.rule}{' · ' + created.subject if created.subject else ''}"
    if wants_json():
        return jsonify({"id": created.id, "expires_at": created.expires_at.isoformat()}), 201
    flash(f"Silenced {what} until {created.expires_at:%Y-%m-%d %H:%M} UTC: its notices are held back; "
          "it still shows here.", "ok")
    return redirect(url_for("alerts.index"))


@bp.post("/silences/<int:silence_id>/end")
@require_role("operator")
def end_silence(silence_id: int) -> Any:
    ended = alerts.end_silence(current(), silence_id, actor())
    flash("Silence ended: notices go out again." if ended else "That silence had already ended.",
          "ok" if ended else "info")
    return redirect(url_for("alerts.index"))


@bp.post("/test")
@require_role("operator")
def send_test() -> Any:
    try:
        outcome = alerts.send_test(current())
    except RuleError as exc:
        flash(f"No test sent: {exc}", "error")
        return redirect(url_for("alerts.index"))
    if wants_json():
        return jsonify(outcome)
    for name, result in outcome.items():
        flash(f"{name}: {'test notice sent' if result == 'sent' else result}", "ok" if result == "sent" else "error")
    return redirect(url_for("alerts.index"))
