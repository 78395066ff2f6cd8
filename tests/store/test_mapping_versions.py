"""Mapping template versions in the store: save, activate, roll back, diff, round trip with
rules/mappings/*.yaml, and the orders flow mapping with the active version."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.ai.mapping.schema import Field
from service.app.factory import create_app
from service.app.runtime import Runtime
from service.flows.orders import NORMALIZE_TEMPLATE, OrdersFlow
from service.flows.templates import template_spec
from service.mappings.suggestions import StoreFeedback, record_decision
from service.mappings.versions import diff, export_template, import_template
from service.settings import repo_path
from service.store import mappings
from service.store.mappings import VersionError

TEMPLATE = "orders.magento_to_canonical"
MAGENTO_ORDER = {
    "entity_id": 7, "increment_id": "000000007", "customer_email": " Ann@Example.com ", "customer_firstname": "Ann",
    "customer_lastname": "Lee", "grand_total": 39.0, "state": "processing", "status": "processing",
    "billing_address": {"firstname": "Ann", "lastname": "Lee", "street": ["1 Main St"], "city": "Austin",
                        "postcode": "78701", "country_id": "US", "telephone": "5125550100"},
    "items": [{"sku": "TEE-1000", "name": "Tee", "qty_ordered": 2, "price": 19.5}],
}


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(repo_path("rules"), folder)
    return folder


@pytest.fixture
def rt(settings: dict[str, Any], rules_dir: Path) -> Iterator[Runtime]:
    app = create_app({**settings, "AUTO_MIGRATE": False, "RULES_DIR": str(rules_dir)})
    runtime: Runtime = app.extensions["tillbridge"]
    yield runtime
    runtime.store.dispose()


def spec_with(**fields: Any) -> dict[str, Any]:
    return {"name": TEMPLATE, "version": 1, "fields": {"number": "increment_id", **fields}}


def test_versions_are_numbered_above_the_file_and_only_one_is_active(rt: Runtime) -> None:
    first = mappings.save(rt.store, TEMPLATE, spec_with(), created_by="ann", note="first", floor=1)
    second = mappings.save(rt.store, TEMPLATE, spec_with(email="customer_email"), created_by="bob", floor=1)
    assert (first.version, second.version) == (2, 3)
    assert second.spec["version"] == 3 and second.spec["name"] == TEMPLATE and second.label == f"{TEMPLATE}@3"
    assert mappings.active(rt.store, TEMPLATE) is None

    mappings.activate(rt.store, TEMPLATE, 2, by="ann")
    mappings.activate(rt.store, TEMPLATE, 3, by="bob")
    listed = mappings.versions(rt.store, TEMPLATE)
    assert [(v.version, v.active) for v in listed] == [(3, True), (2, False)]
    assert listed[0].activated_by == "bob" and listed[1].note == "first"


def test_rollback_returns_to_the_previously_active_version(rt: Runtime) -> None:
    for n in range(3):
        mappings.save(rt.store, TEMPLATE, spec_with(email={"value": f"v{n}"}), created_by="ann")
    with pytest.raises(VersionError, match="no active version"):
        mappings.rollback(rt.store, TEMPLATE, by="ann")
    mappings.activate(rt.store, TEMPLATE, 1, by="ann")
    with pytest.raises(VersionError, match="only version ever activated"):
        mappings.rollback(rt.store, TEMPLATE, by="ann")
    mappings.activate(rt.store, TEMPLATE, 3, by="ann")
    back = mappings.rollback(rt.store, TEMPLATE, by="bob")
    assert back.version == 1 and back.active
    assert mappings.active_spec(rt.store, TEMPLATE)["fields"]["email"] == {"value": "v0"}  # type: ignore[index]
    mappings.deactivate(rt.store, TEMPLATE)
    assert mappings.active(rt.store, TEMPLATE) is None


def test_activating_an_unknown_version_says_so(rt: Runtime) -> None:
    with pytest.raises(VersionError, match="has no version 9"):
        mappings.activate(rt.store, TEMPLATE, 9, by="ann")
    with pytest.raises(VersionError, match="no fields"):
        mappings.save(rt.store, TEMPLATE, {"name": TEMPLATE, "fields": {}}, created_by="ann")


def test_diff_shows_the_changed_field(rt: Runtime) -> None:
    old = mappings.save(rt.store, TEMPLATE, spec_with(email="customer_email"), created_by="ann")
    new = mappings.save(rt.store, TEMPLATE, spec_with(email={"path": "customer_email", "transform": ["lower"]}),
                        created_by="ann")
    text = diff(TEMPLATE, old, new)
    assert f"--- {TEMPLATE}@1" in text and f"+++ {TEMPLATE}@2" in text
    assert "-  email: customer_email" in text
    assert "+  email: {path: customer_email, transform: [lower]}" in text


def test_import_keeps_the_file_number_and_export_writes_the_active_version(rt: Runtime, rules_dir: Path) -> None:
    path = rules_dir / "mappings" / f"{TEMPLATE}.yaml"
    version, saved = import_template(rt, TEMPLATE, by="cli")
    assert saved and version.version == 1 and not version.active
    again, saved_again = import_template(rt, TEMPLATE, by="cli", activate=True)
    assert not saved_again and again.version == 1 and again.active

    edited = dict(version.spec)
    edited["fields"] = {**edited["fields"], "currency": {"value": "EUR"}}
    mappings.save(rt.store, TEMPLATE, edited, created_by="ann")
    mappings.activate(rt.store, TEMPLATE, 2, by="ann")
    export_template(rt, TEMPLATE)
    text = path.read_text()
    assert text.startswith("# Magento order")  # the file's header comments survive
    written = yaml.safe_load(text)
    assert written["version"] == 2 and written["fields"]["currency"] == {"value": "EUR"}
    assert written["fields"]["lines"]["each"] == "items"

    # Importing what was exported changes nothing; the template still maps an order the same way.
    assert import_template(rt, TEMPLATE, by="cli") == (mappings.get(rt.store, TEMPLATE, 2), False)


def test_export_without_an_active_version_asks_for_one(rt: Runtime) -> None:
    from service.flows.templates import TemplateError

    with pytest.raises(TemplateError, match="--version"):
        export_template(rt, TEMPLATE)


def test_the_orders_flow_maps_with_the_active_version_and_records_it(rt: Runtime) -> None:
    flow = OrdersFlow(rt)
    order, label = flow.normalize(dict(MAGENTO_ORDER), "default")
    assert label == f"{TEMPLATE}@1" and order.currency == "USD"
    assert template_spec(rt, NORMALIZE_TEMPLATE)["version"] == 1

    spec = dict(template_spec(rt, NORMALIZE_TEMPLATE))
    spec["fields"] = {**spec["fields"], "currency": {"value": "EUR"}}
    saved = mappings.save(rt.store, TEMPLATE, spec, created_by="ann", floor=1)
    mappings.activate(rt.store, TEMPLATE, saved.version, by="ann")
    order, label = flow.normalize(dict(MAGENTO_ORDER), "default")
    assert (order.currency, label) == ("EUR", f"{TEMPLATE}@2")

    mappings.deactivate(rt.store, TEMPLATE)
    order, label = flow.normalize(dict(MAGENTO_ORDER), "default")
    assert (order.currency, label) == ("USD", f"{TEMPLATE}@1")


def test_decisions_are_kept_for_the_suggestion_engine(rt: Runtime) -> None:
    source = Field("customer_email", "string", "", ("ann@example.com",))
    target = Field("email", "string")
    record_decision(rt.store, source, target, True, by="ann")
    record_decision(rt.store, Field("customer_email"), Field("first_name"), False, by="ann")
    record_decision(rt.store, Field("customer_email"), Field("first_name"), True, by="bob")
    feedback = StoreFeedback(rt.store)
    assert feedback.decisions() == {("customer_email", "email"): True, ("customer_email", "first_name"): True}
    records = feedback.all()
    assert len(records) == 3 and records[0].evidence  # features kept, sample values not
    assert "ann@example.com" not in str(mappings.decision_records(rt.store))
