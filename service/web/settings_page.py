"""Settings (admins): the non-secret settings that can change while Tillbridge runs, with who changed
what and when (service/store/setting_overrides.py). Secrets and connection settings stay in the
environment or on the connections page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from service.flows.context import current
from service.settings import value_of
from service.store import setting_overrides
from service.store.setting_overrides import SettingError
from service.web.auth import actor, require_role, wants_json

bp = Blueprint("settings", __name__, url_prefix="/settings")



@bp.before_app_request
def _fresh_settings() -> None:
    current().refresh_settings()  # another web process may have changed one


@bp.get("")
@require_role("admin")
def index() -> Any:
    runtime = current()
    found = setting_overrides.overrides(runtime.store)
    rows = [{"name": e.name, "help": e.help, "value": value_of(runtime.settings, e.name),
             "environment": runtime.environment_setting(e.name), "overridden": e.name in found}
            for e in setting_overrides.EDITABLE]
    if wants_json():
        return jsonify({"settings": rows})
    return render_template("settings.html", rows=rows, history=setting_overrides.history(runtime.store))


@bp.post("/<name>")
@require_role("admin")
def change(name: str) -> Any:
    runtime = current()
    try:
        value = setting_overrides.change(runtime.store, name, str(request.form.get("value", "")),
                                         runtime.environment_setting(name), actor=actor())
    except (SettingError, KeyError) as exc:
        flash(f"Not changed: {exc if isinstance(exc, SettingError) else name + ' is not a setting'}.", "error")
        return redirect(url_for("settings.index"))
    runtime.settings_changed()
    flash(f"{name} is now {value}: the web processes and the scheduler use it within a few seconds.", "ok")
    return redirect(url_for("settings.index"))


@bp.post("/<name>/reset")
@require_role("admin")
def reset(name: str) -> Any:
    runtime = current()
    if name not in {entry.name for entry in setting_overrides.EDITABLE}:
        flash(f"Not reset: {name} is not a setting this page changes.", "error")
        return redirect(url_for("settings.index"))
    if setting_overrides.reset(runtime.store, name, actor=actor(), environment_value=runtime.environment_setting(name)):
        runtime.settings_changed()
        flash(f"{name} is back to the environment's value ({runtime.environment_setting(name)}).", "ok")
    return redirect(url_for("settings.index"))
