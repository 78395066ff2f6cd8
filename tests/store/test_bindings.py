from typing import Any

from service.store import bindings


def test_bind_is_idempotent_and_merges_the_data_of_each_flow(runtime: Any) -> None:
    store = runtime.store
    first = bindings.bind(store, entity="customer", key="magento:default:7", system="heartland",
                          external_id="100042", data={"addresses": {"1 main st|78701": 5}})
    again = bindings.bind(store, entity="customer", key="magento:default:7", system="heartland",
                          external_id="100042", source_version="2026-11-27T10:00:00+00:00",
                          data={"written": "abc"})
    assert again.id == first.id
    found = bindings.find(store, "customer", "magento:default:7", "heartland")
    assert found is not None
    assert found.data == {"addresses": {"1 main st|78701": 5}, "written": "abc"}
    assert found.source_version == "2026-11-27T10:00:00+00:00"
    assert bindings.count(store, "customer", "heartland") == 1
