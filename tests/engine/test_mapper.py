import pytest

from service.rules.templates import MappingError, Template, get_path


def test_paths_with_indexes_and_missing_parts() -> None:
    record = {"a": {"b": [{"c": 1}, {"c": 2}]}, "street": ["1 Main", "Apt 2"]}
    assert get_path(record, "a.b[1].c") == 2
    assert get_path(record, "street[0]") == "1 Main"
    assert get_path(record, "a.b[5].c") is None
    assert get_path(record, "x.y") is None


def test_template_fields_transforms_defaults_lists_and_context() -> None:
    template = Template({
        "name": "t", "version": 2,
        "fields": {
            "email": {"path": "mail", "transform": ["strip", "lower"]},
            "currency": {"path": "cur", "default": "USD"},
            "source": {"value": "magento"},
            "name": {"concat": ["first", "last"], "sep": " "},
            "phone": {"first_of": ["billing.tel", "shipping.tel"]},
            "kind": {"path": "method", "map": {"checkmo": "Check"}},
            "store": "$.store",
            "address.city": "billing.city",
            "lines": {"each": "items", "where": {"path": "parent", "empty": True},
                      "fields": {"sku": "sku", "qty": {"path": "qty", "transform": "float"}}},
        },
    })
    out = template.apply({
        "mail": "  Ann@Example.COM ", "first": "Ann", "last": "Lee", "shipping": {"tel": "555"},
        "billing": {"city": "Austin"}, "method": "checkmo",
        "items": [{"sku": "A", "qty": "2"}, {"sku": "A-child", "qty": "2", "parent": 7}, {"sku": "B", "qty": 1}],
    }, {"store": "default"})
    assert out == {
        "email": "ann@example.com", "currency": "USD", "source": "magento", "name": "Ann Lee", "phone": "555",
        "kind": "Check", "store": "default", "address": {"city": "Austin"},
        "lines": [{"sku": "A", "qty": 2.0}, {"sku": "B", "qty": 1.0}],
    }


def test_required_and_bad_conversions_name_the_field() -> None:
    template = Template({"name": "orders", "fields": {
        "number": {"path": "increment_id", "required": True},
        "total": {"path": "grand_total", "transform": "money"},
    }})
    with pytest.raises(MappingError) as info:
        template.apply({"grand_total": "lots"})
    assert set(info.value.field_errors) == {"number", "total"}
    assert "increment_id is empty" in str(info.value)


def test_unknown_transform_is_reported() -> None:
    with pytest.raises(MappingError, match="unknown transform 'shout'"):
        Template({"fields": {"a": {"path": "a", "transform": "shout"}}}).apply({"a": 1})
