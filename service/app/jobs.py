"""RQ entry points. Thin: they find the runtime and hand the item to the pipeline."""

from __future__ import annotations

from flask import current_app


def run_item(item_id: int) -> str:
    return str(current_app.extensions["tillbridge"].pipeline.run_item(item_id))
