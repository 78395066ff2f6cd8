"""The mapping page's model: the transform library, templates as editor rows and back, preview with
errors per field, and uploaded samples."""

from __future__ import annotations

import pytest
import yaml

from service.flows.templates import TemplateError
from service.mappings.editor import CHECKS, preview, rows_from_spec, spec_from_rows
from service.mappings.samples import uploaded_samples
from service.mappings.suggestions import source_fields
from service.rules.loader import Rules
from service.rules.templates import TRANSFORMS, Template
from service.settings import repo_path

RULES = Rules("rules")


def load(name: str) -> dict:
    return dict(yaml.safe_load(repo_path(f"rules/mappings/{name}.yaml").read_text()))


@pytest.mark.parametrize(("name", "given", "expected"), [
    ("phone", "(512) 555-0100", "+15125550100"),
    ("phone", "1-512-555-0100", "+15125550100"),
    ("phone", "+44 20 7946 0958", "+442079460958"),
    ("phone", "0044 20 7946 0958", "+442079460958"),
    ("phone", "", None),
    ("date", "2026-11-27 10:15:00", "2026-11-27"),
    ("date", "11/27/2026", "2026-11-27"),
    ("address", ["  12  North Main street ", "Suite 4", ""], ["12 N Main St", "Ste 4"]),
    ("address", "500 Ocean Avenue,", "500 Ocean Ave"),
    ("split", "red, green\nblue", ["red", "green", "blue"]),
    ("join", ["1 Main St", None, "Floor 2"], "1 Main St, Floor 2"),
    ("join_lines", ["a", "b"], "a\nb"),
    ("title", "ann LEE", "Ann Lee"),
])
def test_transform_library(name: str, given: object, expected: object) -> None:
    assert TRANSFORMS[name](given) == expected


def test_a_bad_date_is_a_field_error_naming_the_field() -> None:
    template = Template({"name": "t", "fields": {"born": {"path": "dob", "transform": "date"}}})
    with pytest.raises(ValueError, match="born: cannot convert"):
        template.apply({"dob": "someday"})


@pytest.mark.parametrize("name", ["orders.magento_to_canonical", "orders.canonical_to_heartland"])
def test_every_shipped_template_survives_the_editor_unchanged(name: str) -> None:
    spec = load(name)
    rows = rows_from_spec(spec)
    rebuilt, errors = spec_from_rows(name, rows, spec, RULES)
    assert errors == {}
    assert rebuilt == spec
    assert list(rebuilt["fields"]) == list(spec["fields"])  # the order of the file, for readable diffs


def test_rows_name_repeated_fields_by_their_list() -> None:
    rows = {r["target"]: r for r in rows_from_spec(load("orders.magento_to_canonical"))}
    assert rows["lines"] == {"target": "lines", "kind": "each", "each": "items",
                             "where": {"path": "parent_item_id", "empty": True}}
    assert rows["lines[].sku"]["source"] == "items[].sku"
    assert rows["first_name"]["sources"] == ["customer_firstname", "billing_address.firstname"]
    heartland = {r["target"]: r for r in rows_from_spec(load("orders.canonical_to_heartland"))}
    assert heartland["lines[].item_id"]["source"] == "$.lines[].item_id"
    assert heartland["lines[].ship_from_location_id"]["source"] == "$.location_id"  # context, not the row


def test_edits_that_cannot_work_are_reported_per_field() -> None:
    spec = load("orders.magento_to_canonical")
    rows = rows_from_spec(spec)
    by_target = {r["target"]: r for r in rows}
    by_target["email"]["source"] = ""
    by_target["lines[].sku"]["source"] = "billing_address.city"
    by_target["currency"]["transform"] = ["shout"]
    by_target["payment.method"]["lookup"] = "payment_methods.yaml#nowhere"
    rows.append({"target": "email", "kind": "path", "source": "customer_email"})
    rows.append({"target": "bad name", "kind": "path", "source": "x"})
    rows.append({"target": "notes", "kind": "path", "source": "items[].sku"})
    _, errors = spec_from_rows("orders.magento_to_canonical", rows, spec, RULES)
    assert "drag a source field onto it" in errors["email"][0]
    assert "mapped twice" in errors["email"][1]
    assert "not in items" in errors["lines[].sku"][0]
    assert "unknown transform shout" in errors["currency"][0]
    assert "finds no table" in errors["payment.method"][0]
    by_target["payment.method"]["lookup"] = "../rules/payment_methods.yaml#magento_to_heartland"
    _, errors = spec_from_rows("orders.magento_to_canonical", rows, spec, RULES)
    assert "finds no table" in errors["payment.method"][0]  # rules files by name only, nothing outside rules/
    rows.append({"target": "secret", "kind": "raw", "raw": {"first_of": [{"path": "a", "lookup": "/etc/x.yaml"}]}})
    _, errors = spec_from_rows("orders.magento_to_canonical", rows, spec, RULES)
    assert "not a rules file name" in errors["secret"][0]
    assert "dotted name" in errors["bad name"][0]
    assert "inside a list" in errors["notes"][0]


ORDER = {"entity_id": 5, "increment_id": "000000005", "customer_email": "Ann@Example.com", "grand_total": 12,
         "customer_firstname": "Ann", "billing_address": {"country_id": "US", "telephone": "512 555 0100"},
         "items": [{"sku": "TEE-1", "qty_ordered": 1, "price": 12}]}


def test_preview_shows_the_payload_and_the_errors_next_to_their_fields() -> None:


    spec = load("orders.magento_to_canonical")
    rows = rows_from_spec(spec)
    for row in rows:
        if row["target"] == "billing.phone":
            row["transform"] = ["phone"]
    edited, errors = spec_from_rows("orders.magento_to_canonical", rows, spec, RULES)
    assert errors == {}
    check = CHECKS["orders.magento_to_canonical"]
    good = preview(RULES, edited, ORDER, {"store_code": "default"}, check)
    assert good["errors"] == {}
    assert good["payload"]["billing"]["phone"] == "+15125550100"
    assert good["payload"]["email"] == "ann@example.com"

    broken = dict(ORDER, customer_email="", items=[{"qty_ordered": 1}])
    bad = preview(RULES, edited, broken, {"store_code": "default"}, check)
    assert set(bad["errors"]) == {"email", "lines[].sku"}
    assert bad["payload"]["number"] == "000000005"  # the rest is still shown

    invalid = preview(RULES, edited, dict(ORDER, customer_email="not-an-email"), {}, check)
    assert invalid["errors"] == {"email": ["Not a valid email address."]}


def test_uploaded_csv_and_json_become_records_and_fields() -> None:
    csv_samples = uploaded_samples("increment_id,billing_address.city\n100,Austin\n101,Dallas\n", "orders.csv")
    assert csv_samples.records[1] == {"increment_id": "101", "billing_address": {"city": "Dallas"}}
    names = {f.name for f in source_fields(csv_samples, [])}
    assert names == {"increment_id", "billing_address.city"}

    json_samples = uploaded_samples('{"items": [{"sku": "A", "lines": [{"q": 1}]}]}', "search.json")
    assert json_samples.records == [{"sku": "A", "lines": [{"q": 1}]}]
    assert "lines[].q" in {f.name for f in source_fields(json_samples, [])}
    with pytest.raises(TemplateError, match="not valid JSON"):
        uploaded_samples("[{", "x.json")


@pytest.mark.parametrize(("source", "target", "usable"), [
    ("items[].sku", "lines[].sku", "items[].sku"),
    ("$.store_code", "lines[].store", "$.store_code"),
    ("billing_address.city", "lines[].sku", None),  # not a field of the repeated list
    ("payment.items[].sku", "lines[].sku", None),
    ("items[].sku", "first_sku", "items[0].sku"),
    ("extension_attributes.shipping_assignments[].shipping.address.city", "shipping.city",
     "extension_attributes.shipping_assignments[0].shipping.address.city"),
    ("items[].sku", "notes[].sku", None),  # no such block
])
def test_suggestions_only_offer_sources_the_target_can_take(source: str, target: str, usable: str | None) -> None:
    from service.mappings.suggestions import usable_source

    assert usable_source(source, target, {"lines": "items"}) == usable
