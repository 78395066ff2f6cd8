"""The Heartland Retail connector: the REST client (client.py) and its records."""

from service.connectors.heartland.client import HeartlandClient, Page, normalise_webhook_payload

__all__ = ["HeartlandClient", "Page", "normalise_webhook_payload"]
