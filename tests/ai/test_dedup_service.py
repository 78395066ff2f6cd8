"""Duplicate resolution's glue to the sync: canonical customers from each system, the per-process
index on the runtime's Redis, bindings shared by several records, and resolution without a model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.app.runtime import Runtime
from service.engine.trace import Trace, tracing
from service.flows.checks import duplicates
from service.flows.checks.duplicates import heartland_customer, utc_text
from service.settings import repo_path
from service.store import bindings


@pytest.fixture
def modelless(settings: dict[str, Any], tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose models directory has no promoted dedup model."""
    from service.app.factory import create_app

    empty = tmp_path / "models"
    empty.mkdir()
    app: Flask = create_app({**settings, "AUTO_MIGRATE": False, "MODELS_DIR": str(empty)})
    runtime: Runtime = app.extensions["tillbridge"]
    yield runtime
    runtime.store.dispose()


def test_timestamps_of_both_systems_compare_as_utc() -> None:
    magento = utc_text("2026-11-27 10:00:00")  # Magento: UTC, a space, whole seconds
    heartland = utc_text("2026-11-27T05:00:01-05:00")  # Heartland: ISO 8601 with the store's offset
    assert heartland > magento
    assert utc_text("2026-11-27T10:00:00.5Z") > magento
    assert utc_text("") == utc_text("not a date") == ""


def test_heartland_customer_takes_the_address_with_a_phone() -> None:
    record = {"id": 7, "first_name": "Jon", "last_name": "Smith", "email": None, "updated_at": "2026-11-27T10:00:00Z",
              "addresses": [
                  {"id": 1, "line_1": "1 Old Rd", "postal_code": "97000", "phone": ""},
                  {"id": 2, "line_1": "12 Oak Street", "line_2": "Apt 4", "city": "Portland", "state": "OR",
                   "postal_code": "97201", "country": "US", "phone": "(503) 555-0142"},
              ]}
    customer = heartland_customer(record)
    assert customer["street"] == "12 Oak Street, Apt 4" and customer["phone"] == "(503) 555-0142"
    assert customer["email"] == "" and customer["heartland_id"] == "7" and customer["source"] == "heartland"


def test_without_a_model_customers_are_still_indexed_and_the_trace_says_resolution_is_off(
        modelless: Runtime) -> None:
    customer = {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "phone": "503-555-0100",
                "street": "3 Fir St", "city": "Portland", "region": "OR", "postcode": "97202", "country": "US"}
    trace = Trace()
    with tracing(trace):
        link = duplicates.link_customer(modelless, customer, "email:ann@example.com", "Magento order #1")
        assert link.decision is None and link.heartland_id is None
        link.settle(501, created=True)
    assert [s["status"] for s in trace.steps] == ["error"]
    assert "no promoted dedup model" in trace.steps[0]["message"]
    assert duplicates.for_runtime(modelless).is_indexed(501)


def test_an_edited_dedup_rules_file_applies_once_the_files_are_looked_at_again(
        settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from service.app.factory import create_app

    rules_dir = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), rules_dir)
    app: Flask = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": str(rules_dir)})
    runtime: Runtime = app.extensions["tillbridge"]
    service = duplicates.for_runtime(runtime)
    assert service.rules.thresholds.review == 0.45
    dedup = rules_dir / "dedup.yaml"
    dedup.write_text(dedup.read_text(encoding="utf-8").replace("review: 0.45", "review: 0.5"), encoding="utf-8")
    later = dedup.stat().st_mtime + 5
    os.utime(dedup, (later, later))
    # Between two looks at the files (once a second), the rules in use stand.
    monkeypatch.setattr(duplicates, "RULES_CHECK_SECONDS", 3600.0)
    assert service.rules.thresholds.review == 0.45
    monkeypatch.setattr(duplicates, "RULES_CHECK_SECONDS", 0.0)
    assert service.rules.thresholds.review == 0.5
    assert service.resolver.rules.thresholds.review == 0.5
    runtime.store.dispose()


def test_a_customer_bound_under_another_key_keeps_its_binding(runtime: Runtime) -> None:
    assert duplicates.bind_customer(runtime, "email:jon@example.com", 42, {"addresses": {}})
    trace = Trace()
    with tracing(trace):
        assert not duplicates.bind_customer(runtime, "magento:default:9", 42, {"addresses": {}})
    holder = bindings.find_external(runtime.store, "customer", "heartland", "42")
    assert holder is not None and holder.key == "email:jon@example.com"
    assert bindings.find(runtime.store, "customer", "magento:default:9", "heartland") is None
    assert "is bound to email:jon@example.com" in trace.steps[0]["message"]
    # Binding the same key again (a returning customer) is not a conflict.
    assert duplicates.bind_customer(runtime, "email:jon@example.com", 42, {"addresses": {"x|1": 3}})
