"""``tillbridge models …``: train, score, list, promote and roll back models."""

from __future__ import annotations

import click


@click.group()
def models() -> None:
    """Train, evaluate and manage Tillbridge's models."""


@models.group()
def train() -> None:
    """Train a model and write its artifact and model card."""


@models.group()
def score() -> None:
    """Score a data file with a trained model."""


def _register() -> None:
    # Each model family owns its commands in its own module.
    import importlib

    for name in ("training.anomaly_cli", "training.dedup_cli", "training.mapping"):
        module = importlib.import_module(name)
        module.register(models, train, score)


_register()
