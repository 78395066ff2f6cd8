"""``tillbridge sandbox heartland|magento``: run a simulator in the foreground."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run a Heartland or Magento sandbox."""


def _register() -> None:
    from service.sandbox.heartland.cli import heartland
    from service.sandbox.magento.cli import magento

    sandbox.add_command(heartland)
    sandbox.add_command(magento)


_register()
