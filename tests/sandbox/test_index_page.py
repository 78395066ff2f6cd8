"""A person who opens a sandbox's URL gets a page saying what answers there, not a 404."""

from __future__ import annotations

import pytest
from flask import Flask

from service.sandbox.heartland.app import create_app as heartland_app
from service.sandbox.magento.app import create_app as magento_app


@pytest.mark.parametrize(("app", "api"), [(heartland_app(seed="demo", token="t"), "/api/"),
                                          (magento_app(seed="demo", token="t"), "/rest/V1/")])
def test_the_root_and_the_sandbox_prefix_list_what_answers(app: Flask, api: str) -> None:
    client = app.test_client()
    client.post("/__sandbox/faults", json={"latency_ms": 1})
    for path in ("/", "/__sandbox"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert api in page and "/__sandbox/requests" in page and "/__sandbox/reset" in page
        assert "latency_ms" in page, "the faults in force are shown"
