"""``tillbridge sandbox heartland``."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", type=int, required=True)
def heartland(port: int) -> None:
    """Run the heartland sandbox."""
    raise click.ClickException("the heartland sandbox is being built")
