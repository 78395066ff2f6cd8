"""The v1 API through the real app: integrators (session or API token) only."""

from __future__ import annotations

from typing import Any

from service.store.users import create_token, create_user

BODY = {"source": {"fields": [{"name": "customer_email"}, {"name": "grand_total"}]},
        "target": {"fields": [{"name": "email"}, {"name": "total"}]}, "top": 2}


def test_suggest_needs_an_integrator(app: Any, runtime: Any) -> None:
    client = app.test_client()
    assert client.post("/v1/mappings/suggest", json=BODY).status_code == 401
    create_user(runtime.store, "rita", "risk-pass-123", "risk")
    create_user(runtime.store, "ian", "integrator-pass-1", "integrator")
    _, risk_token = create_token(runtime.store, "rita", "laptop")
    _, token = create_token(runtime.store, "ian", "ci")
    denied = client.post("/v1/mappings/suggest", json=BODY, headers={"Authorization": f"Bearer {risk_token}"})
    assert denied.status_code == 403
    ok = client.post("/v1/mappings/suggest", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert ok.json["customer_email"][0]["target"] == "email"
