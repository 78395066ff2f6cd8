"""Gift card numbers are bearer credentials: what Tillbridge records of a gift-card request (traces,
errors kept with items) holds their last four characters only."""

from __future__ import annotations

from typing import Any

import pytest

from service.connectors.magento.client import MagentoClient
from service.kernel.errors import SyncError
from service.kernel.redaction import redact_gift_card_url, redact_gift_cards
from service.sandbox.server import start_in_thread

NUMBER = "TBGC12345678"


@pytest.mark.parametrize("url", [
    f"http://m/rest/all/V1/tillbridge/giftcards/{NUMBER}/adjustments",
    f"http://m/rest/V1/tillbridge/giftcard-history?code={NUMBER}&since=2026-11-27&afterId=0",
    f"http://h/api/gift_cards?number={NUMBER}&per_page=2",
    'http://h/api/gift_cards?_filter={"number":"' + NUMBER + '"}',
    "http://m/rest/V1/tillbridge/giftcards?searchCriteria[filter_groups][0][filters][0][field]=code"
    f"&searchCriteria[filter_groups][0][filters][0][value]={NUMBER}",
])
def test_gift_card_urls_keep_the_last_four_characters(url: str) -> None:
    redacted = redact_gift_card_url(url)
    assert NUMBER not in redacted and "********5678" in redacted


def test_ids_and_other_parts_of_a_gift_card_url_are_kept() -> None:
    url = "http://h/api/gift_cards/100001?per_page=2"
    assert redact_gift_card_url(url) == url
    assert "/adjustments" in redact_gift_card_url(f"http://m/rest/V1/tillbridge/giftcards/{NUMBER}/adjustments")


def test_bodies_and_error_parameters_are_masked() -> None:
    body: dict[str, Any] = {"giftCard": {"code": NUMBER, "balance": 5}, "items": [{"number": NUMBER}],
                            "error": {"message": "No such entity with %fieldName = %fieldValue",
                                      "parameters": {"fieldName": "code", "fieldValue": NUMBER}}}
    masked = redact_gift_cards(body)
    assert NUMBER not in str(masked)
    assert masked["giftCard"] == {"code": "********5678", "balance": 5}
    assert masked["error"]["parameters"]["fieldName"] == "code"


def test_a_magento_error_about_a_gift_card_never_names_it() -> None:
    from service.sandbox.magento.app import create_app as magento_app

    server = start_in_thread(magento_app(seed="none", token="t"))
    try:
        exchanges: list[Any] = []
        client = MagentoClient(f"{server.url}/rest", token="t", on_exchange=exchanges.append)
        with pytest.raises(SyncError) as raised:
            client.giftcard(NUMBER)
        assert NUMBER not in str(raised.value) and NUMBER not in str(raised.value.details)
        assert "5678" in str(raised.value)
        assert exchanges and NUMBER not in str([vars(e) for e in exchanges])
    finally:
        server.stop()
