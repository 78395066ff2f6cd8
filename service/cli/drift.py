"""``tillbridge drift …``: compare Heartland and Magento now and say what differs (service/flows/drift.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click


@click.group()
def drift() -> None:
    """Where Heartland and Magento disagree: stock per SKU, order statuses."""


@drift.command("check")
@click.option("--repair/--no-repair", default=True, show_default=True,
              help="Create the sync items that bring drifted records back in step (the workers run them).")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def check(repair: bool, as_json: bool) -> None:
    """Compare both systems now and print every drifted record."""
    from service.app.factory import create_app
    from service.flows import drift as drift_check
    from service.kernel.errors import SyncError

    runtime = create_app().extensions["tillbridge"]
    try:
        report = drift_check.check(runtime, repair=repair)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    if repair and report.repaired:
        runtime.enqueue(report.repaired)
    if as_json:
        click.echo(json.dumps({**report.summary(), "records": [vars(r) for r in report.records]}, indent=2))
        return
    for record in report.records:
        click.echo(f"{record.kind:<13} {record.what}" + (f"  [{record.repair}]" if record.repair else ""))
    when = datetime.fromtimestamp(report.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    counts = ", ".join(f"{kind} {report.drifted.get(kind, 0)} of {report.checked.get(kind, 0)}"
                       for kind in drift_check.KINDS)
    click.echo(f"drift check at {when} in {report.seconds:.1f} s: {counts} drifted; "
               + (f"{len(report.repaired)} repair item(s) queued" if repair else "nothing repaired (--no-repair)"))
