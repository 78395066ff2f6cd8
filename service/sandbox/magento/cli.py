"""``tillbridge sandbox magento``."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=int, required=True)
def magento(port: int) -> None:
    """Run the magento sandbox."""
    raise click.ClickException("the magento sandbox is being built")
