"""Web pages for integrators, the risk team and operators."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register login, pages and API-token authentication on the app."""
