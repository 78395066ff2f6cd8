"""``tillbridge sandbox heartland|magento``: run a simulator in the foreground."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run a Heartland or Magento sandbox."""
