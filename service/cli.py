"""The ``tillbridge`` command."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """Tillbridge keeps a Heartland Retail store and a Magento 2 shop in step."""


def _register_commands() -> None:
    # Each area owns its command group; they are attached here, in one place.
    from service.sandbox.cli import sandbox
    from training.cli import models

    main.add_command(sandbox)
    main.add_command(models)


_register_commands()
