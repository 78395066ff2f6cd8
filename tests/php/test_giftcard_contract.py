"""The gift card route of the Magento module and the Magento sandbox's model of it are one contract:
same paths and methods, same body keys, same fields."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from service.sandbox.magento.contract import GIFT_CARD_DEFINITIONS, GIFT_CARD_ROUTES
from tests.php.php import MODULE


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def getters(interface: str) -> set[str]:
    source = (MODULE / "Api" / "Data" / f"{interface}.php").read_text()
    return {snake(m) for m in re.findall(r"public function get(\w+)\(\)", source)}


def module_routes() -> dict[tuple[str, str], str]:
    root = ET.parse(MODULE / "etc" / "webapi.xml").getroot()
    routes = {}
    for route in root.iter("route"):
        path = re.sub(r":(\w+)", r"{\1}", route.attrib["url"])
        service = route.find("service")
        assert service is not None
        routes[(route.attrib["method"].lower(), path)] = service.attrib["method"]
    return routes


def test_same_routes() -> None:
    sandbox = {(method, path) for path, methods in GIFT_CARD_ROUTES.items() for method in methods}
    assert set(module_routes()) == sandbox


def test_same_body_keys() -> None:
    source = (MODULE / "Api" / "GiftCardAccountManagementInterface.php").read_text()
    create = GIFT_CARD_ROUTES["/V1/tillbridge/giftcards"]["post"]["body"]
    adjust = GIFT_CARD_ROUTES["/V1/tillbridge/giftcards/{code}/adjustments"]["post"]["body"]
    # Magento's webapi maps each top-level body key to the service method parameter of that name.
    assert create["required"] == ["giftCard"]
    assert "public function create(Data\\GiftCardInterface $giftCard)" in source
    assert adjust["required"] == ["adjustment"]
    assert "public function adjust(string $code, Data\\GiftCardAdjustmentInterface $adjustment)" in source


def test_same_gift_card_fields() -> None:
    sandbox = set(GIFT_CARD_DEFINITIONS["tillbridge-data-gift-card-interface"]["properties"])
    assert getters("GiftCardInterface") == sandbox


def test_same_adjustment_fields() -> None:
    definition = GIFT_CARD_DEFINITIONS["tillbridge-data-gift-card-adjustment-interface"]
    assert getters("GiftCardAdjustmentInterface") == set(definition["properties"])
    assert set(definition["required"]) == {"amount", "idempotency_key"}


def test_same_history_fields() -> None:
    definition = GIFT_CARD_DEFINITIONS["tillbridge-data-gift-card-history-interface"]
    assert getters("GiftCardHistoryInterface") == set(definition["properties"])
    source = (MODULE / "Api" / "GiftCardAccountManagementInterface.php").read_text()
    # GET arguments come from the query string, by the method's parameter names.
    assert ("public function getHistory(?string $code = null, ?string $since = null, int $afterId = 0, "
            "int $pageSize = 100): array") in source
