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
    # Each model family owns its commands in a module of its own, which imports its training code only
    # when a command runs (so `tillbridge --help` or a health check does not load scikit-learn).
    from training import anomaly_cli, dedup_cli, mapping_cli

    for family in (anomaly_cli, dedup_cli, mapping_cli):
        family.register(models, train, score)


_register()
