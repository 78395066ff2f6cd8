"""Training data from the service's store: every scored order's features, labelled by the risk team.

The orders flow keeps each scored order's features in ``order_facts`` (exactly what serving saw) and
the team's decisions in ``order_reviews``: rejected = fraud, approved = legitimate; orders nobody
reviewed stay unlabelled, which training uses as well. The export is a CSV feature table that
``tillbridge models train anomaly`` reads::

    tillbridge models export-anomaly --output orders.csv
    tillbridge models train anomaly --data orders.csv --label-column review_label --time-column created_at
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from service.ai.anomaly.features import FEATURE_NAMES
from service.store import reviews
from service.store.db import Store

LABEL_COLUMN = "review_label"
TIME_COLUMN = "created_at"
KEY_COLUMN = "order_key"  # text, so training never takes it for a feature


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    fraud: int
    legitimate: int
    skipped: int  # scored by a model with other features: not comparable, left out
    path: Path

    @property
    def unlabelled(self) -> int:
        return self.rows - self.fraud - self.legitimate


def export_training_table(store: Store, path: str | Path, *, since: datetime | None = None,
                          until: datetime | None = None) -> ExportSummary:
    """Write the scored orders of a time window (by order time) as a labelled CSV feature table."""
    labels = reviews.labels(store)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    rows = fraud = legitimate = skipped = 0
    with target.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow([KEY_COLUMN, TIME_COLUMN, *FEATURE_NAMES, LABEL_COLUMN])
        for fact in reviews.facts_between(store, since, until):
            features = fact.features or {}
            if any(name not in features for name in FEATURE_NAMES):
                skipped += 1
                continue
            label = labels.get(fact.order_key, "")
            fraud += label == "fraud"
            legitimate += label == "legitimate"
            writer.writerow([fact.order_key, fact.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             *(repr(float(features[name])) for name in FEATURE_NAMES), label])
            rows += 1
    return ExportSummary(rows=rows, fraud=fraud, legitimate=legitimate, skipped=skipped, path=target)


def _store_from_settings() -> Store:
    from service.settings import load_settings
    from service.store.db import database_url

    settings = load_settings()
    return Store(database_url(str(settings["DATABASE_URL"]), str(settings["DATA_DIR"])))


@click.command("export-anomaly")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="CSV feature table to write.")
@click.option("--since", type=click.DateTime(), default=None, help="Only orders placed at or after (UTC).")
@click.option("--until", type=click.DateTime(), default=None, help="Only orders placed before (UTC).")
def export_anomaly_command(output: str, since: datetime | None, until: datetime | None) -> None:
    """Export scored orders with the risk team's decisions as labels (fraud / legitimate / empty)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    store = _store_from_settings()
    try:
        summary = export_training_table(store, output, since=since, until=until)
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(f"cannot read order facts and reviews from {store.engine.url!r} "
                                   f"({type(exc.orig).__name__}): point DATABASE_URL (and DATA_DIR) at the "
                                   "service's database, or run `tillbridge db upgrade` on it") from None
    finally:
        store.dispose()
    click.echo(f"wrote {summary.rows} orders to {summary.path}: {summary.fraud} fraud, {summary.legitimate} "
               f"legitimate, {summary.unlabelled} unreviewed"
               + (f"; left out {summary.skipped} scored with other features" if summary.skipped else ""))
    click.echo(f"train with: tillbridge models train anomaly --data {summary.path} --label-column {LABEL_COLUMN} "
               f"--time-column {TIME_COLUMN}")
