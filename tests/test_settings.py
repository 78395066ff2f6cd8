"""Settings: typed and converted once at load, frozen, swapped whole when they change."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.settings import Settings, as_environment, coerce, load_settings, replaced, value_of


def test_the_environment_is_converted_to_each_settings_type_once() -> None:
    settings = load_settings(environ={"MAX_ATTEMPTS": "3", "RETRY_BASE_SECONDS": "0.5", "AUTO_MIGRATE": "off",
                                      "WEBHOOKS_ALLOW_PRIVATE_URLS": "Yes", "STORE_CURRENCY": "EUR"})
    assert settings.MAX_ATTEMPTS == 3 and type(settings.MAX_ATTEMPTS) is int
    assert settings.RETRY_BASE_SECONDS == 0.5
    assert settings.AUTO_MIGRATE is False and settings.WEBHOOKS_ALLOW_PRIVATE_URLS is True
    assert settings.STORE_CURRENCY == "EUR"
    assert load_settings(environ={}) == Settings(), "nothing set: the defaults"


def test_explicit_values_win_over_the_environment_and_numbers_take_their_settings_type() -> None:
    settings = load_settings({"DRIFT_INTERVAL_SECONDS": 0, "MAX_ATTEMPTS": 2.0, "POLL_INTERVAL_SECONDS": "7"},
                             environ={"DRIFT_INTERVAL_SECONDS": "30"})
    assert settings.DRIFT_INTERVAL_SECONDS == 0.0 and type(settings.DRIFT_INTERVAL_SECONDS) is float
    assert settings.MAX_ATTEMPTS == 2 and type(settings.MAX_ATTEMPTS) is int
    assert settings.POLL_INTERVAL_SECONDS == 7.0


@pytest.mark.parametrize(("name", "raw", "says"), [
    ("MAX_ATTEMPTS", "three", "setting MAX_ATTEMPTS must be a whole number, got 'three'"),
    ("MAX_ATTEMPTS", "2.5", "setting MAX_ATTEMPTS must be a whole number, got '2.5'"),
    ("RETRY_BASE_SECONDS", "1s", "setting RETRY_BASE_SECONDS must be a number, got '1s'"),
    ("AUTO_MIGRATE", "maybe", "setting AUTO_MIGRATE must be true or false (1/0, yes/no, on/off), got 'maybe'"),
])
def test_a_value_that_does_not_fit_stops_the_load_naming_the_setting(name: str, raw: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_settings(environ={name: raw})
    assert str(caught.value) == says


def test_a_misspelt_setting_is_refused_where_it_is_given_in_code() -> None:
    with pytest.raises(ValueError, match="there is no setting MAX_ATEMPTS"):
        load_settings({"MAX_ATEMPTS": 2}, environ={})
    with pytest.raises(KeyError):
        value_of(Settings(), "NOT_A_SETTING")


def test_settings_never_change_in_place() -> None:
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.MAX_ATTEMPTS = 1  # type: ignore[misc]
    changed = replaced(settings, {"MAX_ATTEMPTS": "1"})
    assert changed.MAX_ATTEMPTS == 1 and settings.MAX_ATTEMPTS == Settings().MAX_ATTEMPTS


def test_settings_survive_the_trip_through_a_child_process_environment() -> None:
    settings = load_settings({"AUTO_MIGRATE": False, "MAX_ATTEMPTS": 4, "RETRY_CAP_SECONDS": 12.5}, environ={})
    assert load_settings(environ=as_environment(settings)) == settings


def test_every_setting_has_a_default_of_its_declared_type() -> None:
    kinds: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool}
    for field in dataclasses.fields(Settings):
        value = getattr(Settings(), field.name)
        assert type(value) is kinds[str(field.type)], field.name
        assert coerce(field.name, str(value)) == value, field.name


def test_the_runtime_swaps_in_new_settings_and_keeps_the_settings_pages_overrides(app: Any) -> None:
    from service.store import setting_overrides

    runtime = app.extensions["tillbridge"]
    setting_overrides.change(runtime.store, "POLL_INTERVAL_SECONDS", "7.5", runtime.environment_setting(
        "POLL_INTERVAL_SECONDS"), actor="admin")
    runtime.apply_setting_overrides()
    held = runtime.settings
    runtime.reconfigure(POLL_INTERVAL_SECONDS=3, MAX_ATTEMPTS=2)
    assert held.MAX_ATTEMPTS != 2, "a reader's settings do not change under it"
    assert runtime.settings.MAX_ATTEMPTS == 2
    assert runtime.settings.POLL_INTERVAL_SECONDS == 7.5, "the page's override still applies"
    assert runtime.environment_setting("POLL_INTERVAL_SECONDS") == 3.0


def test_a_settings_repr_never_shows_a_secret() -> None:
    settings = load_settings({"SECRET_KEY": "s3cr3t-session-key-0123456789abcdef", "ALERT_SMTP_PASSWORD": "hunter2",
                              "DATABASE_URL": "postgresql+psycopg://app:pa55word@db/tillbridge",
                              "TILLBRIDGE_HEARTLAND_TOKEN": "hl-token-99", "METRICS_TOKEN": ""}, environ={})
    shown = repr(settings)
    for secret in ("s3cr3t", "hunter2", "pa55word", "hl-token-99", "tillbridge-dev-secret"):
        assert secret not in shown
    assert "SECRET_KEY='<set>'" in shown and "METRICS_TOKEN=''" in shown and "MAX_ATTEMPTS=8" in shown


@pytest.mark.parametrize("command", [["health"], ["worker", "--burst"], ["scheduler", "--once"]])
def test_a_command_with_a_bad_setting_says_which_in_one_line(command: list[str]) -> None:
    from click.testing import CliRunner

    from service.cli.main import main

    result = CliRunner().invoke(main, command, env={"MAX_ATTEMPTS": "three"})
    assert result.exit_code == 1
    assert result.output.strip().endswith("Error: setting MAX_ATTEMPTS must be a whole number, got 'three'")
    assert "Traceback" not in result.output
