"""``tillbridge customers …``: deduplicate customer files, generate test data, index and label for the sync."""

from __future__ import annotations

import time

import click


@click.group()
def customers() -> None:
    """Duplicate customers: in files (first clean-up, evaluation) and in the sync's index."""


@customers.command()
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Customer CSV to deduplicate (or the left side when linking with --against).")
@click.option("--against", "against_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Second customer CSV: link --input to it instead of deduplicating --input.")
@click.option("--columns", "columns_spec", required=True,
              help="field=COLUMN pairs, e.g. first_name=First,last_name=Last,email=Email; only these are used.")
@click.option("--id-column", default=None, help="Column holding each record's id (default: row number).")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="CSV of left_id,right_id,score,decision.")
def dedupe(input_path: str, against_path: str | None, columns_spec: str, id_column: str | None, output: str) -> None:
    """Write the pairs that are the same customer (match) or may be (review)."""
    from service.ai.dedup.batch import ColumnsError, parse_columns, read_customers, write_pairs
    from service.ai.dedup.batch import dedupe as run
    from service.ai.dedup.model import MatchModel, ModelError
    from service.ai.dedup.resolver import load_rules

    started = time.perf_counter()
    try:
        columns = parse_columns(columns_spec)
        left_ids, left = read_customers(input_path, columns, id_column)
        right_ids, right = read_customers(against_path, columns, id_column) if against_path else ([], None)
        model = MatchModel.load()
    except (ColumnsError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None
    pairs = run(left, left_ids, load_rules(), model, right, right_ids if against_path else None)
    count = write_pairs(output, pairs)
    records = len(left) + (len(right) if right is not None else 0)
    click.echo(f"{records} records, {count} pairs written to {output} in {time.perf_counter() - started:.1f}s")


@customers.command()
@click.option("--entities", type=int, default=10_000, show_default=True, help="People to generate.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--duplicate-rate", type=float, default=0.3, show_default=True)
@click.option("--household-rate", type=float, default=0.12, show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="Customer CSV (id + canonical fields).")
@click.option("--truth", type=click.Path(dir_okay=False), default=None, help="CSV of id,entity,household.")
def generate(entities: int, seed: int, duplicate_rate: float, household_rate: float, output: str, truth: str | None) -> None:
    """Generate realistic customers with duplicates and households, and the truth about them."""
    from training.dedup_data import generate as make

    dataset = make(entities, duplicate_rate=duplicate_rate, household_rate=household_rate, seed=seed)
    dataset.write_csv(output, truth=truth)
    click.echo(f"{len(dataset)} records of {entities} people written to {output}")


@customers.command("index")
def index_command() -> None:
    """Index every Heartland customer for duplicate resolution in the sync (first run, or after Redis lost it)."""
    from service.app.factory import create_app
    from service.flows.checks.duplicates import for_runtime

    app = create_app()
    started = time.perf_counter()
    count = for_runtime(app.extensions["tillbridge"]).backfill()
    click.echo(f"{count} Heartland customers indexed in {time.perf_counter() - started:.1f}s")


@customers.command("labels")
@click.option("--output", required=True, type=click.Path(dir_okay=False),
              help="CSV of labelled pairs for `tillbridge models train dedup --pairs`.")
def labels_command(output: str) -> None:
    """Write the decisions of the customer review page (merged: 1, not the same: 0) as training labels."""
    from service.app.factory import create_app
    from service.store.customer_reviews import write_labels

    app = create_app()
    with open(output, "w", newline="", encoding="utf-8") as out:
        count = write_labels(app.extensions["tillbridge"].store, out)
    click.echo(f"{count} labelled pairs written to {output}")
