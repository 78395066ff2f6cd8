"""The settings page: a change is checked, recorded with who and when, reaches another process
without a restart, and can be undone; secrets cannot be changed here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

from service.app.runtime import CREDENTIALS_STAMP_SECONDS
from tests.web.support import post_form


def test_a_change_is_recorded_and_reaches_another_process(app: Flask, web_config: dict[str, Any],
                                                          signed_in: Callable[[str], Any]) -> None:
    from service.app.factory import create_app

    web = app.extensions["tillbridge"]
    scheduler = create_app({**web_config, "AUTO_MIGRATE": False}).extensions["tillbridge"]
    before = scheduler.settings.POLL_INTERVAL_SECONDS
    client = signed_in("admin")

    refused = post_form(client, "/settings/POLL_INTERVAL_SECONDS", {"value": "-5"}, follow_redirects=True)
    assert "must be at least 0" in refused.get_data(as_text=True)
    wrong = post_form(client, "/settings/POLL_INTERVAL_SECONDS", {"value": "soon"}, follow_redirects=True)
    assert "must be a number" in wrong.get_data(as_text=True)
    secret = post_form(client, "/settings/SECRET_KEY", {"value": "x" * 40}, follow_redirects=True)
    assert "cannot be changed here" in secret.get_data(as_text=True)

    page = post_form(client, "/settings/POLL_INTERVAL_SECONDS", {"value": "7.5"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "POLL_INTERVAL_SECONDS is now 7.5" in text and "admin-user" in text
    assert web.settings.POLL_INTERVAL_SECONDS == 7.5
    scheduler._settings_read_at -= CREDENTIALS_STAMP_SECONDS
    scheduler.refresh_settings()
    assert scheduler.settings.POLL_INTERVAL_SECONDS == 7.5, "another process picks it up without a restart"

    restarted = create_app({**web_config, "AUTO_MIGRATE": False}).extensions["tillbridge"]
    assert restarted.settings.POLL_INTERVAL_SECONDS == 7.5, "and a process that starts later too"

    post_form(client, "/settings/POLL_INTERVAL_SECONDS/reset")
    assert before == web.settings.POLL_INTERVAL_SECONDS
    history = client.get("/settings").get_data(as_text=True)
    assert "(environment: " in history
    for runtime in (scheduler, restarted):
        runtime.store.dispose()


def test_only_admins_change_settings(signed_in: Callable[[str], Any]) -> None:
    operator = signed_in("operator")
    assert operator.get("/settings").status_code == 403
    assert post_form(operator, "/settings/RETENTION_DAYS", {"value": "1"}).status_code == 403
