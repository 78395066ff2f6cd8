"""Training data from the service's store: every scored order's features, labelled by the risk team.

The orders flow keeps each scored order's features in ``order_facts`` (exactly what serving saw) and
the team's decisions in ``order_reviews``: rejected = fraud, approved = legitimate; orders nobody
reviewed stay unlabelled, which training uses as well. :func:`training_frame` gives them as a pandas
DataFrame (a notebook's starting point); the export writes it as a CSV (or Parquet) feature table
that ``tillbridge models train anomaly`` reads::

    tillbridge models export-anomaly --output orders.csv
    tillbridge models train anomaly --data orders.csv --label-column review_label --time-column created_at
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from service.ai.anomaly.features import FEATURE_NAMES
from service.store import reviews
from service.store.db import Store

if TYPE_CHECKING:  # pandas is imported when a frame is built, not by every `tillbridge` command
    import pandas as pd

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


def training_frame(store: Store, *, since: datetime | None = None,
                   until: datetime | None = None) -> tuple[pd.DataFrame, int]:
    """The scored orders of a time window (by order time): order key, time, the features and the
    review label (fraud / legitimate / empty), and how many were left out for lacking a feature
    (scored by a model with other features)."""
    labels = reviews.labels(store)
    records, skipped = [], 0
    for fact in reviews.facts_between(store, since, until):
        features = fact.features or {}
        if any(name not in features for name in FEATURE_NAMES):
            skipped += 1
            continue
        records.append({KEY_COLUMN: fact.order_key, TIME_COLUMN: fact.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        **{name: float(features[name]) for name in FEATURE_NAMES},
                        LABEL_COLUMN: labels.get(fact.order_key, "")})
    import pandas as pd

    frame = pd.DataFrame.from_records(records, columns=[KEY_COLUMN, TIME_COLUMN, *FEATURE_NAMES, LABEL_COLUMN])
    return frame, skipped


def export_training_table(store: Store, path: str | Path, *, since: datetime | None = None,
                          until: datetime | None = None) -> ExportSummary:
    """Write the scored orders of a time window as a labelled feature table (.parquet, else CSV)."""
    frame, skipped = training_frame(store, since=since, until=until)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(target, index=False)
    else:
        frame.to_csv(target, index=False, float_format="%.17g")
    label = frame[LABEL_COLUMN]
    return ExportSummary(rows=len(frame), fraud=int((label == "fraud").sum()),
                         legitimate=int((label == "legitimate").sum()), skipped=skipped, path=target)


def _store_from_settings() -> Store:
    from service.settings import load_settings
    from service.store.db import database_url

    settings = load_settings()
    return Store(database_url(settings.DATABASE_URL, settings.DATA_DIR))


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
