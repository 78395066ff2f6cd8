"""Commands of the dedup model family."""

from __future__ import annotations

import click


def register(models: click.Group, train: click.Group, score: click.Group) -> None:
    """Attach this family's commands to ``tillbridge models``."""
